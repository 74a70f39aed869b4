"""RMSNorm in Flax NNX: ``nnx.RMSNorm``."""

import jax.numpy as jnp
from flax import nnx

EPS = 1e-5


def model(config, dtype, rngs):
    return nnx.RMSNorm(config["shape"][-1], epsilon=EPS, dtype=dtype, param_dtype=jnp.float32, rngs=rngs)


def to_canonical(pure):
    return {"params": {k: pure[k] for k in ("scale",) if k in pure}}


def from_canonical(canonical):
    return dict(canonical["params"])
