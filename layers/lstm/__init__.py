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

from layers._catalog import Entry
from layers._kit import mse, normal_batch
from layers.lstm import _haiku, _jax, _linen, _nnx


def flops(c, mode):
    forward = 2 * c["batch"] * c["seq"] * (c["d_in"] + c["hidden"]) * 4 * c["hidden"]
    return {"init": 0.0, "forward": float(forward), "train": 3.0 * forward}[mode]


def _config(batch, seq, d_in, hidden):
    return {"batch": batch, "seq": seq, "d_in": d_in, "hidden": hidden}


ENTRY = Entry(
    name="lstm",
    description="LSTM over a sequence (scan)",
    sizes={"tiny": _config(2, 4, 8, 8), "small": _config(32, 64, 256, 256), "base": _config(64, 256, 512, 1024), "large": _config(64, 512, 1024, 2048)},
    make_batch=normal_batch(lambda c: (c["batch"], c["seq"], c["d_in"]), lambda c: (c["batch"], c["seq"], c["hidden"])),
    loss=mse,
    flops=flops,
    items=lambda c: c["batch"] * c["seq"],
    tolerance={"float32": (1e-5, 1e-6), "bfloat16": (3e-2, 2e-2)},
    impls={"jax": _jax, "linen": _linen, "nnx": _nnx, "haiku": _haiku},
)
