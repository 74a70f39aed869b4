"""Multi-layer perceptron: ``depth`` Dense layers with an activation between.

Config keys: ``batch`` (int), ``widths`` (input width followed by each
layer's output width), ``activation`` (``"relu"``, ``"gelu"`` or
``"tanh"``), ``scan`` (bool, optional).

With ``scan`` every layer but the last (all ``width → width``, each followed
by the activation) is one stacked block run by the library's scan
(``jax.lax.scan``, ``nn.scan``, ``nnx.vmap`` + ``nnx.scan``,
``hk.layer_stack``); the canonical layout then holds them as ``"blocks":
{"w": [N, W, W], "b": [N, W]}`` and the last layer as ``dense_<N>``. Sizes
``d<N>``/``d<N>_scan`` (N blocks plus the output layer, width 16) are the
``compile`` suite's sweep.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from nnbench.layers import flops as _flops
from nnbench.layers.catalog import COMPILE_DEPTHS, Entry, Impls


def make_batch(config, key, dtype):
    """``x``: ``[batch, widths[0]]`` in ``dtype``; ``y``: ``[batch, widths[-1]]`` float32."""
    kx, ky = jax.random.split(key)
    widths = config["widths"]
    x = jax.random.normal(kx, (config["batch"], widths[0]), jnp.float32).astype(dtype)
    y = jax.random.normal(ky, (config["batch"], widths[-1]), jnp.float32)
    return {"x": x, "y": y}


def loss(prediction, batch):
    """Mean squared error, computed in float32."""
    return jnp.mean(jnp.square(prediction.astype(jnp.float32) - batch["y"]))


def flops(config, mode):
    """Model FLOPs (the rule: ``layers.flops``): the Dense layers
    (``2·B·Σ in·out`` + biases) and the activation after every layer but
    the last (``_flops.activation``). Train adds the MSE loss and the
    backward pass: every layer's weight and bias gradients, every layer's
    input gradient but the first's (the input is the data), every
    activation's gradient: ``2·B·Σ in·out`` + ``2·B·Σ in·out`` over the
    layers after the first, not ``3 ×`` the forward. Scanned or not, the
    math is the same."""
    b, widths = config["batch"], config["widths"]
    chain = []
    for i, (d_in, d_out) in enumerate(zip(widths[:-1], widths[1:], strict=True)):
        chain.append(_flops.dense(b, d_in, d_out))
        if i < len(widths) - 2:
            chain.append(_flops.activation(config["activation"], b * d_out))
    return _flops.step(mode, chain, _flops.mse(b * widths[-1]))


def _config(batch, widths, activation="relu", scan=False):
    return {"batch": batch, "widths": tuple(widths), "activation": activation, "scan": scan}


_DEPTH_SIZES = {
    f"d{n}{tag}": _config(8, (16,) * (n + 2), scan=bool(tag)) for n in COMPILE_DEPTHS for tag in ("", "_scan")
}


ENTRY = Entry(
    name="mlp",
    description="MLP of Dense layers with an activation between",
    sizes={
        "tiny": _config(8, (16, 32, 32, 8)),
        "small": _config(64, (256, 512, 512, 256)),
        "base": _config(256, (1024, 4096, 4096, 1024), "gelu"),
        "large": _config(1024, (4096, 16384, 16384, 4096), "gelu"),
        **_DEPTH_SIZES,
    },
    make_batch=make_batch,
    loss=loss,
    flops=flops,
    items=lambda config: config["batch"],
    tolerance={"float32": (1e-5, 1e-6), "bfloat16": (2e-2, 1e-2)},
    impls=Impls("nnbench.layers.mlp"),
)
