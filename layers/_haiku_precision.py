"""Mixed precision for Haiku models: float32 parameters, ``dtype`` compute.

Haiku modules create parameters in their input's dtype and compute in the
parameters' dtype. ``float32_params(dtype)`` is what a Haiku mixed-precision
policy does, scoped to one ``transform`` instead of set globally on module
classes: every parameter is *created* in float32 and *read* cast to the
compute dtype. State (BatchNorm statistics) is left alone.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import haiku as hk
import jax.numpy as jnp


@contextlib.contextmanager
def float32_params(dtype: Any) -> Iterator[None]:
    """Within a transformed function: params stored float32, used as ``dtype``."""
    if jnp.dtype(dtype) == jnp.float32:
        yield
        return

    def creator(next_creator, shape, param_dtype, init, context):
        del param_dtype, context
        return next_creator(shape, jnp.float32, init)

    def getter(next_getter, value, context):
        del context
        return next_getter(value).astype(dtype)

    with hk.custom_creator(creator), hk.custom_getter(getter):
        yield
