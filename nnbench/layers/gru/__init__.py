"""GRU over a sequence ``[batch, seq, d_in]`` → hidden states ``[batch, seq,
hidden]`` (zero initial state), a scan over time in every style.

The cell is the cuDNN/PyTorch/Flax-Linen GRU::

    r = σ(x·Wr + br + h·Ur)          z = σ(x·Wz + bz + h·Uz)
    n = tanh(x·Wn + bn + r ⊙ (h·Un + bhn))
    h' = (1 − z) ⊙ n + z ⊙ h

The three libraries ship three different cells, so not every style can use
its built-in one and still run the same math: ``nn.GRUCell`` (Linen) is
exactly this cell; ``nnx.GRUCell`` has no ``bhn`` (the NNX style subclasses
it to add that bias); ``hk.GRU`` applies the reset gate before the recurrent
matmul (``(r ⊙ h)·Un``) and swaps the roles of ``z`` and ``1 − z``, which no
weight conversion can express, so Haiku uses its own ``hk.RNNCore`` (as the
LSTM does). Config keys: ``batch``, ``seq``, ``d_in``, ``hidden``.
Canonical layout: ``{"params": {"wx": [d_in, 3·hidden], "bx": [3·hidden],
"wh": [hidden, 3·hidden], "bhn": [hidden]}}``, gate blocks in order r, z, n.
"""

from nnbench.layers import flops as _flops
from nnbench.layers.catalog import Impls
from nnbench.layers.kit import recurrent_entry


def work(c) -> _flops.Work:
    """FLOPs (the rule: ``layers.flops``) of the whole sequence, ``G =
    3·hidden``, ``H = batch·hidden`` per step. The input projection
    ``x·wx + bx`` for every step at once (``_flops.dense`` over
    ``batch·seq`` rows; its input gradient is not formed). Per step,
    forward: ``h·wh`` (``2·batch·hidden·G``), the r and z pre-activation
    sums (2 per unit) and sigmoids (3 each), ``n = tanh(xn + r·(hn +
    bhn))`` (3), ``h' = (1 - z)·n + z·h`` (4): ``15·H``. Per step, backward: output and carried ``dh``
    summed (1), ``h'``'s four products and ``1 - z`` (6), ``tanh`` (3),
    ``r·(hn + bhn)``'s two factors (2), two sigmoids (6), the two paths
    into ``dh`` summed (1): ``19·H``; ``hᵀ·dg`` and ``dg·whᵀ`` (``2·2·
    batch·hidden·G``), accumulating ``wh``'s gradient (``hidden·G``) and
    ``bhn``'s batch sum and accumulation (``H``)."""
    b, t, d, hid = c["batch"], c["seq"], c["d_in"], c["hidden"]
    g, h = 3 * hid, b * hid
    step = _flops.Work(2 * b * hid * g + 15 * h, params=19 * h + 4 * b * hid * g + hid * g + h)
    return _flops.dense(b * t, d, g) + t * step


ENTRY = recurrent_entry(
    "gru",
    "GRU over a sequence (scan), cuDNN/PyTorch cell",
    work,
    Impls("nnbench.layers.gru"),
)
