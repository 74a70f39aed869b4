"""RMSNorm in plain JAX."""

import jax
import jax.numpy as jnp

from nnbench.layers import kit as _kit

EPS = 1e-5


def model(config, dtype):
    d = config["shape"][-1]

    def init(key, x):
        return {"params": {"scale": jnp.ones((d,), jnp.float32)}}

    def forward(variables, x, train, rng):
        h = x.astype(jnp.float32)
        y = h * jax.lax.rsqrt(jnp.square(h).mean(-1, keepdims=True) + EPS)
        return y.astype(dtype) * variables["params"]["scale"].astype(dtype), {}

    return _kit.raw(init, forward)
