"""A user's own cases: ``nnbench run --cases MODULE:ATTR``.

``MODULE`` is a dotted module name importable from the current directory or
``PYTHONPATH`` (``mypkg.bench``), or a path to a ``.py`` file
(``bench/mine.py``). ``ATTR`` names a list of ``UserCase`` in it, or a
function returning one. Worker processes import the same source again and
build the case they were given, so the source must be importable there too
(it is: workers inherit the working directory and ``PYTHONPATH``).

A user case fits the catalog's case identity: ``layer`` is the case's name
(or its ``group``), ``style`` is ``user`` (or the name, inside a group), and
``source`` records where it came from.
"""

from __future__ import annotations

import dataclasses
import importlib
import importlib.util
import os
import re
import sys
from collections.abc import Callable, Sequence
from types import ModuleType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from nnbench.results.case import Case  # imports the layer library: kept out of ``import nnbench``

_NAME = re.compile(r"[A-Za-z0-9_.+=-]+")  # whole label (``fullmatch``: ``$`` would let a final newline through)
_MODULE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*")


class UserCasesError(ValueError):
    """``--cases`` names nothing usable (a bad-input error: exit 2)."""


@dataclasses.dataclass(frozen=True)
class UserCase:
    """One of a user's own benchmark cases.

    Args:
      name: unique within the list; letters, digits and ``_ . + = -``.
      build: ``() -> layers.Built`` or ``(step, args)`` or
        ``(step, args, carry)``; called in the worker process, so build
        arrays there, not at import time. ``step`` is jitted (``jax.jit``,
        ``nnx.jit``, ...); ``carry(args, out) -> next_args`` threads a train
        step's new state into its next call.
      group: cases with the same group are compiled in one worker and timed
        interleaved, and shown side by side (the group is the row, the
        names the columns).
      mode, size, dtype: labels for reports (``dtype`` also picks the
        device's peak FLOP/s for MFU).
      model_flops: analytic FLOPs of one step, for FLOP/s and MFU.
      items_per_step: samples or tokens per step, for throughput.

    Example (``bench.py``)::

      import jax, jax.numpy as jnp, nnbench

      def build():
          w, x = jnp.ones((256, 256)), jnp.ones((64, 256))
          return jax.jit(lambda w, x: jnp.tanh(x @ w)), (w, x)

      CASES = [nnbench.UserCase("tanh_mlp", build, model_flops=2 * 64 * 256 * 256)]

    then ``nnbench run --cases bench:CASES``.
    """

    name: str
    build: Callable[[], Any]
    group: str | None = None
    mode: str = "forward"
    size: str = "default"
    dtype: str = "float32"
    model_flops: float | None = None
    items_per_step: int | None = None

    def case(self, source: str) -> Case:
        """This case's identity, as the runner, run file and reports know it."""
        from nnbench.results.case import Case

        if self.group is None:
            return Case(self.name, "user", self.mode, self.size, self.dtype, source=source)
        return Case(self.group, self.name, self.mode, self.size, self.dtype, source=source)


def _import(module: str) -> ModuleType:
    if module.endswith(".py"):
        path = os.path.abspath(module)
        if not os.path.exists(path):
            raise UserCasesError(f"--cases: no such file {module!r}")
        if not os.path.isfile(path):  # a directory, a FIFO (which would block the import), a device
            raise UserCasesError(f"--cases: {module!r} is not a regular file")
        name = f"_nnbench_user_{abs(hash(path)):x}"
        if name in sys.modules:
            return sys.modules[name]
        spec = importlib.util.spec_from_file_location(name, path)
        assert spec is not None and spec.loader is not None
        mod = importlib.util.module_from_spec(spec)
        sys.modules[name] = mod
        try:
            spec.loader.exec_module(mod)
        except BaseException:
            del sys.modules[name]
            raise
        return mod
    if not _MODULE.fullmatch(module):
        what = "a file, but not a .py file" if os.path.exists(module) else "neither a .py file nor a dotted module name"
        raise UserCasesError(f"--cases: {module!r} is {what} (expected bench.py:CASES or mypkg.bench:CASES)")
    if "" not in sys.path and os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())  # as ``python -m`` does
    return importlib.import_module(module)


def _call_guarded(source: str, fn: Callable[[], Any], failed: Callable[[str], str], who: str) -> Any:
    """``fn()`` (importing the user's module, calling its list function):
    whatever it raises, ``sys.exit()`` included, becomes a one-line
    ``UserCasesError`` (``failed(reason)``; ``who`` called sys.exit).
    Ctrl-C stays Ctrl-C."""
    try:
        return fn()
    except (UserCasesError, KeyboardInterrupt):
        raise
    except SystemExit as e:
        code = "" if e.code is None else repr(e.code)
        raise UserCasesError(
            f"--cases {source!r}: {who} called sys.exit({code}); a case module must not exit"
        ) from None
    except BaseException as e:  # noqa: BLE001 - the user's code failed: report it in one line
        first = str(e).strip().splitlines()[0] if str(e).strip() else ""
        raise UserCasesError(f"--cases {source!r}: {failed(f'{type(e).__name__}: {first}')}") from None


def load(source: str) -> list[UserCase]:
    """The ``UserCase`` list that ``MODULE:ATTR`` names; ``UserCasesError``
    (one line) when it cannot be imported or is not such a list."""
    module, sep, attr = source.rpartition(":")
    if not sep or not module or not attr:
        raise UserCasesError(f"--cases {source!r}: expected MODULE:ATTR (e.g. mypkg.bench:CASES or bench.py:CASES)")
    mod = _call_guarded(
        source, lambda: _import(module), lambda why: f"cannot import {module!r} ({why})", f"module {module!r}"
    )
    if not hasattr(mod, attr):
        raise UserCasesError(f"--cases {source!r}: module {module!r} has no attribute {attr!r}")
    value = getattr(mod, attr)
    if callable(value) and not isinstance(value, (list, tuple)):
        value = _call_guarded(source, value, lambda why: f"calling {attr}() raised {why}", f"{attr}()")
    if not isinstance(value, (list, tuple)) or not all(isinstance(c, UserCase) for c in value):
        raise UserCasesError(f"--cases {source!r}: {attr} is not a list of nnbench.UserCase")
    if not value:
        raise UserCasesError(f"--cases {source!r}: {attr} is empty")
    seen: set[str] = set()
    for c in value:
        for label in (c.name, c.group, c.mode, c.size, c.dtype):
            if label is not None and not (isinstance(label, str) and _NAME.fullmatch(label)):
                raise UserCasesError(
                    f"--cases {source!r}: bad case label {label!r} (letters, digits and _ . + = - only)"
                )
        cid = c.case(source).id
        if cid in seen:
            raise UserCasesError(f"--cases {source!r}: duplicate case {cid!r}")
        seen.add(cid)
    return list(value)


def cases(source: str) -> list[Case]:
    """The ``Case`` of every user case in ``source``, in list order."""
    return [c.case(source) for c in load(source)]


def find(case: Case) -> UserCase:
    """The ``UserCase`` behind ``case`` (imports its source)."""
    for c in load(case.source or ""):
        if c.case(case.source or "") == case:
            return c
    raise LookupError(f"{case.source}: no case {case.id!r} any more")


def built(case: Case) -> tuple[Any, Any, Any, UserCase]:
    """Call the user's ``build``: ``(step, args, carry, user_case)``."""
    uc = find(case)
    try:
        out = uc.build()
    except SystemExit as e:  # in a worker (or --in-process) it would end the whole process
        raise RuntimeError(f"{uc.name}: build() called sys.exit({'' if e.code is None else repr(e.code)})") from None
    if hasattr(out, "step") and hasattr(out, "args"):
        return out.step, tuple(out.args), getattr(out, "carry", None), uc
    if isinstance(out, Sequence) and len(out) in (2, 3):
        step, args, carry = (*out, None)[:3]
        return step, tuple(args), carry, uc
    raise TypeError(
        f"{uc.name}: build() must return layers.Built, (step, args) or (step, args, carry); got {type(out).__name__}"
    )
