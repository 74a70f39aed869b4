"""Shared pieces for single-layer catalog entries: batches, losses, and the
thin adapters that turn a Linen module or a Haiku function into the
``Functional`` protocol of ``layers.styles``.

The adapters only translate the calling convention (``train``, the dropout
key, mutable collections); the layer itself is written in each library's own
idiom in its ``_linen.py`` / ``_haiku.py``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import jax
import jax.numpy as jnp

from nnbench.layers.catalog import Functional, Variables

if TYPE_CHECKING:
    import flax.linen as nn

Canon = Callable[[Variables], Variables]


def normal_batch(x_shape: Callable[[Any], tuple[int, ...]], y_shape: Callable[[Any], tuple[int, ...]]):
    """``make_batch`` for a regression target: ``x`` standard normal in the
    compute dtype with shape ``x_shape(config)``, ``y`` float32 of
    ``y_shape(config)``."""

    def make_batch(config, key, dtype):
        kx, ky = jax.random.split(key)
        x = jax.random.normal(kx, x_shape(config), jnp.float32).astype(dtype)
        y = jax.random.normal(ky, y_shape(config), jnp.float32)
        return {"x": x, "y": y}

    return make_batch


def mse(prediction: jax.Array, batch) -> jax.Array:
    """Mean squared error against ``batch["y"]``, computed in float32."""
    return jnp.mean(jnp.square(prediction.astype(jnp.float32) - batch["y"]))


TOLERANCE = {"float32": (1e-5, 1e-6), "bfloat16": (2e-2, 1e-2)}


def lecun_normal(key: jax.Array, shape: Sequence[int], fan_in: int) -> jax.Array:
    """Truncated-normal LeCun init (Flax's and Haiku's default), float32."""
    return jax.random.truncated_normal(key, -2.0, 2.0, tuple(shape), jnp.float32) * (0.87962566 / jnp.sqrt(fan_in))


def linen(module: nn.Module, to_canonical: Canon, from_canonical: Canon, mutable: Sequence[str] = ()) -> Functional:
    """A Linen module whose ``__call__(x, train)`` follows Linen conventions:
    ``mutable`` collections (``batch_stats``) are updated when training and
    dropout draws from the ``'dropout'`` RNG stream when a key is given."""

    def apply(variables, x, *, train, rng):
        rngs = {"dropout": rng} if rng is not None else None
        if train and mutable:
            return module.apply(variables, x, train=True, rngs=rngs, mutable=list(mutable))
        return module.apply(variables, x, train=train, rngs=rngs), {}

    def init(key, x):
        return module.init(key, x, train=False)

    return Functional(init, apply, to_canonical, from_canonical)


def haiku(
    forward: Callable[[jax.Array, bool], jax.Array], dtype: Any, to_canonical: Canon, from_canonical: Canon
) -> Functional:
    """``forward(x, train)`` under ``hk.transform_with_state``.

    Mixed precision the Haiku way: float32 parameters, cast to the compute
    ``dtype`` by an ``hk.custom_getter`` as modules read them. State (BatchNorm
    statistics) is returned as the ``"state"`` collection when training.
    """

    import haiku as hk

    def cast(next_getter, value, context):
        del context
        return next_getter(value).astype(dtype) if jnp.issubdtype(value.dtype, jnp.floating) else next_getter(value)

    def fn(x, train):
        if dtype == jnp.float32:
            return forward(x, train)
        with hk.custom_getter(cast):
            return forward(x, train)

    transformed = hk.transform_with_state(fn)

    def init(key, x):
        params, state = transformed.init(key, x, True)  # as Haiku users initialise: BatchNorm creates its averages
        return {"params": params, "state": state}

    def apply(variables, x, *, train, rng):
        y, state = transformed.apply(variables["params"], variables.get("state", {}), rng, x, train)
        return y, ({"state": state} if train and state else {})

    return Functional(init, apply, to_canonical, from_canonical)


def raw(init: Callable, forward: Callable) -> Functional:
    """Plain JAX: ``init(key, x) -> variables`` (canonical layout) and
    ``forward(variables, x, train, rng) -> (y, updated collections)``."""

    def apply(variables, x, *, train, rng):
        return forward(variables, x, train, rng)

    return Functional(init, apply, to_canonical=lambda v: v, from_canonical=lambda c: c)


def rename(tree: dict, mapping: dict[str, str]) -> dict:
    """``{mapping.get(k, k): v}`` one level deep."""
    return {mapping.get(k, k): v for k, v in tree.items()}


def norm_entry(name: str, description: str, work: Callable[[Any], Any], sizes: dict, impls: dict):
    """Entry for a shape-preserving layer on ``[batch, *shape]`` input,
    trained on an MSE regression. ``work(config) -> layers.flops.Work``:
    the layer's own FLOPs (forward, parameter gradients); the model FLOPs of
    a step add the loss (``layers.flops.step``)."""
    from nnbench.layers import flops as _flops
    from nnbench.layers.catalog import Entry

    shape = lambda c: (c["batch"], *c["shape"])  # noqa: E731

    def flops(config, mode):
        return _flops.step(mode, [work(config)], _flops.mse(math.prod(shape(config))))

    return Entry(
        name=name,
        description=description,
        sizes=sizes,
        make_batch=normal_batch(shape, shape),
        loss=mse,
        flops=flops,
        items=lambda config: config["batch"],
        tolerance=TOLERANCE,
        impls=impls,
    )


def recurrent_entry(name: str, description: str, work: Callable[[Any], Any], impls: dict):
    """Entry for a gated RNN over ``[batch, seq, d_in]`` → hidden states
    ``[batch, seq, hidden]``, trained on an MSE regression. ``work(config)
    -> layers.flops.Work``: the whole sequence's FLOPs (every time step);
    the model FLOPs of a step add the loss (``layers.flops.step``)."""
    from nnbench.layers import flops as _flops
    from nnbench.layers.catalog import Entry

    def flops(c, mode):
        return _flops.step(mode, [work(c)], _flops.mse(c["batch"] * c["seq"] * c["hidden"]))

    def config(batch, seq, d_in, hidden):
        return {"batch": batch, "seq": seq, "d_in": d_in, "hidden": hidden}

    return Entry(
        name=name,
        description=description,
        sizes={
            "tiny": config(2, 4, 8, 8),
            "small": config(32, 64, 256, 256),
            "base": config(64, 256, 512, 1024),
            "large": config(64, 512, 1024, 2048),
        },
        make_batch=normal_batch(
            lambda c: (c["batch"], c["seq"], c["d_in"]), lambda c: (c["batch"], c["seq"], c["hidden"])
        ),
        loss=mse,
        flops=flops,
        items=lambda c: c["batch"] * c["seq"],
        tolerance={"float32": (1e-5, 1e-6), "bfloat16": (3e-2, 2e-2)},
        impls=impls,
    )
