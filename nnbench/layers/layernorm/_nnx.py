"""LayerNorm in Flax NNX: ``nnx.LayerNorm``."""

import jax.numpy as jnp
from flax import nnx

EPS = 1e-5


def model(config, dtype, rngs):
    return nnx.LayerNorm(config["shape"][-1], epsilon=EPS, dtype=dtype, param_dtype=jnp.float32, rngs=rngs)


def to_canonical(pure):
    return {"params": {k: pure[k] for k in ("scale", "bias") if k in pure}}


def from_canonical(canonical):
    return dict(canonical["params"])
