"""``nnbench merge``: join the run files of one selection's shards
(``nnbench run --shard K/N`` on several machines) into one run file."""

from __future__ import annotations

import argparse
import sys

from nnbench.cli.common import EXIT_OK, BadInput
from nnbench.cli.output import out_file, writing

NAME = "merge"
HELP = "join the run files of a selection's shards into one run file"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("runs", nargs="+", metavar="RUN", help="run files (or directories of them) of the shards")
    p.add_argument("--out", required=True, help="the merged run file (*.json, must not exist)")


def command(args) -> int:
    from nnbench.results import merge as _merge
    from nnbench.results import runfile as _results

    parts = []
    try:
        for item in args.runs:
            for f in _results.run_files(item):
                parts.append((str(f), _results.read_run(f)))
        merged = _merge.merge_runs(parts, argv=["nnbench", *sys.argv[1:]])
    except _results.RunFileError as e:
        raise BadInput(str(e)) from None
    path = out_file(args.out)
    try:
        with writing(args.out, [path]):
            _results.create_exclusive(path, merged)
    except _results.RunFileError as e:
        raise BadInput(str(e)) from None
    print(f"nnbench: {len(parts)} runs, {len(merged['records'])} cases -> {args.out}")
    return EXIT_OK
