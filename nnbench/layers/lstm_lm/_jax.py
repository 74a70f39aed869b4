"""LSTM LM in plain JAX: ``jax.lax.scan`` over time.

Canonical layout: ``{"params": {"embed": {"embedding": [V, E]}, "lstm":
{"w_i": [E, 4H], "w_h": [H, 4H], "b": [4H]}, "head": {"w": [H, V], "b":
[V]}}}``; the 4H axis holds gates in the order i, f, g, o.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from nnbench.layers.catalog import Functional
from nnbench.layers.transformer_lm._jax import dense, lecun


def model(config, dtype) -> Functional:
    e, h, v = config["embed"], config["hidden"], config["vocab"]

    def init(key, x):
        del x
        k_emb, k_i, k_h, k_head = jax.random.split(key, 4)
        lstm = {
            "w_i": lecun(k_i, (e, 4 * h), e),
            "w_h": lecun(k_h, (h, 4 * h), h),
            "b": jnp.zeros((4 * h,), jnp.float32),
        }
        emb = jax.random.normal(k_emb, (v, e), jnp.float32) * e**-0.5
        return {"params": {"embed": {"embedding": emb}, "lstm": lstm, "head": dense(k_head, h, v)}}

    def apply(variables, tokens, *, train, rng):
        del train, rng
        p = variables["params"]
        w_i, w_h, b = (p["lstm"][n].astype(dtype) for n in ("w_i", "w_h", "b"))
        xs = p["embed"]["embedding"][tokens].astype(dtype) @ w_i + b  # [B, T, 4H], hoisted out of the scan

        def step(carry, x_t):
            c, h_prev = carry
            i, f, g, o = jnp.split(x_t + h_prev @ w_h, 4, axis=-1)
            c = jax.nn.sigmoid(f) * c + jax.nn.sigmoid(i) * jnp.tanh(g)
            h_t = jax.nn.sigmoid(o) * jnp.tanh(c)
            return (c, h_t), h_t

        zeros = jnp.zeros((tokens.shape[0], h), dtype)
        _, hs = jax.lax.scan(step, (zeros, zeros), jnp.swapaxes(xs, 0, 1))
        hs = jnp.swapaxes(hs, 0, 1)
        return hs @ p["head"]["w"].astype(dtype) + p["head"]["b"].astype(dtype), {}

    return Functional(init, apply, to_canonical=lambda v: v, from_canonical=lambda c: c)
