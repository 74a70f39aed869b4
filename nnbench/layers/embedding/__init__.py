"""Embedding lookup: integer tokens ``[batch, seq]`` (int32) → vectors
``[batch, seq, features]`` in the compute dtype.

Config keys: ``batch``, ``seq``, ``vocab``, ``features``. Canonical layout:
``{"params": {"table": [vocab, features]}}``.
"""

import jax
import jax.numpy as jnp

from nnbench.layers import flops as _flops
from nnbench.layers.catalog import Entry, Impls
from nnbench.layers.kit import TOLERANCE, mse


def make_batch(config, key, dtype):
    """``x``: int32 tokens ``[batch, seq]``; ``y``: float32 ``[batch, seq, features]``."""
    del dtype
    kx, ky = jax.random.split(key)
    x = jax.random.randint(kx, (config["batch"], config["seq"]), 0, config["vocab"], jnp.int32)
    y = jax.random.normal(ky, (config["batch"], config["seq"], config["features"]), jnp.float32)
    return {"x": x, "y": y}


def flops(config, mode):
    """Model FLOPs (the rule: ``layers.flops``). Forward: a lookup (a
    gather), 0. Train: the MSE loss on the ``n = batch·seq·features``
    outputs (``5n``) and the table's gradient, the output gradient
    scatter-added into it (``n``)."""
    n = config["batch"] * config["seq"] * config["features"]
    return _flops.step(mode, [_flops.Work(0.0, params=n)], _flops.mse(n))


def _config(batch, seq, vocab, features):
    return {"batch": batch, "seq": seq, "vocab": vocab, "features": features}


ENTRY = Entry(
    name="embedding",
    description="token embedding lookup (int32 tokens)",
    sizes={
        "tiny": _config(2, 8, 32, 16),
        "small": _config(16, 128, 8192, 256),
        "base": _config(32, 512, 32768, 1024),
        "large": _config(32, 2048, 131072, 4096),
    },
    make_batch=make_batch,
    loss=mse,
    flops=flops,
    items=lambda config: config["batch"] * config["seq"],
    tolerance=TOLERANCE,
    impls=Impls("nnbench.layers.embedding"),
    flops_note=(
        "forward is a lookup, 0 model FLOPs; XLA counts the lookup's integer index arithmetic "
        "(wrapping negative ids: a compare, an add and a select per token) as FLOPs"
    ),
)
