"""Multi-head self-attention over ``[batch, seq, d_model]`` with an optional
causal mask: Q/K/V projections with bias, scaled dot-product attention,
output projection with bias.

Config keys: ``batch``, ``seq``, ``d_model``, ``heads``, ``causal``. Canonical
layout: ``{"params": {"query"|"key"|"value": {"w": [d_model, heads,
head_dim], "b": [heads, head_dim]}, "out": {"w": [heads, head_dim, d_model],
"b": [d_model]}}}``.
"""

from nnbench.layers import flops as _flops
from nnbench.layers.catalog import Entry, Impls
from nnbench.layers.kit import mse, normal_batch


def flops(config, mode):
    """Model FLOPs (the rule: ``layers.flops``; derivation in
    ``_flops.attention``). Forward ``8·B·T·D²`` (four projections) +
    ``4·B·T²·D`` (scores and weighted sum over the full ``T × T`` matrix:
    the causal mask selects after computing it) + biases, scale, mask and
    softmax. Train adds the MSE loss and the parameters' gradients: every
    projection's weights (``8·B·T·D²``) and the gradient into the heads'
    output (``2·B·T·D²``), but no input gradient of the Q/K/V projections
    (the input is the data): ``18·B·T·D²``, not ``24``, and ``12·B·T²·D``
    for the score terms."""
    b, t, d = config["batch"], config["seq"], config["d_model"]
    layer = _flops.attention(b, t, d, config["heads"], config["causal"])
    return _flops.step(mode, [layer], _flops.mse(b * t * d))


def _config(batch, seq, d_model, heads, causal=True):
    return {"batch": batch, "seq": seq, "d_model": d_model, "heads": heads, "causal": causal}


ENTRY = Entry(
    name="attention",
    description="multi-head self-attention (causal)",
    sizes={
        "tiny": _config(2, 8, 16, 2),
        "small": _config(16, 128, 256, 4),
        "base": _config(32, 512, 768, 12),
        "large": _config(32, 2048, 2048, 16),
    },
    make_batch=normal_batch(
        lambda c: (c["batch"], c["seq"], c["d_model"]), lambda c: (c["batch"], c["seq"], c["d_model"])
    ),
    loss=mse,
    flops=flops,
    items=lambda config: config["batch"] * config["seq"],
    tolerance={"float32": (1e-5, 1e-6), "bfloat16": (3e-2, 1e-2)},
    impls=Impls("nnbench.layers.attention"),
)
