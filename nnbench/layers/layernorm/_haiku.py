"""LayerNorm in Haiku: ``hk.LayerNorm``."""

import haiku as hk

from nnbench.layers import kit as _kit

EPS = 1e-5


def model(config, dtype):
    return _kit.haiku(
        lambda x, train: hk.LayerNorm(axis=-1, create_scale=True, create_offset=True, eps=EPS, name="norm")(x),
        dtype,
        to_canonical=lambda v: {"params": _kit.rename(v["params"]["norm"], {"offset": "bias"})},
        from_canonical=lambda c: {"params": {"norm": _kit.rename(c["params"], {"bias": "offset"})}, "state": {}},
    )
