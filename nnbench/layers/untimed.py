"""Programs nobody times, compiled cheaply and kept: the reference weights,
the batches, an NNX module's construction, the parity views.

A run's worker compiles far more than the steps it measures. Before this,
on the 2-core CI VM, one ResNet tiny forward group spent 18.5 s building
its eight styles and 23.6 s in its parity gate against 4.9 s of measured
cold compiles: XLA:CPU compiling the reference initialiser (13 s) and, op
by op, each NNX kernel's truncated-normal initialiser (12 shapes, 16 s) at
full optimisation, again after every cache clear.

Two levels of options:

- ``BUILD_OPTIONS`` (weights, batches, NNX construction): LLVM at -O1 and
  XLA:CPU's older loop emitters. Its reference weights were bitwise those of
  a default compile for the twelve entries compared on the CI VM (float32;
  ``tests/test_untimed.py`` holds conv2d float32 and the MLP's bfloat16
  against an explicit -O3 compile, every entry's batch and the NNX modules
  against their eager construction); ``-O0`` was faster still but moved
  1 in 30 float32 weights by an ulp. Where ``XLA_FLAGS`` already asks for a lower level (the test
  session's -O0), that level stays.
- ``VIEW_OPTIONS`` (the parity views): -O0 as well; the views compare
  styles with each other through the same compiled math, so an ulp moves
  nothing that is judged (see ``layers.parity``).

``Once(fn, options)`` lowers and compiles ``fn`` at its first call and keeps
the executable: ``jax.clear_caches()`` (before each measured cold compile)
does not drop it, so a worker's later groups reuse it (called inside a
trace, it is traced like ``jax.jit(fn)``). Options this XLA does
not know (older jaxlibs, as ``bisect`` installs) are dropped.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from typing import Any

import jax

BUILD_LEVEL = 1  # LLVM's; its results are bitwise the default (-O3) compile's, -O0's are not


def build_options(xla_flags: str | None) -> dict[str, Any]:
    """``BUILD_OPTIONS`` under ``XLA_FLAGS=xla_flags``: ``BUILD_LEVEL``, or the
    flags' own level where that is lower."""
    m = re.search(r"--xla_backend_optimization_level=(\d+)", xla_flags or "")
    level = min(BUILD_LEVEL, int(m.group(1))) if m else BUILD_LEVEL
    return {"xla_backend_optimization_level": level, "xla_cpu_use_fusion_emitters": False}


BUILD_OPTIONS: dict[str, Any] = build_options(os.environ.get("XLA_FLAGS"))
VIEW_OPTIONS: dict[str, Any] = {"xla_backend_optimization_level": 0, "xla_cpu_use_fusion_emitters": False}


def compile_with(lowered, options: dict[str, Any]):
    """``lowered.compile(options)``, dropping (from ``options`` itself, for
    the process) any option this XLA does not know."""
    while True:
        try:
            return lowered.compile(compiler_options=options)
        except Exception as e:  # noqa: BLE001 - jax's runtime error type is private
            unknown = [k for k in options if f"No such compile option: '{k}'" in str(e)]
            if not unknown:
                raise
            del options[unknown[0]]


class Once:
    """``jax.jit(fn)`` compiled with ``options`` at its first call with each
    argument signature (tree, shapes, dtypes, weak types, shardings), and kept."""

    def __init__(self, fn: Callable, options: dict[str, Any]):
        self._jitted, self._options = jax.jit(fn), options
        self._compiled: dict[Any, Any] = {}

    def lower(self, *args):
        return self._jitted.lower(*args)

    def compile(self, *args):
        """The executable for ``args`` (compiled at the first call with their signature)."""
        return self._for(args, *jax.tree_util.tree_flatten(args))

    def __call__(self, *args):
        leaves, tree = jax.tree_util.tree_flatten(args)
        if any(isinstance(x, jax.core.Tracer) for x in leaves):
            return self._jitted(*args)  # inside a trace (``jax.eval_shape``, another jit): inlined
        return self._for(args, leaves, tree)(*args)

    def _for(self, args: tuple, leaves: list, tree: Any):
        key = (tree, *(_signature(x) for x in leaves))
        if key not in self._compiled:
            self._compiled[key] = compile_with(self.lower(*args), self._options)
        return self._compiled[key]


def _signature(x: Any) -> tuple:
    if isinstance(x, jax.Array):
        return (x.shape, str(x.dtype), getattr(x, "weak_type", None), x.sharding)  # typed keys have no weak_type
    return (getattr(x, "shape", None), str(getattr(x, "dtype", None)), type(x))
