"""Histories as documents (``nnbench history``): change points per case
and metric, whether the newest run sits in a regression, and the plot (the
registry's ``history`` scope). Reads the plain dict built by
``nnbench.compare.history.history``; never measures."""

from __future__ import annotations

from typing import Any

from nnbench.report import plotting as _plots
from nnbench.report import render as _render
from nnbench.report.document import BAD, GOOD, Bullets, Cell, Document, Note, Section, Table
from nnbench.report.tables import metric_value
from nnbench.results import escape as _escape
from nnbench.results import metrics as _metrics

WORSE = ("slower/bigger", "lower (worse)")  # the direction texts a reader must look at


def _direction(metric: str, ratio: float) -> str:
    """A change's direction in words; a higher-is-better metric (roofline efficiency) says worse when it falls."""
    higher_better = any(m.name == metric and m.lower_is_better is False for m in _metrics.METRICS)
    if higher_better:
        return "lower (worse)" if ratio < 1 else "higher (better)"
    return "slower/bigger" if ratio > 1 else "faster/smaller"


def _hist_value(metric: str, v: float | None) -> str:
    return metric_value(metric, v)


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
                    "change": (
                        f"{_hist_value(s['metric'], c['before'])} → "
                        f"{_hist_value(s['metric'], c['after'])} ×{c['ratio']:.3f}"
                    ),
                    "direction": _direction(s["metric"], c["ratio"]),
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
                f"{s['id']} {s['metric']}: newest {_hist_value(s['metric'], g['latest'])} "
                f"vs best {_hist_value(s['metric'], g['best'])}, "
                f"since {starts}; reproduce: {s.get('command') or '?'}"
            )
    return out


HISTORY_COLUMNS = ("case", "metric", "first run of step", "change", "direction")


def _history_head(result: dict[str, Any]) -> str:
    runs = result["runs"]
    span = (
        f"{runs[0]['name']} ({runs[0]['started']}) … {runs[-1]['name']} ({runs[-1]['started']})" if runs else "no runs"
    )
    return f"{len(runs)} runs, {span}; steps larger than {100 * result['threshold']:g} % shown"


def history_document(result: dict[str, Any]) -> Document:
    blocks: list[Any] = [Note(_history_head(result))]
    rows = history_rows(result)
    if rows:
        body = [
            [
                *(r[c] for c in HISTORY_COLUMNS[:-1]),
                Cell.of(r["direction"], BAD if r["direction"] in WORSE else GOOD),
            ]
            for r in rows
        ]
        blocks.append(Table("change points (asv step detection)", HISTORY_COLUMNS, body, "l" * len(HISTORY_COLUMNS)))
    else:
        blocks.append(Note("No change points."))
    regs = regression_lines(result)
    if regs:
        blocks.append(Bullets("The newest run is in a regression:", [Note(x, BAD, lead="in regression") for x in regs]))
    if result.get("bisect"):
        blocks.append(Bullets("Find the culprit:", [Note(x) for x in result["bisect"]]))
    blocks += _plots.figures("history", result)
    return Document("nnbench history", [Section("", blocks)])


def print_history(result: dict[str, Any], console) -> None:
    _render.terminal(history_document(result), console)


def history_markdown(result: dict[str, Any], plot_name: str | None = None) -> str:
    return _render.markdown(history_document(result), plot_name[: -len(".png")] if plot_name else None)


def history_html(result: dict[str, Any]) -> str:
    return _render.html(history_document(result))


@_plots.register("history", "time", "history", file=".png")
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
            ax.plot(
                c["run"],
                y[c["run"]] / ref if np.isfinite(y[c["run"]]) else c["after"] / ref,
                marker="v" if c["ratio"] < 1 else "^",
                color=line.get_color(),
                ms=8,
            )
    ax.set_xticks(
        x, [_escape.label(r["name"]) for r in result["runs"]], rotation=30, ha="right", fontsize=6, **_plots.LITERAL
    )
    ax.set_ylabel(f"{metric} relative to first run")
    _plots.legend(ax, fontsize=6)
    return _plots.png(fig)
