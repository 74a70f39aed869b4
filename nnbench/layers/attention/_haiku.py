"""Self-attention in Haiku: ``hk.MultiHeadAttention`` (projections are
``hk.Linear`` with ``[d_model, heads·head_dim]`` weights)."""

import haiku as hk
import jax.numpy as jnp

from nnbench.layers import kit as _kit

NAMES = {"query": "attn/query", "key": "attn/key", "value": "attn/value", "out": "attn/linear"}


def model(config, dtype):
    d, h = config["d_model"], config["heads"]
    k = d // h

    def forward(x, train):
        attn = hk.MultiHeadAttention(
            num_heads=h, key_size=k, model_size=d, w_init=hk.initializers.VarianceScaling(1.0), name="attn"
        )
        mask = jnp.tril(jnp.ones((x.shape[1], x.shape[1]), bool))[None, None] if config["causal"] else None
        return attn(x, x, x, mask=mask)

    def to_canonical(v):
        p = v["params"]
        out = {
            n: {"w": p[NAMES[n]]["w"].reshape(d, h, k), "b": p[NAMES[n]]["b"].reshape(h, k)}
            for n in ("query", "key", "value")
        }
        out["out"] = {"w": p[NAMES["out"]]["w"].reshape(h, k, d), "b": p[NAMES["out"]]["b"]}
        return {"params": out}

    def from_canonical(c):
        p = c["params"]
        out = {
            NAMES[n]: {"w": p[n]["w"].reshape(d, h * k), "b": p[n]["b"].reshape(h * k)}
            for n in ("query", "key", "value")
        }
        out[NAMES["out"]] = {"w": p["out"]["w"].reshape(h * k, d), "b": p["out"]["b"]}
        return {"params": out, "state": {}}

    return _kit.haiku(forward, dtype, to_canonical, from_canonical)
