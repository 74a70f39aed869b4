"""Pooling in Haiku: ``hk.max_pool`` / ``hk.avg_pool``."""

import haiku as hk

from nnbench.layers import kit as _kit


def model(config, dtype):
    w = config["window"]

    def forward(x, train):
        pool = hk.max_pool if config["kind"] == "max" else hk.avg_pool
        return pool(x, (1, w, w, 1), (1, w, w, 1), "VALID")

    return _kit.haiku(forward, dtype, lambda v: {"params": dict(v["params"])}, lambda c: {"params": {}, "state": {}})
