"""Convolution in Haiku: ``hk.ConvND`` / ``hk.ConvNDTranspose``.

Haiku stores a transposed convolution's kernel as ``[*kernel, c_out, c_in]``.
"""

import haiku as hk

from nnbench.layers import kit as _kit


def model(config, dtype):
    transpose = config["transpose"]
    n = len(config["kernel"])

    def forward(x, train):
        layer = hk.ConvNDTranspose if transpose else hk.ConvND
        return layer(
            n, config["c_out"], config["kernel"], stride=config["stride"], padding=config["padding"], name="conv"
        )(x)

    def to_canonical(v):
        w = v["params"]["conv"]["w"]
        return {"params": {"w": w.swapaxes(-1, -2) if transpose else w, "b": v["params"]["conv"]["b"]}}

    def from_canonical(c):
        w = c["params"]["w"]
        return {"params": {"conv": {"w": w.swapaxes(-1, -2) if transpose else w, "b": c["params"]["b"]}}, "state": {}}

    return _kit.haiku(forward, dtype, to_canonical, from_canonical)
