"""Render comparisons and histories: terminal (rich), Markdown, HTML, JSON.

Reads the plain dicts built by ``_compare.compare_runs`` and
``_history.history``; never measures. Every string that came from a run file
goes through ``_escape`` (terminal, Markdown, HTML, plot labels).
"""

from __future__ import annotations

import json
from typing import Any

from nnbench.compare.compare import (
    CHANGED,
    IMPROVED,
    INCONCLUSIVE,
    MIN_PAIRED_ROUNDS,
    MIN_VERDICT_BATCHES,
    REGRESSED,
    UNCHANGED,
    UNTESTED,
)
from nnbench.report import plotting as _plots
from nnbench.report.run import _md_escape, fmt_bytes, fmt_time
from nnbench.results import escape as _escape

COLOURS = {REGRESSED: "red", IMPROVED: "green", UNCHANGED: "dim", INCONCLUSIVE: "yellow", CHANGED: "cyan", UNTESTED: "dim"}
HTML_COLOURS = {REGRESSED: "#c00", IMPROVED: "#080", UNCHANGED: "#666", INCONCLUSIVE: "#b80", CHANGED: "#08a", UNTESTED: "#666"}
STYLE = (
    "<style>body{font-family:sans-serif;max-width:80em}td,th{padding:2px 8px;border-bottom:1px solid #ddd;text-align:left}"
    "pre{background:#f6f6f6;padding:4px}</style>"
)


def _value(name: str, v: float | None) -> str:
    if v is None:
        return "–"
    if name in ("time", "dispatch") or name.endswith("_s"):
        return fmt_time(v)
    if "bytes" in name:
        return fmt_bytes(v)
    return f"{v:.6g}"


def metric_text(name: str, r: dict[str, Any]) -> str:
    """``time 1.02 ms → 1.10 ms ×1.078 [1.05, 1.11]`` for one metric result,
    with why it has no verdict and what more data would give one, if so."""
    ratio = f" ×{r['ratio']:.3f}" if r.get("ratio") is not None else ""
    ci = f" [{r['ci_low']:.3f}, {r['ci_high']:.3f}]" if r.get("ci_low") is not None else ""
    notes = []
    if r.get("rounds") is not None and r["rounds"] < MIN_PAIRED_ROUNDS:
        notes.append(f"too few rounds for a verdict: {r['rounds']} < {MIN_PAIRED_ROUNDS}")
    elif r.get("batches") and min(r["batches"]) < MIN_VERDICT_BATCHES:
        notes.append(f"too few samples for a verdict: {min(r['batches'])} batches < {MIN_VERDICT_BATCHES}")
    else:
        if r.get("threshold_used") is not None and r["threshold_used"] > r.get("threshold", 0):
            notes.append(f"bar raised to {100 * r['threshold_used']:.0f} %: the runs drift that much within themselves")
        if r.get("more_data"):
            notes.append(r["more_data"]["text"])
    if r["verdict"] == UNTESTED:
        notes.append("one sample per side: no noise estimate")
    note = f" ({'; '.join(notes)})" if notes else ""
    return f"{name} {_value(name, r['base'])} → {_value(name, r['cand'])}{ratio}{ci}{note}"


def _shown(r: dict[str, Any]) -> bool:
    """Whether a metric other than step time belongs in a case's "other changes":
    any verdict but unchanged, and an untested one only beyond its threshold."""
    if r["verdict"] == UNTESTED:
        return r.get("ratio") is not None and not 1 / (1 + r["threshold"]) <= r["ratio"] <= 1 + r["threshold"]
    return r["verdict"] != UNCHANGED


def case_lines(c: dict[str, Any]) -> tuple[str, list[str]]:
    """The case's headline (step time) and the other metrics that moved."""
    m = c["metrics"]
    head = metric_text("time", m["time"]) if "time" in m else c.get("note", "")
    if c.get("unstable") and "time" in m:
        head += " (unstable distribution: " + "; ".join(f"{side} {', '.join(why)}" for side, why in c["unstable"].items()) + ")"
    moved = [f"{metric_text(k, r)}: {r['verdict']}" for k, r in m.items() if k != "time" and _shown(r)]
    return head, moved


def _env_rows(result: dict[str, Any]) -> list[tuple[str, str, str]]:
    return [(str(k), str(a), str(b)) for k, a, b in result["env_diff"]]


def summary_counts(result: dict[str, Any]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for c in result["cases"]:
        counts[c["verdict"]] = counts.get(c["verdict"], 0) + 1
    return counts


def _summary_line(result: dict[str, Any]) -> str:
    counts = summary_counts(result)
    parts = [f"{counts[v]} {v}" for v in (REGRESSED, IMPROVED, INCONCLUSIVE, UNCHANGED) if counts.get(v)]
    th = result["thresholds"]
    method = f"; {result['method']}" if result.get("method") else ""
    return (
        f"{len(result['cases'])} cases compared: {', '.join(parts) or 'none'}; thresholds time {100 * th['time']:g} %, "
        f"dispatch {100 * th['dispatch']:g} %, compile {100 * th['compile']:g} %, exact {100 * th['exact']:g} %{method}"
    )


# --- terminal ---


def print_compare(result: dict[str, Any], console) -> None:
    from rich.table import Table

    escape = _escape.term  # run-file strings: control characters shown, markup inert

    console.print(f"baseline:  {escape(result['baseline']['path'])} ({escape(str(result['baseline']['started']))})", highlight=False, soft_wrap=True)
    console.print(f"candidate: {escape(result['candidate']['path'])} ({escape(str(result['candidate']['started']))})", highlight=False, soft_wrap=True)
    if result["env_diff"]:
        t = Table(title="environment differences", title_justify="left")
        for col in ("", "baseline", "candidate"):
            t.add_column(col)
        for row in _env_rows(result):
            t.add_row(*(escape(x) for x in row))
        console.print(t)
    table = Table(title="step time: candidate / baseline median, 95 % CI", title_justify="left")
    for col in ("case", "verdict", "step time", "other changes"):
        table.add_column(col)
    for c in result["cases"]:
        head, moved = case_lines(c)
        colour = COLOURS.get(c["verdict"], "")
        table.add_row(escape(c["id"]), f"[{colour}]{c['verdict']}[/{colour}]", escape(head), "\n".join(escape(x) for x in moved))
    console.print(table)
    for c in result["cases"]:
        if c["verdict"] == REGRESSED:
            console.print(f"[red]regressed[/red] {escape(c['id'])}; reproduce: {escape(c.get('command') or '?')}", highlight=False, soft_wrap=True)
        if c.get("profile_diff"):
            console.print(f"[bold]profile diff[/bold] {escape(c['id'])}\n{_escape.term_lines(c['profile_diff'])}", highlight=False, soft_wrap=True)
    for side, key in (("baseline", "only_base"), ("candidate", "only_cand")):
        if result[key]:
            console.print(f"only in the {side}: {escape(', '.join(result[key]))}", highlight=False, soft_wrap=True)
    console.print(escape(_summary_line(result)), highlight=False, soft_wrap=True)


# --- plot ---


def ratio_plot_png(result: dict[str, Any]) -> bytes | None:
    """Step-time ratio (candidate / baseline) per case with its 95 % CI and the threshold band."""
    plt = _plots.pyplot()

    rows = [c for c in result["cases"] if "time" in c["metrics"] and c["metrics"]["time"].get("ci_low") is not None]
    if not rows:
        return None
    fig, ax = plt.subplots(figsize=(7, 0.35 * len(rows) + 1.2), dpi=110)
    t = result["thresholds"]["time"]
    ax.axvspan(1 / (1 + t), 1 + t, color="#eee", label=f"±{100 * t:g} % threshold")
    ax.axvline(1.0, color="#888", lw=0.8)
    for i, c in enumerate(rows):
        r = c["metrics"]["time"]
        colour = HTML_COLOURS.get(r["verdict"], "#000")
        ax.errorbar(r["ratio"], i, xerr=[[r["ratio"] - r["ci_low"]], [r["ci_high"] - r["ratio"]]], fmt="o", color=colour, capsize=3)
    ax.set_yticks(range(len(rows)), [_escape.label(c["id"]) for c in rows], fontsize=7, **_plots.LITERAL)
    ax.invert_yaxis()
    ax.set_xlabel("step time ratio, candidate / baseline (95 % CI)")
    _plots.legend(ax, fontsize=7, loc="lower right")
    return _plots.png(fig)


# --- Markdown / HTML / JSON ---


def compare_markdown(result: dict[str, Any], plot_name: str | None = None) -> str:
    e = _md_escape
    lines = [
        "# nnbench compare",
        "",
        f"- baseline: {e(result['baseline']['path'])} ({e(result['baseline']['started'])})",
        f"- candidate: {e(result['candidate']['path'])} ({e(result['candidate']['started'])})",
        f"- {e(_summary_line(result))}",
        "",
    ]
    if result["env_diff"]:
        lines += ["| environment | baseline | candidate |", "|---|---|---|"]
        lines += [f"| {e(k)} | {e(a)} | {e(b)} |" for k, a, b in _env_rows(result)]
        lines.append("")
    lines += ["| case | verdict | step time (× ratio [95 % CI]) | other changes |", "|---|---|---|---|"]
    for c in result["cases"]:
        head, moved = case_lines(c)
        verdict = f"**{c['verdict']}**" if c["verdict"] == REGRESSED else c["verdict"]
        lines.append(f"| {e(c['id'])} | {verdict} | {e(head)} | {'<br>'.join(e(x) for x in moved)} |")
    lines.append("")
    regs = [c for c in result["cases"] if c["verdict"] == REGRESSED]
    if regs:
        lines += ["Regressions, each with the command that reproduces it:", ""]
        lines += [f"- {e(c['id'])}: {e(c.get('command') or '?')}" for c in regs]
        lines.append("")
    for c in result["cases"]:
        if c.get("profile_diff"):
            lines += [f"### profile diff: {e(c['id'])}", "", "```", _escape.lines(c["profile_diff"]).replace("```", "'''"), "```", ""]
    for side, key in (("baseline", "only_base"), ("candidate", "only_cand")):
        if result[key]:
            lines += [f"Only in the {side}: {e(', '.join(result[key]))}", ""]
    if plot_name:
        lines += [f"![step time ratios]({e(plot_name)})", ""]
    return "\n".join(lines)


def compare_html(result: dict[str, Any]) -> str:
    h = _escape.html
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>nnbench compare</title>{STYLE}</head><body><h1>nnbench compare</h1>"]
    parts.append(f"<p>baseline: {h(result['baseline']['path'])} ({h(str(result['baseline']['started']))})<br>")
    parts.append(f"candidate: {h(result['candidate']['path'])} ({h(str(result['candidate']['started']))})<br>{h(_summary_line(result))}</p>")
    if result["env_diff"]:
        parts.append("<table><tr><th>environment</th><th>baseline</th><th>candidate</th></tr>")
        parts += [f"<tr><td>{h(k)}</td><td>{h(a)}</td><td>{h(b)}</td></tr>" for k, a, b in _env_rows(result)]
        parts.append("</table>")
    parts.append("<table><tr><th>case</th><th>verdict</th><th>step time (× ratio [95 % CI])</th><th>other changes</th><th>reproduce</th></tr>")
    for c in result["cases"]:
        head, moved = case_lines(c)
        cmd = f"<code>{h(c.get('command') or '')}</code>" if c["verdict"] == REGRESSED else ""
        parts.append(
            f"<tr><td>{h(c['id'])}</td><td style='color:{HTML_COLOURS.get(c['verdict'], '#000')}'>{h(c['verdict'])}</td>"
            f"<td>{h(head)}</td><td>{'<br>'.join(h(x) for x in moved)}</td><td>{cmd}</td></tr>"
        )
        if c.get("profile_diff"):
            parts.append(f"<tr><td colspan='5'><pre>{_escape.html_lines(c['profile_diff'])}</pre></td></tr>")
    parts.append("</table>")
    for side, key in (("baseline", "only_base"), ("candidate", "only_cand")):
        if result[key]:
            parts.append(f"<p>only in the {side}: {h(', '.join(result[key]))}</p>")
    parts.append(_plots.img_tag(ratio_plot_png(result), "step time ratios"))
    parts.append("</body></html>")
    return "".join(parts)


def to_json(result: dict[str, Any]) -> str:
    from nnbench.results.runfile import sanitize

    return json.dumps(sanitize(result), indent=1, allow_nan=False)


def emit(kind: str, fmt: str, out: str | None, result: dict[str, Any]) -> list[str]:
    """Write a ``kind`` (``compare`` or ``history``) result in ``fmt`` to
    ``out`` (exclusive create) or stdout.

    A Markdown file gets its plot beside it (same name, ``.png``). Returns
    the paths written.
    """
    from pathlib import Path

    printer, markdown, html_page, png = RENDERERS[kind]

    if fmt == "text":
        from rich.console import Console

        if out:
            with open(out, "x") as f:
                printer(result, Console(file=f, width=160))
            return [out]
        printer(result, Console())
        return []
    if fmt == "json":
        text = to_json(result)
    elif fmt == "html":
        text = html_page(result)
    else:
        written = []
        plot_name = None
        if out:
            data = png(result)
            if data:
                plot = Path(out).with_suffix(".png")
                with open(plot, "xb") as f:
                    f.write(data)
                plot_name = plot.name
                written.append(str(plot))
        text = markdown(result, plot_name)
        if out:
            with open(out, "x") as f:
                f.write(text)
            return [out, *written]
    if out:
        with open(out, "x") as f:
            f.write(text)
        return [out]
    print(text)
    return []


# --- history ---


def _hist_value(metric: str, v: float | None) -> str:
    return _value("time" if metric in ("time", "compile") else metric, v)


def history_rows(result: dict[str, Any]) -> list[dict[str, str]]:
    """One row per change point: case, metric, first run of the new step, before → after."""
    names = [r["name"] for r in result["runs"]]
    rows = []
    for s in result["series"]:
        for c in s["changes"]:
            rows.append(
                {
                    "case": s["id"],
                    "metric": s["metric"],
                    "first run of step": names[c["run"]],
                    "change": f"{_hist_value(s['metric'], c['before'])} → {_hist_value(s['metric'], c['after'])} ×{c['ratio']:.3f}",
                    "direction": "slower/bigger" if c["ratio"] > 1 else "faster/smaller",
                }
            )
    return rows


def regression_lines(result: dict[str, Any]) -> list[str]:
    names = [r["name"] for r in result["runs"]]
    out = []
    for s in result["series"]:
        if s["regression"]:
            g = s["regression"]
            starts = ", ".join(names[j["run"]] for j in g["jumps"] if j["run"] is not None)
            out.append(
                f"{s['id']} {s['metric']}: newest {_hist_value(s['metric'], g['latest'])} vs best {_hist_value(s['metric'], g['best'])}, "
                f"since {starts}; reproduce: {s.get('command') or '?'}"
            )
    return out


HISTORY_COLUMNS = ("case", "metric", "first run of step", "change", "direction")


def _history_head(result: dict[str, Any]) -> str:
    runs = result["runs"]
    span = f"{runs[0]['name']} ({runs[0]['started']}) … {runs[-1]['name']} ({runs[-1]['started']})" if runs else "no runs"
    return f"{len(runs)} runs, {span}; steps larger than {100 * result['threshold']:g} % shown"


def print_history(result: dict[str, Any], console) -> None:
    from rich.table import Table

    escape = _escape.term  # run-file strings: control characters shown, markup inert

    console.print(escape(_history_head(result)), highlight=False, soft_wrap=True)
    rows = history_rows(result)
    if rows:
        t = Table(title="change points (asv step detection)", title_justify="left")
        for col in HISTORY_COLUMNS:
            t.add_column(col)
        for r in rows:
            colour = "red" if r["direction"].startswith("slower") else "green"
            t.add_row(*(escape(r[c]) for c in HISTORY_COLUMNS[:-1]), f"[{colour}]{r['direction']}[/{colour}]")
        console.print(t)
    else:
        console.print("no change points", highlight=False, soft_wrap=True)
    for line in regression_lines(result):
        console.print(f"[red]in regression[/red] {escape(line)}", highlight=False, soft_wrap=True)


def history_plot_png(result: dict[str, Any], metric: str = "time", max_lines: int = 12) -> bytes | None:
    """``metric`` per case over the runs, relative to each case's first value, change points marked."""
    import numpy as np

    plt = _plots.pyplot()

    series = [s for s in result["series"] if s["metric"] == metric and any(v is not None for v in s["values"])]
    series.sort(key=lambda s: (not s["changes"], s["id"]))
    series = series[:max_lines]
    if not series or len(result["runs"]) < 2:
        return None
    fig, ax = plt.subplots(figsize=(8, 4), dpi=110)
    x = np.arange(len(result["runs"]))
    for s in series:
        y = np.array([np.nan if v is None else v for v in s["values"]], dtype=float)
        ref = y[np.isfinite(y)][0]
        (line,) = ax.plot(x, y / ref, marker=".", lw=1, label=_escape.label(s["id"]))
        for c in s["changes"]:
            ax.axvline(c["run"] - 0.5, color=line.get_color(), ls="--", lw=0.8)
            ax.plot(c["run"], y[c["run"]] / ref if np.isfinite(y[c["run"]]) else c["after"] / ref, marker="v" if c["ratio"] < 1 else "^", color=line.get_color(), ms=8)
    ax.set_xticks(x, [_escape.label(r["name"]) for r in result["runs"]], rotation=30, ha="right", fontsize=6, **_plots.LITERAL)
    ax.set_ylabel(f"{metric} relative to first run")
    _plots.legend(ax, fontsize=6)
    return _plots.png(fig)


def history_markdown(result: dict[str, Any], plot_name: str | None = None) -> str:
    e = _md_escape
    lines = ["# nnbench history", "", e(_history_head(result)), ""]
    rows = history_rows(result)
    if rows:
        lines += ["| " + " | ".join(HISTORY_COLUMNS) + " |", "|---|---|---|---|---|"]
        lines += ["| " + " | ".join(e(r[c]) for c in HISTORY_COLUMNS) + " |" for r in rows]
    else:
        lines.append("No change points.")
    lines.append("")
    regs = regression_lines(result)
    if regs:
        lines += ["**The newest run is in a regression:**", ""] + [f"- {e(x)}" for x in regs] + [""]
    if plot_name:
        lines += [f"![history]({e(plot_name)})", ""]
    return "\n".join(lines)


def history_html(result: dict[str, Any]) -> str:
    h = _escape.html
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>nnbench history</title>{STYLE}</head><body><h1>nnbench history</h1>"]
    parts.append(f"<p>{h(_history_head(result))}</p>")
    rows = history_rows(result)
    if rows:
        parts.append("<table><tr>" + "".join(f"<th>{h(c)}</th>" for c in HISTORY_COLUMNS) + "</tr>")
        parts += ["<tr>" + "".join(f"<td>{h(r[c])}</td>" for c in HISTORY_COLUMNS) + "</tr>" for r in rows]
        parts.append("</table>")
    else:
        parts.append("<p>No change points.</p>")
    regs = regression_lines(result)
    if regs:
        parts.append("<p style='color:#c00'><b>The newest run is in a regression:</b></p><ul>" + "".join(f"<li>{h(x)}</li>" for x in regs) + "</ul>")
    parts.append(_plots.img_tag(history_plot_png(result), "history"))
    parts.append("</body></html>")
    return "".join(parts)


RENDERERS = {
    "compare": (print_compare, compare_markdown, compare_html, ratio_plot_png),
    "history": (print_history, history_markdown, history_html, history_plot_png),
}
