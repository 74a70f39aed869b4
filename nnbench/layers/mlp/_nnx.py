"""MLP in Flax NNX: an ``nnx.Module`` holding a list of ``nnx.Linear``; when
scanned, the stacked layers are one ``nnx.Linear`` made by ``nnx.vmap`` and
run by ``nnx.scan``, and ``layers`` holds the output layer alone."""

from __future__ import annotations

import jax.numpy as jnp
from flax import nnx

from nnbench.layers.mlp._common import ACTIVATIONS, n_scanned

# ``nnx.List`` (Flax 0.12+) holds a list of Modules; earlier Flax takes a plain list.
_LIST = getattr(nnx, "List", list)


class MLP(nnx.Module):
    def __init__(self, widths, activation, dtype, rngs: nnx.Rngs, scan: bool = False):
        self.activation = activation
        n = n_scanned({"widths": widths, "scan": scan})
        if n:

            @nnx.split_rngs(splits=n)
            @nnx.vmap(in_axes=(0,), out_axes=0)
            def create(rngs: nnx.Rngs) -> nnx.Linear:
                return nnx.Linear(widths[1], widths[1], dtype=dtype, param_dtype=jnp.float32, rngs=rngs)

            self.blocks = create(rngs)
        else:
            self.blocks = None
        self.layers = _LIST(
            [
                nnx.Linear(n_in, n_out, dtype=dtype, param_dtype=jnp.float32, rngs=rngs)
                for n_in, n_out in zip(widths[n:-1], widths[n + 1 :], strict=True)
            ]
        )

    def __call__(self, x):
        act = ACTIVATIONS[self.activation]
        if self.blocks is not None:

            @nnx.scan(in_axes=(nnx.Carry, 0), out_axes=nnx.Carry)
            def forward(h, layer: nnx.Linear):
                return act(layer(h))

            x = forward(x, self.blocks)
        for i, layer in enumerate(self.layers):
            x = layer(x)
            if i < len(self.layers) - 1:
                x = act(x)
        return x


def model(config, dtype, rngs):
    return MLP(config["widths"], config["activation"], dtype, rngs, config.get("scan", False))


def to_canonical(pure):
    # The stacked block holds dense_0 .. dense_{n-1}; ``layers`` the rest.
    n = pure["blocks"]["kernel"].shape[0] if pure.get("blocks") else 0
    params = {f"dense_{n + i}": {"w": v["kernel"], "b": v["bias"]} for i, v in sorted(pure["layers"].items())}
    if n:
        params["blocks"] = {"w": pure["blocks"]["kernel"], "b": pure["blocks"]["bias"]}
    return {"params": params}


def from_canonical(canonical):
    params = dict(canonical["params"])
    out = {}
    if "blocks" in params:
        blocks = params.pop("blocks")
        out["blocks"] = {"kernel": blocks["w"], "bias": blocks["b"]}
    ordered = sorted(params, key=lambda s: int(s.split("_")[1]))
    out["layers"] = {i: {"kernel": params[n]["w"], "bias": params[n]["b"]} for i, n in enumerate(ordered)}
    return out
