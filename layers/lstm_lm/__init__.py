"""LSTM language model: token embedding, one LSTM over the sequence (a scan),
a vocabulary head; next-token cross-entropy.

Config keys: ``batch``, ``seq`` (T), ``vocab`` (V), ``embed`` (E),
``hidden`` (H). The LSTM is the standard one (gates i, f, g, o; no peephole;
``c' = σ(f)·c + σ(i)·tanh(g)``, ``h' = σ(o)·tanh(c')``; zero initial state).
(Haiku's ``hk.LSTM`` adds 1 to the forget gate, so the Haiku model uses its
own core; see ``_haiku``.)
"""

from __future__ import annotations

from layers._catalog import Entry
from layers.lstm_lm import _haiku, _jax, _linen, _nnx
from layers.transformer_lm import loss, make_batch


def flops(config, mode):
    """Gate matmuls ``2·B·T·(E+H)·4H`` + head ``2·B·T·H·V``; elementwise gate
    math and the lookup are not counted. Train = 3 × forward."""
    b, t, e, h, v = config["batch"], config["seq"], config["embed"], config["hidden"], config["vocab"]
    forward = 2 * b * t * (e + h) * 4 * h + 2 * b * t * h * v
    return {"init": 0.0, "forward": float(forward), "train": 3.0 * forward}[mode]


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
    impls={"jax": _jax, "linen": _linen, "nnx": _nnx, "haiku": _haiku},
)
