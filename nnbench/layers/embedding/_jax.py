"""Embedding in plain JAX: index the table."""

import jax

from nnbench.layers import kit as _kit


def model(config, dtype):
    def init(key, x):
        del x
        return {"params": {"table": jax.random.normal(key, (config["vocab"], config["features"])) * 0.02}}

    def forward(variables, x, train, rng):
        return variables["params"]["table"].astype(dtype)[x], {}

    return _kit.raw(init, forward)
