"""BatchNorm in Flax NNX: ``nnx.BatchNorm`` (running stats are ``BatchStat``)."""

import jax.numpy as jnp
from flax import nnx


def model(config, dtype, rngs):
    return nnx.BatchNorm(
        config["shape"][-1], momentum=0.9, epsilon=1e-5, dtype=dtype, param_dtype=jnp.float32, rngs=rngs
    )


def to_canonical(pure):
    out = {"params": {k: pure[k] for k in ("scale", "bias") if k in pure}}
    if "mean" in pure:
        out["batch_stats"] = {"mean": pure["mean"], "var": pure["var"]}
    return out


def from_canonical(canonical):
    return {**canonical["params"], **canonical["batch_stats"]}
