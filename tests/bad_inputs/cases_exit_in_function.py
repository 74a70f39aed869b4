"""A --cases module whose list function ends the process."""

import sys


def CASES():  # noqa: N802 - the attribute --cases names
    sys.exit(3)
