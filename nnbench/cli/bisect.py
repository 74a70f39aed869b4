"""``nnbench bisect``: the first bad commit (or release) between a good and a
bad one, each step an ``nnbench ab``; exit 0 when it names one, 1 when it
cannot (no regression between the ends, undecided, only skipped points left)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from nnbench.cli.ab import ab_options, add_timing, select_cases
from nnbench.cli.common import EXIT_FOUND, EXIT_OK, FORMATS, BadInput, add_filters, add_format, add_worker_limits
from nnbench.cli.common import positive as _positive
from nnbench.cli.output import can_make_dir, claim, make_dir, run_name

NAME = "bisect"
HELP = "find the first commit (or --package release) that made the cases slower, each step an nnbench ab"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("good", metavar="GOOD", help="a good revision (or, with --package, version)")
    p.add_argument("bad", metavar="BAD", help="a bad revision (or version), newer than GOOD")
    p.add_argument("--repo", metavar="DIR", help="the repository (default: the current directory's)")
    p.add_argument(
        "--package",
        metavar="NAME",
        help="bisect the releases of this package the index offers between GOOD and BAD (jax brings its jaxlib)",
    )
    p.add_argument(
        "--with",
        dest="extra",
        metavar="REQ[,REQ...]",
        help="with --package: requirements every point's environment gets too (e.g. jax==0.10.2)",
    )
    add_filters(p)
    p.add_argument(
        "--cases",
        metavar="MODULE:ATTR",
        help="a user's list of nnbench.UserCase, resolved in each commit's checkout (or the current directory)",
    )
    p.add_argument(
        "--metric",
        choices=("time", "dispatch"),
        default="time",
        help="the metric bisected: step time or host dispatch (default time)",
    )
    p.add_argument(
        "--direction",
        choices=("slower", "faster"),
        default="slower",
        help="the change hunted: a regression (default) or a speed-up",
    )
    p.add_argument(
        "--retries",
        type=_positive(int, 5, zero=True),
        default=2,
        help="reruns of a step still inconclusive after --max-pairs, twice the pairs allowed each time (default 2)",
    )
    add_timing(p)
    add_worker_limits(p)
    p.add_argument(
        "--out",
        default="bisect",
        help="directory for every step's run files and the report (.md, .html, .json); nothing is overwritten",
    )
    add_format(p, FORMATS, help="how the report is printed")


def command(args) -> int:
    from rich.console import Console

    from nnbench.compare import compare as _compare
    from nnbench.report import bisect as _report
    from nnbench.report import compare as _report_compare
    from nnbench.report import render as _render
    from nnbench.results import files as _files
    from nnbench.run import bisect as _bisect
    from nnbench.run import envs as _envs
    from nnbench.run.sides import Side, SideError

    if args.extra and not args.package:
        raise BadInput("--with goes with --package")
    can_make_dir(Path(args.out), f"--out {args.out}")
    try:
        thresholds = _compare.Thresholds.parse(args.threshold, _compare.AB_THRESHOLDS)
        if args.package:
            extra = _envs.normalize_requirements(args.extra, "--with") if args.extra else []
            offered = _envs.index_versions(args.package)
            points = _bisect.version_points(args.package, args.good, args.bad, offered, extra)
        else:
            points = _bisect.commit_points(args.good, args.bad, args.repo)
        # The cases as the good end lists them (a relative --cases from its checkout).
        good = Side.parse("baseline", points[0].spec, handshake=False, repo=args.repo)
    except ValueError as e:  # SideError is a ValueError
        raise BadInput(str(e)) from None
    cases = select_cases(args, good)
    options = _bisect.BisectOptions(ab_options(args), thresholds, args.metric, args.retries, args.direction)
    out_dir = Path(args.out)
    make_dir(out_dir, f"--out {args.out}")
    name = run_name("bisect")
    reports = [out_dir / f"{name}.{ext}" for ext in ("md", "html", "json")]
    err = Console(stderr=True, highlight=False)
    log = lambda line: err.print(f"nnbench bisect: {line}", markup=False, soft_wrap=True)  # noqa: E731
    log(
        f"{len(points)} points from {points[0].label} to {points[-1].label}, {len(cases)} cases, "
        f"{options.ab.rounds} rounds per pair, {options.ab.pairs}-{options.ab.most_pairs} pairs per step -> {out_dir}"
    )

    def outs(n: int) -> tuple[Path, Path]:
        return tuple(claim(out_dir / f"{name}-step{n:02d}-{role}.json", args.out) for role in ("baseline", "candidate"))

    def make_side(role: str, point) -> Side:
        # A commit runs this interpreter, whose nnbench the handshake has no
        # doubt about; code of the commit that does not import fails its
        # worker, which skips the point all the same, so only an environment
        # (pip:) is proven first. Saves a JAX import per point.
        return Side.parse(role, point.spec, handshake=point.spec.startswith("pip:"), repo=args.repo)

    bisection = _bisect.Bisection(points, cases, options, make_side, outs, sys.argv, log)
    try:
        result = bisection.run()
    except SideError as e:
        raise BadInput(str(e)) from None
    doc = _report.bisect_document(result)
    _files.create_exclusive(reports[0], _render.markdown(doc))
    _files.create_exclusive(reports[1], _render.html(doc))
    _files.create_exclusive(reports[2], _report_compare.to_json(result))
    if args.format == "text":
        _render.terminal(doc, Console())
    else:
        print(_report_compare.to_json(result) if args.format == "json" else _render.RENDERERS[args.format](doc))
    log(f"report {', '.join(str(p) for p in reports)}")
    return EXIT_OK if result["outcome"] == _bisect.CULPRIT else EXIT_FOUND
