"""GroupNorm in Haiku: ``hk.GroupNorm``."""

import haiku as hk

from nnbench.layers import kit as _kit


def model(config, dtype):
    return _kit.haiku(
        lambda x, train: hk.GroupNorm(groups=config["groups"], eps=1e-5, name="norm")(x),
        dtype,
        to_canonical=lambda v: {"params": _kit.rename(v["params"]["norm"], {"offset": "bias"})},
        from_canonical=lambda c: {"params": {"norm": _kit.rename(c["params"], {"bias": "offset"})}, "state": {}},
    )
