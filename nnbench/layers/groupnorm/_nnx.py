"""GroupNorm in Flax NNX: ``nnx.GroupNorm``."""

import jax.numpy as jnp
from flax import nnx


def model(config, dtype, rngs):
    return nnx.GroupNorm(
        config["shape"][-1], num_groups=config["groups"], epsilon=1e-5, dtype=dtype, param_dtype=jnp.float32, rngs=rngs
    )


def to_canonical(pure):
    return {"params": {k: pure[k] for k in ("scale", "bias") if k in pure}}


def from_canonical(canonical):
    return dict(canonical["params"])
