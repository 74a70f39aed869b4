"""LSTM LM in Haiku: ``hk.Embed``, an LSTM ``hk.RNNCore`` run by
``hk.dynamic_unroll``, ``hk.Linear``.

``hk.LSTM`` adds 1 to the forget-gate pre-activation, which is different
math from Flax's ``LSTMCell``; expressing it as a bias shift would make the
weight conversion affine, and gradients do not shift. So this model uses a
small custom core, written the way ``hk.LSTM`` is (one fused Linear over
``[x, h]``), with the standard gates i, f, g, o.
"""

from __future__ import annotations

import haiku as hk
import jax
import jax.numpy as jnp

from nnbench.layers.haiku_precision import float32_params, stateless
from nnbench.layers.styles import Functional


class LSTM(hk.RNNCore):
    """``(x [B, E], (h, c) [B, H] each) -> (h', (h', c'))``."""

    def __init__(self, hidden: int, name: str | None = None):
        super().__init__(name=name)
        self.hidden = hidden

    def __call__(self, x, state):
        h, c = state
        gates = hk.Linear(4 * self.hidden, name="linear")(jnp.concatenate([x, h], axis=-1))
        i, f, g, o = jnp.split(gates, 4, axis=-1)
        c = jax.nn.sigmoid(f) * c + jax.nn.sigmoid(i) * jnp.tanh(g)
        h = jax.nn.sigmoid(o) * jnp.tanh(c)
        return h, (h, c)

    def initial_state(self, batch_size: int | None):
        zeros = jnp.zeros((batch_size, self.hidden), jnp.float32)
        return zeros, zeros


def model(config, dtype) -> Functional:
    e = config["embed"]

    def forward(tokens):
        with float32_params(dtype):
            x = hk.Embed(config["vocab"], e, name="embed")(tokens)
            core = LSTM(config["hidden"], name="lstm")
            state = jax.tree.map(lambda a: a.astype(dtype), core.initial_state(tokens.shape[0]))
            hs, _ = hk.dynamic_unroll(core, x.astype(dtype), state, time_major=False)
            return hk.Linear(config["vocab"], name="head")(hs)

    def to_canonical(variables):
        p = variables["params"]
        w = p["lstm/linear"]["w"]
        lstm = {"w_i": w[:e], "w_h": w[e:], "b": p["lstm/linear"]["b"]}
        return {"params": {"embed": {"embedding": p["embed"]["embeddings"]}, "lstm": lstm, "head": dict(p["head"])}}

    def from_canonical(canonical):
        c = canonical["params"]
        linear = {"w": jnp.concatenate([c["lstm"]["w_i"], c["lstm"]["w_h"]], axis=0), "b": c["lstm"]["b"]}
        return {
            "params": {"embed": {"embeddings": c["embed"]["embedding"]}, "lstm/linear": linear, "head": dict(c["head"])}
        }

    return stateless(forward, to_canonical, from_canonical)
