"""LSTM LM in Flax NNX: ``nnx.Embed``, ``nnx.RNN(nnx.LSTMCell)``, ``nnx.Linear``.
``nnx.LSTMCell`` has Linen's per-gate layout (``ii`` … ``ho``), except that
the forget-gate input Dense is ``if_`` (``if`` is a Python keyword)."""

from __future__ import annotations

import jax.numpy as jnp
from flax import nnx

from nnbench.layers.lstm_lm._linen import cell_from_canonical, cell_to_canonical

F32 = jnp.float32


class LSTMLM(nnx.Module):
    """``tokens``: int ``[B, T]`` -> logits ``[B, T, V]``."""

    def __init__(self, config, dtype, rngs: nnx.Rngs):
        kw = dict(dtype=dtype, param_dtype=F32, rngs=rngs)
        self.embed = nnx.Embed(config["vocab"], config["embed"], **kw)
        self.lstm = nnx.RNN(nnx.LSTMCell(config["embed"], config["hidden"], **kw))
        self.head = nnx.Linear(config["hidden"], config["vocab"], **kw)

    def __call__(self, tokens):
        return self.head(self.lstm(self.embed(tokens)))


def model(config, dtype, rngs):
    return LSTMLM(config, dtype, rngs)


def to_canonical(pure):
    head = {"w": pure["head"]["kernel"], "b": pure["head"]["bias"]}
    return {
        "params": {
            "embed": dict(pure["embed"]),
            "lstm": cell_to_canonical({k.rstrip("_"): v for k, v in pure["lstm"]["cell"].items()}),
            "head": head,
        }
    }


def from_canonical(canonical):
    c = canonical["params"]
    head = {"kernel": c["head"]["w"], "bias": c["head"]["b"]}
    return {
        "embed": dict(c["embed"]),
        "lstm": {"cell": {("if_" if k == "if" else k): v for k, v in cell_from_canonical(c["lstm"]).items()}},
        "head": head,
    }
