"""The tables and notes of a run report, as data: per-style grids relative
to raw JAX (step time, compiled memory), per-case detail rows, framework
overhead rows, and the notes a reader needs beside them. Reads records;
never measures, never renders.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from nnbench.measure import stats as _stats
from nnbench.results import metrics as _metrics
from nnbench.results.case import STYLE_ORDER, Case
from nnbench.results.metrics import fmt_bytes, fmt_time


def style_rank(style: str) -> tuple[int, str]:
    """Sort key of a style: catalog order, then any other style by name."""
    return (STYLE_ORDER.index(style), "") if style in STYLE_ORDER else (len(STYLE_ORDER), style)


def styles_in(records: Sequence[dict[str, Any]]) -> list[str]:
    return sorted({r["case"].get("style") for r in records}, key=style_rank)


def grid(
    records: Sequence[dict[str, Any]], cell_of: Callable[[dict[str, Any]], dict[str, Any]], key: str
) -> tuple[list[str], list[dict[str, Any]]]:
    """Rows per case group, one cell per style: ``cell_of(record)`` for an ok
    record plus ``ratio`` (its ``key`` over the ``jax`` cell's, None without
    one), ``{"status", "error"}`` otherwise."""
    styles = styles_in(records)
    groups: dict[str, dict[str, Any]] = {}
    for r in records:
        case = Case.from_dict(r["case"])
        row = groups.setdefault(case.group, {"group": case.group, "cells": {}})
        row["cells"][case.style] = (
            cell_of(r) if r["status"] == "ok" else {"status": r["status"], "error": r.get("error")}
        )
    for row in groups.values():
        ref = row["cells"].get("jax", {}).get(key)
        for cell in row["cells"].values():
            if cell.get(key) is not None:
                cell["ratio"] = cell[key] / ref if ref else None
    return styles, list(groups.values())


def side_by_side(records: Sequence[dict[str, Any]]) -> tuple[list[str], list[dict[str, Any]]]:
    """Rows per case group (layer/mode/size/dtype), one cell per style.

    Each cell: ``{"median", "ci_low", "ci_high", "unstable", "ratio",
    "ratio_ci", "ratio_unstable"}`` or ``{"status", "error"}``. ``ratio`` is
    to the ``jax`` style of the same group: the median over rounds of the
    two cases' per-round ratio (they were timed interleaved, so a round's
    machine state cancels; ``_stats.paired_ratio``), with its 95 % CI
    ``ratio_ci``; the plain ratio of medians where the rounds are too few.
    ``unstable`` lists why the cell's own median is not one number
    (``_stats.stability``); ``ratio_unstable`` is true when the ratio's CI
    is wider than ±``_stats.RATIO_CI_LIMIT`` or either case never steadied
    or had too few rounds (a level that moved with the machine in both
    cases alike cancels in the paired ratio).
    """
    times = {r["id"]: r["time"] for r in records if r["status"] == "ok"}

    def cell(r: dict[str, Any]) -> dict[str, Any]:
        return {
            **{k: r["time"][k] for k in ("median", "ci_low", "ci_high")},
            "id": r["id"],
            "unstable": _stats.stability(r["time"]),
        }

    styles, rows = grid(records, cell, "median")
    for row in rows:
        ref = row["cells"].get("jax")
        for c in row["cells"].values():
            if "median" not in c:
                continue
            if ref is None or "median" not in ref:
                c["ratio_unstable"] = bool(c["unstable"])
                continue
            paired = (1.0, 1.0, 1.0) if c is ref else _stats.paired_ratio(times[ref["id"]], times[c["id"]])
            if paired is not None:
                c["ratio"], c["ratio_ci"] = paired[0], paired[1:]
            # The paired ratio cancels what moved both cases' levels: judged by its own CI
            # (and by cases warm-up never steadied).
            unsteady = any(w in ("not steady", "few rounds") for w in c["unstable"] + ref["unstable"])
            c["ratio_unstable"] = bool(unsteady or _stats.ratio_unstable(paired))
    return styles, rows


UNSTABLE_MARK = "†"
UNSTABLE_NOTE = (
    f"{UNSTABLE_MARK} unstable: the ratio's 95 % CI over rounds is wider than ±{100 * _stats.RATIO_CI_LIMIT:g} %, "
    "or a case never reached steady state or had too few rounds: read it as a range, not a number "
    "(the per-case table's stability column says why). A ratio's CI is within one run: between worker processes "
    "(another run) the ratios of dispatch-bound styles moved by up to ±15 % on the 2-core CI machine "
    "(studies/run_agreement.py); nnbench ab pairs processes to resolve a few per cent"
)


def any_unstable(rows: Sequence[dict[str, Any]]) -> bool:
    return any(c.get("ratio_unstable") for row in rows for c in row["cells"].values())


def memory_side_by_side(records: Sequence[dict[str, Any]]) -> tuple[list[str], list[dict[str, Any]]]:
    """As ``side_by_side``, for compiled peak memory: cells ``{"peak_bytes",
    "ratio"}`` (``peak_bytes`` None where the backend reported none)."""
    return grid(records, lambda r: {"peak_bytes": (r.get("memory") or {}).get("compiled_peak_bytes")}, "peak_bytes")


def cell_text(cell: dict[str, Any] | None) -> str:
    if cell is None:
        return "–"
    if "median" not in cell:
        return cell["status"]
    ratio = f" ×{cell['ratio']:.2f}" if cell.get("ratio") is not None else ""
    mark = UNSTABLE_MARK if cell.get("ratio_unstable") else ""
    return f"{fmt_time(cell['median'])}{ratio}{mark}"


def _mfu_text(r: dict[str, Any]) -> str:
    work = r.get("work") or {}
    if work.get("mfu") is not None:
        measured = " (measured peak)" if work.get("peak_source") == "measured" else ""
        return _metrics.get("work.mfu").format(work["mfu"]) + measured
    if work.get("peak_flops_per_s") is None:
        return "n/a"
    return "–"


TERMINAL_COLUMNS = ("case", "step (median)", "±CI", "dispatch ±CI", "compile cold→warm", "MFU", "bound")


def bound_text(record: dict[str, Any]) -> str:
    """``memory 43 %``: a record's bound and roofline efficiency
    (``nnbench.measure.roofline``); ``n/a`` where unknown (not calibrated,
    or a record from before the roofline)."""
    r = (record.get("roofline") or {}) if record.get("status") == "ok" else {}
    if not r.get("bound"):
        return "n/a"
    eff = r.get("efficiency")
    return r["bound"] + (f" {100 * eff:.0f} %" if eff is not None else "")


def _ci_text(summary: dict[str, Any]) -> str:
    """``median [low – high]`` of a summarized sample."""
    return f"{fmt_time(summary['median'])} [{fmt_time(summary['ci_low'])} – {fmt_time(summary['ci_high'])}]"


def _pm_text(summary: dict[str, Any]) -> str:
    """``median ±half-width`` of the 95 % CI, relative."""
    return f"{fmt_time(summary['median'])} ±{50 * (summary['ci_high'] - summary['ci_low']) / summary['median']:.0f} %"


def _compile_text(c: dict[str, Any]) -> str:
    """Cold compile total; with a persistent cache, ``→ warm`` and its hit or miss."""
    warm = c.get("warm") or {}
    if "total_s" not in warm:
        return fmt_time(c["total_s"])
    return f"{fmt_time(c['total_s'])}→{fmt_time(warm['total_s'])} {warm.get('persistent_cache') or 'no cache'}"


def _share(part: float | None, whole: float | None) -> str:
    return f"{100 * part / whole:.0f} %" if part is not None and whole else "–"


def detail_rows(records: Sequence[dict[str, Any]]) -> list[dict[str, str]]:
    rows = []
    for r in records:
        if r["status"] != "ok":
            rows.append({"case": r["id"], "status": r["status"], "note": str(r.get("error", ""))})
            continue
        t, c, d, w = r["time"], r["compile"], r["dispatch"], r["work"]
        rows.append(
            {
                "case": r["id"],
                "status": "ok",
                "step (median)": _metrics.get("time").format(t["median"]),
                "95% CI": f"{fmt_time(t['ci_low'])} – {fmt_time(t['ci_high'])}",
                "±CI": f"{50 * (t['ci_high'] - t['ci_low']) / t['median']:.1f} %",
                "CV": f"{100 * t['cv']:.1f} %",
                "stability": ", ".join(_stats.stability(t)) or "ok",
                "n": str(t["n"]),
                "dispatch ±CI": _pm_text(d),
                "dispatch (95% CI)": _ci_text(d),
                "dispatch share": _share(d["median"], t["median"]),
                "compile cold→warm": _compile_text(c),
                "trace/lower/compile": (
                    f"{fmt_time(c['trace_s'])} / {fmt_time(c['lower_s'])} / {fmt_time(c['compile_s'])}"
                ),
                "HLO ops": str(c["hlo_ops"]),
                "GFLOP/s": f"{w['achieved_flops_per_s'] / 1e9:.2f}" if w.get("achieved_flops_per_s") else "–",
                "MFU": _mfu_text(r),
                "bound": bound_text(r),
                "HFU": _metrics.get("work.hfu").format(w["hfu"]) if w.get("hfu") is not None else "n/a",
                "items/s": f"{r['throughput']['items_per_s']:.4g}" if r["throughput"].get("items_per_s") else "–",
                "temp mem": _metrics.get("memory.compiled_temp_bytes").format(r["memory"].get("compiled_temp_bytes")),
                "runtime mem": (
                    f"{fmt_bytes(r['memory'].get('runtime_bytes'))} ({r['memory'].get('runtime_source', '–')})"
                ),
                "compiled vs runtime": f"{100 * r['memory']['prediction_error']:+.0f} %"
                if r["memory"].get("prediction_error") is not None
                else "–",
                "recompiles": str(c.get("recompiles", 0)),
            }
        )
    return rows


def run_note(run: dict[str, Any]) -> str | None:
    """What a reader must know before the tables: the run has not finished
    (killed, or still running), or it holds no records; else None."""
    n = len(run["records"])
    if run.get("finished") is None:
        return (
            f"unfinished run: {n} case{'' if n == 1 else 's'} recorded, no end time "
            "(killed, or still running; nnbench run --resume completes it)"
        )
    return None if n else "this run holds no records"


WORK_CONVENTION = (
    "MFU: analytic model FLOPs (train: forward, loss and the parameters' gradients; the optimizer update not counted) "
    "÷ step time ÷ the peak of all the case's devices; HFU: XLA's count of the compiled program (every loop iteration, "
    "fusion recompute included) ÷ the same peak"
)


def gate_notes(records: Sequence[dict[str, Any]]) -> list[str]:
    """What the parity gate resolved, per dtype among ``records``: the
    tolerance every style met against raw JAX (largest ``|a - b| / (1 +
    |a|)`` over outputs, loss, gradients and state), the float32 gate of a
    lower-precision case, and how many timed steps were compared on their
    own outputs."""

    def span(values: list[float]) -> str:
        lo, hi = min(values), max(values)
        return f"{lo:.2g}" if lo == hi else f"{lo:.2g}–{hi:.2g}"

    by_dtype: dict[str, list[dict[str, Any]]] = {}
    for r in records:
        if isinstance(r.get("parity"), dict) and r["parity"].get("limit") is not None:
            by_dtype.setdefault(r["case"]["dtype"], []).append(r["parity"])
    notes = []
    for dtype, gates in sorted(by_dtype.items()):
        steps = sum(1 for g in gates if isinstance(g.get("step"), dict) and g["step"].get("ok") is not None)
        text = (
            f"parity gate, {dtype}: every style within {span([g['limit'] for g in gates])} "
            "of raw JAX from the same weights"
        )
        f32 = [g["float32"]["limit"] for g in gates if isinstance(g.get("float32"), dict)]
        if f32:
            text += f", and the same code in float32 within {span(f32)} (resolves a 5 % change of one weight tensor)"
        notes.append(f"{text}; {steps} of {len(gates)} timed steps also matched raw JAX's step on their own outputs")
    return notes


def work_notes(records: Sequence[dict[str, Any]]) -> list[str]:
    """What MFU and HFU count, then, per catalog layer in ``records`` whose
    model FLOPs depart from XLA's count, the entry's ``flops_note``."""
    from nnbench import layers  # the catalog brings jax: only reports of its layers need it

    notes = [WORK_CONVENTION, *gate_notes(records)]
    for name in sorted({r["case"]["layer"] for r in records if r.get("case", {}).get("layer")}):
        try:
            note = layers.get(name).flops_note
        except KeyError:  # a user's case, or a layer this checkout lacks
            continue
        if note:
            notes.append(f"{name}: {note}")
    return notes


def env_summary(run: dict[str, Any]) -> str:
    env = run["env"]
    v = env.get("versions", {})
    return (
        f"{env.get('device_kind')} ×{env.get('device_count')} ({env.get('backend')}), "
        f"{env.get('cpu_model')}; jax {v.get('jax')}, flax {v.get('flax')}, "
        f"haiku {v.get('dm-haiku')}, optax {v.get('optax')}; commit {env.get('git_commit') or 'unknown'}"
    )


OVERHEAD_COLUMNS = ("mode", "style", "depth", "leaves", "µs/step", "µs/layer", "µs/leaf", "dispatch share")


def overhead_rows(records: Sequence[dict[str, Any]]) -> list[dict[str, str]]:
    """Per-step, per-layer and per-parameter-leaf time for records of layers
    whose config has a ``depth`` (the ``overhead`` suite's stack), with the
    median's 95 % CI scaled alike."""

    from nnbench import layers

    def us(x: float) -> str:
        return f"{x * 1e6:.3g}"

    rows = []
    for r in records:
        if r["status"] != "ok" or not r.get("model"):
            continue
        case = Case.from_dict(r["case"])
        try:
            depth = layers.get(case.layer).config(case.size).get("depth")
        except KeyError:
            continue
        if not depth:
            continue
        t, leaves = r["time"], r["model"]["param_leaves"]

        def scaled(n: int, t: dict[str, Any] = t) -> str:
            return f"{us(t['median'] / n)} [{us(t['ci_low'] / n)}–{us(t['ci_high'] / n)}]"

        rows.append(
            {
                "mode": case.mode,
                "style": case.style,
                "depth": str(depth),
                "leaves": str(leaves),
                "µs/step": scaled(1),
                "µs/layer": scaled(depth),
                "µs/leaf": scaled(leaves) if leaves else "–",
                "dispatch share": _share(r["dispatch"]["median"], t["median"]),
                "_key": (case.mode, style_rank(case.style), depth),
            }
        )
    return sorted(rows, key=lambda row: row["_key"])


def metric_value(name: str, v: float | None) -> str:
    """``v`` formatted by the declaration of metric ``name``
    (``nnbench.results.metrics``; history series are named by their metric);
    six significant digits for an undeclared one."""
    from nnbench.results import metrics

    if v is None:
        return "–"
    try:
        return metrics.get(name).format(v)
    except KeyError:
        return f"{v:.6g}"
