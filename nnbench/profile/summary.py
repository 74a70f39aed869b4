"""Summaries of one XLA profile capture: per-op self times (JAX's
``ProfileData`` reader), op categories from the optimized HLO, xprof's
overview figures, and the printable top-ops table.
"""

from __future__ import annotations

import collections
import contextlib
import hashlib
import json
import os
import re
import statistics
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from nnbench.measure.stages import COLLECTIVES, HLO_INSTRUCTION
from nnbench.profile.text import CATEGORIES, fmt_n, fmt_s, table

TOP_K = 12
_MATMUL = ("dot", "convolution")
# HLO instruction lines: ``nnbench.measure.stages.HLO_INSTRUCTION``; computation headers and callees:
_LAYOUT = re.compile(r"\{[^{}]*\}")
_COMP = re.compile(r"^(?:ENTRY\s+)?%?([\w.\-]+)\s.*\{\s*$")
_CALLS = re.compile(r"(?:calls|to_apply|body|condition)=%?([\w.\-]+)")


@contextlib.contextmanager
def _quiet_stderr() -> Iterator[None]:
    """Silence fd 2 (xprof's C++ logging) for the duration."""
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def hlo_op_info(hlo_text: str) -> dict[str, tuple[str, str]]:
    """Instruction name → ``(category, result shape)``, from an HLO module's text.

    A fusion (or call) whose called computations hold a ``dot`` or
    ``convolution`` is ``matmul/conv``; other fusions are ``fusion``. The
    shape is printed without layouts, e.g. ``f32[64,512]``.
    """
    opcode: dict[str, str] = {}
    shape: dict[str, str] = {}
    calls: dict[str, list[str]] = {}
    comp_ops: dict[str, list[str]] = collections.defaultdict(list)
    current = ""
    for line in hlo_text.splitlines():
        m = _COMP.match(line)
        if m and "=" not in line.split("(")[0]:
            current = m.group(1)
            continue
        m = HLO_INSTRUCTION.match(line)
        if not m:
            continue
        name, result, op, rest = m.groups()
        opcode[name], shape[name] = op, _LAYOUT.sub("", result).strip()
        calls[name] = _CALLS.findall(rest)
        comp_ops[current].append(name)

    def has_matmul(comp: str, seen: set[str]) -> bool:
        if comp in seen:
            return False
        seen.add(comp)
        return any(opcode[i] in _MATMUL or any(has_matmul(c, seen) for c in calls[i]) for i in comp_ops.get(comp, ()))

    return {
        name: (_category(op, any(has_matmul(c, set()) for c in calls[name])), shape[name])
        for name, op in opcode.items()
    }


def hlo_categories(hlo_text: str) -> dict[str, str]:
    """Instruction name → category (see ``hlo_op_info``)."""
    return {name: cat for name, (cat, _) in hlo_op_info(hlo_text).items()}


def _category(opcode: str, calls_matmul: bool = False) -> str:
    base = opcode.removesuffix("-start").removesuffix("-done")
    if base in _MATMUL or calls_matmul:
        return "matmul/conv"
    if base in COLLECTIVES:
        return "collective"
    if base == "copy":
        return "copy"
    if base == "fusion" or opcode == "fusion":
        return "fusion"
    return "other"


def _guess_category(op_name: str) -> str:
    """Category from an op's name alone (no HLO text): ``copy.3`` → copy."""
    stem = op_name.split(".")[0]
    if stem.endswith("fusion"):
        return "fusion"
    return _category(stem)


def _self_times(
    events: list[tuple[int, int, str, dict[str, Any]]],
) -> Iterator[tuple[str, float, float, float, dict[str, Any]]]:
    """``(op, start_ns, dur_ns, self_ns, stats)`` for one thread's op events;
    an op's self time excludes ops nested inside it on the same thread."""
    events = sorted(events, key=lambda e: (e[0], -e[1]))
    stack: list[list[Any]] = []  # [end, op, start, dur, child_ns, stats]
    out = []
    for start, dur, op, stats in events:
        while stack and stack[-1][0] <= start:
            end, o, s, d, child, st = stack.pop()
            out.append((o, s, d, d - child, st))
        if stack:
            stack[-1][4] += dur
        stack.append([start + dur, op, start, dur, 0.0, stats])
    while stack:
        end, o, s, d, child, st = stack.pop()
        out.append((o, s, d, d - child, st))
    return iter(out)


def _union_ns(intervals: list[tuple[float, float]]) -> float:
    total, cur_s, cur_e = 0.0, None, None
    for s, e in sorted(intervals):
        if cur_e is None or s > cur_e:
            if cur_e is not None:
                total += cur_e - cur_s
            cur_s, cur_e = s, e
        else:
            cur_e = max(cur_e, e)
    if cur_e is not None:
        total += cur_e - cur_s
    return total


def _op_events(path: Path) -> tuple[list[tuple[str, float, float, float, dict[str, Any]]], list[tuple[float, float]]]:
    """XLA op events (with self time) and step windows from an xplane file.

    Device planes (``/device:*``, line ``XLA Ops``) are used where present;
    on CPU the ops sit on the ``/host:CPU`` worker threads, with an
    ``hlo_op`` stat. Step windows are the ``StepTraceAnnotation`` events.
    """
    from jax.profiler import ProfileData

    data = ProfileData.from_file(str(path))
    ops: list[tuple[str, float, float, float, dict[str, Any]]] = []
    windows: list[tuple[float, float]] = []
    device_ops = False
    for plane in data.planes:
        if plane.name.startswith("/device:"):
            for line in plane.lines:
                if line.name == "XLA Ops":
                    device_ops = True
                    evs = [(e.start_ns, e.duration_ns, e.name, dict(e.stats)) for e in line.events]
                    ops.extend(_self_times(evs))
    host = data.find_plane_with_name("/host:CPU")
    if host is not None:
        for line in host.lines:
            evs = []
            for e in line.events:
                stats = dict(e.stats)
                if "step_num" in stats:
                    windows.append((e.start_ns, e.start_ns + e.duration_ns))
                elif "hlo_op" in stats and not device_ops:
                    evs.append((e.start_ns, e.duration_ns, str(stats["hlo_op"]), stats))
            ops.extend(_self_times(evs))
    if windows and not device_ops:  # host clock: keep the ops of captured steps
        ops = [o for o in ops if any(s <= o[1] < e for s, e in windows)]
    return ops, windows


def _overview(path: Path) -> dict[str, Any]:
    """Step time and idle share from xprof's ``overview_page`` converter.

    A converter that fails leaves the figures ``None`` and says why in
    ``error``: the per-op summary does not depend on it.
    """
    try:
        from xprof.convert import raw_to_tool_data

        with _quiet_stderr():
            raw, _ = raw_to_tool_data.xspace_to_tool_data([str(path)], "overview_page", {})
        tables = json.loads(raw)
        error = None
    except Exception as e:  # noqa: BLE001 - e.g. xprof missing or a format it cannot read
        tables, error = [], f"{type(e).__name__}: {e}"

    def num(table: int, key: str) -> float | None:
        try:
            return float(str(tables[table]["p"][key]).rstrip("%"))
        except (IndexError, KeyError, ValueError):
            return None

    return {
        "step_time_ms_avg": num(1, "steptime_ms_average"),
        "step_time_ms_min": num(1, "steptime_ms_minimum"),
        "step_time_ms_max": num(1, "steptime_ms_maximum"),
        "step_time_ms_sd": num(1, "steptime_ms_standard_deviation"),
        "device_idle_pct": num(0, "device_idle_time_percent"),
        "host_idle_pct": num(0, "host_idle_time_percent"),
        "hardware_type": tables[1].get("p", {}).get("hardware_type") if len(tables) > 1 else None,
        "error": error,
    }


def summarize(xplane: str | os.PathLike, hlo_text: str | None = None) -> dict[str, Any]:
    """Per-op and per-category summary of one capture.

    Returns ``{"steps", "ops", "categories", "overview"}``: ``ops`` is every
    XLA op sorted by self time (``op``, ``module``, ``category``,
    ``shape`` (from the HLO), ``occurrences``, ``self_s_per_step`` (mean
    over the captured steps), ``self_s_median`` (median over them: robust
    to a preempted step), ``share`` of all op self time,
    ``flops``/``bytes_accessed`` per step where the profile reports them,
    else ``None``); ``categories`` maps each category to its seconds per step
    and share; ``overview`` holds xprof's step time and idle figures plus
    ``op_busy_share``: the fraction of the captured steps' wall time in
    which at least one XLA op ran (measured from the events).

    Self times add up over threads and devices: an op that runs on 4
    devices counts 4 occurrences per step, and the op time per step can
    exceed the step's wall time when ops run in parallel.
    """
    path = Path(xplane)
    events, windows = _op_events(path)
    steps = max(len(windows), 1)
    info = hlo_op_info(hlo_text) if hlo_text else {}
    windows = sorted(windows)
    agg: dict[tuple[str, str], dict[str, Any]] = {}
    for op, start, _, self_ns, stats in events:
        module = str(stats.get("hlo_module", ""))
        step = next((i for i, (s, e) in enumerate(windows) if s <= start < e), 0)
        row = agg.setdefault(
            (module, op),
            {
                "op": op,
                "module": module,
                "category": info[op][0] if op in info else _guess_category(op),
                "shape": info[op][1] if op in info else None,
                "occurrences": 0,
                "self_ns": 0.0,
                "per_step_ns": [0.0] * steps,
                "flops": None,
                "bytes_accessed": None,
            },
        )
        row["occurrences"] += 1
        row["self_ns"] += self_ns
        row["per_step_ns"][step] += self_ns
        for key in ("flops", "bytes_accessed"):
            if key in stats:
                row[key] = (row[key] or 0.0) + float(stats[key])
    total_ns = sum(r["self_ns"] for r in agg.values())
    ops = []
    for r in sorted(agg.values(), key=lambda r: -r["self_ns"]):
        ops.append(
            {
                "op": r["op"],
                "module": r["module"],
                "category": r["category"],
                "shape": r["shape"],
                "occurrences": r["occurrences"],
                "self_s_per_step": r["self_ns"] / steps * 1e-9,
                "self_s_median": float(statistics.median(r["per_step_ns"])) * 1e-9,
                "share": r["self_ns"] / total_ns if total_ns else 0.0,
                "flops": r["flops"] / steps if r["flops"] is not None else None,
                "bytes_accessed": r["bytes_accessed"] / steps if r["bytes_accessed"] is not None else None,
            }
        )
    categories = {c: {"self_s_per_step": 0.0, "share": 0.0, "ops": 0} for c in CATEGORIES}
    for o in ops:
        c = categories[o["category"]]
        c["self_s_per_step"] += o["self_s_per_step"]
        c["share"] += o["share"]
        c["ops"] += 1
    overview = _overview(path)
    window_ns = sum(e - s for s, e in windows)
    busy = _union_ns([(s, s + d) for _, s, d, _, _ in events]) if events else 0.0
    overview["op_busy_share"] = busy / window_ns if window_ns else None
    overview["captured_steps"] = len(windows)
    overview["op_time_s_per_step"] = total_ns / steps * 1e-9
    digest = hashlib.sha256(hlo_text.encode()).hexdigest() if hlo_text else None
    return {"steps": len(windows), "hlo_sha256": digest, "ops": ops, "categories": categories, "overview": overview}


def format_summary(profile: dict[str, Any], k: int = TOP_K, title: str = "") -> str:
    """A printable top-ops table, the categories and the overview figures of a
    ``profile`` record field (or a ``summarize`` result). Ops are ranked by
    mean self time per step, which their share is of; the median beside it
    shows whether a few slow (e.g. preempted) steps inflate the mean."""
    ops = (profile.get("top_ops") or profile.get("ops") or [])[:k]
    rows = [
        [
            str(i + 1),
            o["op"],
            o.get("shape") or "",
            o["category"],
            str(o["occurrences"]),
            fmt_s(o["self_s_per_step"]),
            fmt_s(o.get("self_s_median")),
            f"{o['share'] * 100:.1f} %",
            fmt_n(o["flops"]),
            fmt_n(o["bytes_accessed"]),
        ]
        for i, o in enumerate(ops)
    ]
    out = [title] if title else []
    header = ["#", "op", "shape", "category", "count", "mean/step", "median/step", "share", "flops/step", "bytes/step"]
    out += table(header, rows, ">" + "<<<" + ">" * 6)
    cats = profile.get("categories", {})
    out.append(
        "categories: "
        + ", ".join(
            f"{c} {v['share'] * 100:.1f} % ({fmt_s(v['self_s_per_step'])})" for c, v in cats.items() if v["ops"]
        )
    )
    ov = profile.get("overview", {})
    busy = ov.get("op_busy_share")
    out.append(
        f"steps captured: {ov.get('captured_steps')}; step time (xprof overview): avg {ov.get('step_time_ms_avg')} ms, "
        f"min {ov.get('step_time_ms_min')} ms, max {ov.get('step_time_ms_max')} ms; "
        f"op time/step {fmt_s(ov.get('op_time_s_per_step'))}; "
        f"idle (no XLA op running) {'n/a' if busy is None else f'{(1 - busy) * 100:.1f} %'}; "
        f"xprof idle: host {ov.get('host_idle_pct')} %, device {ov.get('device_idle_pct')} %"
    )
    return "\n".join(out)


def view_commands(logdir: str | os.PathLike, port: int = 8791) -> list[str]:
    """The commands that open ``logdir`` in the xprof server and in TensorBoard
    (the latter needs ``tensorboard`` installed beside the profile plugin)."""
    d = str(logdir)
    return [f"xprof --logdir {d} --port {port}", f"tensorboard --logdir {d} --port {port}"]
