"""``nnbench ab``: a baseline and a candidate (two environments or
checkouts) timed in alternating rounds; exit 1 on a regression."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from nnbench.cli.common import (
    EXIT_FOUND,
    EXIT_OK,
    FORMATS,
    BadInput,
    add_filters,
    add_format,
    add_worker_limits,
    positive,
    select,
)
from nnbench.cli.output import can_make_dir, claim, make_dir, run_name
from nnbench.run.options import ABOptions, RunOptions

NAME = "ab"
HELP = "time a baseline and a candidate (two environments or checkouts) in alternating rounds; exit 1 on a regression"

# The settings of the sensitivity study in the README, "A/B on a noisy machine".
_AB = ABOptions()


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--baseline",
        required=True,
        metavar="SIDE",
        help=(
            "a Python executable; a directory (a checkout of nnbench or a user's project: run with it as cwd, "
            "first on PYTHONPATH); git:REV (that commit of --repo, in a cached worktree); or pip:REQ[,REQ...] "
            "(a cached environment with those packages and this nnbench)"
        ),
    )
    p.add_argument("--candidate", required=True, metavar="SIDE", help="the same, for the candidate")
    p.add_argument("--repo", metavar="DIR", help="the repository of git:REV sides (default: the current directory's)")
    add_filters(p)
    p.add_argument(
        "--cases",
        metavar="MODULE:ATTR",
        help="a user's list of nnbench.UserCase, resolved on each side (a relative path or module from its directory)",
    )
    add_timing(p)
    add_worker_limits(p)
    p.add_argument(
        "--out",
        default="ab",
        help="directory for the two run files and the comparison (default: ab/); nothing in it is overwritten",
    )
    add_format(p, FORMATS, help="how the comparison is printed")
    p.add_argument("--no-fail", action="store_true", help="report regressions but exit 0")


def add_timing(p: argparse.ArgumentParser) -> None:
    """The timing flags of ``ab`` (and of ``bisect``, whose every step is one)."""
    p.add_argument(
        "--rounds",
        type=positive(int, 10**6),
        default=_AB.rounds,
        help=f"alternating rounds per worker pair (default {_AB.rounds})",
    )
    p.add_argument(
        "--budget",
        type=positive(float, 86400),
        default=_AB.budget_s,
        help=(
            "timing seconds per case and side in each worker pair, spread over its rounds "
            f"(default {_AB.budget_s:g}, whatever the suite)"
        ),
    )
    p.add_argument(
        "--pairs",
        type=positive(int, 1000),
        default=_AB.pairs,
        help=(
            "worker pairs before the first verdict: two processes of the same code differ by a few per cent, "
            f"so from 3 pairs on the pair is the unit of the comparison (default {_AB.pairs})"
        ),
    )
    p.add_argument(
        "--max-pairs",
        type=positive(int, 1000),
        default=_AB.max_pairs,
        help=(
            "then add one pair at a time until every case's step-time verdict is decided (regressed, improved "
            f"or unchanged), at most this many pairs; equal to --pairs: exactly that many (default {_AB.max_pairs})"
        ),
    )
    p.add_argument("--seed", type=int, default=_AB.seed, help="seed of the sides' order in each round (default 0)")
    p.add_argument(
        "--threshold",
        help=(
            "practical threshold in percent: 3, or per metric time=3,dispatch=10,compile=25,exact=0 "
            "(default time 3: see README, A/B on a noisy machine)"
        ),
    )


def ab_options(args) -> ABOptions:
    """``ABOptions`` from the flags of ``add_timing`` and the worker limits."""
    if args.max_pairs < args.pairs:
        raise BadInput(f"--max-pairs {args.max_pairs}: fewer than --pairs {args.pairs}")
    return ABOptions(
        args.rounds,
        args.budget,
        args.seed,
        args.pairs,
        run=RunOptions.from_args(args).replace(budget=None),  # the budget is budget_s, spread over a pair's rounds
        max_pairs=args.max_pairs,
    )


def command(args) -> int:
    from rich.console import Console

    from nnbench.compare import compare as _compare
    from nnbench.report import compare as _report_compare
    from nnbench.run import ab as _ab

    options = ab_options(args)  # a bad --max-pairs is refused before anything else
    can_make_dir(Path(args.out), f"--out {args.out}")  # known before the sides' handshakes
    try:
        thresholds = _compare.Thresholds.parse(args.threshold, _compare.AB_THRESHOLDS)
        # each proven a working nnbench before any timing
        sides = _ab.Side.parse_pair(args.baseline, args.candidate, args.repo)
    except ValueError as e:  # SideError is a ValueError
        raise BadInput(str(e)) from None
    cases = select_cases(args, sides[0])
    out_dir = Path(args.out)
    make_dir(out_dir, f"--out {args.out}")
    name = run_name("ab")
    outs = (claim(out_dir / f"{name}-baseline.json", args.out), claim(out_dir / f"{name}-candidate.json", args.out))
    err = Console(stderr=True, highlight=False)
    err.print(
        f"nnbench ab: {len(cases)} cases, {options.rounds} rounds and {options.budget_s:g} s per case and side "
        f"in each of {options.pairs}"
        + (f"–{options.most_pairs} worker pairs (until decided)" if options.sequential else " worker pair(s)")
        + f" -> {outs[0]}, {outs[1]}",
        markup=False,
        soft_wrap=True,
    )
    log = lambda line: err.print(f"nnbench ab: {line}", markup=False, soft_wrap=True)  # noqa: E731
    try:
        base_run, cand_run = _ab.run(cases, sides, options, outs, sys.argv, log, thresholds)
    except _ab.SideError as e:
        raise BadInput(str(e)) from None
    result = _compare.compare_runs(
        base_run,
        cand_run,
        thresholds,
        allow_device_change=True,
        base_path=str(outs[0]),
        cand_path=str(outs[1]),
        paired=True,
    )
    _ab.annotate(result, cases, sides, options)
    saved = out_dir / f"{name}-compare.json"
    with open(saved, "x") as f:
        f.write(_report_compare.to_json(result))
    _report_compare.emit("compare", args.format, None, result)
    err.print(f"nnbench ab: run files {outs[0]}, {outs[1]}; comparison {saved}", markup=False, soft_wrap=True)
    return EXIT_FOUND if result["regressions"] and not args.no_fail else EXIT_OK


def select_cases(args, baseline):
    """The cases of an ``ab`` request. A user-case list (``--cases``) is
    listed as the baseline sees it: a relative module or path is looked up
    in a baseline checkout, and stays relative so each side's worker
    imports its own."""
    if not args.cases or baseline.path is None:
        return select(args)
    import dataclasses

    module, _, attr = args.cases.rpartition(":")
    listed = args.cases
    if module.endswith(".py") and not os.path.isabs(module):
        listed = f"{os.path.join(baseline.path, module)}:{attr}"
    sys.path.insert(0, baseline.path)
    try:
        cases = select(argparse.Namespace(**{**vars(args), "cases": listed}))
    finally:
        sys.path.remove(baseline.path)
    return [dataclasses.replace(c, source=args.cases) for c in cases]
