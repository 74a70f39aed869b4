"""Compile stages, timed separately with JAX's stage API, and program counts."""

from __future__ import annotations

import collections
import os
import re
import threading
import time
from typing import Any

import jax
import jax.extend.core as jex

# An HLO instruction line, "  [ROOT] %name = <shape> opcode(operands...), attrs":
# groups name, result shape, opcode, and the rest after the opening parenthesis.
# The one parser of HLO text lines (op counts here, op categories in profiles).
HLO_INSTRUCTION = re.compile(r"^\s*(?:ROOT\s+)?%?([\w.\-]+)\s*=\s*(.*?)\s([a-z][a-z0-9\-]*)\((.*)$")

# XLA's collective opcodes (async ones add "-start"/"-done"): what profiles
# call the "collective" category and scaling runs count in a program.
COLLECTIVES = (
    "all-reduce",
    "all-gather",
    "reduce-scatter",
    "all-to-all",
    "collective-permute",
    "collective-broadcast",
    "send",
    "recv",
)

BACKEND_COMPILE_EVENT = "/jax/core/compile/backend_compile_duration"


TRACE_EVENT = "/jax/core/compile/jaxpr_trace_duration"
LOWER_EVENT = "/jax/core/compile/jaxpr_to_mlir_module_duration"
CACHE_HIT_EVENT = "/jax/compilation_cache/cache_hits"
CACHE_MISS_EVENT = "/jax/compilation_cache/cache_misses"


class _CompileCounter:
    """Counts XLA backend compiles process-wide via ``jax.monitoring``, and
    hands every compile/cache event to the active ``EventLog`` recorders."""

    def __init__(self):
        self._lock = threading.Lock()
        self.count = 0
        self.logs: list[EventLog] = []
        jax.monitoring.register_event_duration_secs_listener(self._on_duration)
        jax.monitoring.register_event_listener(self._on_event)

    def _on_duration(self, event: str, duration: float, **kwargs: Any) -> None:
        with self._lock:
            if event == BACKEND_COMPILE_EVENT:
                self.count += 1
            for log in self.logs:
                log.events.append((event, float(duration), str(kwargs.get("fun_name", ""))))

    def _on_event(self, event: str, **kwargs: Any) -> None:
        with self._lock:
            for log in self.logs:
                log.events.append((event, None, str(kwargs.get("fun_name", ""))))


class EventLog:
    """Records JAX's own compile and cache events while active (a context
    manager): ``events`` is a list of ``(event, seconds or None, fun_name)``."""

    def __init__(self):
        self.events: list[tuple[str, float | None, str]] = []

    def __enter__(self) -> EventLog:
        counter = compile_counter()
        with counter._lock:
            counter.logs.append(self)
        return self

    def __exit__(self, *exc: Any) -> None:
        counter = compile_counter()
        with counter._lock:
            counter.logs.remove(self)

    def count(self, event: str) -> int:
        return sum(1 for e, _, _ in self.events if e == event)

    def seconds(self, event: str, fun_name: str | None = None) -> float | None:
        """Summed duration of ``event`` (only for ``fun_name`` if given); None if unseen."""
        ds = [d for e, d, f in self.events if e == event and d is not None and (fun_name is None or f == fun_name)]
        return sum(ds) if ds else None


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
    ops = (m.group(3) for m in map(HLO_INSTRUCTION.match, hlo_text.splitlines()) if m)
    return dict(sorted(collections.Counter(ops).items()))


def enable_compile_cache(path: str | os.PathLike) -> str:
    """Use JAX's persistent compilation cache in ``path`` for this process;
    returns the path as a string.

    JAX by default caches only programs whose compile took at least
    ``jax_persistent_cache_min_compile_time_secs`` (1 s), which leaves every
    small benchmark uncached: that is set to 0. The minimum entry size is set
    to 0 bytes as well, so *every* compiled program is cached whatever its
    size: a tiny catalog case compiles to a small executable, and a size
    floor would leave exactly those uncached, making warm-compile figures
    depend on program size rather than on the cache. Only the XLA compile
    is cached; trace and lower are not.
    """
    jax.config.update("jax_compilation_cache_dir", str(path))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
    return str(path)


COST_KEYS = ("flops", "bytes_accessed", "transcendentals")


def _cost_of(analysis) -> dict[str, float]:
    """``{"flops", "bytes_accessed", "transcendentals"}`` from a ``cost_analysis()`` result."""
    if isinstance(analysis, (list, tuple)):  # older jax returned one dict per device
        analysis = analysis[0] if analysis else {}
    analysis = analysis or {}
    return {k: float(analysis.get(k.replace("_", " "), 0.0)) for k in COST_KEYS}


class LoopCounter:
    """Every iteration of every loop in a traced program, counted.

    XLA's ``cost_analysis()`` walks each ``while`` body once, so a program
    whose work sits in a ``scan`` (an RNN over time, a scanned layer stack)
    reads as one iteration's work. ``extra(jaxpr)`` walks the traced jaxpr
    and, for every ``scan`` equation, adds the iterations XLA's count left
    out: ``length`` copies of the body's full cost minus the copies the
    program's count already holds (one ``while`` body of ``unroll`` copies
    plus the straight-line remainder, as ``jax.lax.scan`` lowers it). A
    body's cost is XLA's count of the body traced on its own
    (``jaxpr_as_fun`` over its input avals), lowered or compiled as
    ``compile`` says, plus its own nested loops; it recurses through every
    sub-jaxpr (``jit``, ``custom_jvp_call``, ``custom_vjp_call``,
    ``checkpoint``, ``shard_map``, ``cond`` branches by their most costly).

    ``devices``: the devices an SPMD-partitioned program spans. XLA's count
    of such a program is one device's share, while a body outside
    ``shard_map`` is traced with global shapes: its count is divided by
    ``devices`` (an even split of the loop's work); only for compiled
    counts, a lowered program is not yet partitioned. A body inside
    ``shard_map`` has per-device shapes and may use the mesh's axes: it is
    costed under a ``shard_map`` over the same mesh (inputs and outputs
    replicated, unchecked), one device's program.

    After a walk: ``scans`` (scan equations seen), ``unbounded`` (``while``
    loops with no static trip count: their bodies are counted once, so the
    total is a lower bound) and ``uncounted`` (scans whose body JAX could not
    trace or compile on its own: counted once, also a lower bound).
    """

    def __init__(self, compile: bool = True, devices: int = 1):
        self.compile = compile
        self.split = devices if compile else 1
        self._meshes: list[Any] = []  # enclosing shard_maps' meshes: per-device shapes
        self.scans = 0
        self.unbounded = 0
        self.uncounted = 0
        self._bodies: dict[int, dict[str, float] | None] = {}

    def extra(self, jaxpr) -> dict[str, float]:
        """Cost the program's own count of ``jaxpr`` leaves out (every key of ``COST_KEYS``)."""
        if isinstance(jaxpr, jex.ClosedJaxpr):
            jaxpr = jaxpr.jaxpr
        total = dict.fromkeys(COST_KEYS, 0.0)
        for eqn in jaxpr.eqns:
            name = eqn.primitive.name
            if name == "scan":
                part = self._scan(eqn.params)
            elif name == "cond":
                parts = [self.extra(b) for b in eqn.params["branches"]]
                part = max(parts, key=lambda c: c["flops"]) if parts else {}
            elif name == "shard_map":
                self._meshes.append(eqn.params["mesh"])
                part = self.extra(eqn.params["jaxpr"])
                self._meshes.pop()
            else:
                if name == "while":
                    self.unbounded += 1
                part = dict.fromkeys(COST_KEYS, 0.0)
                for value in eqn.params.values():
                    for sub in _subjaxprs(value):
                        _add(part, self.extra(sub))
            _add(total, part)
        return total

    def _scan(self, params: dict[str, Any]) -> dict[str, float]:
        self.scans += 1
        body = params["jaxpr"]
        once = self._body_cost(body)
        nested = self.extra(body)
        if once is None:
            self.uncounted += 1
            return nested
        length = int(params["length"])
        copies = _scan_copies(length, int(params["unroll"]))
        share = 1 if self._meshes else self.split
        return {k: length * (once[k] / share + nested[k]) - copies * once[k] / share for k in COST_KEYS}

    def _body_cost(self, body) -> dict[str, float] | None:
        key = id(body)
        if key not in self._bodies:
            try:
                args = [jax.ShapeDtypeStruct(a.shape, a.dtype) for a in body.in_avals]
                fn = jex.jaxpr_as_fun(body)
                if self._meshes:
                    fn = jax.shard_map(fn, mesh=self._meshes[-1], in_specs=jax.P(), out_specs=jax.P(), check_vma=False)
                lowered = jax.jit(fn).trace(*args).lower()
                self._bodies[key] = _cost_of(
                    lowered.compile().cost_analysis() if self.compile else lowered.cost_analysis()
                )
            except Exception:  # noqa: BLE001 - a body that cannot stand alone: counted once, flagged
                self._bodies[key] = None
        return self._bodies[key]


def _add(total: dict[str, float], part: dict[str, float]) -> None:
    for k, v in part.items():
        total[k] += v


def _scan_copies(length: int, unroll: int) -> int:
    """Copies of a scan body XLA's count holds (``jax.lax.scan``'s lowering):
    a ``while`` body of ``unroll`` copies (counted once) plus the remainder
    unrolled in straight-line code; fully unrolled when ``unroll`` covers
    ``length`` in one trip (or is 0)."""
    if unroll <= 0:
        return length
    trips, rest = divmod(length, unroll)
    if unroll != 1 and trips == 1 and rest == 0:
        return length
    return (unroll if trips else 0) + rest


def program_cost(jaxpr, analysis, compile: bool = True, devices: int = 1) -> dict[str, Any]:
    """XLA's cost of a whole program with every loop iteration counted.

    ``analysis``: the program's own ``cost_analysis()`` (``Compiled`` or
    ``Lowered``), whose loop bodies count once; ``jaxpr``: the program's
    traced jaxpr; ``compile``: cost loop bodies compiled (as the program
    was) or only lowered; ``devices``: the devices a compiled program spans
    (``program_devices``): XLA counts one device's share of an SPMD
    program. Returns ``flops``, ``bytes_accessed`` and ``transcendentals``
    over every iteration (one device's share where ``devices`` > 1); the
    same three as XLA reported them under ``*_loop_bodies_once``; ``loops``:
    ``{"scans", "unbounded", "uncounted"}`` (see ``LoopCounter``);
    ``lower_bound`` (true when an unbounded or uncounted loop makes the
    totals a lower bound) and ``devices``.
    """
    once = _cost_of(analysis)
    counter = LoopCounter(compile, devices)
    extra = counter.extra(jaxpr)
    out: dict[str, Any] = {k: once[k] + extra[k] for k in COST_KEYS}
    out.update({f"{k}_loop_bodies_once": once[k] for k in COST_KEYS})
    out["loops"] = {"scans": counter.scans, "unbounded": counter.unbounded, "uncounted": counter.uncounted}
    out["lower_bound"] = bool(counter.unbounded or counter.uncounted)
    out["devices"] = devices
    return out


def program_devices(compiled) -> int:
    """How many devices a compiled program spans: the largest device set of
    its input and output shardings (1 for a single-device program)."""
    shardings = jax.tree_util.tree_leaves((compiled.input_shardings, compiled.output_shardings))
    return max((len(s.device_set) for s in shardings if hasattr(s, "device_set")), default=1)


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


def jaxpr_of(traced):
    """The ClosedJaxpr of a ``jax.jit`` or ``nnx.jit`` trace."""
    if hasattr(traced, "jaxpr"):
        return traced.jaxpr
    return traced.traced.jaxpr  # nnx.jit wraps jax's Traced


def compile_stages(step, args: tuple) -> tuple[Any, dict[str, Any], dict[str, float], dict[str, Any]]:
    """Trace, lower and compile ``step(*args)``, each stage timed on its own.

    JAX's in-memory caches are cleared first so the trace is really cold.
    The executable lands in the same cache the jitted callable uses, so the
    first real call afterwards does not compile again.

    Returns ``(compiled, compile_info, cost, memory)``; ``cost`` is
    ``program_cost``'s (every loop iteration counted; loop bodies are
    compiled on their own after the timed stages).
    """
    jax.clear_caches()
    with EventLog() as trace_log:
        t0 = time.perf_counter()
        traced = step.trace(*args)
        t1 = time.perf_counter()
    with EventLog() as lower_log:
        lowered = traced.lower()
        t2 = time.perf_counter()
    with EventLog() as compile_log:
        compiled = lowered.compile()
        t3 = time.perf_counter()
    hlo = compiled.as_text() or ""
    histogram = hlo_op_histogram(hlo)
    jaxpr = jaxpr_of(traced)
    info = {
        "trace_s": t1 - t0,
        "lower_s": t2 - t1,
        "compile_s": t3 - t2,
        "total_s": t3 - t0,
        "jaxpr_eqns": count_jaxpr_eqns(jaxpr),
        "hlo_ops": sum(histogram.values()),
        "hlo_op_histogram": histogram,
        "events": jax_events(trace_log, lower_log, compile_log),
        "persistent_cache": cache_result(compile_log),
    }
    cost = program_cost(jaxpr, compiled.cost_analysis(), devices=program_devices(compiled))
    return compiled, info, cost, _memory(compiled)


def jax_events(trace_log: EventLog, lower_log: EventLog, compile_log: EventLog) -> dict[str, Any]:
    """Trace, lower and backend-compile seconds as JAX itself reports them.

    Filtered to the measured function: its name is the one JAX gives the
    single backend compile of the compile stage (``jit(name)``); helper jits
    run while tracing (e.g. constants built by ``jnp`` calls) are counted
    apart, not added in.
    """
    names = [f for e, _, f in compile_log.events if e == BACKEND_COMPILE_EVENT]
    fun = names[-1] if names else None
    inner = fun[4:-1] if fun and fun.startswith("jit(") and fun.endswith(")") else fun
    return {
        "fun_name": fun,
        "trace_s": trace_log.seconds(TRACE_EVENT, inner) if fun else None,
        "lower_s": lower_log.seconds(LOWER_EVENT, fun) if fun else None,
        "backend_compile_s": compile_log.seconds(BACKEND_COMPILE_EVENT, fun) if fun else None,
        "helper_compiles_during_trace": trace_log.count(BACKEND_COMPILE_EVENT),
    }


def cache_result(log: EventLog) -> str | None:
    """``"hit"``, ``"miss"`` or ``None`` (no persistent cache in use)."""
    if log.count(CACHE_HIT_EVENT):
        return "hit"
    if log.count(CACHE_MISS_EVENT):
        return "miss"
    return None


# A StableHLO/CHLO operation at the start of a line: "[%x = ] stablehlo.op ...".
_MLIR_OP = re.compile(r'^\s*(?:[%\w#:, ]+=\s*)?"?((?:stablehlo|chlo|mhlo)\.[a-z_]+)', re.M)

# ``--lower-for`` names -> JAX lowering platform names.
LOWER_PLATFORMS = {"tpu": "tpu", "gpu": "cuda", "cuda": "cuda", "rocm": "rocm", "cpu": "cpu"}


def stablehlo_op_histogram(mlir_text: str) -> dict[str, int]:
    """Op name -> count over a lowered module's StableHLO text."""
    return dict(sorted(collections.Counter(_MLIR_OP.findall(mlir_text)).items()))


def lower_for(step, args: tuple, platforms: tuple[str, ...]) -> dict[str, dict[str, Any]]:
    """Trace ``step(*args)`` once, then lower it for each platform in turn.

    Lowering for a platform this machine lacks (TPU or GPU on a CPU host)
    needs no device: regressions in TPU/GPU lowering show up in CPU CI.
    Returns ``{name: {"platform", "lower_s", "stablehlo_ops",
    "stablehlo_op_histogram"} or {"platform", "error"}}``.
    """
    traced = step.trace(*args)
    out: dict[str, dict[str, Any]] = {}
    for name in platforms:
        platform = LOWER_PLATFORMS[name]
        try:
            t0 = time.perf_counter()
            lowered = traced.lower(lowering_platforms=(platform,))
            seconds = time.perf_counter() - t0
            histogram = stablehlo_op_histogram(lowered.as_text())
        except Exception as e:  # noqa: BLE001 - a failed lowering is data
            out[name] = {"platform": platform, "error": f"{type(e).__name__}: {e}"}
            continue
        out[name] = {
            "platform": platform,
            "lower_s": seconds,
            "stablehlo_ops": sum(histogram.values()),
            "stablehlo_op_histogram": histogram,
        }
    return out
