"""Multi-head self-attention over ``[batch, seq, d_model]`` with an optional
causal mask: Q/K/V projections with bias, scaled dot-product attention,
output projection with bias.

Config keys: ``batch``, ``seq``, ``d_model``, ``heads``, ``causal``. Canonical
layout: ``{"params": {"query"|"key"|"value": {"w": [d_model, heads,
head_dim], "b": [heads, head_dim]}, "out": {"w": [heads, head_dim, d_model],
"b": [d_model]}}}``. FLOPs: projections ``4·2·B·T·D²`` plus scores and
weighted sum ``2·2·B·T²·D``, the latter halved under the causal mask; train ×3.
"""

from layers._catalog import Entry
from layers._kit import mse, normal_batch
from layers.attention import _haiku, _jax, _linen, _nnx


def flops(config, mode):
    b, t, d = config["batch"], config["seq"], config["d_model"]
    attention = 2 * 2 * b * t * t * d
    if config["causal"]:
        attention /= 2
    forward = 4 * 2 * b * t * d * d + attention
    return {"init": 0.0, "forward": float(forward), "train": 3.0 * forward}[mode]


def _config(batch, seq, d_model, heads, causal=True):
    return {"batch": batch, "seq": seq, "d_model": d_model, "heads": heads, "causal": causal}


ENTRY = Entry(
    name="attention",
    description="multi-head self-attention (causal)",
    sizes={"tiny": _config(2, 8, 16, 2), "small": _config(16, 128, 256, 4), "base": _config(32, 512, 768, 12), "large": _config(32, 2048, 2048, 16)},
    make_batch=normal_batch(lambda c: (c["batch"], c["seq"], c["d_model"]), lambda c: (c["batch"], c["seq"], c["d_model"])),
    loss=mse,
    flops=flops,
    items=lambda config: config["batch"] * config["seq"],
    tolerance={"float32": (1e-5, 1e-6), "bfloat16": (3e-2, 1e-2)},
    impls={"jax": _jax, "linen": _linen, "nnx": _nnx, "haiku": _haiku},
)
