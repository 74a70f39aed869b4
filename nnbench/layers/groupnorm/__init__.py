"""GroupNorm over ``[batch, height, width, channels]``: statistics per sample
over each group of ``channels / groups`` channels and all positions,
epsilon 1e-5.

Config keys: ``batch``, ``shape`` (``(height, width, channels)``),
``groups``. Canonical layout: ``{"params": {"scale": [C], "bias": [C]}}``.
"""

from nnbench.layers import flops as _flops
from nnbench.layers.catalog import Impls
from nnbench.layers.kit import norm_entry


def work(config) -> _flops.Work:
    """FLOPs (the rule: ``layers.flops``) on ``n = batch·H·W·C`` elements
    in ``batch·groups`` normalisation groups: ``E[x²] - E[x]²`` statistics,
    normalise, scale and shift, ``7n + 4·batch·groups`` forward; the scale
    and bias gradients ``3n - 2C`` (``_flops.normalize``)."""
    h, w, c = config["shape"]
    b = config["batch"]
    return _flops.normalize(b * h * w * c, b * config["groups"], c)


ENTRY = norm_entry(
    "groupnorm",
    "GroupNorm over channel groups",
    work,
    {
        "tiny": {"batch": 2, "shape": (4, 4, 8), "groups": 4},
        "small": {"batch": 32, "shape": (16, 16, 64), "groups": 32},
        "base": {"batch": 64, "shape": (32, 32, 128), "groups": 32},
        "large": {"batch": 128, "shape": (56, 56, 256), "groups": 32},
    },
    Impls("nnbench.layers.groupnorm"),
)
