"""``nnbench profile-diff``: op-level diff of two profiles."""

from __future__ import annotations

import argparse

from nnbench.cli.common import EXIT_OK, BadInput
from nnbench.results import escape as _escape

NAME = "profile-diff"
HELP = "op-level diff of two profiles (summary.json files or their session folders)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("base", metavar="BASE")
    p.add_argument("cand", metavar="CANDIDATE")


def command(args) -> int:
    from nnbench.profile import capture as _profile

    try:
        base, cand = _profile.load_summary(args.base), _profile.load_summary(args.cand)
    except _profile.ProfileFileError as e:
        raise BadInput(str(e)) from None
    print(_escape.lines(_profile.format_diff(_profile.diff(base, cand))))
    return EXIT_OK
