"""BatchNorm in plain JAX: running statistics in a ``batch_stats`` collection."""

import jax
import jax.numpy as jnp

from nnbench.layers import kit as _kit

EPS, MOMENTUM = 1e-5, 0.9


def model(config, dtype):
    c = config["shape"][-1]

    def init(key, x):
        ones, zeros = jnp.ones((c,), jnp.float32), jnp.zeros((c,), jnp.float32)
        return {"params": {"scale": ones, "bias": zeros}, "batch_stats": {"mean": zeros, "var": ones}}

    def forward(variables, x, train, rng):
        p, stats = variables["params"], variables["batch_stats"]
        h = x.astype(jnp.float32)
        updates = {}
        if train:
            axes = tuple(range(h.ndim - 1))
            mean = h.mean(axes)
            var = jnp.maximum(jnp.square(h).mean(axes) - jnp.square(mean), 0.0)
            updates = {
                "batch_stats": {
                    "mean": MOMENTUM * stats["mean"] + (1 - MOMENTUM) * mean,
                    "var": MOMENTUM * stats["var"] + (1 - MOMENTUM) * var,
                }
            }
        else:
            mean, var = stats["mean"], stats["var"]
        y = (h - mean) * (p["scale"] * jax.lax.rsqrt(var + EPS)) + p["bias"]
        return y.astype(dtype), updates

    return _kit.raw(init, forward)
