"""Pooling in plain JAX: ``lax.reduce_window``."""

import jax
import jax.numpy as jnp

from nnbench.layers import kit as _kit


def model(config, dtype):
    w = config["window"]
    dims = (1, w, w, 1)

    def forward(variables, x, train, rng):
        x = x.astype(dtype)
        if config["kind"] == "max":
            return jax.lax.reduce_window(x, -jnp.inf, jax.lax.max, dims, dims, "VALID"), {}
        return (jax.lax.reduce_window(x, 0.0, jax.lax.add, dims, dims, "VALID") / (w * w)).astype(dtype), {}

    return _kit.raw(lambda key, x: {"params": {}}, forward)
