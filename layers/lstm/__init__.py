"""LSTM over a sequence ``[batch, seq, d_in]`` → hidden states ``[batch, seq,
hidden]`` (zero initial state), a scan over time in every style.

Gates ``i, f, g, o = split(x @ wx + h @ wh + b)``; ``c' = σ(f)·c + σ(i)·tanh(g)``,
``h' = σ(o)·tanh(c')``. Config keys: ``batch``, ``seq``, ``d_in``, ``hidden``.
Canonical layout: ``{"params": {"wx": [d_in, 4·hidden], "wh": [hidden,
4·hidden], "b": [4·hidden]}}``, gate blocks in order i, f, g, o. Haiku uses
its own ``hk.RNNCore`` (see ``_haiku.py``: ``hk.LSTM``'s fixed forget bias
is a different cell). FLOPs: ``2·B·T·(d_in +
hidden)·4·hidden`` forward; train ×3.
"""

from layers._kit import recurrent_entry
from layers.lstm import _haiku, _jax, _linen, _nnx

ENTRY = recurrent_entry("lstm", "LSTM over a sequence (scan)", 4, {"jax": _jax, "linen": _linen, "nnx": _nnx, "haiku": _haiku})
