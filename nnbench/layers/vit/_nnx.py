"""ViT in Flax NNX: ``nnx.Conv`` patch embedding, the Transformer LM's
``Encoder`` (bidirectional), ``nnx.Linear`` classifier."""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import nnx

from nnbench.layers.transformer_lm._nnx import Encoder, encoder_from_canonical, encoder_to_canonical

F32 = jnp.float32


class ViT(nnx.Module):
    """``x``: ``[B, S, S, C]`` -> logits ``[B, classes]`` in ``dtype``."""

    def __init__(self, config, dtype, rngs: nnx.Rngs):
        p, d = config["patch"], config["d_model"]
        kw = dict(dtype=dtype, param_dtype=F32, rngs=rngs)
        self.dtype = dtype
        self.patch = nnx.Conv(config["channels"], d, (p, p), strides=(p, p), padding="VALID", **kw)
        n = (config["image"] // p) ** 2
        self.pos_embed = nnx.Param(jax.random.normal(rngs.params(), (n, d), F32) * 0.02)
        self.encoder = Encoder(config, False, dtype, rngs)
        self.head = nnx.Linear(d, config["classes"], **kw)

    def __call__(self, x):
        h = self.patch(x)
        h = h.reshape(h.shape[0], -1, h.shape[-1]) + self.pos_embed[...].astype(self.dtype)
        return self.head(self.encoder(h).mean(axis=1))


def model(config, dtype, rngs):
    return ViT(config, dtype, rngs)


def to_canonical(pure):
    out = {n: {"w": pure[n]["kernel"], "b": pure[n]["bias"]} for n in ("patch", "head")}
    return {"params": {**out, "pos_embed": {"embedding": pure["pos_embed"]}, **encoder_to_canonical(pure["encoder"])}}


def from_canonical(canonical):
    c = canonical["params"]
    out = {n: {"kernel": c[n]["w"], "bias": c[n]["b"]} for n in ("patch", "head")}
    return {**out, "pos_embed": c["pos_embed"]["embedding"], "encoder": encoder_from_canonical(c)}
