"""A stack of tiny Dense layers: the per-layer and per-parameter-leaf cost of
each API style's Python-side machinery (after Flax's graph-overhead
benchmark). The device work is negligible at these widths, so step time
is framework overhead that grows with depth.

Config keys: ``batch``, ``width``, ``depth`` (Dense layers, ReLU between),
plus ``widths`` and ``activation`` so the MLP's per-style modules (the same
Functional and NNX protocols, see ``layers.styles``) build it: every style
is the MLP's own code at ``widths = (width,) * (depth + 1)``. Parameter
leaves: ``2 · depth`` (a kernel and a bias per layer).
"""

from __future__ import annotations

from nnbench.layers import mlp
from nnbench.layers.catalog import Entry, Impls

DEPTHS = {"tiny": 2, "d1": 1, "d10": 10, "d100": 100, "d1000": 1000}


def _config(depth: int, width: int = 4, batch: int = 2) -> dict:
    return {"batch": batch, "width": width, "depth": depth, "widths": (width,) * (depth + 1), "activation": "relu"}


ENTRY = Entry(
    name="stack",
    description="stack of tiny Dense layers swept over depth: framework overhead per layer and per parameter leaf",
    sizes={name: _config(depth) for name, depth in DEPTHS.items()},
    make_batch=mlp.make_batch,
    loss=mlp.loss,
    flops=mlp.flops,
    items=lambda config: config["batch"],
    tolerance={"float32": (1e-5, 1e-6), "bfloat16": (2e-2, 1e-2)},
    impls=Impls("nnbench.layers.mlp", jax="nnbench.layers.stack._jax"),  # the MLP's modules, its own raw JAX
)
