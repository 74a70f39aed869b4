"""LayerNorm in Flax Linen: ``nn.LayerNorm``."""

import flax.linen as nn
import jax.numpy as jnp

from nnbench.layers import kit as _kit

EPS = 1e-5


class Norm(nn.Module):
    dtype: jnp.dtype = jnp.float32

    @nn.compact
    def __call__(self, x, train: bool = False):
        return nn.LayerNorm(epsilon=EPS, dtype=self.dtype, param_dtype=jnp.float32, name="norm")(x)


def model(config, dtype):
    return _kit.linen(
        Norm(dtype), lambda v: {"params": dict(v["params"]["norm"])}, lambda c: {"params": {"norm": dict(c["params"])}}
    )
