"""MLP in Flax NNX: an ``nnx.Module`` holding a list of ``nnx.Linear``."""

from __future__ import annotations

import jax.numpy as jnp
from flax import nnx

from layers.mlp._common import ACTIVATIONS, layer_names


class MLP(nnx.Module):
    def __init__(self, widths, activation, dtype, rngs: nnx.Rngs):
        self.activation = activation
        self.layers = nnx.List(
            [
                nnx.Linear(n_in, n_out, dtype=dtype, param_dtype=jnp.float32, rngs=rngs)
                for n_in, n_out in zip(widths[:-1], widths[1:])
            ]
        )

    def __call__(self, x):
        act = ACTIVATIONS[self.activation]
        for i, layer in enumerate(self.layers):
            x = layer(x)
            if i < len(self.layers) - 1:
                x = act(x)
        return x


def model(config, dtype, rngs):
    return MLP(config["widths"], config["activation"], dtype, rngs)


def to_canonical(pure):
    names = layer_names({"widths": [None] * (len(pure["layers"]) + 1)})
    return {"params": {names[i]: {"w": v["kernel"], "b": v["bias"]} for i, v in sorted(pure["layers"].items())}}


def from_canonical(canonical):
    params = canonical["params"]
    return {"layers": {i: {"kernel": params[n]["w"], "bias": params[n]["b"]} for i, n in enumerate(sorted(params, key=lambda s: int(s.split("_")[1])))}}
