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
FLOPs: ``2·B·T·(d_in + hidden)·3·hidden`` forward; train ×3.
"""

from layers._kit import recurrent_entry
from layers.gru import _haiku, _jax, _linen, _nnx

ENTRY = recurrent_entry("gru", "GRU over a sequence (scan), cuDNN/PyTorch cell", 3, {"jax": _jax, "linen": _linen, "nnx": _nnx, "haiku": _haiku})
