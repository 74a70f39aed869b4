"""Max and average pooling shared by the ``maxpool`` and ``avgpool`` entries:
``[batch, height, width, channels]``, window 2x2, stride 2, VALID padding.
No parameters: the train mode differentiates the loss w.r.t. nothing (an
empty parameter tree) and exercises only the forward computation and the
optimizer plumbing.

Config keys: ``batch``, ``spatial``, ``channels``, ``window``, ``kind``
(``"max"`` or ``"avg"``). Canonical layout: ``{"params": {}}``.
"""

import math

from nnbench.layers import flops as _flops
from nnbench.layers.catalog import Entry, Impls
from nnbench.layers.kit import TOLERANCE, mse, normal_batch


def out_spatial(c):
    return tuple(n // c["window"] for n in c["spatial"])


def flops(c, mode):
    """Model FLOPs (the rule: ``layers.flops``): reducing each window of
    ``window²`` inputs takes ``window² - 1`` maximums or adds per output,
    and the average divides once more. With no parameters, train is that
    forward and the MSE loss's forward (nothing is differentiated)."""
    outputs = c["batch"] * math.prod(out_spatial(c)) * c["channels"]
    per = c["window"] ** 2 - 1 + (c["kind"] == "avg")
    pool = _flops.Work(per * outputs, has_params=False)
    return _flops.step(mode, [pool], _flops.mse(outputs))


def entry(kind: str) -> Entry:

    def config(batch, size, channels):
        return {"batch": batch, "spatial": (size, size), "channels": channels, "window": 2, "kind": kind}

    return Entry(
        name=f"{kind}pool",
        description=f"{kind} pooling (2x2, stride 2, VALID)",
        sizes={
            "tiny": config(2, 8, 4),
            "small": config(32, 32, 64),
            "base": config(64, 64, 128),
            "large": config(128, 128, 256),
        },
        make_batch=normal_batch(
            lambda c: (c["batch"], *c["spatial"], c["channels"]), lambda c: (c["batch"], *out_spatial(c), c["channels"])
        ),
        loss=mse,
        flops=flops,
        items=lambda c: c["batch"],
        tolerance=TOLERANCE,
        impls=Impls("nnbench.layers.pool"),
    )
