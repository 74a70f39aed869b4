"""Multi-head self-attention in plain JAX (einsums)."""

import jax
import jax.numpy as jnp

from nnbench.layers import kit as _kit

PROJ = ("query", "key", "value")


def model(config, dtype):
    d, h = config["d_model"], config["heads"]
    k = d // h

    def init(key, x):
        del x
        keys = jax.random.split(key, 4)
        params = {
            n: {"w": _kit.lecun_normal(kk, (d, h, k), d), "b": jnp.zeros((h, k), jnp.float32)}
            for n, kk in zip(PROJ, keys, strict=False)
        }
        params["out"] = {"w": _kit.lecun_normal(keys[3], (h, k, d), d), "b": jnp.zeros((d,), jnp.float32)}
        return {"params": params}

    def forward(variables, x, train, rng):
        p = jax.tree.map(lambda a: a.astype(dtype), variables["params"])
        x = x.astype(dtype)
        q, kk, v = (jnp.einsum("btd,dhk->bthk", x, p[n]["w"]) + p[n]["b"] for n in PROJ)
        logits = jnp.einsum("bqhk,bshk->bhqs", q / jnp.sqrt(k).astype(dtype), kk)
        if config["causal"]:
            t = x.shape[1]
            logits = jnp.where(jnp.tril(jnp.ones((t, t), bool)), logits, jnp.finfo(dtype).min)
        weights = jax.nn.softmax(logits).astype(dtype)
        out = jnp.einsum("bhqs,bshk->bqhk", weights, v)
        return jnp.einsum("bqhk,hkd->bqd", out, p["out"]["w"]) + p["out"]["b"], {}

    return _kit.raw(init, forward)
