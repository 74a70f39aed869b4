"""Decoder-only Transformer LM in plain JAX: parameter pytrees, pure functions.

Canonical layout (every style converts to and from it)::

    {"params": {
        "tok_embed": {"embedding": [V, D]}, "pos_embed": {"embedding": [T, D]},
        "block_<i>": {"ln1": LN, "attn": {"query"|"key"|"value": {"w": [D, H, Dh], "b": [H, Dh]},
                                          "out": {"w": [H, Dh, D], "b": [D]}},
                      "ln2": LN, "mlp": {"fc1": {"w": [D, F], "b": [F]}, "fc2": {"w": [F, D], "b": [D]}}},
        "ln_f": LN, "head": {"w": [D, V], "b": [V]}   # head only when untied
    }}   with LN = {"scale": [D], "bias": [D]}

With ``config["scan"]`` the ``block_<i>`` entries are replaced by one
``"blocks"`` entry holding the same tree with a leading depth axis (made by
``jax.vmap`` of the block initialiser), and the forward pass is one
``jax.lax.scan``: every style's scanned variant converts to this stacked
canonical layout. ``stack_blocks``/``unstack_blocks`` move between the two.
``encoder`` and ``init_block`` are shared with the ViT.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from nnbench.layers.catalog import Functional

LN_EPS = 1e-5


def lecun(key: jax.Array, shape: tuple[int, ...], fan_in: int) -> jax.Array:
    """LeCun truncated normal, Flax's and Haiku's default kernel init (float32)."""
    return jax.random.truncated_normal(key, -2.0, 2.0, shape, jnp.float32) * (0.87962566 / fan_in**0.5)


def dense(key: jax.Array, n_in: int, n_out: int) -> dict[str, jax.Array]:
    return {"w": lecun(key, (n_in, n_out), n_in), "b": jnp.zeros((n_out,), jnp.float32)}


def layer_norm_params(d: int) -> dict[str, jax.Array]:
    return {"scale": jnp.ones((d,), jnp.float32), "bias": jnp.zeros((d,), jnp.float32)}


def layer_norm(p: dict[str, jax.Array], x: jax.Array) -> jax.Array:
    """LayerNorm over the last axis, statistics in float32, output in ``x.dtype``."""
    h = x.astype(jnp.float32)
    mean = h.mean(-1, keepdims=True)
    var = jnp.square(h - mean).mean(-1, keepdims=True)
    h = (h - mean) * jax.lax.rsqrt(var + LN_EPS)
    return (h * p["scale"] + p["bias"]).astype(x.dtype)


def init_block(key: jax.Array, d: int, heads: int, hidden: int) -> dict:
    """One pre-LN encoder/decoder block's canonical params."""
    kq, kk, kv, ko, k1, k2 = jax.random.split(key, 6)
    dh = d // heads
    attn = {
        n: {"w": lecun(k, (d, heads, dh), d), "b": jnp.zeros((heads, dh), jnp.float32)}
        for n, k in zip(("query", "key", "value"), (kq, kk, kv), strict=True)
    }
    attn["out"] = {"w": lecun(ko, (heads, dh, d), d), "b": jnp.zeros((d,), jnp.float32)}
    return {
        "ln1": layer_norm_params(d),
        "attn": attn,
        "ln2": layer_norm_params(d),
        "mlp": {"fc1": dense(k1, d, hidden), "fc2": dense(k2, hidden, d)},
    }


def attention(p: dict, x: jax.Array, causal: bool) -> jax.Array:
    """Multi-head self-attention. ``x``: ``[B, T, D]`` -> ``[B, T, D]`` (``x.dtype``)."""
    dt = x.dtype
    q, k, v = (
        jnp.einsum("btd,dhk->bthk", x, p[n]["w"].astype(dt)) + p[n]["b"].astype(dt) for n in ("query", "key", "value")
    )
    q = q / jnp.sqrt(q.shape[-1]).astype(dt)
    logits = jnp.einsum("bqhk,bthk->bhqt", q, k)
    if causal:
        t = x.shape[1]
        mask = jnp.tril(jnp.ones((t, t), bool))
        logits = jnp.where(mask, logits, jnp.finfo(dt).min)
    weights = jax.nn.softmax(logits).astype(dt)
    out = jnp.einsum("bhqt,bthk->bqhk", weights, v)
    return jnp.einsum("bqhk,hkd->bqd", out, p["out"]["w"].astype(dt)) + p["out"]["b"].astype(dt)


def block(p: dict, x: jax.Array, causal: bool) -> jax.Array:
    """Pre-LN block: ``x + attn(ln1(x))``, then ``x + mlp(ln2(x))`` (GELU)."""
    dt = x.dtype
    x = x + attention(p["attn"], layer_norm(p["ln1"], x), causal)
    h = layer_norm(p["ln2"], x)
    h = jax.nn.gelu(h @ p["mlp"]["fc1"]["w"].astype(dt) + p["mlp"]["fc1"]["b"].astype(dt))
    return x + h @ p["mlp"]["fc2"]["w"].astype(dt) + p["mlp"]["fc2"]["b"].astype(dt)


def block_names(depth: int) -> list[str]:
    return [f"block_{i}" for i in range(depth)]


def stack_blocks(params: dict, depth: int) -> dict:
    """Per-block canonical params -> ``{"blocks": stacked, ...rest}``."""
    names = block_names(depth)
    rest = {k: v for k, v in params.items() if k not in names}
    return {**rest, "blocks": jax.tree.map(lambda *xs: jnp.stack(xs), *(params[n] for n in names))}


def unstack_blocks(params: dict, depth: int) -> dict:
    rest = {k: v for k, v in params.items() if k != "blocks"}
    per = {n: jax.tree.map(lambda a, i=i: a[i], params["blocks"]) for i, n in enumerate(block_names(depth))}
    return {**rest, **per}


def encoder(params: dict, x: jax.Array, config, causal: bool) -> jax.Array:
    """``config["depth"]`` blocks then the final LayerNorm; scanned if stacked."""
    if "blocks" in params:
        x, _ = jax.lax.scan(lambda h, p: (block(p, h, causal), None), x, params["blocks"])
    else:
        for name in block_names(config["depth"]):
            x = block(params[name], x, causal)
    return layer_norm(params["ln_f"], x)


def model(config, dtype) -> Functional:
    d, vocab, depth = config["d_model"], config["vocab"], config["depth"]

    def init(key, x):
        del x
        keys = jax.random.split(key, depth + 3)
        params = {
            "tok_embed": {"embedding": jax.random.normal(keys[0], (vocab, d), jnp.float32) * d**-0.5},
            "pos_embed": {"embedding": jax.random.normal(keys[1], (config["seq"], d), jnp.float32) * d**-0.5},
            "ln_f": layer_norm_params(d),
        }
        if config["scan"]:
            params["blocks"] = jax.vmap(lambda k: init_block(k, d, config["heads"], config["hidden"]))(keys[3:])
        else:
            for name, k in zip(block_names(depth), keys[3:], strict=True):
                params[name] = init_block(k, d, config["heads"], config["hidden"])
        if not config["tied"]:
            params["head"] = dense(keys[2], d, vocab)
        return {"params": params}

    def apply(variables, tokens, *, train, rng):
        del train, rng
        p = variables["params"]
        t = tokens.shape[1]
        x = (p["tok_embed"]["embedding"][tokens] + p["pos_embed"]["embedding"][:t]).astype(dtype)
        x = encoder(p, x, config, causal=True)
        if config["tied"]:
            return x @ p["tok_embed"]["embedding"].T.astype(dtype), {}
        return x @ p["head"]["w"].astype(dtype) + p["head"]["b"].astype(dtype), {}

    return Functional(init, apply, to_canonical=lambda v: v, from_canonical=lambda c: c)
