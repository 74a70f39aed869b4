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

from nnbench.layers import flops as _flops
from nnbench.layers.catalog import Entry, Impls
from nnbench.layers.transformer_lm import block_work


def make_batch(config, key, dtype):
    """``x``: images ``[B, S, S, C]`` in ``dtype``; ``y``: int32 labels ``[B]``."""
    kx, ky = jax.random.split(key)
    s, c = config["image"], config["channels"]
    x = jax.random.normal(kx, (config["batch"], s, s, c), jnp.float32).astype(dtype)
    return {"x": x, "y": jax.random.randint(ky, (config["batch"],), 0, config["classes"], jnp.int32)}


def loss(logits, batch):
    """Mean softmax cross-entropy (float32). ``logits``: ``[B, classes]``."""
    import optax  # here, not at the top: reading the catalog imports no training library

    return optax.softmax_cross_entropy_with_integer_labels(logits.astype(jnp.float32), batch["y"]).mean()


def flops(config, mode):
    """Model FLOPs (the rule: ``layers.flops``): the patch embedding, a
    stride-``P`` ``P × P`` convolution (``2·B·N·P²·C·D`` + bias, ``N =
    (S/P)²`` patches; no input gradient, the image is the data), the
    position embedding's add (``B·N·D``; its gradient a batch sum),
    ``depth`` bidirectional blocks (``transformer_lm.block_work``), the
    final LayerNorm, the mean over patches (a sum and a divide; gradient a
    divide), the head ``2·B·D·classes`` + bias and the cross-entropy loss.
    The optimizer update is not counted."""
    b, d, p, s = config["batch"], config["d_model"], config["patch"], config["image"]
    n = b * (s // p) ** 2
    patch = _flops.conv(b, (s, s), config["channels"], d, (p, p), (p, p), "VALID")
    pos = _flops.Work(n * d, params=n * d - n // b * d)
    pool = _flops.Work(n * d, inputs=b * d, has_params=False)
    block = block_work(b, n // b, d, config["heads"], config["hidden"], causal=False)
    chain = [patch, pos, config["depth"] * block, _flops.layer_norm(n, d), pool, _flops.dense(b, d, config["classes"])]
    return _flops.step(mode, chain, _flops.cross_entropy(b, config["classes"]))


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
    impls=Impls("nnbench.layers.vit"),
)
