"""Transformer LM in Flax NNX: ``nnx.MultiHeadAttention`` blocks, stacked in
an ``nnx.List`` or created with ``nnx.vmap`` (split rngs) and run with
``nnx.scan``. ``Block``, ``Encoder`` and the conversions are shared with the
ViT; the NNX param layout per block matches Linen's."""

from __future__ import annotations

import jax.numpy as jnp
from flax import nnx

from nnbench.layers.transformer_lm import _jax, _linen

F32 = jnp.float32


class Block(nnx.Module):
    """Pre-LN block. ``x``: ``[B, T, D]`` -> ``[B, T, D]`` in ``dtype``."""

    def __init__(self, d: int, heads: int, hidden: int, causal: bool, dtype, rngs: nnx.Rngs):
        kw = dict(dtype=dtype, param_dtype=F32, rngs=rngs)
        self.causal = causal
        self.ln1 = nnx.LayerNorm(d, epsilon=_jax.LN_EPS, **kw)
        self.attn = nnx.MultiHeadAttention(heads, d, decode=False, **kw)
        self.ln2 = nnx.LayerNorm(d, epsilon=_jax.LN_EPS, **kw)
        self.fc1 = nnx.Linear(d, hidden, **kw)
        self.fc2 = nnx.Linear(hidden, d, **kw)

    def __call__(self, x):
        mask = nnx.make_causal_mask(x[..., 0]) if self.causal else None
        x = x + self.attn(self.ln1(x), mask=mask)
        return x + self.fc2(nnx.gelu(self.fc1(self.ln2(x))))


class Encoder(nnx.Module):
    """``depth`` blocks (``nnx.List``, or one vmapped ``Block`` run by ``nnx.scan``) then ``ln_f``."""

    def __init__(self, config, causal: bool, dtype, rngs: nnx.Rngs):
        d, depth = config["d_model"], config["depth"]
        args = (d, config["heads"], config["hidden"], causal, dtype)
        self.scan = config["scan"]
        if self.scan:

            @nnx.split_rngs(splits=depth)
            @nnx.vmap(in_axes=(0,), out_axes=0)
            def create(rngs: nnx.Rngs) -> Block:
                return Block(*args, rngs=rngs)

            self.blocks = create(rngs)
        else:
            self.blocks = nnx.List([Block(*args, rngs=rngs) for _ in range(depth)])
        self.ln_f = nnx.LayerNorm(d, epsilon=_jax.LN_EPS, dtype=dtype, param_dtype=F32, rngs=rngs)

    def __call__(self, x):
        if self.scan:

            @nnx.scan(in_axes=(nnx.Carry, 0), out_axes=nnx.Carry)
            def forward(h, block: Block):
                return block(h)

            x = forward(x, self.blocks)
        else:
            for block in self.blocks:
                x = block(x)
        return self.ln_f(x)


class TransformerLM(nnx.Module):
    """``tokens``: int ``[B, T]`` -> logits ``[B, T, V]`` in ``dtype``."""

    def __init__(self, config, dtype, rngs: nnx.Rngs):
        d, vocab = config["d_model"], config["vocab"]
        kw = dict(dtype=dtype, param_dtype=F32, rngs=rngs)
        self.tok_embed = nnx.Embed(vocab, d, **kw)
        self.pos_embed = nnx.Embed(config["seq"], d, **kw)
        self.encoder = Encoder(config, True, dtype, rngs)
        self.head = None if config["tied"] else nnx.Linear(d, vocab, **kw)

    def __call__(self, tokens):
        x = self.tok_embed(tokens) + self.pos_embed(jnp.arange(tokens.shape[1]))
        x = self.encoder(x)
        return self.tok_embed.attend(x) if self.head is None else self.head(x)


def _block_pure(p: dict) -> dict:
    """NNX pure-dict block -> Linen-shaped block dict (same names, ``kernel``/``bias``)."""
    return {
        k: dict(v) if k != "attn" else {n: dict(p["attn"][n]) for n in ("query", "key", "value", "out")}
        for k, v in p.items()
    }


def encoder_to_canonical(p: dict) -> dict:
    """NNX ``encoder`` pure dict -> canonical blocks (stacked if scanned) + ``ln_f``."""
    if "ln1" in p["blocks"]:  # scanned: one stacked block
        as_linen = {"blocks": _block_pure(p["blocks"])}
    else:
        as_linen = {n: _block_pure(p["blocks"][i]) for i, n in enumerate(_jax.block_names(len(p["blocks"])))}
    return _linen.encoder_to_canonical({**as_linen, "ln_f": p["ln_f"]})


def encoder_from_canonical(c: dict) -> dict:
    linen = _linen.encoder_from_canonical(c)
    if "blocks" in linen:
        blocks = linen["blocks"]
    else:
        blocks = {i: linen[n] for i, n in enumerate(_jax.block_names(len(linen) - 1))}
    return {"blocks": blocks, "ln_f": linen["ln_f"]}


def model(config, dtype, rngs):
    return TransformerLM(config, dtype, rngs)


def to_canonical(pure):
    out = {n: {"embedding": pure[n]["embedding"]} for n in ("tok_embed", "pos_embed")}
    out.update(encoder_to_canonical(pure["encoder"]))
    if pure.get("head"):
        out["head"] = {"w": pure["head"]["kernel"], "b": pure["head"]["bias"]}
    return {"params": out}


def from_canonical(canonical):
    c = canonical["params"]
    out = {n: {"embedding": c[n]["embedding"]} for n in ("tok_embed", "pos_embed")}
    out["encoder"] = encoder_from_canonical(c)
    if "head" in c:
        out["head"] = {"kernel": c["head"]["w"], "bias": c["head"]["b"]}
    return out
