"""Dense + dropout in plain JAX: the mask from ``jax.random.bernoulli``."""

import jax
import jax.numpy as jnp

from nnbench.layers import kit as _kit
from nnbench.layers.dense import _jax as dense


def model(config, dtype):
    base = dense.model(config, dtype)
    keep = 1.0 - config["rate"]

    def forward(variables, x, train, rng):
        y, _ = base.apply(variables, x, train=train, rng=None)
        if train and rng is not None:
            y = jnp.where(jax.random.bernoulli(rng, keep, y.shape), y / keep, 0).astype(y.dtype)
        return y, {}

    return _kit.raw(base.init, forward)
