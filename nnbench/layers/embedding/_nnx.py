"""Embedding in Flax NNX: ``nnx.Embed``."""

import jax.numpy as jnp
from flax import nnx


def model(config, dtype, rngs):
    return nnx.Embed(config["vocab"], config["features"], dtype=dtype, param_dtype=jnp.float32, rngs=rngs)


def to_canonical(pure):
    return {"params": {"table": pure["embedding"]}}


def from_canonical(canonical):
    return {"embedding": canonical["params"]["table"]}
