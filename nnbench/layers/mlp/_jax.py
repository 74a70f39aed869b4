"""MLP in plain JAX: a parameter pytree and a pure function.

Canonical layout: ``{"params": {"dense_i": {"w": [in, out], "b": [out]}}}``;
scanned: ``{"params": {"blocks": {"w": [N, W, W], "b": [N, W]}, "dense_N": ...}}``.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from nnbench.layers.catalog import Functional
from nnbench.layers.mlp._common import ACTIVATIONS, layer_names, n_scanned


def model(config, dtype) -> Functional:
    act = ACTIVATIONS[config["activation"]]
    names = layer_names(config)
    widths = config["widths"]

    def init(key, x):
        del x
        params = {}
        for name, k, n_in, n_out in zip(names, jax.random.split(key, len(names)), widths[:-1], widths[1:], strict=True):
            # LeCun normal, as Flax and Haiku (truncated) default to.
            w = jax.random.truncated_normal(k, -2.0, 2.0, (n_in, n_out), jnp.float32) * (0.87962566 / jnp.sqrt(n_in))
            params[name] = {"w": w, "b": jnp.zeros((n_out,), jnp.float32)}
        if n_scanned(config):
            stacked = [params.pop(n) for n in names[: n_scanned(config)]]
            params["blocks"] = jax.tree.map(lambda *a: jnp.stack(a), *stacked)
        return {"params": params}

    def apply(variables, x, *, train, rng):
        del train, rng
        params = variables["params"]
        h = x.astype(dtype)
        if "blocks" in params:
            blocks = jax.tree.map(lambda a: a.astype(dtype), params["blocks"])
            h, _ = jax.lax.scan(lambda h, p: (act(h @ p["w"] + p["b"]), None), h, blocks)
        for i, name in enumerate(names):
            if name not in params:
                continue
            h = h @ params[name]["w"].astype(dtype) + params[name]["b"].astype(dtype)
            if i < len(names) - 1:
                h = act(h)
        return h, {}

    return Functional(init, apply, to_canonical=lambda v: v, from_canonical=lambda c: c)
