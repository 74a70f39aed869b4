"""MLP in Flax Linen: ``nn.Dense`` layers in a compact module."""

from __future__ import annotations

import flax.linen as nn
import jax.numpy as jnp

from nnbench.layers.mlp._common import ACTIVATIONS, layer_names, n_scanned
from nnbench.layers.styles import Functional


class _Block(nn.Module):
    """``nn.scan`` body: ``(x, None) -> (act(Dense(x)), None)``."""

    width: int
    activation: str
    dtype: jnp.dtype = jnp.float32

    @nn.compact
    def __call__(self, x, _):
        x = nn.Dense(self.width, dtype=self.dtype, param_dtype=jnp.float32, name="dense")(x)
        return ACTIVATIONS[self.activation](x), None


class MLP(nn.Module):
    widths: tuple[int, ...]
    activation: str
    dtype: jnp.dtype = jnp.float32
    scan: bool = False

    @nn.compact
    def __call__(self, x):
        names = layer_names({"widths": self.widths})
        n = n_scanned({"widths": self.widths, "scan": self.scan})
        if n:
            stack = nn.scan(_Block, variable_axes={"params": 0}, split_rngs={"params": True}, length=n)
            x, _ = stack(self.widths[1], self.activation, self.dtype, name="blocks")(x, None)
        for i, (name, width) in enumerate(zip(names, self.widths[1:], strict=True)):
            if i < n:
                continue
            x = nn.Dense(width, dtype=self.dtype, param_dtype=jnp.float32, name=name)(x)
            if i < len(names) - 1:
                x = ACTIVATIONS[self.activation](x)
        return x


def model(config, dtype) -> Functional:
    module = MLP(config["widths"], config["activation"], dtype, config.get("scan", False))

    def apply(variables, x, *, train, rng):
        del train, rng
        return module.apply(variables, x), {}

    def to_canonical(variables):
        p = {k: v["dense"] if k == "blocks" else v for k, v in variables["params"].items()}
        return {"params": {k: {"w": v["kernel"], "b": v["bias"]} for k, v in p.items()}}

    def from_canonical(canonical):
        p = {k: {"kernel": v["w"], "bias": v["b"]} for k, v in canonical["params"].items()}
        return {"params": {k: {"dense": v} if k == "blocks" else v for k, v in p.items()}}

    return Functional(module.init, apply, to_canonical, from_canonical)
