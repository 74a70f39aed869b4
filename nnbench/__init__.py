"""nnbench: benchmarking and profiling for JAX neural-network code.

Public API: ``measure`` (one jitted step -> one record), ``load`` (run files
-> pandas.DataFrame), ``TimingPolicy`` and ``UserCase`` (a
user's case for ``nnbench run --cases``). Everything else is private.
"""

from nnbench.measure.step import measure as measure
from nnbench.measure.timing import TimingPolicy as TimingPolicy
from nnbench.results.runfile import load as load
from nnbench.run.usercases import UserCase as UserCase

__version__ = "0.1.0"
