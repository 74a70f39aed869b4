"""``nnbench compare``: two run files case by case; exit 1 on a regression."""

from __future__ import annotations

import argparse

from nnbench.cli.common import EXIT_FOUND, EXIT_OK, BadInput, add_format
from nnbench.cli.output import emit

NAME = "compare"
HELP = "compare two runs case by case; exit 1 on a regression"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("baseline", metavar="BASELINE", help="baseline run file")
    p.add_argument("candidate", metavar="CANDIDATE", help="candidate run file")
    p.add_argument(
        "--threshold", help="practical threshold in percent: 5, or per metric time=5,dispatch=10,compile=25,exact=0"
    )
    p.add_argument("--no-fail", action="store_true", help="report regressions but exit 0")
    p.add_argument("--allow-device-change", action="store_true", help="compare runs from different device kinds")
    add_format(p)
    p.add_argument("--out", help="output file; must not exist")


def command(args) -> int:
    from nnbench.compare import compare as _compare
    from nnbench.results import runfile as _results

    try:
        thresholds = _compare.Thresholds.parse(args.threshold)
        runs = [_results.read_run(p) for p in (args.baseline, args.candidate)]
        result = _compare.compare_runs(*runs, thresholds, args.allow_device_change, args.baseline, args.candidate)
    except (ValueError, _results.RunFileError) as e:  # CompareError is a ValueError
        raise BadInput(str(e)) from None
    emit(args, "compare", result)
    return EXIT_FOUND if result["regressions"] and not args.no_fail else EXIT_OK
