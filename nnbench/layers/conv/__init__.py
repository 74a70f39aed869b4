"""Convolutions shared by the ``conv1d``, ``conv2d`` and ``conv_transpose``
entries: channels-last input ``[batch, *spatial, c_in]``, kernel
``[*kernel, c_in, c_out]``, one module per style family, generic over the
number of spatial dimensions.

Config keys: ``batch``, ``spatial`` (tuple), ``c_in``, ``c_out``, ``kernel``
(tuple), ``stride`` (tuple), ``padding`` (``"SAME"`` or ``"VALID"``),
``transpose`` (bool). Canonical layout: ``{"params": {"w": [*kernel, c_in,
c_out], "b": [c_out]}}``.
"""

from __future__ import annotations

import math

from nnbench.layers import flops as _flops
from nnbench.layers.catalog import Entry, Impls
from nnbench.layers.kit import TOLERANCE, mse, normal_batch


def out_spatial(config) -> tuple[int, ...]:
    out = []
    for n, k, s in zip(config["spatial"], config["kernel"], config["stride"], strict=True):
        if config.get("transpose"):
            out.append(n * s if config["padding"] == "SAME" else (n - 1) * s + k)
        else:
            out.append(-(-n // s) if config["padding"] == "SAME" else (n - k) // s + 1)
    return tuple(out)


def flops(config, mode):
    """Model FLOPs (the rule: ``layers.flops``). Forward ``2·B·taps·c_in·
    c_out`` + the bias, ``taps`` the (output position, kernel tap) pairs that
    land on real input (``_flops.conv_taps``: padding and a transposed
    conv's holes are no work; 121 of 144 at 8×8, 3×3, stride 2, SAME). Train:
    that, the MSE loss (``5·B·positions·c_out``), the kernel gradient (the
    same multiply-adds) and the bias gradient; the input's gradient is not
    formed."""
    c = config
    layer = _flops.conv(
        c["batch"],
        c["spatial"],
        c["c_in"],
        c["c_out"],
        c["kernel"],
        c["stride"],
        c["padding"],
        bool(c.get("transpose")),
    )
    return _flops.step(mode, [layer], _flops.mse(c["batch"] * math.prod(out_spatial(c)) * c["c_out"]))


def config(batch, spatial, c_in, c_out, kernel, stride, padding, transpose=False):
    return {
        "batch": batch,
        "spatial": tuple(spatial),
        "c_in": c_in,
        "c_out": c_out,
        "kernel": tuple(kernel),
        "stride": tuple(stride),
        "padding": padding,
        "transpose": transpose,
    }


def entry(name: str, description: str, sizes: dict) -> Entry:
    return Entry(
        name=name,
        description=description,
        sizes=sizes,
        make_batch=normal_batch(
            lambda c: (c["batch"], *c["spatial"], c["c_in"]), lambda c: (c["batch"], *out_spatial(c), c["c_out"])
        ),
        loss=mse,
        flops=flops,
        items=lambda c: c["batch"],
        tolerance=TOLERANCE,
        impls=Impls("nnbench.layers.conv"),
    )
