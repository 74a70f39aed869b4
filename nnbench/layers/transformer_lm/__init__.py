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

from nnbench.layers import flops as _flops
from nnbench.layers.catalog import COMPILE_DEPTHS, Entry, Impls


def make_batch(config, key, dtype):
    """``x``: int32 tokens ``[B, T]``; ``y``: the next tokens ``[B, T]`` int32.

    ``dtype`` is the compute dtype; token ids are integers regardless.
    """
    del dtype
    tokens = jax.random.randint(key, (config["batch"], config["seq"] + 1), 0, config["vocab"], jnp.int32)
    return {"x": tokens[:, :-1], "y": tokens[:, 1:]}


def loss(logits, batch):
    """Mean next-token cross-entropy (float32). ``logits``: ``[B, T, V]``."""
    import optax  # here, not at the top: reading the catalog imports no training library

    return optax.softmax_cross_entropy_with_integer_labels(logits.astype(jnp.float32), batch["y"]).mean()


def block_work(batch: int, seq: int, d: int, heads: int, hidden: int, causal: bool) -> _flops.Work:
    """FLOPs (the rule: ``layers.flops``) of one pre-LN block on ``N =
    B·T`` tokens: ``x + attn(ln1(x))`` then ``x + fc2(gelu(fc1(ln2(x))))``.

    Its parts' derivations: ``_flops.layer_norm`` (×2), ``_flops.attention``
    (Q/K/V/output projections ``8·N·D²``, scores and weighted sum
    ``4·B·T²·D`` over the full ``T × T`` matrix), ``_flops.dense`` (the MLP,
    ``4·N·D·F``), ``_flops.activation("gelu")``; each residual add is ``N·D``
    forward, and its fork sums two gradients (``N·D``) backward. Every
    block's input gradient is formed (the embeddings below have
    parameters), so train costs about 3 × the forward here.
    """
    n = batch * seq
    residual = _flops.Work(n * d, inputs=n * d, has_params=False)
    parts = [
        _flops.layer_norm(n, d),
        _flops.attention(batch, seq, d, heads, causal),
        residual,
        _flops.layer_norm(n, d),
        _flops.dense(n, d, hidden),
        _flops.activation("gelu", n * hidden),
        _flops.dense(n, hidden, d),
        residual,
    ]
    return _flops.total(parts)


def flops(config, mode):
    """Model FLOPs (the rule: ``layers.flops``): token and position
    embeddings (lookups, and their sum ``N·D``), ``depth`` blocks
    (``block_work``, causal), the final LayerNorm, the vocabulary head
    ``2·N·D·V`` (tied: ``x·Eᵀ``, no bias) and the cross-entropy loss over
    ``N`` rows of ``V`` logits. Backward: the head's weight and input
    gradients, every block's, and the embeddings' (the token gradient
    scatter-added, ``N·D``, plus the tied head's ``V·D`` added in; the
    position gradient summed over the batch). The optimizer update is not
    counted."""
    b, t, d, v = config["batch"], config["seq"], config["d_model"], config["vocab"]
    n = b * t
    tied = config["tied"]
    embed = _flops.Work(n * d, params=n * d + (b - 1) * t * d + (v * d if tied else 0))
    block = block_work(b, t, d, config["heads"], config["hidden"], causal=True)
    chain = [embed, config["depth"] * block, _flops.layer_norm(n, d), _flops.dense(n, d, v, bias=not tied)]
    return _flops.step(mode, chain, _flops.cross_entropy(n, v))


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
    impls=Impls("nnbench.layers.transformer_lm"),
)
