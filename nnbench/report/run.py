"""Run reports: one or more run files as a ``Document`` (a summary first, then
the step-time, scaling, per-case, overhead and same-program tables, the
notes, and the plots), rendered by ``nnbench.report.render`` in any format.

A report reads records; it never measures. ``print_run``, ``markdown``,
``html_report``, ``write_markdown`` and ``json_report`` are the entry points
the CLI calls; the table functions are re-exported from
``nnbench.report.tables``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from nnbench.report import depth as _depth
from nnbench.report import devices as _devices
from nnbench.report import plots as _run_plots  # noqa: F401 - registers the run plots (before roofline.py's)
from nnbench.report import plotting as _plotting
from nnbench.report import render as _render
from nnbench.report import roofline as _roofline
from nnbench.report import scaling as _scaling
from nnbench.report import summary as _summary
from nnbench.report.document import BAD, DIM, WARN, Bullets, Document, Note, Section, Table
from nnbench.report.tables import (  # noqa: F401 - re-exported: the CLI and tests read them here
    OVERHEAD_COLUMNS,
    STYLE_ORDER,
    TERMINAL_COLUMNS,
    UNSTABLE_MARK,
    UNSTABLE_NOTE,
    WORK_CONVENTION,
    any_unstable,
    cell_text,
    detail_rows,
    env_summary,
    fmt_bytes,
    fmt_time,
    gate_notes,
    memory_side_by_side,
    overhead_rows,
    run_note,
    side_by_side,
    styles_in,
    work_notes,
)

TITLE = "nnbench report"
Runs = Sequence[tuple[str, dict[str, Any]]]
SCALING_TITLE = _scaling.TITLE
PLOT_KEYS = tuple(s.key for s in _plotting.specs("run"))  # the run plots of plots.py and roofline.py


# --- sections of one run ---


def _head(run: dict[str, Any], name: str | None) -> Section:
    blocks: list[Any] = [
        Note(f"environment: {env_summary(run)}", DIM),
        Note(f"started: {run.get('started')}, suite: {run.get('suite')}", DIM),
    ]
    if run_note(run):
        blocks.append(Note(run_note(run), WARN))
    return Section(name or "", blocks)


def _step_section(records: Sequence[dict[str, Any]]) -> Section:
    styles, rows = side_by_side(records)
    body = [[row["group"], *(cell_text(row["cells"].get(s)) for s in styles)] for row in rows]
    blocks: list[Any] = [Table("median step time per style (× ratio to jax)", ("layer/mode/size/dtype", *styles), body)]
    if any_unstable(rows):
        blocks.append(Note(UNSTABLE_NOTE, DIM))
    return Section("step time per style", blocks, level=3)


def _cases_section(run: dict[str, Any]) -> Section:
    records = run["records"]
    details = detail_rows(records)
    ok = [d for d in details if d["status"] == "ok"]
    blocks: list[Any] = []
    if ok:
        cols = tuple(c for c in ok[0] if c != "status")
        align = "l" + "r" * (len(cols) - 1)
        blocks.append(
            Table(
                "per case (full detail in the Markdown, HTML and JSON reports)",
                cols,
                [[d[c] for c in cols] for d in ok],
                align,
                brief=TERMINAL_COLUMNS,
            )
        )
    bad = [Note(f"{d['case']}: {d['note']}", BAD, lead=d["status"]) for d in details if d["status"] != "ok"]
    if bad:
        blocks.append(Bullets("Failed or invalid cases:", bad))
    if ok:
        if all(r.get("work", {}).get("peak_flops_per_s") is None for r in records if r["status"] == "ok"):
            blocks.append(
                Note(
                    f"MFU: no peak FLOP/s is known for {run['env'].get('device_kind')!r}; shown as n/a, not estimated.",
                    DIM,
                )
            )
        blocks += [Note(note, DIM) for note in work_notes(records)]
    return Section("per case", blocks, level=3)


def _overhead_section(records: Sequence[dict[str, Any]]) -> Section | None:
    rows = overhead_rows(records)
    if not rows:
        return None
    table = Table(
        "framework overhead per style (stack of tiny layers; median [95% CI])",
        OVERHEAD_COLUMNS,
        [[r[c] for c in OVERHEAD_COLUMNS] for r in rows],
        "ll" + "r" * (len(OVERHEAD_COLUMNS) - 2),
    )
    return Section("framework overhead", [table], level=3)


def same_program_section(records: Sequence[dict[str, Any]]) -> Section | None:
    """Which styles compile to the same optimized HLO as raw JAX; None when no group has a histogram to compare."""
    from nnbench.compare.same_program import diff_text, same_program

    table = same_program(records)
    if not table:
        return None
    body = [
        [group, style, {True: "yes", False: "no", None: "–"}[res["same"]], diff_text(res["diff"])]
        for group, row in table.items()
        for style, res in row.items()
    ]
    columns = ("layer/mode/size/dtype", "style", "same", "differing ops")
    return Section(
        "Same compiled program as jax",
        [Table("optimized-HLO op histogram; jax's count → the style's", columns, body, "llll")],
        level=3,
    )


def run_sections(
    run: dict[str, Any], name: str | None = None, number: int | None = None, lower_for: Sequence[str] = ()
) -> list[Section]:
    """Every section of one run, in report order; ``number`` (from 1) names its plot files when a report
    holds several runs; ``lower_for``: accelerators (``measure.roofline.ACCELERATORS``) to bound each case on."""
    records = run["records"]
    sections = [
        _head(run, name),
        _summary.section(records),
        _step_section(records),
        _scaling.section(records),
        _cases_section(run),
        _roofline.section(run, lower_for),
        _overhead_section(records),
        _depth.section(records),
        same_program_section(records),
        Section("plots", list(_plotting.figures("run", records, number)), level=3),
    ]
    return [s for s in sections if s is not None]


def document(runs: Runs, devices: bool | None = None, lower_for: Sequence[str] = ()) -> Document:
    """The report of ``runs`` (``[(name, run)]``): each run's sections, the
    scaling plot over all their records, and, with ``devices`` (default:
    when the runs come from more than one device kind), the cross-device
    section; ``lower_for``: accelerators each case is bounded on."""
    sections = []
    for i, (name, run) in enumerate(runs):
        sections += run_sections(run, name, i + 1 if len(runs) > 1 else None, lower_for)
    every = [r for _, run in runs for r in run["records"]]
    if _scaling.rows(every):  # sharded records: the scaling plot over all runs
        sections.append(Section("", list(_plotting.figures("records", every))))
    if devices if devices is not None else _devices.is_cross_device(runs):
        sections.append(_devices.section(runs))
    return Document(TITLE, sections)


# --- entry points ---


def print_run(run: dict[str, Any], console) -> None:
    """One run on a rich console (its name is the caller's to print)."""
    _render.terminal(Document(TITLE, run_sections(run)), console)


def markdown(runs: Runs) -> str:
    """The Markdown report without its plots (for stdout) and without the cross-device section."""
    return _render.markdown(document(runs, devices=False))


def html_report(runs: Runs) -> str:
    """One self-contained page (plots embedded), without the cross-device section."""
    return _render.html(document(runs, devices=False))


def json_report(runs: Runs, devices: bool | None = None) -> str:
    """The whole report as JSON (``render.to_dict``: sections of tables with their texts and, for the summary,
    the numbers)."""
    return _render.json_text(document(runs, devices))


def report_paths(path: Path, n_runs: int = 1, devices: bool = False) -> list[Path]:
    """Every file a Markdown report at ``path`` over ``n_runs`` runs may write
    (whether or not each plot turns out to have data), the cross-device plot
    with ``devices``: checked before writing."""
    path = Path(path)
    tags = [""] if n_runs == 1 else [f".{i + 1}" for i in range(n_runs)]
    plots = [path.with_name(path.stem + s.file.format(run=t)) for t in tags for s in _plotting.specs("run")]
    once = ("records", "runs") if devices else ("records",)
    return [
        path,
        *plots,
        *(path.with_name(path.stem + s.file.format(run="")) for sc in once for s in _plotting.specs(sc)),
    ]


def write_markdown(
    path: Path, runs: Runs, overwrite: bool = False, devices: bool = False, lower_for: Sequence[str] = ()
) -> list[Path]:
    """``render.write_markdown_file`` of the runs' report (with the cross-device section when ``devices``)."""
    return _render.write_markdown_file(path, document(runs, devices, lower_for), overwrite)


def print_report(runs: Runs, console, lower_for: Sequence[str] = ()) -> None:
    """The whole report on a rich console: each run under its name, then the
    cross-device section where the runs span device kinds."""
    sections = [
        s
        for i, (name, run) in enumerate(runs)
        for s in run_sections(run, name, i + 1 if len(runs) > 1 else None, lower_for)
    ]
    if _devices.is_cross_device(runs):
        sections.append(_devices.section(runs))
    _render.terminal(Document(TITLE, sections), console)


def report_text(runs: Runs, fmt: str, lower_for: Sequence[str] = ()) -> str:
    """The whole report (cross-device section included where the runs span
    device kinds) as ``md`` (plots left out: use ``write_markdown`` for a
    file with its plots), ``html`` (plots embedded) or ``json``."""
    return _render.RENDERERS[fmt](document(runs, lower_for=lower_for))
