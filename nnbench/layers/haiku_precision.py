"""Mixed precision for Haiku models: float32 parameters, ``dtype`` compute.

Haiku modules create parameters in their input's dtype and compute in the
parameters' dtype. ``float32_params(dtype)`` is what a Haiku mixed-precision
policy does, scoped to one ``transform`` instead of set globally on module
classes: every parameter is *created* in float32 and *read* cast to the
compute dtype. State (BatchNorm statistics) is left alone. As Haiku's own
mixed-precision guide recommends (``hk.mixed_precision.set_policy(hk.BatchNorm,
full-precision policy)``), modules of the ``full_precision`` classes keep
their parameters in float32 when read; the caller feeds them float32 input.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

import haiku as hk
import jax
import jax.numpy as jnp

from nnbench.layers.styles import Functional


@contextlib.contextmanager
def float32_params(dtype: Any, full_precision: tuple[type[hk.Module], ...] = ()) -> Iterator[None]:
    """Within a transformed function: params stored float32, used as
    ``dtype`` (except in modules of the ``full_precision`` classes)."""
    if jnp.dtype(dtype) == jnp.float32:
        yield
        return

    def creator(next_creator, shape, param_dtype, init, context):
        del param_dtype, context
        return next_creator(shape, jnp.float32, init)

    def getter(next_getter, value, context):
        if full_precision and isinstance(context.module, full_precision):
            return next_getter(value)
        return next_getter(value).astype(dtype)

    with hk.custom_creator(creator), hk.custom_getter(getter):
        yield


def stateless(
    forward: Callable[[jax.Array], jax.Array], to_canonical: Callable, from_canonical: Callable
) -> Functional:
    """``forward(x)`` under ``hk.transform`` as a ``Functional``: no state
    collections, ``train`` ignored (these models have no dropout or
    BatchNorm)."""
    transformed = hk.transform(forward)

    def init(key, x):
        return {"params": transformed.init(key, x)}

    def apply(variables, x, *, train, rng):
        del train
        return transformed.apply(variables["params"], rng, x), {}

    return Functional(init, apply, to_canonical, from_canonical)
