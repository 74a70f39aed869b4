"""LSTM language model: token embedding, one LSTM over the sequence (a scan),
a vocabulary head; next-token cross-entropy.

Config keys: ``batch``, ``seq`` (T), ``vocab`` (V), ``embed`` (E),
``hidden`` (H). The LSTM is the standard one (gates i, f, g, o; no peephole;
``c' = σ(f)·c + σ(i)·tanh(g)``, ``h' = σ(o)·tanh(c')``; zero initial state).
(Haiku's ``hk.LSTM`` adds 1 to the forget gate, so the Haiku model uses its
own core; see ``_haiku``.)
"""

from __future__ import annotations

from nnbench.layers import flops as _flops
from nnbench.layers.catalog import Entry, Impls
from nnbench.layers.transformer_lm import loss, make_batch


def flops(config, mode):
    """Model FLOPs (the rule: ``layers.flops``), ``N = B·T`` tokens, ``G =
    4H`` gate units. The lookup (0), the input projection ``x·w_i + b`` for
    every step at once (``_flops.dense``), then per step the LSTM cell of
    ``layers.lstm.cell`` without its input matmul and bias: ``h·w_h``
    (``2·B·H·G``), the sum with the projected input (``B·G``), sigmoids
    and cell math (``13·B·H``); backward per step the cell's ``23·B·H``,
    ``hᵀ·dg`` and ``dg·w_hᵀ`` (``2·2·B·H·G``) and ``w_h``'s gradient
    accumulated (``H·G``). The head ``2·N·H·V`` + bias and the
    cross-entropy loss; backward reaches the embedding (the projection's
    input gradient, then ``N·E`` scatter-added)."""
    b, t, e, h, v = config["batch"], config["seq"], config["embed"], config["hidden"], config["vocab"]
    n, g = b * t, 4 * h
    embed = _flops.Work(0.0, params=n * e)
    cell = _flops.Work(2 * b * h * g + b * g + 13 * b * h, params=23 * b * h + 4 * b * h * g + h * g)
    chain = [embed, _flops.dense(n, e, g), t * cell, _flops.dense(n, h, v)]
    return _flops.step(mode, chain, _flops.cross_entropy(n, v))


def _config(batch, seq, vocab, embed, hidden):
    return {"batch": batch, "seq": seq, "vocab": vocab, "embed": embed, "hidden": hidden}


ENTRY = Entry(
    name="lstm_lm",
    description="LSTM language model: embedding, LSTM over the sequence, vocab head",
    sizes={
        "tiny": _config(2, 8, 32, 16, 16),
        "small": _config(16, 64, 1024, 128, 256),
        "base": _config(32, 256, 16384, 512, 1024),
        "large": _config(64, 256, 32768, 1024, 2048),
    },
    make_batch=make_batch,
    loss=loss,
    flops=flops,
    items=lambda config: config["batch"] * config["seq"],
    tolerance={"float32": (1e-5, 1e-5), "bfloat16": (4e-2, 4e-2)},
    impls=Impls("nnbench.layers.lstm_lm"),
)
