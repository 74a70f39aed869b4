"""Embedding in Haiku: ``hk.Embed``."""

import haiku as hk

from nnbench.layers import kit as _kit


def model(config, dtype):
    return _kit.haiku(
        lambda x, train: hk.Embed(config["vocab"], config["features"], name="embed")(x),
        dtype,
        to_canonical=lambda v: {"params": {"table": v["params"]["embed"]["embeddings"]}},
        from_canonical=lambda c: {"params": {"embed": {"embeddings": c["params"]["table"]}}, "state": {}},
    )
