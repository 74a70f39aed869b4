"""Transformer LM in Flax Linen: ``nn.MultiHeadDotProductAttention`` blocks,
stacked unrolled or with ``nn.scan`` (params get a leading depth axis).
``Block`` and ``Encoder`` are shared with the ViT."""

from __future__ import annotations

import flax.linen as nn
import jax.numpy as jnp

from nnbench.layers.styles import Functional
from nnbench.layers.transformer_lm import _jax

F32 = jnp.float32


class Block(nn.Module):
    """Pre-LN block. ``x``: ``[B, T, D]`` in ``dtype``; returns the same.

    With ``scanned`` it is an ``nn.scan`` body: ``(x, None) -> (x, None)``.
    """

    heads: int
    hidden: int
    causal: bool
    dtype: jnp.dtype = F32
    scanned: bool = False

    @nn.compact
    def __call__(self, x, _=None):
        norm = lambda name: nn.LayerNorm(epsilon=_jax.LN_EPS, dtype=self.dtype, param_dtype=F32, name=name)  # noqa: E731
        mask = nn.make_causal_mask(x[..., 0]) if self.causal else None
        attn = nn.MultiHeadDotProductAttention(self.heads, dtype=self.dtype, param_dtype=F32, name="attn")
        x = x + attn(norm("ln1")(x), mask=mask)
        h = nn.Dense(self.hidden, dtype=self.dtype, param_dtype=F32, name="fc1")(norm("ln2")(x))
        x = x + nn.Dense(x.shape[-1], dtype=self.dtype, param_dtype=F32, name="fc2")(nn.gelu(h))
        return (x, None) if self.scanned else x


class Encoder(nn.Module):
    """``depth`` blocks (unrolled ``block_<i>`` or one scanned ``blocks``) and ``ln_f``."""

    depth: int
    heads: int
    hidden: int
    causal: bool
    scan: bool
    dtype: jnp.dtype = F32

    @nn.compact
    def __call__(self, x):
        kw = dict(heads=self.heads, hidden=self.hidden, causal=self.causal, dtype=self.dtype)
        if self.scan:
            stack = nn.scan(Block, variable_axes={"params": 0}, split_rngs={"params": True}, length=self.depth)
            x, _ = stack(**kw, scanned=True, name="blocks")(x, None)
        else:
            for name in _jax.block_names(self.depth):
                x = Block(**kw, name=name)(x)
        return nn.LayerNorm(epsilon=_jax.LN_EPS, dtype=self.dtype, param_dtype=F32, name="ln_f")(x)


class TransformerLM(nn.Module):
    """``tokens``: int ``[B, T]`` -> logits ``[B, T, V]`` in ``dtype``."""

    config: dict
    dtype: jnp.dtype = F32

    @nn.compact
    def __call__(self, tokens):
        c = self.config
        embed = nn.Embed(c["vocab"], c["d_model"], dtype=self.dtype, param_dtype=F32, name="tok_embed")
        pos = nn.Embed(c["seq"], c["d_model"], dtype=self.dtype, param_dtype=F32, name="pos_embed")
        x = embed(tokens) + pos(jnp.arange(tokens.shape[1]))
        x = Encoder(c["depth"], c["heads"], c["hidden"], True, c["scan"], self.dtype, name="encoder")(x)
        if c["tied"]:
            return embed.attend(x)
        return nn.Dense(c["vocab"], dtype=self.dtype, param_dtype=F32, name="head")(x)


def block_to_canonical(p: dict) -> dict:
    attn = {n: {"w": p["attn"][n]["kernel"], "b": p["attn"][n]["bias"]} for n in ("query", "key", "value", "out")}
    mlp = {n: {"w": p[n]["kernel"], "b": p[n]["bias"]} for n in ("fc1", "fc2")}
    return {"ln1": dict(p["ln1"]), "attn": attn, "ln2": dict(p["ln2"]), "mlp": mlp}


def block_from_canonical(c: dict) -> dict:
    out = {n: {"kernel": c["attn"][n]["w"], "bias": c["attn"][n]["b"]} for n in ("query", "key", "value", "out")}
    mlp = {n: {"kernel": c["mlp"][n]["w"], "bias": c["mlp"][n]["b"]} for n in ("fc1", "fc2")}
    return {"ln1": dict(c["ln1"]), "attn": out, "ln2": dict(c["ln2"]), **mlp}


def encoder_to_canonical(p: dict) -> dict:
    """Linen ``encoder`` params -> canonical ``block_<i>`` (or stacked ``blocks``) + ``ln_f``."""
    return {k: dict(v) if k == "ln_f" else block_to_canonical(v) for k, v in p.items()}


def encoder_from_canonical(c: dict) -> dict:
    """The canonical entries ``block_<i>``/``blocks``/``ln_f`` -> Linen ``encoder`` params."""
    return {
        k: dict(v) if k == "ln_f" else block_from_canonical(v)
        for k, v in c.items()
        if k.startswith("block") or k == "ln_f"
    }


def model(config, dtype) -> Functional:
    module = TransformerLM(config, dtype)

    def apply(variables, tokens, *, train, rng):
        del train, rng
        return module.apply(variables, tokens), {}

    def to_canonical(variables):
        p = variables["params"]
        out = {
            "tok_embed": dict(p["tok_embed"]),
            "pos_embed": dict(p["pos_embed"]),
            **encoder_to_canonical(p["encoder"]),
        }
        if "head" in p:
            out["head"] = {"w": p["head"]["kernel"], "b": p["head"]["bias"]}
        return {"params": out}

    def from_canonical(canonical):
        c = canonical["params"]
        out = {
            "tok_embed": dict(c["tok_embed"]),
            "pos_embed": dict(c["pos_embed"]),
            "encoder": encoder_from_canonical(c),
        }
        if "head" in c:
            out["head"] = {"kernel": c["head"]["w"], "bias": c["head"]["b"]}
        return {"params": out}

    return Functional(module.init, apply, to_canonical, from_canonical)
