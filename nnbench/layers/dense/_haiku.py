"""Dense in Haiku: ``hk.Linear``."""

from __future__ import annotations

import haiku as hk

from nnbench.layers import kit as _kit


def model(config, dtype):
    return _kit.haiku(
        lambda x, train: hk.Linear(config["d_out"], name="dense")(x),
        dtype,
        to_canonical=lambda v: {"params": dict(v["params"]["dense"])},
        from_canonical=lambda c: {"params": {"dense": dict(c["params"])}, "state": {}},
    )
