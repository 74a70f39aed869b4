"""``nnbench env``: this machine's environment fingerprint, as run files record it."""

from __future__ import annotations

import argparse
import json

from nnbench.cli.common import EXIT_OK

NAME = "env"
HELP = "print this machine's environment fingerprint"


def add_arguments(p: argparse.ArgumentParser) -> None:
    pass


def command(args) -> int:
    from nnbench.measure import env as _env

    print(json.dumps(_env.fingerprint(), indent=1))
    return EXIT_OK
