"""Dense in Flax NNX: ``nnx.Linear``."""

from __future__ import annotations

import jax.numpy as jnp
from flax import nnx


def model(config, dtype, rngs):
    return nnx.Linear(config["d_in"], config["d_out"], dtype=dtype, param_dtype=jnp.float32, rngs=rngs)


def to_canonical(pure):
    return {"params": {"w": pure["kernel"], "b": pure["bias"]}}


def from_canonical(canonical):
    return {"kernel": canonical["params"]["w"], "bias": canonical["params"]["b"]}
