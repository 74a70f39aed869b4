"""Render run files: terminal (rich), Markdown and HTML with a plot.

A report reads records; it never measures.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from nnbench import layers
from nnbench.measure import stats as _stats
from nnbench.report import plotting as _plots
from nnbench.report import scaling as _scaling_report
from nnbench.results import escape as _escape
from nnbench.results.case import Case

STYLE_ORDER = list(layers.STYLES)


def fmt_time(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6)):
        if seconds >= scale:
            return f"{seconds / scale:.3g} {unit}"
    return f"{seconds / 1e-9:.3g} ns"


def fmt_bytes(n: float | None) -> str:
    if n is None:
        return "–"
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(n) < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GiB"


def _styles_in(records: Sequence[dict[str, Any]]) -> list[str]:
    seen = {r["case"].get("style") for r in records}
    return [s for s in STYLE_ORDER if s in seen] + sorted(s for s in seen if s not in STYLE_ORDER)


def _grid(records: Sequence[dict[str, Any]], cell_of: Callable[[dict[str, Any]], dict[str, Any]], key: str) -> tuple[list[str], list[dict[str, Any]]]:
    """Rows per case group, one cell per style: ``cell_of(record)`` for an ok
    record plus ``ratio`` (its ``key`` over the ``jax`` cell's, None without
    one), ``{"status", "error"}`` otherwise."""
    styles = _styles_in(records)
    groups: dict[str, dict[str, Any]] = {}
    for r in records:
        case = Case.from_dict(r["case"])
        row = groups.setdefault(case.group, {"group": case.group, "cells": {}})
        row["cells"][case.style] = cell_of(r) if r["status"] == "ok" else {"status": r["status"], "error": r.get("error")}
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
        return {**{k: r["time"][k] for k in ("median", "ci_low", "ci_high")}, "id": r["id"], "unstable": _stats.stability(r["time"])}

    styles, rows = _grid(records, cell, "median")
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
            # The paired ratio cancels what moved both cases' levels: judged by its own CI (and by cases warm-up never steadied).
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
    return _grid(records, lambda r: {"peak_bytes": (r.get("memory") or {}).get("compiled_peak_bytes")}, "peak_bytes")


def _cell_text(cell: dict[str, Any] | None) -> str:
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
        return f"{100 * work['mfu']:.1f} %"
    if work.get("peak_flops_per_s") is None:
        return "n/a"
    return "–"


TERMINAL_COLUMNS = ("case", "step (median)", "±CI", "dispatch ±CI", "compile cold→warm", "MFU")


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
                "step (median)": fmt_time(t["median"]),
                "95% CI": f"{fmt_time(t['ci_low'])} – {fmt_time(t['ci_high'])}",
                "±CI": f"{50 * (t['ci_high'] - t['ci_low']) / t['median']:.1f} %",
                "CV": f"{100 * t['cv']:.1f} %",
                "stability": ", ".join(_stats.stability(t)) or "ok",
                "n": str(t["n"]),
                "dispatch ±CI": _pm_text(d),
                "dispatch (95% CI)": _ci_text(d),
                "dispatch share": _share(d["median"], t["median"]),
                "compile cold→warm": _compile_text(c),
                "trace/lower/compile": f"{fmt_time(c['trace_s'])} / {fmt_time(c['lower_s'])} / {fmt_time(c['compile_s'])}",
                "HLO ops": str(c["hlo_ops"]),
                "GFLOP/s": f"{w['achieved_flops_per_s'] / 1e9:.2f}" if w.get("achieved_flops_per_s") else "–",
                "MFU": _mfu_text(r),
                "HFU": f"{100 * w['hfu']:.1f} %" if w.get("hfu") is not None else "n/a",
                "items/s": f"{r['throughput']['items_per_s']:.4g}" if r["throughput"].get("items_per_s") else "–",
                "temp mem": fmt_bytes(r["memory"].get("compiled_temp_bytes")),
                "runtime mem": f"{fmt_bytes(r['memory'].get('runtime_bytes'))} ({r['memory'].get('runtime_source', '–')})",
                "compiled vs runtime": f"{100 * r['memory']['prediction_error']:+.0f} %" if r["memory"].get("prediction_error") is not None else "–",
                "recompiles": str(c.get("recompiles", 0)),
            }
        )
    return rows


def run_note(run: dict[str, Any]) -> str | None:
    """What a reader must know before the tables: the run has not finished
    (killed, or still running), or it holds no records; else None."""
    n = len(run["records"])
    if run.get("finished") is None:
        return f"unfinished run: {n} case{'' if n == 1 else 's'} recorded, no end time (killed, or still running; nnbench run --resume completes it)"
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
        text = f"parity gate, {dtype}: every style within {span([g['limit'] for g in gates])} of raw JAX from the same weights"
        f32 = [g["float32"]["limit"] for g in gates if isinstance(g.get("float32"), dict)]
        if f32:
            text += f", and the same code in float32 within {span(f32)} (resolves a 5 % change of one weight tensor)"
        notes.append(f"{text}; {steps} of {len(gates)} timed steps also matched raw JAX's step on their own outputs")
    return notes


def work_notes(records: Sequence[dict[str, Any]]) -> list[str]:
    """What MFU and HFU count, then, per catalog layer in ``records`` whose
    model FLOPs depart from XLA's count, the entry's ``flops_note``."""
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


# --- terminal ---


def print_run(run: dict[str, Any], console) -> None:
    from rich.table import Table

    escape = _escape.term  # every string from the run file: control characters shown, markup inert

    records = run["records"]
    if run_note(run):
        console.print(f"[yellow]{escape(run_note(run))}[/yellow]", highlight=False)
    styles, rows = side_by_side(records)
    table = Table(title="median step time per style (× ratio to jax)", title_justify="left")
    table.add_column("layer/mode/size/dtype")
    for s in styles:
        table.add_column(escape(s), justify="right")
    for row in rows:  # names come from run files: escaped, never markup
        table.add_row(escape(row["group"]), *(escape(_cell_text(row["cells"].get(s))) for s in styles))
    console.print(table)
    if any_unstable(rows):
        console.print(f"[dim]{escape(UNSTABLE_NOTE)}[/dim]", highlight=False)
    _scaling_report.print_table(records, console)

    details = detail_rows(records)
    ok = [d for d in details if d["status"] == "ok"]
    if ok:
        dt = Table(title="per case (full detail in the Markdown report)", title_justify="left")
        for col in TERMINAL_COLUMNS:
            dt.add_column(col, justify="left" if col == "case" else "right")
        for d in ok:
            dt.add_row(*(escape(d[c]) for c in TERMINAL_COLUMNS))
        console.print(dt)
    for d in details:
        if d["status"] != "ok":
            console.print(f"[red]{escape(d['status'])}[/red] {escape(d['case'])}: {escape(d['note'])}", markup=True, highlight=False)
    overhead = overhead_rows(records)
    if overhead:
        ot = Table(title="framework overhead per style (stack of tiny layers; median [95% CI])", title_justify="left")
        for col in OVERHEAD_COLUMNS:
            ot.add_column(col, justify="left" if col in ("mode", "style") else "right")
        for row in overhead:
            ot.add_row(*(escape(row[c]) for c in OVERHEAD_COLUMNS))
        console.print(ot)
    console.print(f"[dim]{escape(env_summary(run))}[/dim]", highlight=False)
    if all(r.get("work", {}).get("peak_flops_per_s") is None for r in records if r["status"] == "ok"):
        console.print(f"[dim]MFU: no peak FLOP/s is known for {escape(repr(run['env'].get('device_kind')))}; shown as n/a, not estimated.[/dim]", highlight=False)
    for note in work_notes(records):
        console.print(f"[dim]{escape(note)}[/dim]", highlight=False)


OVERHEAD_COLUMNS = ("mode", "style", "depth", "leaves", "µs/step", "µs/layer", "µs/leaf", "dispatch share")


def overhead_rows(records: Sequence[dict[str, Any]]) -> list[dict[str, str]]:
    """Per-step, per-layer and per-parameter-leaf time for records of layers
    whose config has a ``depth`` (the ``overhead`` suite's stack), with the
    median's 95 % CI scaled alike."""

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
                "_key": (case.mode, STYLE_ORDER.index(case.style) if case.style in STYLE_ORDER else 99, depth),
            }
        )
    return sorted(rows, key=lambda row: row["_key"])


# --- Markdown / HTML ---


def _md_escape(text: str) -> str:
    """Inert Markdown (``_escape.md``): control characters shown, HTML escaped, Markdown punctuation backslash-escaped."""
    return _escape.md(text)


def markdown(runs: Sequence[tuple[str, dict[str, Any]]], plots: Sequence[Sequence[tuple[str, str]]] | None = None) -> str:
    """The report; ``plots``: per run, ``(title, file name)`` of each plot
    written beside it (linked at the end of the run's section)."""
    lines = ["# nnbench report", ""]
    for i, (name, run) in enumerate(runs):
        lines += [f"## {_md_escape(name)}", "", f"- environment: {_md_escape(env_summary(run))}", f"- started: {_md_escape(run.get('started'))}, suite: {_md_escape(run.get('suite'))}", ""]
        lines += [f"**{_md_escape(run_note(run))}**", ""] if run_note(run) else []
        styles, rows = side_by_side(run["records"])
        lines.append("| layer/mode/size/dtype | " + " | ".join(_md_escape(s) for s in styles) + " |")
        lines.append("|---|" + "---:|" * len(styles))
        for row in rows:
            lines.append(f"| {_md_escape(row['group'])} | " + " | ".join(_md_escape(_cell_text(row['cells'].get(s))) for s in styles) + " |")
        lines.append("")
        if any_unstable(rows):
            lines += [_md_escape(UNSTABLE_NOTE), ""]
        lines += _scaling_report.markdown_lines(run["records"])
        details = [d for d in detail_rows(run["records"]) if d["status"] == "ok"]
        if details:
            cols = [c for c in details[0] if c != "status"]
            lines.append("| " + " | ".join(cols) + " |")
            lines.append("|---|" + "---:|" * (len(cols) - 1))
            for d in details:
                lines.append("| " + " | ".join(_md_escape(d[c]) for c in cols) + " |")
            lines.append("")
            lines += [f"- {_md_escape(note)}" for note in work_notes(run["records"])] + [""]
        overhead = overhead_rows(run["records"])
        if overhead:
            lines += ["Framework overhead (stack of tiny layers; median [95 % CI]):", ""]
            lines.append("| " + " | ".join(OVERHEAD_COLUMNS) + " |")
            lines.append("|---|---|" + "---:|" * (len(OVERHEAD_COLUMNS) - 2))
            lines += ["| " + " | ".join(_md_escape(row[c]) for c in OVERHEAD_COLUMNS) + " |" for row in overhead]
            lines.append("")
        lines += _same_program_md(run["records"])
        bad = [d for d in detail_rows(run["records"]) if d["status"] != "ok"]
        if bad:
            lines.append("Failed or invalid cases:")
            lines.append("")
            lines += [f"- `{_md_escape(d['case'])}` {_md_escape(d['status'])}: {_md_escape(d['note'])}" for d in bad]
            lines.append("")
        for title, file_name in plots[i] if plots else ():
            lines += [f"![{_md_escape(title)}]({_md_escape(file_name)})", ""]
    return "\n".join(lines)


def _same_program_md(records: Sequence[dict[str, Any]]) -> list[str]:
    """Section: which styles compile to the same optimized HLO as raw JAX."""
    from nnbench.compare.same_program import diff_text, same_program

    table = same_program(records)
    if not table:
        return []
    lines = ["Same compiled program as `jax` (optimized-HLO op histogram; jax's count → the style's):", ""]
    lines += ["| layer/mode/size/dtype | style | same | differing ops |", "|---|---|---|---|"]
    for group, row in table.items():
        for style, res in row.items():
            same = {True: "yes", False: "no", None: "–"}[res["same"]]
            lines.append(f"| {_md_escape(group)} | {_md_escape(style)} | {same} | {_md_escape(diff_text(res['diff']))} |")
    return lines + [""]


def html_report(runs: Sequence[tuple[str, dict[str, Any]]]) -> str:
    """One self-contained page: every plot is embedded as a ``data:`` URI."""
    from nnbench.report.plots import run_plots

    parts = ["<!doctype html><html><head><meta charset='utf-8'><title>nnbench report</title>",
             "<style>body{font-family:sans-serif}td,th{padding:2px 8px;border-bottom:1px solid #ddd}td{text-align:right}td:first-child{text-align:left}"
             "img{display:block;max-width:100%;margin:1em 0}</style>",
             "</head><body><h1>nnbench report</h1>"]
    for name, run in runs:
        parts.append(f"<h2>{_escape.html(name)}</h2><p>{_escape.html(env_summary(run))}</p>")
        parts += [f"<p><b>{_escape.html(run_note(run))}</b></p>"] if run_note(run) else []
        styles, rows = side_by_side(run["records"])
        parts.append("<table><tr><th>layer/mode/size/dtype</th>" + "".join(f"<th>{_escape.html(s)}</th>" for s in styles) + "</tr>")
        for row in rows:
            parts.append(f"<tr><td>{_escape.html(row['group'])}</td>" + "".join(f"<td>{_escape.html(_cell_text(row['cells'].get(s)))}</td>" for s in styles) + "</tr>")
        parts.append("</table>")
        parts += [f"<p>{_escape.html(UNSTABLE_NOTE)}</p>"] if any_unstable(rows) else []
        details = detail_rows(run["records"])
        if details:
            cols = list(dict.fromkeys(k for d in details for k in d))
            parts.append("<h3>cases</h3><table><tr>" + "".join(f"<th>{_escape.html(c)}</th>" for c in cols) + "</tr>")
            for d in details:
                parts.append("<tr>" + "".join(f"<td>{_escape.html(str(d.get(c, '')))}</td>" for c in cols) + "</tr>")
            parts.append("</table>")
        parts += [_plots.img_tag(plot.png, plot.title) for plot in run_plots(run["records"])]
    parts.append(_plots.img_tag(_scaling_report.plot_png([r for _, run in runs for r in run["records"]]), SCALING_TITLE))
    parts.append("</body></html>")
    return "".join(parts)


SCALING_TITLE = "throughput and scaling efficiency vs devices"


def plot_path(path: Path, key: str, run_index: int = 0, n_runs: int = 1) -> Path:
    """Where a Markdown report at ``path`` keeps run ``run_index``'s plot
    ``key``: ``<stem>.png`` for the bar chart (its old name), else
    ``<stem>.<key>.png``; with several runs the stem gains ``.<run number>``."""
    stem = path.stem if n_runs == 1 else f"{path.stem}.{run_index + 1}"
    return path.with_name(f"{stem}.png" if key == "bars" else f"{stem}.{key}.png")


def report_paths(path: Path, n_runs: int = 1) -> list[Path]:
    """Every file a Markdown report at ``path`` over ``n_runs`` runs may write
    (whether or not each plot turns out to have data): checked before writing."""
    from nnbench.report.plots import PLOT_KEYS

    path = Path(path)
    plots = [plot_path(path, key, i, n_runs) for i in range(n_runs) for key in PLOT_KEYS]
    return [path, *plots, _scaling_path(path)]


def _scaling_path(path: Path) -> Path:
    """The scaling plot (all runs' sharded records) beside a Markdown report at ``path``."""
    return path.with_name(path.stem + "-scaling.png")


def write_markdown(path: Path, runs: Sequence[tuple[str, dict[str, Any]]], overwrite: bool = False) -> list[Path]:
    """Write ``path`` (Markdown) and its plots beside it; returns what was written.

    Unless ``overwrite``, nothing is written if any of the files exists
    (``FileExistsError``) and each is created exclusively.
    """
    from nnbench.report.plots import run_plots

    path = Path(path)
    plots: dict[Path, bytes] = {}
    links = []
    for i, (_, run) in enumerate(runs):
        links.append([])
        for plot in run_plots(run["records"]):
            target = plot_path(path, plot.key, i, len(runs))
            plots[target] = plot.png
            links[-1].append((plot.title, target.name))
    text = markdown(runs, links)
    scaling_png = _scaling_report.plot_png([r for _, run in runs for r in run["records"]])
    if scaling_png:
        plots[_scaling_path(path)] = scaling_png
        text += f"\n![{SCALING_TITLE}]({_md_escape(_scaling_path(path).name)})\n"
    files = {path: text.encode("utf-8"), **plots}
    if not overwrite:
        for p in files:
            if p.exists():
                raise FileExistsError(f"{p}: already exists; refusing to overwrite it")
    for p, data in files.items():
        with open(p, "wb" if overwrite else "xb") as f:
            f.write(data)
    return list(files)
