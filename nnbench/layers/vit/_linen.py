"""ViT in Flax Linen: ``nn.Conv`` patch embedding, the Transformer LM's
``Encoder`` (bidirectional), ``nn.Dense`` classifier."""

from __future__ import annotations

import flax.linen as nn
import jax.numpy as jnp

from nnbench.layers.styles import Functional
from nnbench.layers.transformer_lm._linen import Encoder, encoder_from_canonical, encoder_to_canonical

F32 = jnp.float32


class ViT(nn.Module):
    """``x``: ``[B, S, S, C]`` -> logits ``[B, classes]`` in ``dtype``."""

    config: dict
    dtype: jnp.dtype = F32

    @nn.compact
    def __call__(self, x):
        c, p = self.config, self.config["patch"]
        h = nn.Conv(
            c["d_model"], (p, p), strides=(p, p), padding="VALID", dtype=self.dtype, param_dtype=F32, name="patch"
        )(x)
        h = h.reshape(h.shape[0], -1, h.shape[-1])
        pos = self.param("pos_embed", nn.initializers.normal(0.02), h.shape[1:], F32)
        h = h + pos.astype(self.dtype)
        h = Encoder(c["depth"], c["heads"], c["hidden"], False, c["scan"], self.dtype, name="encoder")(h)
        return nn.Dense(c["classes"], dtype=self.dtype, param_dtype=F32, name="head")(h.mean(axis=1))


def model(config, dtype) -> Functional:
    module = ViT(config, dtype)

    def apply(variables, x, *, train, rng):
        del train, rng
        return module.apply(variables, x), {}

    def to_canonical(variables):
        p = variables["params"]
        out = {n: {"w": p[n]["kernel"], "b": p[n]["bias"]} for n in ("patch", "head")}
        return {"params": {**out, "pos_embed": {"embedding": p["pos_embed"]}, **encoder_to_canonical(p["encoder"])}}

    def from_canonical(canonical):
        c = canonical["params"]
        out = {n: {"kernel": c[n]["w"], "bias": c[n]["b"]} for n in ("patch", "head")}
        return {"params": {**out, "pos_embed": c["pos_embed"]["embedding"], "encoder": encoder_from_canonical(c)}}

    return Functional(module.init, apply, to_canonical, from_canonical)
