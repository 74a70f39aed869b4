"""LayerNorm over the last axis of ``[batch, seq, features]``, epsilon 1e-5.

Config keys: ``batch``, ``shape`` (``(seq, features)``). Canonical layout:
``{"params": {"scale": [features], "bias": [features]}}``. Statistics are
computed in float32 (as Flax does) and the output cast to the compute dtype.
FLOPs: about 8 per element forward (mean, variance, normalise, scale, shift).
"""

from layers._kit import norm_entry
from layers.layernorm import _haiku, _jax, _linen, _nnx

EPS = 1e-5

ENTRY = norm_entry(
    "layernorm",
    "LayerNorm over the feature axis",
    8,
    {
        "tiny": {"batch": 4, "shape": (8, 16)},
        "small": {"batch": 32, "shape": (128, 512)},
        "base": {"batch": 64, "shape": (512, 1024)},
        "large": {"batch": 64, "shape": (2048, 4096)},
    },
    {"jax": _jax, "linen": _linen, "nnx": _nnx, "haiku": _haiku},
)
