"""Dropout after a Dense projection: ``y = dropout(x @ w + b, rate)``.

Training drops units with probability ``rate`` and scales the kept ones by
``1 / (1 - rate)``; every train step draws a new mask (functional styles
split a carried key, NNX advances its ``Rngs`` stream). Eval is the Dense
layer alone. Config keys: ``batch``, ``d_in``, ``d_out``, ``rate``.
Canonical layout: ``{"params": {"w": [d_in, d_out], "b": [d_out]}}``.
"""

from layers._catalog import Entry
from layers._kit import TOLERANCE, mse, normal_batch
from layers.dense import flops
from layers.dropout import _haiku, _jax, _linen, _nnx


def _config(batch, d_in, d_out, rate=0.5):
    return {"batch": batch, "d_in": d_in, "d_out": d_out, "rate": rate}


ENTRY = Entry(
    name="dropout",
    description="Dense + Dropout (new mask every train step)",
    sizes={"tiny": _config(16, 16, 64), "small": _config(64, 512, 512), "base": _config(256, 2048, 2048), "large": _config(1024, 8192, 8192)},
    make_batch=normal_batch(lambda c: (c["batch"], c["d_in"]), lambda c: (c["batch"], c["d_out"])),
    loss=mse,
    flops=flops,
    items=lambda config: config["batch"],
    tolerance=TOLERANCE,
    impls={"jax": _jax, "linen": _linen, "nnx": _nnx, "haiku": _haiku},
    stochastic=True,
)
