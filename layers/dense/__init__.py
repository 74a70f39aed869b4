"""Dense (fully connected) layer: ``y = x @ w + b``.

Config keys: ``batch``, ``d_in``, ``d_out`` (ints). Canonical layout:
``{"params": {"w": [d_in, d_out], "b": [d_out]}}``.
"""

from __future__ import annotations

from layers._catalog import Entry
from layers._kit import TOLERANCE, mse, normal_batch
from layers.dense import _haiku, _jax, _linen, _nnx


def flops(config, mode):
    """``2·B·in·out`` forward; train adds the two backward matmuls (×3)."""
    forward = 2 * config["batch"] * config["d_in"] * config["d_out"]
    return {"init": 0.0, "forward": float(forward), "train": 3.0 * forward}[mode]


def _config(batch, d_in, d_out):
    return {"batch": batch, "d_in": d_in, "d_out": d_out}


ENTRY = Entry(
    name="dense",
    description="one Dense layer (matmul + bias)",
    sizes={"tiny": _config(8, 16, 32), "small": _config(64, 512, 512), "base": _config(256, 2048, 2048), "large": _config(1024, 8192, 8192)},
    make_batch=normal_batch(lambda c: (c["batch"], c["d_in"]), lambda c: (c["batch"], c["d_out"])),
    loss=mse,
    flops=flops,
    items=lambda config: config["batch"],
    tolerance=TOLERANCE,
    impls={"jax": _jax, "linen": _linen, "nnx": _nnx, "haiku": _haiku},
)
