"""``nnbench list``: the ids of the cases a suite, a filter or a user's case list selects."""

from __future__ import annotations

import argparse

from nnbench.cli.common import EXIT_OK, add_filters, add_shard, select

NAME = "list"
HELP = "the cases a suite, a filter or a user's case list selects"


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_filters(p)
    p.add_argument(
        "--cases",
        metavar="MODULE:ATTR",
        help="list a user's list of nnbench.UserCase (mypkg.bench:CASES or bench.py:CASES)",
    )
    add_shard(p)


def command(args) -> int:
    for case in select(args):
        print(case.id)
    return EXIT_OK
