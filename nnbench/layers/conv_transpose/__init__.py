"""ConvTranspose (2-D) over ``[batch, height, width, c_in]``, stride 2, SAME
padding: output ``[batch, 2·height, 2·width, c_out]`` (see ``layers.conv``)."""

from nnbench.layers.conv import config, entry

ENTRY = entry(
    "conv_transpose",
    "2-D transposed convolution (3x3, stride 2, SAME)",
    {
        "tiny": config(2, (4, 4), 4, 8, (3, 3), (2, 2), "SAME", transpose=True),
        "small": config(32, (16, 16), 64, 64, (3, 3), (2, 2), "SAME", transpose=True),
        "base": config(64, (32, 32), 128, 128, (3, 3), (2, 2), "SAME", transpose=True),
        "large": config(128, (64, 64), 256, 256, (3, 3), (2, 2), "SAME", transpose=True),
    },
)
