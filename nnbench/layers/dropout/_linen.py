"""Dense + dropout in Flax Linen: ``nn.Dropout`` on the ``'dropout'`` stream."""

import flax.linen as nn
import jax.numpy as jnp

from nnbench.layers import kit as _kit
from nnbench.layers.dense import _linen as dense


class DenseDropout(nn.Module):
    features: int
    rate: float
    dtype: jnp.dtype = jnp.float32

    @nn.compact
    def __call__(self, x, train: bool = False):
        y = nn.Dense(self.features, dtype=self.dtype, param_dtype=jnp.float32, name="dense")(x)
        # No dropout key (e.g. parity's deterministic training pass): no dropout.
        return nn.Dropout(self.rate)(y, deterministic=not (train and self.has_rng("dropout")))


def model(config, dtype):
    base = dense.model(config, dtype)
    return _kit.linen(DenseDropout(config["d_out"], config["rate"], dtype), base.to_canonical, base.from_canonical)
