"""LSTM LM in Flax Linen: ``nn.Embed``, ``nn.RNN(nn.LSTMCell)``, ``nn.Dense``.

``nn.LSTMCell`` keeps one Dense per gate: ``i<g>`` (input, no bias) and
``h<g>`` (hidden, with bias) for g in i, f, g, o.
"""

from __future__ import annotations

import flax.linen as nn
import jax.numpy as jnp

from nnbench.layers.styles import Functional

F32 = jnp.float32
GATES = "ifgo"


class LSTMLM(nn.Module):
    """``tokens``: int ``[B, T]`` -> logits ``[B, T, V]``."""

    config: dict
    dtype: jnp.dtype = F32

    @nn.compact
    def __call__(self, tokens):
        c = self.config
        x = nn.Embed(c["vocab"], c["embed"], dtype=self.dtype, param_dtype=F32, name="embed")(tokens)
        x = nn.RNN(nn.LSTMCell(c["hidden"], dtype=self.dtype, param_dtype=F32, name="lstm"))(x)
        return nn.Dense(c["vocab"], dtype=self.dtype, param_dtype=F32, name="head")(x)


def cell_to_canonical(cell: dict) -> dict:
    """Per-gate kernels -> fused ``w_i``/``w_h``/``b`` (gate order i, f, g, o)."""
    cat = lambda ps: jnp.concatenate(ps, axis=-1)  # noqa: E731
    return {
        "w_i": cat([cell[f"i{g}"]["kernel"] for g in GATES]),
        "w_h": cat([cell[f"h{g}"]["kernel"] for g in GATES]),
        "b": cat([cell[f"h{g}"]["bias"] for g in GATES]),
    }


def cell_from_canonical(lstm: dict) -> dict:
    parts = {n: jnp.split(lstm[n], 4, axis=-1) for n in ("w_i", "w_h", "b")}
    out = {f"i{g}": {"kernel": parts["w_i"][k]} for k, g in enumerate(GATES)}
    out.update({f"h{g}": {"kernel": parts["w_h"][k], "bias": parts["b"][k]} for k, g in enumerate(GATES)})
    return out


def model(config, dtype) -> Functional:
    module = LSTMLM(config, dtype)

    def apply(variables, tokens, *, train, rng):
        del train, rng
        return module.apply(variables, tokens), {}

    def to_canonical(variables):
        p = variables["params"]
        head = {"w": p["head"]["kernel"], "b": p["head"]["bias"]}
        return {"params": {"embed": dict(p["embed"]), "lstm": cell_to_canonical(p["lstm"]), "head": head}}

    def from_canonical(canonical):
        c = canonical["params"]
        head = {"kernel": c["head"]["w"], "bias": c["head"]["b"]}
        return {"params": {"embed": dict(c["embed"]), "lstm": cell_from_canonical(c["lstm"]), "head": head}}

    return Functional(module.init, apply, to_canonical, from_canonical)
