"""Dense (fully connected) layer: ``y = x @ w + b``.

Config keys: ``batch``, ``d_in``, ``d_out`` (ints). Canonical layout:
``{"params": {"w": [d_in, d_out], "b": [d_out]}}``.
"""

from __future__ import annotations

from nnbench.layers import flops as _flops
from nnbench.layers.catalog import Entry, Impls
from nnbench.layers.kit import TOLERANCE, mse, normal_batch


def flops(config, mode):
    """Model FLOPs (the rule: ``layers.flops``). Forward: ``2·B·in·out``
    + the bias ``B·out``. Train: that, the MSE loss on ``B·out`` outputs
    (``5·B·out`` with its gradient), the weight gradient ``xᵀ·g``
    (``2·B·in·out``) and the bias gradient (``(B - 1)·out``); the input's
    gradient is not formed, so train is about 2 × forward, not 3 ×."""
    b, d_out = config["batch"], config["d_out"]
    return _flops.step(mode, [_flops.dense(b, config["d_in"], d_out)], _flops.mse(b * d_out))


def _config(batch, d_in, d_out):
    return {"batch": batch, "d_in": d_in, "d_out": d_out}


ENTRY = Entry(
    name="dense",
    description="one Dense layer (matmul + bias)",
    sizes={
        "tiny": _config(8, 16, 32),
        "small": _config(64, 512, 512),
        "base": _config(256, 2048, 2048),
        "large": _config(1024, 8192, 8192),
    },
    make_batch=normal_batch(lambda c: (c["batch"], c["d_in"]), lambda c: (c["batch"], c["d_out"])),
    loss=mse,
    flops=flops,
    items=lambda config: config["batch"],
    tolerance=TOLERANCE,
    impls=Impls("nnbench.layers.dense"),
)
