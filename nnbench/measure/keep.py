"""NOT USED BY RUNS (2026-12-03): in a long test session, deserialized CPU
executables failed when called (``NOT_FOUND: Function add_select_fusion not
found``), so ``run_group`` reprimes by compiling again until that is
understood; ``reprime`` below without a Keeper does exactly that.

Executables kept across ``jax.clear_caches()`` as bytes, so the steps a
worker prepared before a later cold compile need not be compiled again.

Each ``prepare`` clears JAX's caches so its trace, lowering and compile are
cold; that also drops the executables of the group's steps prepared before
it, which the *reprime* (``step.reprime``) used to compile again before
timing. Instead, the worker records the executable of each cold compile
(a reference only, in the timed region), serializes it once the case's
figures are taken, and while the reprime calls the steps, JAX's compile of
a module it has already compiled is answered by deserializing those bytes:
the route JAX's own persistent compilation cache takes
(``compilation_cache.get_executable_and_time``). The step still re-traces
and re-lowers (its Python caches were cleared); only the XLA compile is
skipped, and the call path that is timed afterwards is JAX's own.

Only an exact match is served: same backend, module text, compile options
and devices. The text leaves out source locations: the reprime's trace
reaches the model through other harness frames than the cold one (the
program is the same, the outermost locations differ), so a served
executable's op metadata names the cold trace's frames. Anything else, and a JAX whose compile hook
has another signature (older releases, as ``bisect`` installs), compiles as
before. The bytes, not the executables, are kept: a live executable per
earlier style slowed later cold compiles (``studies/clear_order.py``).
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
        self.blobs: dict[bytes, bytes] = {}
        self.served = 0

    @contextlib.contextmanager
    def record(self) -> Iterator[None]:
        """Note each executable compiled in the block (a reference: nothing
        else happens while a compile is timed); serialize them after it."""
        with self._as("recording"):
            try:
                yield
            except BaseException:
                self.seen.clear()
                raise
        self._seal()

    def serve(self) -> contextlib.AbstractContextManager[None]:
        """Answer compiles of recorded modules in the block from their bytes."""
        return self._as("serving")

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

    def _seal(self) -> None:
        seen, self.seen = self.seen, []
        for backend, computation, options, devices, executable in seen:
            try:
                if hasattr(executable, "serialize"):
                    blob = executable.serialize()
                else:  # older jaxlib
                    blob = backend.serialize_executable(executable)
                self.blobs[_key(backend, computation, options, devices)] = blob
            except Exception:  # noqa: BLE001 - not serializable here: that step compiles in the reprime
                continue


def reprime(prepared: Sequence[Any], keeper: Keeper | None = None) -> None:
    """Call each prepared step once more, untimed, so none compiles while
    sampled: each ``prepare`` cleared JAX's caches for its cold trace, which
    dropped the executables of the steps prepared before it. With the
    ``keeper`` those steps were prepared under, their compiles are answered
    from its bytes. Records ``reprime_s``, ``reprime_compiles`` (XLA
    compiles run) and ``reprime_kept`` (executables deserialized instead)."""
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
    keeper.blobs.clear()


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
    if k is not None and k.serving and k.blobs:
        blob = k.blobs.get(_key(backend, computation, compile_options, executable_devices))
        if blob is not None:
            try:
                executable = backend.deserialize_executable(blob, executable_devices, compile_options)
            except Exception:  # noqa: BLE001 - fall back to compiling
                executable = None
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
