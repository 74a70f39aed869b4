"""RMSNorm over the last axis of ``[batch, seq, features]``, epsilon 1e-5.

Config keys: ``batch``, ``shape`` (``(seq, features)``). Canonical layout:
``{"params": {"scale": [features]}}``. FLOPs: about 5 per element forward.
"""

from layers._kit import norm_entry
from layers.rmsnorm import _haiku, _jax, _linen, _nnx

ENTRY = norm_entry(
    "rmsnorm",
    "RMSNorm over the feature axis",
    5,
    {
        "tiny": {"batch": 4, "shape": (8, 16)},
        "small": {"batch": 32, "shape": (128, 512)},
        "base": {"batch": 64, "shape": (512, 1024)},
        "large": {"batch": 64, "shape": (2048, 4096)},
    },
    {"jax": _jax, "linen": _linen, "nnx": _nnx, "haiku": _haiku},
)
