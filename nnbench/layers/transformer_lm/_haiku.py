"""Transformer LM in Haiku: ``hk.MultiHeadAttention`` blocks, stacked
unrolled or with ``hk.layer_stack`` (params get a leading depth axis).
``Block``, ``encoder`` and the conversions are shared with the ViT.

Haiku keeps params flat by module path (``"block_0/attn/query"``);
attention projections are ``[D, H·Dh]`` where the canonical layout has
``[D, H, Dh]``.
"""

from __future__ import annotations

import haiku as hk
import jax
import jax.numpy as jnp

from nnbench.layers.haiku_precision import float32_params, stateless
from nnbench.layers.styles import Functional
from nnbench.layers.transformer_lm import _jax

W_INIT = hk.initializers.VarianceScaling(1.0, "fan_in", "truncated_normal")


def _norm(name: str) -> hk.LayerNorm:
    return hk.LayerNorm(axis=-1, create_scale=True, create_offset=True, eps=_jax.LN_EPS, name=name)


class Block(hk.Module):
    """Pre-LN block. ``x``: ``[B, T, D]`` -> ``[B, T, D]``."""

    def __init__(self, heads: int, hidden: int, causal: bool, name: str | None = None):
        super().__init__(name=name)
        self.heads, self.hidden, self.causal = heads, hidden, causal

    def __call__(self, x):
        t, d = x.shape[-2:]
        mask = jnp.tril(jnp.ones((1, 1, t, t), bool)) if self.causal else None
        attn = hk.MultiHeadAttention(self.heads, d // self.heads, w_init=W_INIT, model_size=d, name="attn")
        h = _norm("ln1")(x)
        x = x + attn(h, h, h, mask=mask)
        h = hk.Linear(self.hidden, name="fc1")(_norm("ln2")(x))
        return x + hk.Linear(d, name="fc2")(jax.nn.gelu(h))


def encoder(x, config, causal: bool):
    """``depth`` blocks (``block_<i>``, or ``hk.layer_stack`` of one ``block``) then ``ln_f``."""
    kw = dict(heads=config["heads"], hidden=config["hidden"], causal=causal)
    if config["scan"]:
        x = hk.layer_stack(config["depth"], name="blocks")(lambda h: Block(**kw, name="block")(h))(x)
    else:
        for name in _jax.block_names(config["depth"]):
            x = Block(**kw, name=name)(x)
    return _norm("ln_f")(x)


def _block_to_canonical(get, heads: int) -> dict:
    """``get(sub)`` returns the haiku param dict of sub-module ``sub`` of one block."""

    def proj(p):
        w, b = p["w"], p["b"]
        return {"w": w.reshape(*w.shape[:-1], heads, -1), "b": b.reshape(*b.shape[:-1], heads, -1)}

    attn = {n: proj(get(f"attn/{n}")) for n in ("query", "key", "value")}
    w = get("attn/linear")["w"]
    attn["out"] = {"w": w.reshape(*w.shape[:-2], heads, -1, w.shape[-1]), "b": get("attn/linear")["b"]}
    norm = lambda p: {"scale": p["scale"], "bias": p["offset"]}  # noqa: E731
    return {
        "ln1": norm(get("ln1")),
        "attn": attn,
        "ln2": norm(get("ln2")),
        "mlp": {n: dict(get(n)) for n in ("fc1", "fc2")},
    }


def _block_from_canonical(c: dict, prefix: str) -> dict:
    flat = lambda a, n: a.reshape(*a.shape[:-n], -1)  # noqa: E731 - merge the last n axes
    out = {
        f"{prefix}/attn/{n}": {"w": flat(c["attn"][n]["w"], 2), "b": flat(c["attn"][n]["b"], 2)}
        for n in ("query", "key", "value")
    }
    w = c["attn"]["out"]["w"]
    out[f"{prefix}/attn/linear"] = {"w": w.reshape(*w.shape[:-3], -1, w.shape[-1]), "b": c["attn"]["out"]["b"]}
    for n in ("ln1", "ln2"):
        out[f"{prefix}/{n}"] = {"scale": c[n]["scale"], "offset": c[n]["bias"]}
    for n in ("fc1", "fc2"):
        out[f"{prefix}/{n}"] = dict(c["mlp"][n])
    return out


def encoder_to_canonical(params: dict, scope: str, config) -> dict:
    """Haiku params of ``encoder`` called under ``scope`` -> canonical blocks + ``ln_f``."""
    heads, depth = config["heads"], config["depth"]

    def getter(prefix):
        return lambda sub: params[f"{prefix}/{sub}"]

    if config["scan"]:
        blocks = {"blocks": _block_to_canonical(getter(f"{scope}blocks/block"), heads)}
    else:
        blocks = {n: _block_to_canonical(getter(f"{scope}{n}"), heads) for n in _jax.block_names(depth)}
    ln = params[f"{scope}ln_f"]
    return {**blocks, "ln_f": {"scale": ln["scale"], "bias": ln["offset"]}}


def encoder_from_canonical(c: dict, scope: str, config) -> dict:
    depth = config["depth"]
    if config["scan"]:
        out = _block_from_canonical(c["blocks"], f"{scope}blocks/block")
    else:
        out = {}
        for n in _jax.block_names(depth):
            out.update(_block_from_canonical(c[n], f"{scope}{n}"))
    out[f"{scope}ln_f"] = {"scale": c["ln_f"]["scale"], "offset": c["ln_f"]["bias"]}
    return out


def model(config, dtype) -> Functional:
    d, vocab = config["d_model"], config["vocab"]

    def forward(tokens):
        with float32_params(dtype):
            embed = hk.Embed(vocab, d, name="tok_embed")
            pos = hk.Embed(config["seq"], d, name="pos_embed")
            x = (embed(tokens) + pos(jnp.arange(tokens.shape[1]))).astype(dtype)
            x = encoder(x, config, causal=True)
            if config["tied"]:
                return x @ embed.embeddings.T
            return hk.Linear(vocab, name="head")(x)

    def to_canonical(variables):
        p = variables["params"]
        out = {n: {"embedding": p[n]["embeddings"]} for n in ("tok_embed", "pos_embed")}
        out.update(encoder_to_canonical(p, "", config))
        if "head" in p:
            out["head"] = dict(p["head"])
        return {"params": out}

    def from_canonical(canonical):
        c = canonical["params"]
        out = {n: {"embeddings": c[n]["embedding"]} for n in ("tok_embed", "pos_embed")}
        out.update(encoder_from_canonical(c, "", config))
        if "head" in c:
            out["head"] = dict(c["head"])
        return {"params": out}

    return stateless(forward, to_canonical, from_canonical)
