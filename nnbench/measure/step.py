"""``nnbench.measure``: compile stages, steady-state timing, work and memory
of jitted steps, one record (a JSON-ready dict) each."""

from __future__ import annotations

import dataclasses
import os
import resource
from collections.abc import Sequence
from typing import Any

import jax
import numpy as np

from nnbench.measure import calibration as _calibration
from nnbench.measure import flops as _flops
from nnbench.measure import roofline as _roofline
from nnbench.measure import stages as _compile
from nnbench.measure import stats as _stats
from nnbench.measure.keep import reprime as reprime  # noqa: F401 - measure's API
from nnbench.measure.timing import Carry, Lane, TimingPolicy, fenced_call, run_rounds
from nnbench.results import metrics as _metrics


class NonFiniteOutput(ValueError):
    """The step produced NaN or Inf: the case is invalid, not a timing."""


def check_finite(out: Any, when: str) -> None:
    for leaf in jax.tree_util.tree_leaves(out):
        if hasattr(leaf, "dtype") and jax.dtypes.issubdtype(leaf.dtype, jax.dtypes.extended):
            continue  # PRNG keys (e.g. an NNX module's Rngs) have no finiteness
        if hasattr(leaf, "dtype") and np.issubdtype(np.dtype(leaf.dtype), np.inexact):
            # A multi-process array: check this process's shards.
            parts = [leaf] if getattr(leaf, "is_fully_addressable", True) else [s.data for s in leaf.addressable_shards]
            if not all(bool(np.isfinite(np.asarray(p, dtype=np.float64)).all()) for p in parts):
                raise NonFiniteOutput(f"non-finite values in the step's output ({when})")


_PEAK_BEFORE_RESETS = 0  # the highest VmHWM mark seen before a reset_peak_rss


def peak_rss_bytes() -> int:
    """This process's peak resident set size so far, across peak resets."""
    mark = peak_rss_mark_bytes() or 0
    return max(int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * 1024, _PEAK_BEFORE_RESETS, mark)


def current_rss_bytes() -> int:
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        return peak_rss_bytes()


def reset_peak_rss() -> bool:
    """Reset this process's peak-RSS mark (``VmHWM``) to its current RSS.

    Linux's ``/proc/self/clear_refs`` (value 5, Linux >= 4.0). With it, one
    worker process that runs several cases in turn still measures the peak
    of each case on its own. False where the kernel does not allow it.
    """
    global _PEAK_BEFORE_RESETS
    _PEAK_BEFORE_RESETS = max(_PEAK_BEFORE_RESETS, peak_rss_mark_bytes() or 0)
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def peak_rss_mark_bytes() -> int | None:
    """``VmHWM``: the peak RSS since the process started or since the last
    ``reset_peak_rss``; None where ``/proc`` does not say."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def device_memory_stats() -> dict[str, int] | None:
    """``memory_stats()`` of the first device, or None where the backend
    reports none (CPU). Run with ``XLA_PYTHON_CLIENT_PREALLOCATE=false`` (the
    worker does) so ``bytes_in_use`` is what was allocated, not a pool."""
    try:
        stats = jax.devices()[0].memory_stats()
    except Exception:  # noqa: BLE001 - not implemented on some backends
        return None
    return dict(stats) if stats else None


def runtime_memory(
    before_rss: int,
    after_rss: int,
    dev_before: dict | None,
    dev_after: dict | None,
    compiled: dict,
    peak_rss: int | None = None,
) -> dict[str, Any]:
    """Memory the first call of a step used, beside the compiler's estimate.

    Device backends (``memory_stats``): the process's ``peak_bytes_in_use``
    rise over ``bytes_in_use`` before the call (None when the peak did not
    move: an earlier case set it). CPU: the executable's output and temp
    buffers live in host memory, so the peak RSS during the first call
    (``peak_rss``, the ``VmHWM`` mark reset just before the call) above the
    RSS before it — ``rss_peak``; where the mark cannot be reset, the
    resident-set growth across the call (``rss``: misses temporaries freed
    before the call returns). Page-granular; pages the allocator reuses
    read as 0. The prediction error compares with the compiled
    ``output + temp`` bytes.
    """
    out: dict[str, Any] = {"first_call_rss_growth_bytes": after_rss - before_rss}
    if dev_before is not None and dev_after is not None:
        peak_before = dev_before.get("peak_bytes_in_use", 0)
        peak_after = dev_after.get("peak_bytes_in_use", 0)
        used = peak_after - dev_before.get("bytes_in_use", 0) if peak_after > peak_before else None
        out.update(device_peak_bytes_in_use=peak_after, runtime_bytes=used, runtime_source="memory_stats")
    elif peak_rss is not None:
        out.update(runtime_bytes=max(0, peak_rss - before_rss), runtime_source="rss_peak")
    else:
        out.update(runtime_bytes=max(0, after_rss - before_rss), runtime_source="rss")
    predicted = None
    if compiled.get("output_bytes") is not None and compiled.get("temp_bytes") is not None:
        predicted = compiled["output_bytes"] + compiled["temp_bytes"]
    out["predicted_bytes"] = predicted
    runtime = out["runtime_bytes"]
    out["prediction_error"] = (predicted - runtime) / runtime if predicted is not None and runtime else None
    return out


@dataclasses.dataclass
class Prepared:
    """A compiled, first-called step, ready for timing."""

    lane: Lane
    compile_info: dict[str, Any]
    cost: dict[str, float]
    memory: dict[str, Any]
    first_call_s: float
    model_flops: float | None
    items_per_step: int | None
    dtype: str
    rss_growth_bytes: int
    runtime_memory: dict[str, Any] = dataclasses.field(default_factory=dict)


def prepare(
    step,
    args: tuple,
    carry: Carry | None = None,
    model_flops: float | None = None,
    items_per_step: int | None = None,
    dtype: str = "float32",
    rss_before: int | None = None,
) -> Prepared:
    """Cold compile stages (JAX caches cleared first), then the first call.

    The first call's output is checked for NaN/Inf before anything can
    donate it. ``rss_before``: current RSS before this call (the worker takes
    it after building the case), so the host memory compiling and first
    calling the step added is recorded; when the caller also reset the
    peak-RSS mark then (``reset_peak_rss``), ``case_peak_rss_growth_bytes``
    is this case's own peak (compile, first call) above it.
    """
    if not hasattr(step, "trace"):
        raise TypeError("step must be a jitted callable with .trace() (jax.jit, nnx.jit, ...)")
    if rss_before is None:
        reset_peak_rss()
        rss_before = current_rss_bytes()
    _, info, cost, memory = _compile.compile_stages(step, args)
    counter = _compile.compile_counter()
    before = counter.count
    build_peak = peak_rss_mark_bytes()  # build + trace + lower + compile, since the caller's reset
    rss_compiled, dev_before = current_rss_bytes(), device_memory_stats()
    call_mark = reset_peak_rss()
    out, args, _, first_s = fenced_call(step, args, carry)
    call_peak = peak_rss_mark_bytes() if call_mark else None
    runtime = runtime_memory(
        rss_compiled, current_rss_bytes(), dev_before, device_memory_stats(), memory, peak_rss=call_peak
    )
    peaks = [m for m in (build_peak, call_peak) if m is not None]
    runtime["case_peak_rss_growth_bytes"] = max(0, max(peaks) - rss_before) if peaks and call_mark else None
    info["first_call_compiles"] = counter.count - before
    check_finite(out, "first call")
    del out
    return Prepared(
        lane=Lane(step, args, carry, calls=1),  # the first call, above
        compile_info=info,
        cost=cost,
        memory=memory,
        first_call_s=first_s,
        model_flops=model_flops,
        items_per_step=items_per_step,
        dtype=dtype,
        rss_growth_bytes=current_rss_bytes() - rss_before,
        runtime_memory=runtime,
    )


def compiled_bytes(memory: dict[str, Any]) -> int | None:
    """Compiled memory footprint of a ``Prepared.memory``: the compiler's peak
    if it reports one, else argument + output + temp − alias bytes; None if
    nothing is known. A record's ``memory.compiled_bytes``."""
    if memory.get("peak_bytes"):
        return int(memory["peak_bytes"])
    parts = [memory.get(f"{k}_bytes") for k in ("argument", "output", "temp")]
    if any(v is None for v in parts):
        return None
    return int(sum(parts) - (memory.get("alias_bytes") or 0))


def partial_record(p: Prepared) -> dict[str, Any]:
    """The record sections a prepared step already has before any timing:
    ``compile``, ``work`` (no rates yet), ``memory`` (compiled and first-call
    figures), ``throughput.items_per_step`` and ``time.first_call_s``.
    ``finish`` completes it; the asv and pytest suites read their figures
    from it (``nnbench.results.metrics``)."""
    cal = _calibration.current()
    work = _work(p, cal)
    return {
        "compile": dict(p.compile_info),
        "time": {"first_call_s": p.first_call_s},
        "work": work,
        "memory": {
            **{f"compiled_{k}": v for k, v in p.memory.items()},
            "compiled_bytes": compiled_bytes(p.memory),
            "rss_growth_bytes": p.rss_growth_bytes,
            **p.runtime_memory,
        },
        "throughput": {"items_per_step": p.items_per_step},
        "roofline": _ceilings(work, cal),
    }


def finish(p: Prepared, stop_reason: str, policy: TimingPolicy) -> dict[str, Any]:
    """The record of one timed, prepared step."""
    lane = p.lane
    check_finite(lane.last_out, "last call")
    stats = _stats.summarize(lane.samples_s)
    part = partial_record(p)
    record = {
        "roofline": part["roofline"],
        "status": "ok",
        "compile": dict(part["compile"], recompiles=lane.recompiles),
        "time": {
            **stats,
            **part["time"],
            "warmup_calls": lane.warmup_calls,
            "calls_per_sample": lane.calls_per_sample,
            "rewarm_calls": lane.rewarm_calls,
            "steady": lane.steady,
            "stop_reason": stop_reason,
            "policy": dataclasses.asdict(policy),
            "samples_s": _ns(lane.samples_s),
            "round_ends": lane.round_ends,
        },
        "dispatch": {**_stats.summarize(lane.dispatch_s), "samples_s": _ns(lane.dispatch_s)},
        "work": part["work"],
        "memory": {**part["memory"], "process_peak_rss_bytes": peak_rss_bytes()},
        "throughput": part["throughput"],
    }
    set_rates(record)
    return record


def _work(p: Prepared, cal: dict[str, Any] | None) -> dict[str, Any]:
    """A record's ``work``: XLA's counts of the compiled program, every loop
    iteration included (``_compile.program_cost``; for a program on N
    devices one device's share, as XLA counts an SPMD program), XLA's own
    loop-bodies-once figures beside them, the analytic model FLOPs of the
    whole step (all devices; optimizer update excluded, see
    ``layers.flops``), the devices the program spans and one device's peak."""
    c = p.cost
    work: dict[str, Any] = {"devices": c.get("devices", 1)}
    for key in _compile.COST_KEYS:
        work[f"xla_{key}"] = c[key]
        work[f"xla_{key}_loop_bodies_once"] = c.get(f"{key}_loop_bodies_once", c[key])
    work["xla_loops"] = c.get("loops")
    work["xla_lower_bound"] = c.get("lower_bound", False)
    work["model_flops"] = p.model_flops
    measured = _calibration.peak(cal, p.dtype)
    work["peak_flops_per_s"], work["peak_source"] = _vendor_else_measured(
        _flops.peak_flops(jax.devices()[0].device_kind, p.dtype), measured
    )
    work["measured_peak_flops_per_s"] = measured
    return work


def _vendor_else_measured(vendor: float | None, measured: float | None) -> tuple[float | None, str | None]:
    """The figure a record uses, and its source: the vendor's where known, else the calibrated one."""
    if vendor is not None:
        return vendor, "vendor"
    return measured, "measured" if measured is not None else None


def _ceilings(work: dict[str, Any], cal: dict[str, Any] | None) -> dict[str, Any]:
    """A record's ``roofline`` before timing (``measure.roofline.ceilings``):
    the vendor bandwidth of this device kind if known, else the calibrated
    one (``cal``); the calibrated dispatch floor."""
    bandwidth, source = _vendor_else_measured(
        _roofline.vendor_bandwidth(jax.devices()[0].device_kind), _calibration.bandwidth(cal)
    )
    return _roofline.ceilings(work, bandwidth, source, _calibration.dispatch_floor(cal))


def set_rates(record: dict[str, Any]) -> None:
    """FLOP/s, MFU, HFU and items/s of a record, from its median step time.

    On N devices (``work.devices``): model FLOP/s of the whole step and per
    device, XLA FLOP/s per device (its count is one device's) and in total,
    and MFU and HFU against the N devices' combined peak
    (``peak_flops_per_s_total``), so the two agree on what 100 % means.
    The one place a record's MFU is computed (``nnbench.measure.flops.utilisation``);
    needs ``time.median``, ``work`` (from ``partial_record``) and ``throughput``.
    """
    median, work, tp = record["time"]["median"], record["work"], record["throughput"]
    n = work.get("devices") or 1
    peak = work["peak_flops_per_s"]
    achieved = work["model_flops"] / median if work["model_flops"] and median > 0 else None
    hw_device = work["xla_flops"] / median if work["xla_flops"] and median > 0 else None
    hw_total = n * work["xla_flops"] if work["xla_flops"] else None
    work.update(
        peak_flops_per_s_total=n * peak if peak else None,
        achieved_flops_per_s=achieved,
        achieved_flops_per_s_per_device=achieved / n if achieved is not None else None,
        hw_flops_per_s=hw_device * n if hw_device is not None else None,
        hw_flops_per_s_per_device=hw_device,
        mfu=_flops.utilisation(work["model_flops"], median, peak, n),
        hfu=_flops.utilisation(hw_total, median, peak, n),
    )
    tp["items_per_s"] = tp["items_per_step"] / median if tp["items_per_step"] and median > 0 else None
    if isinstance(record.get("roofline"), dict):  # records from before the roofline have none
        _roofline.set_times(record["roofline"], median, (record.get("dispatch") or {}).get("median"))


# A cold compile's stage seconds, kept per process by merge_processes: the
# compile stages compare tests pair by pair (``nnbench.results.metrics``).
COMPILE_STAGES = tuple(
    m.path[-1] for m in _metrics.shown_in(_metrics.COMPARE) if m.kind == "single" and m.path[0] == "compile"
)


def merge_processes(records: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """One record of a case timed in several worker processes in turn
    (``nnbench ab --pairs``): samples, dispatch samples and round ends
    concatenated, ``time.process_ends`` the round count after each
    process, summaries and rates recomputed from all samples. Compile,
    memory and parity are the first process's, plus
    ``compile.per_process``: each process's cold-compile stage seconds
    (``{"trace_s", "lower_s", "compile_s"}``, in process order), the samples
    ``nnbench ab`` compares compile time on. The first record that is not ok
    is returned as it is.
    """
    for r in records:
        if r["status"] != "ok":
            return r
    out = {**records[0], "time": dict(records[0]["time"]), "dispatch": dict(records[0]["dispatch"])}
    out["work"], out["throughput"] = dict(out["work"]), dict(out["throughput"])
    if isinstance(out.get("roofline"), dict):
        out["roofline"] = dict(out["roofline"])
    samples, dispatch, ends, process_ends = [], [], [], []
    for r in records:
        ends += [len(samples) + e for e in r["time"]["round_ends"]]
        samples += r["time"]["samples_s"]
        dispatch += r["dispatch"]["samples_s"]
        process_ends.append(len(ends))
    out["time"].update(_stats.summarize(samples), samples_s=samples, round_ends=ends, process_ends=process_ends)
    out["time"]["steady"] = all(r["time"]["steady"] for r in records)
    out["dispatch"].update(_stats.summarize(dispatch), samples_s=dispatch)
    per_process = [{k: r["compile"].get(k) for k in COMPILE_STAGES} for r in records]
    out["compile"] = dict(
        out["compile"], recompiles=sum(r["compile"]["recompiles"] for r in records), per_process=per_process
    )
    set_rates(out)
    return out


def _ns(samples: Sequence[float]) -> list[float]:
    """Samples rounded to the nanosecond, the timer's own resolution: the
    run file stores them in half the characters."""
    return [round(x, 9) for x in samples]


def measure(
    step,
    *args: Any,
    carry: Carry | None = None,
    model_flops: float | None = None,
    items_per_step: int | None = None,
    dtype: str = "float32",
    policy: TimingPolicy | None = None,
) -> dict[str, Any]:
    """Measure one jitted step: compile stages, step time, work, memory.

    Args:
      step: a jitted callable with JAX's stage API (``jax.jit``, ``nnx.jit``
        or anything with ``.trace(*args)``).
      *args: its arguments. Donated arguments are fine when ``carry`` threads
        the outputs back in.
      carry: ``(args, out) -> next_args``; for a train step that returns its
        new state, e.g. ``lambda a, o: (o[0], o[1], a[2])``. ``None`` calls
        with the same ``args`` every time.
      model_flops: analytic FLOPs of one step, for achieved FLOP/s and MFU.
      items_per_step: samples or tokens per step, for throughput.
      dtype: compute dtype name, to pick the device's peak FLOP/s.
      policy: warm-up and stopping rules (``TimingPolicy()`` by default).

    Returns:
      A record dict with ``compile`` (trace/lower/compile seconds, jaxpr and
      HLO sizes, recompiles while timing), ``time`` (median, 95 % CI,
      quantiles, CV, raw ``samples_s``), ``dispatch`` (host time until the
      call returned), ``work`` (XLA and model FLOPs, FLOP/s, MFU),
      ``memory`` and ``throughput``; ``status`` is ``"ok"``. Raises
      ``NonFiniteOutput`` when an output holds NaN or Inf.

    Example:
      >>> import jax, jax.numpy as jnp, nnbench
      >>> f = jax.jit(lambda x: jnp.tanh(x @ x))
      >>> rec = nnbench.measure(f, jnp.ones((8, 8)))
      >>> rec["time"]["median"] > 0 and rec["compile"]["recompiles"] == 0
      True
    """
    policy = policy or TimingPolicy()
    p = prepare(step, args, carry, model_flops, items_per_step, dtype)
    stop = run_rounds([p.lane], policy)
    return finish(p, stop, policy)
