"""GroupNorm over ``[batch, height, width, channels]``: statistics per sample
over each group of ``channels / groups`` channels and all positions,
epsilon 1e-5.

Config keys: ``batch``, ``shape`` (``(height, width, channels)``),
``groups``. Canonical layout: ``{"params": {"scale": [C], "bias": [C]}}``.
FLOPs: about 8 per element forward.
"""

from layers._kit import norm_entry
from layers.groupnorm import _haiku, _jax, _linen, _nnx

ENTRY = norm_entry(
    "groupnorm",
    "GroupNorm over channel groups",
    8,
    {
        "tiny": {"batch": 2, "shape": (4, 4, 8), "groups": 4},
        "small": {"batch": 32, "shape": (16, 16, 64), "groups": 32},
        "base": {"batch": 64, "shape": (32, 32, 128), "groups": 32},
        "large": {"batch": 128, "shape": (56, 56, 256), "groups": 32},
    },
    {"jax": _jax, "linen": _linen, "nnx": _nnx, "haiku": _haiku},
)
