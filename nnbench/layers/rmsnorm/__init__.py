"""RMSNorm over the last axis of ``[batch, seq, features]``, epsilon 1e-5.

Config keys: ``batch``, ``shape`` (``(seq, features)``). Canonical layout:
``{"params": {"scale": [features]}}``.
"""

from nnbench.layers import flops as _flops
from nnbench.layers.catalog import Impls
from nnbench.layers.kit import norm_entry


def work(config) -> _flops.Work:
    """FLOPs (the rule: ``layers.flops``) on ``n = batch·seq·features``
    elements in ``rows`` rows. Forward ``x·rsqrt(mean(x²) + eps)·scale``:
    ``x²`` (``n``), the row sums and divides (``n``), ``+ eps`` (``rows``),
    two multiplies (``2n``): ``4n + rows``. Scale gradient ``Σ g·x̂``:
    ``2n - features``."""
    seq, d = config["shape"]
    rows = config["batch"] * seq
    n = rows * d
    return _flops.Work(4 * n + rows, params=2 * n - d)


ENTRY = norm_entry(
    "rmsnorm",
    "RMSNorm over the feature axis",
    work,
    {
        "tiny": {"batch": 4, "shape": (8, 16)},
        "small": {"batch": 32, "shape": (128, 512)},
        "base": {"batch": 64, "shape": (512, 1024)},
        "large": {"batch": 64, "shape": (2048, 4096)},
    },
    Impls("nnbench.layers.rmsnorm"),
)
