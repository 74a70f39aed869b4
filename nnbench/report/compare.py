"""Comparisons and histories as documents (``nnbench compare``, ``ab`` and
``history``), and their plots (the registry's ``compare`` and ``history``
scopes).

Reads the plain dicts built by ``nnbench.compare.compare.compare_runs`` and
``nnbench.compare.history.history``; never measures. Values are formatted by
their metric declarations (``nnbench.results.metrics``); every string is
escaped by the renderer of its format.
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
from nnbench.report import history as _history
from nnbench.report import plotting as _plots
from nnbench.report import render as _render
from nnbench.report.document import BAD, DIM, GOOD, INFO, WARN, Bullets, Cell, Document, Note, Section, Table
from nnbench.report.tables import metric_value
from nnbench.results import escape as _escape
from nnbench.results import files as _files
from nnbench.results.metrics import fmt_time

TONES = {REGRESSED: BAD, IMPROVED: GOOD, UNCHANGED: DIM, INCONCLUSIVE: WARN, CHANGED: INFO, UNTESTED: DIM}
HTML_COLOURS = {v: _render.HTML_COLOURS[t] for v, t in TONES.items()}
_value = metric_value


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
    if r.get("family"):
        notes.append(f"{100 * r['confidence']:.4g} % CI: one of the case's {r['family']} other timings, sharing 5 %")
    if r["verdict"] == UNTESTED:
        notes.append("one sample per side: no noise estimate")
    if r["verdict"] == UNCHANGED and r.get("eq_low") is not None:
        notes.append(f"90 % interval [{r['eq_low']:.3f}, {r['eq_high']:.3f}] inside the band")
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
        head += (
            " (unstable distribution: "
            + "; ".join(f"{side} {', '.join(why)}" for side, why in c["unstable"].items())
            + ")"
        )
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


def compare_document(result: dict[str, Any]) -> Document:
    """The comparison: the two runs and the verdict counts first, then the
    environment differences, one row per case, the regressions with the
    command that reproduces each, profile diffs, one-sided cases, the plot."""
    head = [
        Note(f"baseline: {result['baseline']['path']} ({result['baseline']['started']})"),
        Note(f"candidate: {result['candidate']['path']} ({result['candidate']['started']})"),
        Note(_summary_line(result)),
    ]
    blocks: list[Any] = []
    if result["env_diff"]:
        blocks.append(
            Table(
                "environment differences",
                ("environment", "baseline", "candidate"),
                [list(r) for r in _env_rows(result)],
                "lll",
            )
        )
    rows = []
    for c in result["cases"]:
        head_text, moved = case_lines(c)
        rows.append([c["id"], Cell.of(c["verdict"], TONES.get(c["verdict"])), head_text, Cell.of(moved)])
    blocks.append(
        Table(
            "step time: candidate / baseline median, 95 % CI",
            ("case", "verdict", "step time (× ratio [95 % CI])", "other changes"),
            rows,
            "llll",
        )
    )
    regs = [
        Note(f"{c['id']}; reproduce: {c.get('command') or '?'}", BAD, lead=REGRESSED)
        for c in result["cases"]
        if c["verdict"] == REGRESSED
    ]
    if regs:
        blocks.append(Bullets("Regressions, each with the command that reproduces it:", regs))
    for c in result["cases"]:
        if c.get("profile_diff"):
            blocks += profile_diff_blocks(c["id"], c["profile_diff"])
    blocks += [
        Note(f"only in the {side}: {', '.join(result[key])}")
        for side, key in (("baseline", "only_base"), ("candidate", "only_cand"))
        if result[key]
    ]
    blocks += _plots.figures("compare", result)
    return Document("nnbench compare", [Section("", head), Section("cases", blocks)])


def _ratio_text(a: float | None, b: float | None) -> str:
    return f"×{b / a:.2f}" if a and b is not None else "–"


def profile_diff_blocks(case_id: str, d: dict[str, Any], k: int = 10) -> list:
    """The op-level profile diff a compare result carries for ``case_id``
    (``nnbench.profile.diff.records_diff``'s data) as notes and tables:
    XLA op time per step, per category, the op kinds that moved, and the
    ``k`` ops that moved most in each direction, appeared or disappeared."""
    title = f"profile diff {case_id}"
    if "error" in d:
        return [Note(f"{title}: could not be computed ({d['error']})", WARN)]
    ta, tb = d["op_time_s_per_step"]
    blocks: list = [
        Note(
            f"{title}: XLA op time per step (sum of per-op medians) "
            f"{fmt_time(ta)} → {fmt_time(tb)} ({_ratio_text(ta, tb)})"
        )
    ]
    if d.get("same_program") is False:
        blocks.append(
            Note(
                "the optimized HLO differs, so a same-named op may be different work; trust categories and kinds first",
                WARN,
            )
        )
    per_step = ("base/step", "cand/step", "ratio")
    cats = [[cat, fmt_time(x), fmt_time(y), _ratio_text(x, y)] for cat, (x, y) in d["categories"].items() if x or y]
    if cats:
        blocks.append(Table(f"{title}: op time per category", ("category", *per_step), cats))
    kinds = [
        [kind, fmt_time(x), fmt_time(y), _ratio_text(x, y)] for kind, (x, y) in list(d.get("kinds", {}).items())[:k]
    ]
    if kinds:
        blocks.append(Table(f"{title}: op kinds that moved ({len(d['kinds'])})", ("kind", *per_step), kinds))
    ops = [
        [
            kind,
            x["op"],
            x["shape"] or "",
            x["category"],
            fmt_time(x.get("base_s")),
            fmt_time(x.get("cand_s")),
            _ratio_text(x.get("base_s"), x.get("cand_s")),
        ]
        for kind in ("slower", "faster", "appeared", "disappeared")
        for x in d[kind][:k]
    ]
    if ops:
        blocks.append(
            Table(
                f"{title}: ops that moved (at most {k} of each kind)",
                ("", "op", "shape", "category", *per_step),
                ops,
                "lllll" + "rr",
            )
        )
    else:
        blocks.append(Note(f"{title}: no op moved past the thresholds"))
    return blocks


def print_compare(result: dict[str, Any], console) -> None:
    _render.terminal(compare_document(result), console)


def compare_markdown(result: dict[str, Any], plot_name: str | None = None) -> str:
    """Markdown; the plot linked when ``plot_name`` (``<stem>.png`` beside it) is given."""
    return _render.markdown(compare_document(result), plot_name[: -len(".png")] if plot_name else None)


def compare_html(result: dict[str, Any]) -> str:
    return _render.html(compare_document(result))


# --- plot ---


@_plots.register("compare", "ratio", "step time ratios", file=".png")
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
        ax.errorbar(
            r["ratio"],
            i,
            xerr=[[r["ratio"] - r["ci_low"]], [r["ci_high"] - r["ratio"]]],
            fmt="o",
            color=colour,
            capsize=3,
        )
    ax.set_yticks(range(len(rows)), [_escape.label(c["id"]) for c in rows], fontsize=7, **_plots.LITERAL)
    ax.invert_yaxis()
    ax.set_xlabel("step time ratio, candidate / baseline (95 % CI)")
    _plots.legend(ax, fontsize=7, loc="lower right")
    return _plots.png(fig)


# --- output ---


def to_json(result: dict[str, Any]) -> str:
    from nnbench.results.runfile import sanitize

    return json.dumps(sanitize(result), indent=1, allow_nan=False)


def _documents():
    return {"compare": compare_document, "history": _history.history_document}


def emit(kind: str, fmt: str, out: str | None, result: dict[str, Any]) -> list[str]:
    """Write a ``kind`` (``compare`` or ``history``) result in ``fmt``
    (``text``, ``md``, ``html``, ``json``: the result itself) to ``out``
    (exclusive create) or stdout.

    A Markdown file gets its plot beside it (same name, ``.png``). Returns
    the paths written.
    """
    if fmt == "json":
        text = to_json(result)
    else:
        doc = _documents()[kind](result)
        if fmt == "text":
            from rich.console import Console

            if out:
                with open(out, "x") as f:
                    _render.terminal(doc, Console(file=f, width=160))
                return [out]
            _render.terminal(doc, Console())
            return []
        if fmt == "md" and out:
            written = _render.write_markdown_file(out, doc)
            return [out, *(str(p) for p in written[1:])]
        text = _render.RENDERERS[fmt](doc)
    if out:
        _files.create_exclusive(out, text)
        return [out]
    print(text)
    return []
