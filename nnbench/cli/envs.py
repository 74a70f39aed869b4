"""``nnbench envs``: the cached environments (``pip:`` sides) and worktrees
(``git:`` sides), listed or pruned."""

from __future__ import annotations

import argparse

from nnbench.cli.common import EXIT_OK, BadInput
from nnbench.cli.common import positive as _positive

NAME = "envs"
HELP = "list or prune the cached environments of pip: sides and worktrees of git: sides"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("action", nargs="?", choices=("list", "prune"), default="list", help="list (default) or prune")
    p.add_argument(
        "--older-than",
        type=_positive(float, 36500, zero=True),
        metavar="DAYS",
        help="prune: only those unused for this many days",
    )
    p.add_argument("--all", action="store_true", help="prune: every one")


def command(args) -> int:
    from nnbench.run import envs as _envs

    if args.action == "list":
        if args.older_than is not None or args.all:
            raise BadInput("--older-than and --all go with prune")
        rows = _envs.entries()
        print(f"{len(rows)} cached in {_envs.cache_root()}")
        for e in rows:
            what = (
                e.get("commit", "")[:12] + f" of {e.get('repo')}"
                if e["kind"] == "git"
                else ",".join(e.get("requirements") or [])
            )
            versions = " ".join(f"{k}={v}" for k, v in (e.get("versions") or {}).items())
            state = f"used {e.get('used')}" if e["complete"] else "incomplete (a build cut short)"
            print(f"{e['kind']:4} {e['path']}\n     {what}; {state}" + (f"\n     {versions}" if versions else ""))
        return EXIT_OK
    if (args.older_than is None) == (not args.all):
        raise BadInput("prune needs --older-than DAYS or --all")
    removed = _envs.prune(None if args.all else args.older_than)
    for e in removed:
        print(f"removed {e['path']}")
    print(f"{len(removed)} removed")
    return EXIT_OK
