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
values). FLOPs: about 10 per element forward.
"""

from layers._kit import norm_entry
from layers.batchnorm import _haiku, _jax, _linen, _nnx

ENTRY = norm_entry(
    "batchnorm",
    "BatchNorm (train: batch stats + running update; eval: running stats)",
    10,
    {
        "tiny": {"batch": 4, "shape": (4, 4, 8)},
        "small": {"batch": 64, "shape": (16, 16, 64)},
        "base": {"batch": 128, "shape": (32, 32, 128)},
        "large": {"batch": 256, "shape": (56, 56, 256)},
    },
    {"jax": _jax, "linen": _linen, "nnx": _nnx, "haiku": _haiku},
)
