"""A --cases module whose case fails with terminal control sequences in its
error message: colour, OSC set-title, clear screen, C1 CSI, a bidi override."""

import nnbench

PAYLOAD = "\x1b[38;5;201mPINK\x1b]0;pwned\x07\x1b[2J\x9b31m\u202eevil"


def build():
    raise RuntimeError(f"hostile {PAYLOAD} message\nsecond line")


CASES = [nnbench.UserCase("hostile", build)]
