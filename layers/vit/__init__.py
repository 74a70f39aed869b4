"""Vision Transformer: non-overlapping patch embedding (a strided conv),
learned position embeddings, ``depth`` pre-LN encoder blocks (bidirectional
attention), a final LayerNorm, mean pooling over patches and a linear
classifier. The blocks are the Transformer LM's (``layers.transformer_lm``).

Config keys: ``batch``, ``image`` (side), ``channels``, ``patch`` (side),
``classes``, ``d_model``, ``heads``, ``hidden``, ``depth``, ``scan``.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import optax

from layers._catalog import Entry
from layers.transformer_lm import block_flops
from layers.vit import _haiku, _jax, _linen, _nnx


def make_batch(config, key, dtype):
    """``x``: images ``[B, S, S, C]`` in ``dtype``; ``y``: int32 labels ``[B]``."""
    kx, ky = jax.random.split(key)
    s, c = config["image"], config["channels"]
    x = jax.random.normal(kx, (config["batch"], s, s, c), jnp.float32).astype(dtype)
    return {"x": x, "y": jax.random.randint(ky, (config["batch"],), 0, config["classes"], jnp.int32)}


def loss(logits, batch):
    """Mean softmax cross-entropy (float32). ``logits``: ``[B, classes]``."""
    return optax.softmax_cross_entropy_with_integer_labels(logits.astype(jnp.float32), batch["y"]).mean()


def flops(config, mode):
    """Patch embedding ``2·B·N·P²·C·D`` (``N = (S/P)²`` patches) +
    ``depth · block_flops(B, N, causal=False)`` + head ``2·B·D·classes``.
    Train = 3 × forward."""
    b, d, p = config["batch"], config["d_model"], config["patch"]
    n = (config["image"] // p) ** 2
    forward = 2 * b * n * p * p * config["channels"] * d
    forward += config["depth"] * block_flops(b, n, d, config["hidden"], False) + 2 * b * d * config["classes"]
    return {"init": 0.0, "forward": float(forward), "train": 3.0 * forward}[mode]


def _config(batch, image, patch, d_model, heads, depth, classes=10, channels=3):
    return {
        "batch": batch,
        "image": image,
        "channels": channels,
        "patch": patch,
        "classes": classes,
        "d_model": d_model,
        "heads": heads,
        "hidden": 4 * d_model,
        "depth": depth,
        "scan": False,
    }


ENTRY = Entry(
    name="vit",
    description="ViT: patch embedding, bidirectional pre-LN encoder, mean-pool classifier",
    sizes={
        "tiny": _config(2, 8, 4, 16, 2, 2),
        "small": _config(32, 32, 4, 192, 3, 6),  # CIFAR-sized ViT
        "base": _config(64, 224, 16, 768, 12, 12, classes=1000),  # ViT-B/16
        "large": _config(64, 224, 16, 1024, 16, 24, classes=1000),  # ViT-L/16
    },
    make_batch=make_batch,
    loss=loss,
    flops=flops,
    items=lambda config: config["batch"],
    tolerance={"float32": (1e-5, 1e-5), "bfloat16": (4e-2, 4e-2)},
    impls={"jax": _jax, "linen": _linen, "nnx": _nnx, "haiku": _haiku},
)
