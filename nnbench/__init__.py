"""nnbench: benchmarking and profiling for JAX neural-network code.

Public API: ``measure`` (one jitted step -> one record), ``load`` (run files
-> pandas.DataFrame), ``TimingPolicy`` and ``UserCase`` (a
user's case for ``nnbench run --cases``). Everything else is private.

``measure`` and ``TimingPolicy`` are imported on first use: they bring jax,
which commands that only read run files (``report``, ``compare``,
``merge``, ``history``) never need (about a second of every such command's
start-up).
"""

import importlib

from nnbench.results.runfile import load as load
from nnbench.run.usercases import UserCase as UserCase

# The subpackage nnbench.measure shares the function's name. Imported here,
# first, its import binds the name now (a first import later would bind it
# over the function); unbound again, the name is the function's (__getattr__).
importlib.import_module("nnbench.measure")
del globals()["measure"]

__version__ = "0.1.0"
__all__ = ["TimingPolicy", "UserCase", "load", "measure"]

_LAZY = {"measure": "nnbench.measure.step", "TimingPolicy": "nnbench.measure.timing"}


def __getattr__(name: str):
    if name not in _LAZY:
        raise AttributeError(f"module 'nnbench' has no attribute {name!r}")
    value = getattr(importlib.import_module(_LAZY[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})
