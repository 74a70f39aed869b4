"""GroupNorm in Flax Linen: ``nn.GroupNorm``."""

import flax.linen as nn
import jax.numpy as jnp

from nnbench.layers import kit as _kit


class Norm(nn.Module):
    groups: int
    dtype: jnp.dtype = jnp.float32

    @nn.compact
    def __call__(self, x, train: bool = False):
        return nn.GroupNorm(
            num_groups=self.groups, epsilon=1e-5, dtype=self.dtype, param_dtype=jnp.float32, name="norm"
        )(x)


def model(config, dtype):
    return _kit.linen(
        Norm(config["groups"], dtype),
        lambda v: {"params": dict(v["params"]["norm"])},
        lambda c: {"params": {"norm": dict(c["params"])}},
    )
