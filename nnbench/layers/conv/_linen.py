"""Convolution in Flax Linen: ``nn.Conv`` / ``nn.ConvTranspose``."""

import flax.linen as nn
import jax.numpy as jnp

from nnbench.layers import kit as _kit


class Conv(nn.Module):
    config: dict
    dtype: jnp.dtype = jnp.float32

    @nn.compact
    def __call__(self, x, train: bool = False):
        c = self.config
        layer = nn.ConvTranspose if c["transpose"] else nn.Conv
        return layer(
            c["c_out"],
            c["kernel"],
            strides=c["stride"],
            padding=c["padding"],
            dtype=self.dtype,
            param_dtype=jnp.float32,
            name="conv",
        )(x)


def model(config, dtype):
    return _kit.linen(
        Conv(dict(config), dtype),
        lambda v: {"params": {"w": v["params"]["conv"]["kernel"], "b": v["params"]["conv"]["bias"]}},
        lambda c: {"params": {"conv": {"kernel": c["params"]["w"], "bias": c["params"]["b"]}}},
    )
