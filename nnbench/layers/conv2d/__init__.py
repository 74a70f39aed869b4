"""Conv2D over ``[batch, height, width, c_in]``, stride 2, SAME padding (see ``layers.conv``)."""

from nnbench.layers.conv import config, entry

ENTRY = entry(
    "conv2d",
    "2-D convolution (3x3, stride 2, SAME)",
    {
        "tiny": config(2, (8, 8), 4, 8, (3, 3), (2, 2), "SAME"),
        "small": config(32, (32, 32), 64, 64, (3, 3), (2, 2), "SAME"),
        "base": config(64, (64, 64), 128, 128, (3, 3), (2, 2), "SAME"),
        "large": config(128, (128, 128), 256, 256, (3, 3), (2, 2), "SAME"),
    },
)
