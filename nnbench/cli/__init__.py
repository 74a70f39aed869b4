"""The ``nnbench`` command. Exit codes: 0 success; 1 the job ran and found
something (a failed or invalid case, a regression); 2 the request was bad
(one line on stderr, no traceback, nothing written).

Each verb is a module of this package defining ``NAME``, ``HELP``,
``add_arguments(parser)`` and ``command(args) -> exit code``; ``VERBS``
lists them in the order ``nnbench --help`` shows. What they share (the
one-line refusal, value checks, filters, formats) is in ``common``, and
the output-path rules in ``output``.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys

from nnbench.cli import (
    ab,
    bisect,
    calibrate,
    compare,
    env,
    envs,
    history,
    listing,
    merge,
    profile,
    profile_diff,
    report,
    run,
)
from nnbench.cli.common import EXIT_BAD_INPUT, EXIT_PIPE, BadInput, Parser, refuse_empty
from nnbench.results import escape as _escape

VERBS = (listing, run, merge, report, compare, ab, bisect, history, calibrate, env, envs, profile, profile_diff)
COMMANDS = {verb.NAME: verb.command for verb in VERBS}

__all__ = ["COMMANDS", "VERBS", "BadInput", "build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="nnbench", description="Benchmark and profile JAX neural-network code across API styles.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=Parser)
    for verb in VERBS:
        verb.add_arguments(sub.add_parser(verb.NAME, help=verb.HELP))
    refuse_empty(parser)
    return parser


def main(argv: list[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
        code = COMMANDS[args.command](args)
        sys.stdout.flush()  # a reader that left shows here, not as a traceback at exit
        return code
    except BadInput as e:
        print(f"nnbench: error: {_escape.visible(e)}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("nnbench: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        _drop_stdout()
        return EXIT_PIPE


def _drop_stdout() -> None:
    """Point stdout at /dev/null: its reader is gone, and the interpreter's
    final flush must not raise again (the recipe of Python's ``signal`` docs)."""
    with contextlib.suppress(OSError, ValueError, AttributeError):
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


if __name__ == "__main__":
    sys.exit(main())
