"""LayerNorm over the last axis of ``[batch, seq, features]``, epsilon 1e-5.

Config keys: ``batch``, ``shape`` (``(seq, features)``). Canonical layout:
``{"params": {"scale": [features], "bias": [features]}}``. Statistics are
computed in float32 (as Flax does) and the output cast to the compute dtype.
"""

from nnbench.layers import flops as _flops
from nnbench.layers.catalog import Impls
from nnbench.layers.kit import norm_entry

EPS = 1e-5


def work(config) -> _flops.Work:
    """FLOPs (the rule: ``layers.flops``) on ``n = batch·seq·features``
    elements in ``rows = batch·seq`` rows: ``E[x²] - E[x]²`` statistics,
    normalise, scale and shift, ``7n + 4·rows`` forward; the scale and bias
    gradients ``3n - 2·features`` (``_flops.normalize``). No input gradient:
    the input is the data."""
    seq, d = config["shape"]
    rows = config["batch"] * seq
    return _flops.normalize(rows * d, rows, d)


ENTRY = norm_entry(
    "layernorm",
    "LayerNorm over the feature axis",
    work,
    {
        "tiny": {"batch": 4, "shape": (8, 16)},
        "small": {"batch": 32, "shape": (128, 512)},
        "base": {"batch": 64, "shape": (512, 1024)},
        "large": {"batch": 64, "shape": (2048, 4096)},
    },
    Impls("nnbench.layers.layernorm"),
)
