"""Dense in plain JAX."""

from __future__ import annotations

import jax.numpy as jnp

from nnbench.layers import kit as _kit


def model(config, dtype):
    def init(key, x):
        del x
        return {
            "params": {
                "w": _kit.lecun_normal(key, (config["d_in"], config["d_out"]), config["d_in"]),
                "b": jnp.zeros((config["d_out"],), jnp.float32),
            }
        }

    def forward(variables, x, train, rng):
        p = variables["params"]
        return x.astype(dtype) @ p["w"].astype(dtype) + p["b"].astype(dtype), {}

    return _kit.raw(init, forward)
