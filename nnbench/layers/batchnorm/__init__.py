"""BatchNorm over ``[batch, height, width, channels]`` (statistics over all
but the channel axis), momentum 0.9, epsilon 1e-5.

Training normalises with the batch statistics and updates the running ones
(``running = 0.9·running + 0.1·batch``, biased variance ``E[x²] − E[x]²``);
eval (the ``forward`` mode) normalises with the running statistics.

Config keys: ``batch``, ``shape`` (``(height, width, channels)``). Canonical
layout: ``{"params": {"scale": [C], "bias": [C]}, "batch_stats": {"mean":
[C], "var": [C]}}``. Haiku keeps an EMA's biased ``hidden`` value and its
zero-debiased ``average``; ``hidden`` is the running statistic compared here,
``average`` is what Haiku normalises with in eval (loaded with the same
values).
"""

from nnbench.layers import flops as _flops
from nnbench.layers.catalog import Impls
from nnbench.layers.kit import norm_entry


def work(config) -> _flops.Work:
    """FLOPs (the rule: ``layers.flops``) on ``n = batch·H·W·C`` elements,
    ``C`` channels. Eval: ``(x - mean)·(scale·rsqrt(var + eps)) + bias``
    with the running statistics: ``3n + 2C``. Training forward: the batch
    statistics ``E[x²] - E[x]²`` (``3n + 3C``, ``_flops.norm_stats``), the
    running updates ``0.9·r + 0.1·s`` for mean and variance (``6C``), then
    the same normalisation (``3n + 2C``): ``6n + 11C``. Gradients: bias
    ``Σ g`` (``n - C``), ``Σ g·(x - mean)`` (``2n - C``) times ``rsqrt``
    for the scale (``C``): ``3n - C``; the statistics depend on the data
    only, so nothing flows through them."""
    h, w, c = config["shape"]
    n = config["batch"] * h * w * c
    return _flops.Work(_flops.norm_stats(n, c) + 6 * c + 3 * n + 2 * c, params=3 * n - c, eval=3 * n + 2 * c)


ENTRY = norm_entry(
    "batchnorm",
    "BatchNorm (train: batch stats + running update; eval: running stats)",
    work,
    {
        "tiny": {"batch": 4, "shape": (4, 4, 8)},
        "small": {"batch": 64, "shape": (16, 16, 64)},
        "base": {"batch": 128, "shape": (32, 32, 128)},
        "large": {"batch": 256, "shape": (56, 56, 256)},
    },
    Impls("nnbench.layers.batchnorm"),
)
