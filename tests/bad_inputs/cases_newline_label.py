"""A --cases module whose case name ends in a newline (``$`` in a label
regex would let it through and make a case id with a line break)."""

import nnbench


def build():
    raise AssertionError("never built: the label is refused first")


CASES = [nnbench.UserCase("tanh\n", build)]
