"""GroupNorm in plain JAX."""

import jax
import jax.numpy as jnp

from nnbench.layers import kit as _kit

EPS = 1e-5


def model(config, dtype):
    c, g = config["shape"][-1], config["groups"]

    def init(key, x):
        return {"params": {"scale": jnp.ones((c,), jnp.float32), "bias": jnp.zeros((c,), jnp.float32)}}

    def forward(variables, x, train, rng):
        p = variables["params"]
        h = x.astype(jnp.float32)
        grouped = h.reshape(*h.shape[:-1], g, c // g)
        axes = tuple(range(1, h.ndim - 1)) + (h.ndim,)
        mean = grouped.mean(axes, keepdims=True)
        var = jnp.maximum(jnp.square(grouped).mean(axes, keepdims=True) - jnp.square(mean), 0.0)
        y = ((grouped - mean) * jax.lax.rsqrt(var + EPS)).reshape(h.shape)
        return y.astype(dtype) * p["scale"].astype(dtype) + p["bias"].astype(dtype), {}

    return _kit.raw(init, forward)
