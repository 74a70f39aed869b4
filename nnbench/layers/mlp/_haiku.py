"""MLP in Haiku: ``hk.Linear`` layers under ``hk.transform_with_state``.

Haiku's ``Linear`` computes in its parameters' dtype; for bfloat16 compute
with float32 parameters the module casts inputs and parameters itself, as a
mixed-precision policy would.
"""

from __future__ import annotations

import haiku as hk
import jax.numpy as jnp

from nnbench.layers.mlp._common import ACTIVATIONS, layer_names, n_scanned
from nnbench.layers.styles import Functional


class _Dense(hk.Module):
    def __init__(self, width, dtype, name):
        super().__init__(name=name)
        self.width, self.dtype = width, dtype

    def __call__(self, x):
        n_in = x.shape[-1]
        w_init = hk.initializers.VarianceScaling(1.0, "fan_in", "truncated_normal")
        w = hk.get_parameter("w", (n_in, self.width), jnp.float32, init=w_init)
        b = hk.get_parameter("b", (self.width,), jnp.float32, init=jnp.zeros)
        return x.astype(self.dtype) @ w.astype(self.dtype) + b.astype(self.dtype)


def model(config, dtype) -> Functional:
    act = ACTIVATIONS[config["activation"]]
    names = layer_names(config)

    n = n_scanned(config)

    def dense(width, name):
        return hk.Linear(width, name=name) if dtype == jnp.float32 else _Dense(width, dtype, name=name)

    def forward(x):
        if n:
            x = hk.layer_stack(n, name="blocks")(lambda h: act(dense(config["widths"][1], "dense")(h)))(x)
        for i, (name, width) in enumerate(zip(names, config["widths"][1:], strict=True)):
            if i < n:
                continue
            x = dense(width, name)(x)
            if i < len(names) - 1:
                x = act(x)
        return x

    transformed = hk.transform_with_state(forward)

    def init(key, x):
        params, state = transformed.init(key, x)
        return {"params": params, "state": state}

    def apply(variables, x, *, train, rng):
        del train
        y, state = transformed.apply(variables["params"], variables.get("state", {}), rng, x)
        return y, ({"state": state} if state else {})

    def to_canonical(variables):
        return {"params": {k.removesuffix("/dense"): dict(v) for k, v in variables["params"].items()}}

    def from_canonical(canonical):
        return {
            "params": {("blocks/dense" if k == "blocks" else k): dict(v) for k, v in canonical["params"].items()},
            "state": {},
        }

    return Functional(init, apply, to_canonical, from_canonical)
