"""Dense + dropout in Haiku: ``hk.dropout`` with ``hk.maybe_next_rng_key()``."""

import haiku as hk

from nnbench.layers import kit as _kit
from nnbench.layers.dense import _haiku as dense


def model(config, dtype):
    base = dense.model(config, dtype)

    def forward(x, train):
        y = hk.Linear(config["d_out"], name="dense")(x)
        key = hk.maybe_next_rng_key()
        return hk.dropout(key, config["rate"], y) if train and key is not None else y

    return _kit.haiku(forward, dtype, base.to_canonical, base.from_canonical)
