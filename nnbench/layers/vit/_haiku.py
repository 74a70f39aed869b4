"""ViT in Haiku: ``hk.Conv2D`` patch embedding, the Transformer LM's
``encoder`` (bidirectional), ``hk.Linear`` classifier."""

from __future__ import annotations

import haiku as hk
import jax.numpy as jnp

from nnbench.layers.haiku_precision import float32_params, stateless
from nnbench.layers.styles import Functional
from nnbench.layers.transformer_lm._haiku import encoder, encoder_from_canonical, encoder_to_canonical


def model(config, dtype) -> Functional:
    p, d = config["patch"], config["d_model"]

    def forward(x):
        with float32_params(dtype):
            h = hk.Conv2D(d, p, stride=p, padding="VALID", name="patch")(x.astype(dtype))
            h = h.reshape(h.shape[0], -1, h.shape[-1])
            pos = hk.get_parameter("pos_embed", h.shape[1:], jnp.float32, init=hk.initializers.RandomNormal(0.02))
            h = encoder(h + pos, config, causal=False)
            return hk.Linear(config["classes"], name="head")(h.mean(axis=1))

    def to_canonical(variables):
        prm = variables["params"]
        out = {n: dict(prm[n]) for n in ("patch", "head")}
        return {
            "params": {
                **out,
                "pos_embed": {"embedding": prm["~"]["pos_embed"]},
                **encoder_to_canonical(prm, "", config),
            }
        }

    def from_canonical(canonical):
        c = canonical["params"]
        out = {n: dict(c[n]) for n in ("patch", "head")}
        return {
            "params": {**out, "~": {"pos_embed": c["pos_embed"]["embedding"]}, **encoder_from_canonical(c, "", config)}
        }

    return stateless(forward, to_canonical, from_canonical)
