"""Compile stages, timed separately with JAX's stage API, and program counts."""

from __future__ import annotations

import collections
import re
import threading
import time
from typing import Any

import jax
import jax.extend.core as jex

# An HLO instruction line: "  [ROOT] name = <type> opcode(operands...)".
_HLO_INSTR = re.compile(r"^\s*(?:ROOT\s+)?%?[\w.\-]+\s*=\s*.*?\b([a-z][a-z0-9\-]*)\(", re.M)

BACKEND_COMPILE_EVENT = "/jax/core/compile/backend_compile_duration"


class _CompileCounter:
    """Counts XLA backend compiles process-wide via ``jax.monitoring``."""

    def __init__(self):
        self._lock = threading.Lock()
        self.count = 0
        jax.monitoring.register_event_duration_secs_listener(self._on_duration)

    def _on_duration(self, event: str, duration: float, **kwargs: Any) -> None:
        if event == BACKEND_COMPILE_EVENT:
            with self._lock:
                self.count += 1


_COUNTER: _CompileCounter | None = None


def compile_counter() -> _CompileCounter:
    global _COUNTER
    if _COUNTER is None:
        _COUNTER = _CompileCounter()
    return _COUNTER


def _subjaxprs(value: Any):
    if isinstance(value, jex.ClosedJaxpr):
        yield value.jaxpr
    elif isinstance(value, jex.Jaxpr):
        yield value
    elif isinstance(value, (tuple, list)):
        for v in value:
            yield from _subjaxprs(v)


def count_jaxpr_eqns(jaxpr) -> int:
    """Equations in a jaxpr, counting those of nested jaxprs (pjit, scan, …)."""
    if isinstance(jaxpr, jex.ClosedJaxpr):
        jaxpr = jaxpr.jaxpr
    total = 0
    for eqn in jaxpr.eqns:
        total += 1
        for param in eqn.params.values():
            for sub in _subjaxprs(param):
                total += count_jaxpr_eqns(sub)
    return total


def hlo_op_histogram(hlo_text: str) -> dict[str, int]:
    """Opcode -> count over every computation of an HLO module's text."""
    return dict(sorted(collections.Counter(_HLO_INSTR.findall(hlo_text)).items()))


def _cost(compiled) -> dict[str, float]:
    cost = compiled.cost_analysis()
    if isinstance(cost, (list, tuple)):  # older jax returned one dict per device
        cost = cost[0] if cost else {}
    cost = cost or {}
    return {
        "flops": float(cost.get("flops", 0.0)),
        "bytes_accessed": float(cost.get("bytes accessed", 0.0)),
        "transcendentals": float(cost.get("transcendentals", 0.0)),
    }


def _memory(compiled) -> dict[str, int | None]:
    try:
        mem = compiled.memory_analysis()
    except Exception:  # noqa: BLE001 - some backends do not implement it
        mem = None
    fields = ("argument", "output", "alias", "temp", "generated_code")
    out: dict[str, int | None] = {f"{f}_bytes": None for f in fields}
    out["peak_bytes"] = None
    if mem is None:
        return out
    for f in fields:
        out[f"{f}_bytes"] = int(getattr(mem, f"{f}_size_in_bytes", 0))
    peak = getattr(mem, "peak_memory_in_bytes", None)
    out["peak_bytes"] = int(peak) if peak is not None else None
    return out


def _jaxpr_of(traced):
    """The ClosedJaxpr of a ``jax.jit`` or ``nnx.jit`` trace."""
    if hasattr(traced, "jaxpr"):
        return traced.jaxpr
    return traced.traced.jaxpr  # nnx.jit wraps jax's Traced


def compile_stages(step, args: tuple) -> tuple[Any, dict[str, Any], dict[str, float], dict[str, Any]]:
    """Trace, lower and compile ``step(*args)``, each stage timed on its own.

    JAX's in-memory caches are cleared first so the trace is really cold.
    The executable lands in the same cache the jitted callable uses, so the
    first real call afterwards does not compile again.

    Returns ``(compiled, compile_info, cost, memory)``.
    """
    jax.clear_caches()
    t0 = time.perf_counter()
    traced = step.trace(*args)
    t1 = time.perf_counter()
    lowered = traced.lower()
    t2 = time.perf_counter()
    compiled = lowered.compile()
    t3 = time.perf_counter()
    hlo = compiled.as_text() or ""
    histogram = hlo_op_histogram(hlo)
    info = {
        "trace_s": t1 - t0,
        "lower_s": t2 - t1,
        "compile_s": t3 - t2,
        "total_s": t3 - t0,
        "jaxpr_eqns": count_jaxpr_eqns(_jaxpr_of(traced)),
        "hlo_ops": sum(histogram.values()),
        "hlo_op_histogram": histogram,
    }
    return compiled, info, _cost(compiled), _memory(compiled)
