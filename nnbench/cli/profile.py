"""``nnbench profile``: capture an XLA profile of one catalog case; print its top ops and how to view it."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from nnbench.cli.common import EXIT_OK, BadInput, positive
from nnbench.results import escape as _escape

NAME = "profile"
HELP = "capture an XLA profile of one case; print its top ops and how to view it"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "case", metavar="CASE", help="a case id: layer/style/mode/size/dtype, e.g. mlp/jax/train/small/float32"
    )
    p.add_argument(
        "--logdir",
        default="profiles",
        help="profile log folder (default: profiles/); each capture is a new session in it",
    )
    p.add_argument("--steps", type=positive(int), default=5, help="steps captured after warm-up (default 5)")
    p.add_argument("--top", type=positive(int), default=15, help="ops shown (default 15)")


def _case_from_id(text: str):
    """The one catalog case a case id names, else ``BadInput``."""
    from nnbench.run import cases as _cases

    parts = text.strip("/").split("/")
    if len(parts) != 5:
        raise BadInput(f"case {text!r}: expected layer/style/mode/size/dtype, e.g. mlp/jax/train/small/float32")
    try:
        (case,) = _cases.select(None, *([p] for p in parts))
    except (_cases.SelectionError, ValueError) as e:
        raise BadInput(f"case {text!r}: {e}") from None
    return case


def command(args) -> int:
    from nnbench.profile import capture as _profile

    case = _case_from_id(args.case)
    logdir = Path(args.logdir)
    try:
        logdir.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise BadInput(f"--logdir {args.logdir}: cannot create directory ({e.strerror or e})") from None
    if not os.access(logdir, os.W_OK):
        raise BadInput(f"--logdir {args.logdir}: not writable")
    print(f"nnbench: profiling {case.id} ({args.steps} steps after warm-up) -> {logdir}", file=sys.stderr)
    prof = _profile.profile_case(case, logdir, steps=args.steps)
    summary = _profile.load_summary(prof["summary"])
    print(_escape.lines(_profile.format_summary(summary, k=args.top, title=f"top XLA ops by self time: {case.id}")))
    print(f"profile:  {prof['session']}\nhlo:      {prof['hlo']}\njaxpr:    {prof['jaxpr']}")
    xprof_cmd, tensorboard_cmd = _profile.view_commands(logdir)
    print(
        f"view:     {xprof_cmd}\n          {tensorboard_cmd}   "
        "(TensorBoard needs tensorboard + tensorboard-plugin-profile)"
    )
    return EXIT_OK
