"""Decoder-only Transformer language model.

Token + learned position embeddings, ``depth`` pre-LN blocks (causal
multi-head self-attention, GELU MLP), a final LayerNorm and a vocabulary
head, tied to the token embedding or untied.

Config keys: ``batch``, ``seq`` (T), ``vocab`` (V), ``d_model`` (D),
``heads`` (H), ``hidden`` (F, MLP width), ``depth`` (L), ``tied`` (bool),
``scan`` (bool: blocks stacked and run with the library's own scan).

Sizes ``tiny``/``small``/``base``/``large``, plus ``d<L>`` and ``d<L>_scan``
for L in ``COMPILE_DEPTHS``: tiny widths at depth L, unrolled or scanned —
the ``compile`` suite's sweep.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import optax

from layers._catalog import COMPILE_DEPTHS, Entry
from layers.transformer_lm import _haiku, _jax, _linen, _nnx


def make_batch(config, key, dtype):
    """``x``: int32 tokens ``[B, T]``; ``y``: the next tokens ``[B, T]`` int32.

    ``dtype`` is the compute dtype; token ids are integers regardless.
    """
    del dtype
    tokens = jax.random.randint(key, (config["batch"], config["seq"] + 1), 0, config["vocab"], jnp.int32)
    return {"x": tokens[:, :-1], "y": tokens[:, 1:]}


def loss(logits, batch):
    """Mean next-token cross-entropy (float32). ``logits``: ``[B, T, V]``."""
    return optax.softmax_cross_entropy_with_integer_labels(logits.astype(jnp.float32), batch["y"]).mean()


def block_flops(batch: int, seq: int, d: int, hidden: int, causal: bool) -> float:
    """Matmul FLOPs of one pre-LN block's forward, ``N = B·T`` tokens:

    ``2·N·D·3D`` (QKV) + ``2·N·D·D`` (out proj) + ``2·N·2·D·F`` (MLP) +
    ``2·2·B·T²·D`` (scores and weighted values), halved when the causal mask
    is used. Norms, softmax and the residual adds are not counted.
    """
    n = batch * seq
    attn = 2 * 2 * batch * seq * seq * d * (0.5 if causal else 1.0)
    return 2 * n * d * 3 * d + 2 * n * d * d + 2 * n * 2 * d * hidden + attn


def flops(config, mode):
    """``depth · block_flops(causal=True)`` + the head ``2·B·T·D·V`` (tied or
    not); embedding lookups are free. Train = 3 × forward (backward costs
    twice the forward)."""
    b, t, d, v = config["batch"], config["seq"], config["d_model"], config["vocab"]
    forward = config["depth"] * block_flops(b, t, d, config["hidden"], True) + 2 * b * t * d * v
    return {"init": 0.0, "forward": float(forward), "train": 3.0 * forward}[mode]


def _config(batch, seq, vocab, d_model, heads, depth, tied=True, scan=False):
    return {
        "batch": batch,
        "seq": seq,
        "vocab": vocab,
        "d_model": d_model,
        "heads": heads,
        "hidden": 4 * d_model,
        "depth": depth,
        "tied": tied,
        "scan": scan,
    }


SIZES = {
    "tiny": _config(8, 8, 32, 16, 2, 2),  # batch 8: shards over 1, 2, 4 and 8 devices
    "tiny_untied": _config(8, 8, 32, 16, 2, 2, tied=False),
    "tiny_scan": _config(8, 8, 32, 16, 2, 2, scan=True),
    "small": _config(8, 128, 1024, 128, 4, 4),
    "base": _config(8, 1024, 32768, 768, 12, 12),
    "large": _config(8, 1024, 32768, 1024, 16, 24),
}
for _depth in COMPILE_DEPTHS:
    SIZES[f"d{_depth}"] = _config(2, 8, 32, 16, 2, _depth)
    SIZES[f"d{_depth}_scan"] = _config(2, 8, 32, 16, 2, _depth, scan=True)

ENTRY = Entry(
    name="transformer_lm",
    description="decoder-only Transformer LM: causal pre-LN blocks, tied head",
    sizes=SIZES,
    make_batch=make_batch,
    loss=loss,
    flops=flops,
    items=lambda config: config["batch"] * config["seq"],
    tolerance={"float32": (1e-5, 1e-5), "bfloat16": (4e-2, 4e-2)},
    impls={"jax": _jax, "linen": _linen, "nnx": _nnx, "haiku": _haiku},
)
