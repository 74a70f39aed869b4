"""LSTM over a sequence ``[batch, seq, d_in]`` → hidden states ``[batch, seq,
hidden]`` (zero initial state), a scan over time in every style.

Gates ``i, f, g, o = split(x @ wx + h @ wh + b)``; ``c' = σ(f)·c + σ(i)·tanh(g)``,
``h' = σ(o)·tanh(c')``. Config keys: ``batch``, ``seq``, ``d_in``, ``hidden``.
Canonical layout: ``{"params": {"wx": [d_in, 4·hidden], "wh": [hidden,
4·hidden], "b": [4·hidden]}}``, gate blocks in order i, f, g, o. Haiku uses
its own ``hk.RNNCore`` (see ``_haiku.py``: ``hk.LSTM``'s fixed forget bias
is a different cell).
"""

from nnbench.layers import flops as _flops
from nnbench.layers.catalog import Impls
from nnbench.layers.kit import recurrent_entry


def cell(batch: int, d_in: int, hidden: int) -> _flops.Work:
    """FLOPs (the rule: ``layers.flops``) of one LSTM time step, ``G =
    4·hidden`` gate units, ``H = batch·hidden``. Forward: ``x·wx`` and
    ``h·wh`` (``2·batch·(d_in + hidden)·G``), their sum and the bias
    (``2·batch·G``), three sigmoids (3 each per unit), ``c' = σf·c +
    σi·tanh g`` (3), ``h' = σo·tanh c'`` (1): ``8·H·(d_in + hidden) +
    21·H``. Backward, carrying
    ``dh`` and ``dc`` back in time: the step's output and carried ``dh``
    summed (1), ``h'``'s two factors (2) and ``tanh c'`` (3), ``dc`` summed
    (1), ``c'``'s four factors (4) and ``tanh g`` (3), three sigmoids (9):
    ``23·H``; the weight gradients ``x_tᵀ·dg`` and ``h_tᵀ·dg`` and the
    carried ``dg·whᵀ`` (``2·batch·(d_in + 2·hidden)·G``); the bias
    gradient's batch sum (``(batch - 1)·G``) and the three weight
    gradients accumulated over time (``(d_in + hidden + 1)·G``). The input
    gradient ``dg·wxᵀ`` is not formed (the input is the data)."""
    g, h = 4 * hidden, batch * hidden
    forward = 2 * batch * (d_in + hidden) * g + 2 * batch * g + 13 * h
    params = 23 * h + 2 * batch * (d_in + 2 * hidden) * g + (batch - 1) * g + (d_in + hidden + 1) * g
    return _flops.Work(forward, params=params)


ENTRY = recurrent_entry(
    "lstm",
    "LSTM over a sequence (scan)",
    lambda c: c["seq"] * cell(c["batch"], c["d_in"], c["hidden"]),
    Impls("nnbench.layers.lstm"),
)
