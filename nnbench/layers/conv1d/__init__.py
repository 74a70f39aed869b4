"""Conv1D over ``[batch, length, c_in]``, stride 1, VALID padding (see ``layers.conv``)."""

from nnbench.layers.conv import config, entry

ENTRY = entry(
    "conv1d",
    "1-D convolution (kernel 3, stride 1, VALID)",
    {
        "tiny": config(4, (16,), 8, 8, (3,), (1,), "VALID"),
        "small": config(32, (256,), 128, 128, (3,), (1,), "VALID"),
        "base": config(64, (1024,), 256, 256, (5,), (1,), "VALID"),
        "large": config(64, (4096,), 512, 512, (5,), (1,), "VALID"),
    },
)
