"""``nnbench history``: change points over many runs; exit 1 if the newest run is in a regression."""

from __future__ import annotations

import argparse

from nnbench.cli.common import EXIT_FOUND, EXIT_OK, BadInput, add_format
from nnbench.cli.output import emit

NAME = "history"
HELP = "change points over many runs; exit 1 if the newest run is in a regression"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("dir", metavar="DIR", help="directory of run files (ordered by start time)")
    p.add_argument("--threshold", help="relative step size to report, in percent (default 5)")
    p.add_argument("--no-fail", action="store_true", help="report regressions but exit 0")
    add_format(p)
    p.add_argument("--out", help="output file; must not exist")


def command(args) -> int:
    from nnbench.compare import history as _history
    from nnbench.results import runfile as _results

    try:
        threshold = _history.parse_threshold(args.threshold)
        runs = [(f.name, _results.read_run(f)) for f in _results.run_files(args.dir)]
    except (ValueError, _results.RunFileError) as e:
        raise BadInput(str(e)) from None
    result = _history.history(runs, threshold)
    emit(args, "history", result)
    return EXIT_FOUND if result["in_regression"] and not args.no_fail else EXIT_OK
