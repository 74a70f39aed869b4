"""The ``nnbench`` command. Exit codes: 0 success; 1 the job ran and found
something (a failed or invalid case, a regression); 2 the request was bad
(one line on stderr, no traceback, nothing written)."""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import socket
import sys
from pathlib import Path

EXIT_OK, EXIT_FOUND, EXIT_BAD_INPUT = 0, 1, 2


class BadInput(Exception):
    """The request itself was bad: exit 2 with this one-line message."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line, exit 2
        raise BadInput(message)


def _positive(kind):
    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
        if not value > 0 or value != value or value in (float("inf"),):
            raise argparse.ArgumentTypeError(f"must be a positive finite number: {text!r}")
        return value

    return parse


def _add_filters(p: argparse.ArgumentParser) -> None:
    p.add_argument("--suite", help="named selection: smoke, ci, nightly, gpu")
    for name in ("layer", "style", "mode", "size", "dtype"):
        p.add_argument(f"--{name}", action="append", metavar=name.upper(), help=f"only these {name}s (repeatable, comma-separated)")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="nnbench", description="Benchmark and profile JAX neural-network code across API styles.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    p = sub.add_parser("list", help="the cases a suite or filter selects")
    _add_filters(p)

    p = sub.add_parser("run", help="measure the selected cases, write a run file and a report")
    _add_filters(p)
    p.add_argument("--out", default="results", help="run file (*.json, must not exist) or directory (default: results/)")
    p.add_argument("--in-process", action="store_true", help="run cases in this process (debugging; no isolation)")
    p.add_argument("--timeout", type=_positive(float), default=600.0, help="per-case time limit in seconds (default 600)")
    p.add_argument("--budget", type=_positive(float), default=None, help="timing budget per case in seconds (default 1; the compile suite 0.05)")
    p.add_argument("--target-ci", type=_positive(float), default=0.01, help="stop once the median's 95%% CI is this narrow, relative (default 0.01)")
    p.add_argument("--min-samples", type=_positive(int), default=10, help="timed calls at least (default 10)")

    p = sub.add_parser("report", help="render one or more run files")
    p.add_argument("runs", nargs="+", metavar="RUN", help="run files or directories of them")
    p.add_argument("--format", choices=("text", "md", "html"), default="text")
    p.add_argument("--out", help="output file (md/html); must not exist")

    sub.add_parser("env", help="print this machine's environment fingerprint")
    return parser


def _resolve_out(out: str) -> Path:
    """The run file to create; checks writability before any case runs."""
    from nnbench import _results

    path = Path(out)
    if path.suffix != ".json":
        if path.exists() and not path.is_dir():
            raise BadInput(f"--out {out}: exists and is not a directory")
        try:
            path.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise BadInput(f"--out {out}: cannot create directory ({e.strerror})") from None
        stamp = _dt.datetime.now().strftime("%Y%m%dT%H%M%S")
        path = path / f"run-{stamp}-{socket.gethostname()}-{os.getpid()}.json"
    elif not path.parent.is_dir():
        raise BadInput(f"--out {out}: directory {path.parent} does not exist")
    if not os.access(path.parent, os.W_OK):
        raise BadInput(f"--out {out}: directory {path.parent} is not writable")
    try:
        _results.create_exclusive(path)
    except _results.RunFileError as e:
        raise BadInput(f"--out {e}") from None
    return path


def _select(args):
    from nnbench import _cases

    try:
        return _cases.select(args.suite, args.layer, args.style, args.mode, args.size, args.dtype)
    except _cases.SelectionError as e:
        raise BadInput(str(e)) from None


def cmd_list(args) -> int:
    for case in _select(args):
        print(case.id)
    return EXIT_OK


def cmd_run(args) -> int:
    from rich.console import Console

    from nnbench import _cases, _report, _runner
    from nnbench._timing import TimingPolicy

    cases = _select(args)
    budget = args.budget or (_cases.SUITES[args.suite].budget_s if args.suite else None) or 1.0
    policy = TimingPolicy(budget_s=budget, target_ci=args.target_ci, min_samples=args.min_samples)
    out = _resolve_out(args.out)
    console = Console()
    err = Console(stderr=True)
    err.print(f"nnbench: {len(cases)} cases -> {out}", highlight=False)
    try:
        data = _runner.run(cases, out, _runner.RunOptions(policy, args.in_process, args.timeout), argv=sys.argv, suite=args.suite, console=err)
    except KeyboardInterrupt:
        err.print(f"nnbench: interrupted; finished cases are kept in {out}", highlight=False)
        return 130
    _report.print_run(data, console)
    written = _report.write_markdown(out.with_suffix(".md"), [(out.name, data)])
    console.print(f"run file: {out}\nreport:   {', '.join(str(p) for p in written)}", highlight=False)
    bad = [r for r in data["records"] if r["status"] != "ok"]
    return EXIT_FOUND if bad else EXIT_OK


def cmd_report(args) -> int:
    from rich.console import Console

    from nnbench import _report, _results

    runs = []
    try:
        for item in args.runs:
            for f in _results.run_files(item):
                runs.append((f.name, _results.read_run(f)))
    except _results.RunFileError as e:
        raise BadInput(str(e)) from None
    if args.out and Path(args.out).exists():
        raise BadInput(f"--out {args.out}: already exists; refusing to overwrite it")
    if args.out and not Path(args.out).parent.is_dir():
        raise BadInput(f"--out {args.out}: directory {Path(args.out).parent} does not exist")
    if args.format == "text":
        console = Console(file=open(args.out, "x") if args.out else None)  # noqa: SIM115
        for name, run in runs:
            console.print(f"[bold]{name}[/bold]")
            _report.print_run(run, console)
        return EXIT_OK
    if args.format == "md":
        if args.out:
            written = _report.write_markdown(Path(args.out), runs)
            print("\n".join(str(p) for p in written))
        else:
            print(_report.markdown(runs))
        return EXIT_OK
    text = _report.html_report(runs)
    if args.out:
        Path(args.out).write_text(text)
        print(args.out)
    else:
        print(text)
    return EXIT_OK


def cmd_env(args) -> int:
    from nnbench import _env

    print(json.dumps(_env.fingerprint(), indent=1))
    return EXIT_OK


COMMANDS = {"list": cmd_list, "run": cmd_run, "report": cmd_report, "env": cmd_env}


def main(argv: list[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
        return COMMANDS[args.command](args)
    except BadInput as e:
        print(f"nnbench: error: {e}", file=sys.stderr)
        return EXIT_BAD_INPUT


if __name__ == "__main__":
    sys.exit(main())
