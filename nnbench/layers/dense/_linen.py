"""Dense in Flax Linen: ``nn.Dense``."""

from __future__ import annotations

import flax.linen as nn
import jax.numpy as jnp

from nnbench.layers import kit as _kit


class Dense(nn.Module):
    features: int
    dtype: jnp.dtype = jnp.float32

    @nn.compact
    def __call__(self, x, train: bool = False):
        return nn.Dense(self.features, dtype=self.dtype, param_dtype=jnp.float32, name="dense")(x)


def model(config, dtype):
    return _kit.linen(
        Dense(config["d_out"], dtype),
        to_canonical=lambda v: {"params": {"w": v["params"]["dense"]["kernel"], "b": v["params"]["dense"]["bias"]}},
        from_canonical=lambda c: {"params": {"dense": {"kernel": c["params"]["w"], "bias": c["params"]["b"]}}},
    )
