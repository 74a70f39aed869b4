"""A group's executables kept alive across ``jax.clear_caches()``, so the
reprime re-traces and re-lowers the steps but compiles none again.

Each ``prepare`` clears JAX's caches so its trace, lowering and compile are
cold; that also drops, from JAX's caches, the executables of the group's
steps prepared before it, which the *reprime* then compiled again before
timing (the ci suite: 439 s of a 26-min run on the CI VM). Here the worker
notes each cold compile's executable (a reference only, while the compile
is timed), and while the reprime calls the steps, JAX's compile of a module
it has already compiled is answered by that same executable. The call path
that is timed afterwards is JAX's own: the jitted step's cache holds the
executable as if it had compiled it.

Only an exact match is served: same backend, module text, compile options
and devices. The text leaves out source locations: the reprime's trace
reaches the model through other harness frames than the cold one (the
program is the same, the outermost locations differ), so a served
executable's op metadata names the cold trace's frames. Anything else,
host callbacks, PGLE, and a JAX whose compile hook has another signature
(older releases, as ``bisect`` installs), compiles as before.

History: serving the reprime from *serialized* executables (commit 5f66816)
was removed because some deserialized XLA:CPU executables failed when
called in a long test session (``NOT_FOUND: Function …_fusion not found``);
live executables are never serialized. ``studies/reprime_keep.py`` measures
whether keeping them alive moves later cold compiles or the step times.
"""

from __future__ import annotations

import contextlib
import hashlib
import inspect
import time
from collections.abc import Iterator, Sequence
from typing import Any

from nnbench.measure import stages

_PARAMS = ("backend", "computation", "devices", "compile_options", "host_callbacks", "executable_devices")


class Keeper:
    """One worker group's kept executables (see the module docstring)."""

    def __init__(self) -> None:
        self.recording = False
        self.serving = False
        self.seen: list[tuple[Any, Any, Any, Any, Any]] = []
        self.kept: dict[bytes, Any] = {}
        self.served = 0

    @contextlib.contextmanager
    def record(self) -> Iterator[None]:
        """Note each executable compiled in the block (a reference: nothing
        else happens while a compile is timed); key them after it."""
        with self._as("recording"):
            try:
                yield
            except BaseException:
                self.seen.clear()
                raise
        seen, self.seen = self.seen, []
        for backend, computation, options, devices, executable in seen:
            self.kept[_key(backend, computation, options, devices)] = executable

    def serve(self) -> contextlib.AbstractContextManager[None]:
        """Answer compiles of recorded modules in the block with their executables."""
        return self._as("serving")

    def release(self) -> None:
        """Let the kept executables go (JAX's caches still hold those served)."""
        self.kept.clear()

    @contextlib.contextmanager
    def _as(self, flag: str) -> Iterator[None]:
        global _ACTIVE
        install()
        previous, _ACTIVE = _ACTIVE, self
        setattr(self, flag, True)
        try:
            yield
        finally:
            setattr(self, flag, False)
            _ACTIVE = previous


def reprime(prepared: Sequence[Any], keeper: Keeper | None = None) -> None:
    """Call each prepared step once more, untimed, so none compiles while
    sampled: each ``prepare`` cleared JAX's caches for its cold trace, which
    dropped the executables of the steps prepared before it. With the
    ``keeper`` those steps were prepared under, their compiles are answered
    by the kept executables. Records ``reprime_s``, ``reprime_compiles``
    (XLA compiles run) and ``reprime_kept`` (executables served instead)."""
    keeper = keeper or Keeper()
    counter = stages.compile_counter()
    with keeper.serve():
        for p in prepared:
            before, kept = counter.count, keeper.served
            t0 = time.perf_counter()
            p.lane.call()
            p.compile_info["reprime_s"] = time.perf_counter() - t0
            p.compile_info["reprime_kept"] = keeper.served - kept
            # JAX times a compile request the same whether it compiled or not
            p.compile_info["reprime_compiles"] = counter.count - before - p.compile_info["reprime_kept"]
    keeper.release()


_ORIGINAL: Any = None
_ACTIVE: Keeper | None = None


def _key(backend, computation, options, devices) -> bytes:
    h = hashlib.sha256()
    h.update(str(getattr(backend, "platform", "")).encode())
    h.update(computation.operation.get_asm(enable_debug_info=False).encode())
    h.update(options.SerializeAsString())
    h.update(repr([d.id for d in devices]).encode())
    return h.digest()


def _hook(backend, computation, devices, compile_options, host_callbacks, executable_devices, *rest, **kw):
    k = _ACTIVE
    if k is not None and (host_callbacks or (rest and rest[0] is not None) or kw.get("pgle_profiler") is not None):
        k = None  # host callbacks are baked into the program; PGLE recompiles with a profile
    if k is not None and k.serving and k.kept:
        executable = k.kept.get(_key(backend, computation, compile_options, executable_devices))
        if executable is not None:
            k.served += 1
            return executable
    args = (backend, computation, devices, compile_options, host_callbacks, executable_devices)
    executable = _ORIGINAL(*args, *rest, **kw)
    if k is not None and k.recording:
        k.seen.append((backend, computation, compile_options, executable_devices, executable))
    return executable


def install() -> bool:
    """Put the hook on JAX's compile (once per process); False where this
    JAX's compile has another signature (then nothing is kept)."""
    global _ORIGINAL
    if _ORIGINAL is not None:
        return True
    try:
        from jax._src import compiler
    except ImportError:
        return False
    original = getattr(compiler, "compile_or_get_cached", None)
    if original is None or tuple(inspect.signature(original).parameters)[: len(_PARAMS)] != _PARAMS:
        return False
    _ORIGINAL = original
    compiler.compile_or_get_cached = _hook
    return True
