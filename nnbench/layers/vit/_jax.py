"""ViT in plain JAX. Canonical layout: ``{"params": {"patch": {"w": [P, P, C, D],
"b": [D]}, "pos_embed": {"embedding": [N, D]}, <encoder blocks and ln_f as in
layers.transformer_lm._jax>, "head": {"w": [D, K], "b": [K]}}}``."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from nnbench.layers.catalog import Functional
from nnbench.layers.transformer_lm import _jax as tlm


def patchify(w: jax.Array, b: jax.Array, x: jax.Array, patch: int) -> jax.Array:
    """Strided conv. ``x``: ``[B, S, S, C]`` -> ``[B, N, D]`` in ``x.dtype``."""
    y = jax.lax.conv_general_dilated(
        x, w.astype(x.dtype), (patch, patch), "VALID", dimension_numbers=("NHWC", "HWIO", "NHWC")
    )
    y = y + b.astype(x.dtype)
    return y.reshape(y.shape[0], -1, y.shape[-1])


def model(config, dtype) -> Functional:
    d, p, depth = config["d_model"], config["patch"], config["depth"]
    n = (config["image"] // p) ** 2

    def init(key, x):
        del x
        keys = jax.random.split(key, depth + 3)
        fan_in = p * p * config["channels"]
        params = {
            "patch": {
                "w": tlm.lecun(keys[0], (p, p, config["channels"], d), fan_in),
                "b": jnp.zeros((d,), jnp.float32),
            },
            "pos_embed": {"embedding": jax.random.normal(keys[1], (n, d), jnp.float32) * 0.02},
            "ln_f": tlm.layer_norm_params(d),
            "head": tlm.dense(keys[2], d, config["classes"]),
        }
        for name, k in zip(tlm.block_names(depth), keys[3:], strict=True):
            params[name] = tlm.init_block(k, d, config["heads"], config["hidden"])
        return {"params": params}

    def apply(variables, x, *, train, rng):
        del train, rng
        prm = variables["params"]
        h = patchify(prm["patch"]["w"], prm["patch"]["b"], x.astype(dtype), p) + prm["pos_embed"]["embedding"].astype(
            dtype
        )
        h = tlm.encoder(prm, h, config, causal=False).mean(axis=1)
        return h @ prm["head"]["w"].astype(dtype) + prm["head"]["b"].astype(dtype), {}

    return Functional(init, apply, to_canonical=lambda v: v, from_canonical=lambda c: c)
