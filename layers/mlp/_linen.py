"""MLP in Flax Linen: ``nn.Dense`` layers in a compact module."""

from __future__ import annotations

import flax.linen as nn
import jax.numpy as jnp

from layers._styles import Functional
from layers.mlp._common import ACTIVATIONS, layer_names


class MLP(nn.Module):
    widths: tuple[int, ...]
    activation: str
    dtype: jnp.dtype = jnp.float32

    @nn.compact
    def __call__(self, x):
        names = layer_names({"widths": self.widths})
        for i, (name, width) in enumerate(zip(names, self.widths[1:])):
            x = nn.Dense(width, dtype=self.dtype, param_dtype=jnp.float32, name=name)(x)
            if i < len(names) - 1:
                x = ACTIVATIONS[self.activation](x)
        return x


def model(config, dtype) -> Functional:
    module = MLP(config["widths"], config["activation"], dtype)

    def apply(variables, x, *, train, rng):
        del train, rng
        return module.apply(variables, x), {}

    def to_canonical(variables):
        return {"params": {k: {"w": v["kernel"], "b": v["bias"]} for k, v in variables["params"].items()}}

    def from_canonical(canonical):
        return {"params": {k: {"kernel": v["w"], "bias": v["b"]} for k, v in canonical["params"].items()}}

    return Functional(module.init, apply, to_canonical, from_canonical)
