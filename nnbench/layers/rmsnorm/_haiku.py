"""RMSNorm in Haiku: ``hk.RMSNorm``."""

import haiku as hk

from nnbench.layers import kit as _kit

EPS = 1e-5


def model(config, dtype):
    return _kit.haiku(
        lambda x, train: hk.RMSNorm(axis=-1, eps=EPS, name="norm")(x),
        dtype,
        to_canonical=lambda v: {"params": dict(v["params"]["norm"])},
        from_canonical=lambda c: {"params": {"norm": dict(c["params"])}, "state": {}},
    )
