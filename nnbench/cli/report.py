"""``nnbench report``: render run files as text, Markdown, HTML or JSON.

Each format is one entry of ``RENDERERS``: what it writes beside ``--out``
(checked before anything is written) and its renderer.
"""

from __future__ import annotations

import argparse
import contextlib
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

from nnbench.cli.common import EXIT_OK, FORMATS, BadInput, add_format, render_check
from nnbench.cli.output import out_file, writing
from nnbench.measure.roofline import ACCELERATORS

NAME = "report"
HELP = "render one or more run files"

Runs = list[tuple[str, dict[str, Any]]]


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("runs", nargs="+", metavar="RUN", help="run files or directories of them")
    add_format(p, FORMATS)
    p.add_argument("--out", help="output file; must not exist (Markdown writes its plots beside it)")
    p.add_argument(
        "--lower-for",
        metavar="ACCELERATORS",
        type=accelerators,
        default=(),
        help="also give each case's roofline lower bound (not measured) on these accelerators, from XLA's FLOPs and "
        "bytes and the vendor peaks: " + ",".join(ACCELERATORS),
    )


def accelerators(text: str) -> tuple[str, ...]:
    """``h100,tpu-v5e`` -> the names, each a key of ``measure.roofline.ACCELERATORS``."""
    names = tuple(n.strip().lower() for n in text.split(",") if n.strip())
    unknown = [n for n in names if n not in ACCELERATORS]
    if unknown or not names:
        raise argparse.ArgumentTypeError(
            f"unknown accelerator {', '.join(unknown) or repr(text)} (known: {', '.join(ACCELERATORS)})"
        )
    return names


def _text(runs: Runs, cross: bool, out: Path | None, lower_for: tuple[str, ...] = ()) -> list[str]:
    from rich.console import Console

    from nnbench.report import run as _report

    target = open(out, "x", encoding="utf-8") if out else None  # noqa: SIM115 - closed below
    try:
        _report.print_report(runs, Console(file=target), lower_for)
    finally:
        if target is not None:
            target.close()
    return []


def _markdown(runs: Runs, cross: bool, out: Path | None, lower_for: tuple[str, ...] = ()) -> list[str]:
    from nnbench.report import run as _report

    if out is None:
        print(_report.report_text(runs, "md", lower_for))
        return []
    return [str(p) for p in _report.write_markdown(out, runs, devices=cross, lower_for=lower_for)]


def _markdown_beside(out: Path, runs: Runs, cross: bool) -> list[Path]:
    """The plots a Markdown report writes beside ``out``."""
    from nnbench.report import run as _report

    return _report.report_paths(out, len(runs), devices=cross)[1:]


def _page(fmt: str) -> Callable[..., list[str]]:
    """A renderer that writes the whole report as one text (``html``, ``json``)."""

    def render(runs: Runs, cross: bool, out: Path | None, lower_for: tuple[str, ...] = ()) -> list[str]:
        from nnbench.report import run as _report
        from nnbench.results import files as _files

        text = _report.report_text(runs, fmt, lower_for)
        if out is None:
            print(text)
            return []
        _files.create_exclusive(out, text)
        return [str(out)]

    return render


class Renderer(NamedTuple):
    render: Callable[
        ..., list[str]
    ]  # (runs, cross, out, lower_for) writes ``out`` (or prints); the lines to print after
    beside: Callable[[Path, Runs, bool], list[Path]] | None = None  # what else it writes next to ``out``


RENDERERS = {
    "text": Renderer(_text),
    "md": Renderer(_markdown, _markdown_beside),
    **{fmt: Renderer(_page(fmt)) for fmt in FORMATS if fmt not in ("text", "md")},  # one text: html, json, ...
}
assert tuple(RENDERERS) == FORMATS


def command(args) -> int:
    from nnbench.report import devices as _report_devices
    from nnbench.results import runfile as _results

    runs = []
    try:
        for item in args.runs:
            for f in _results.run_files(item):
                runs.append((f.name, _results.read_run(f)))
    except _results.RunFileError as e:
        raise BadInput(str(e)) from None
    for name, run in runs:
        render_check(name, run)
    cross = _report_devices.is_cross_device(runs)
    renderer = RENDERERS[args.format]
    out, guard = None, contextlib.nullcontext()
    if args.out:
        beside = renderer.beside(Path(args.out), runs, cross) if renderer.beside else []
        out = out_file(args.out, beside)
        guard = writing(args.out, [out, *beside])
    with guard:
        lines = renderer.render(runs, cross, out, args.lower_for)
    for line in lines:
        print(args.out if line == str(out) else line)  # --out as given
    return EXIT_OK
