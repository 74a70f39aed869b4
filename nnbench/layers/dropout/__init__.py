"""Dropout after a Dense projection: ``y = dropout(x @ w + b, rate)``.

Training drops units with probability ``rate`` and scales the kept ones by
``1 / (1 - rate)``; every train step draws a new mask (functional styles
split a carried key, NNX advances its ``Rngs`` stream). Eval is the Dense
layer alone. Config keys: ``batch``, ``d_in``, ``d_out``, ``rate``.
Canonical layout: ``{"params": {"w": [d_in, d_out], "b": [d_out]}}``.
"""

from nnbench.layers import flops as _flops
from nnbench.layers.catalog import Entry, Impls
from nnbench.layers.kit import TOLERANCE, mse, normal_batch


def flops(config, mode):
    """Model FLOPs (the rule: ``layers.flops``): the Dense layer's (see
    ``layers.dense.flops``) plus, in training, ``where(keep, y / (1 - rate),
    0)`` on its ``B·out`` outputs (a divide and a select) and the same two
    in its gradient. Drawing the mask is random-number generation, not
    counted; eval is the Dense layer alone."""
    b, d_out = config["batch"], config["d_out"]
    n = b * d_out
    drop = _flops.Work(2 * n, inputs=2 * n, eval=0.0, has_params=False)
    return _flops.step(mode, [_flops.dense(b, config["d_in"], d_out), drop], _flops.mse(n))


def _config(batch, d_in, d_out, rate=0.5):
    return {"batch": batch, "d_in": d_in, "d_out": d_out, "rate": rate}


ENTRY = Entry(
    name="dropout",
    description="Dense + Dropout (new mask every train step)",
    sizes={
        "tiny": _config(16, 16, 64),
        "small": _config(64, 512, 512),
        "base": _config(256, 2048, 2048),
        "large": _config(1024, 8192, 8192),
    },
    make_batch=normal_batch(lambda c: (c["batch"], c["d_in"]), lambda c: (c["batch"], c["d_out"])),
    loss=mse,
    flops=flops,
    items=lambda config: config["batch"],
    tolerance=TOLERANCE,
    impls=Impls("nnbench.layers.dropout"),
    stochastic=True,
    flops_note=(
        "XLA also counts drawing the dropout mask (threefry's integer operations and the bits-to-float conversion, "
        "tens of operations per element) as FLOPs; model FLOPs count no random-number generation"
    ),
)
