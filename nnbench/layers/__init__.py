"""The layer library: every layer and model in each API style, one catalog.

``layers`` knows nothing of nnbench. It describes *what to run*; nnbench
decides how to measure it.

>>> from nnbench import layers
>>> entry = layers.get("mlp")
>>> sorted(entry.sizes)
['base', 'large', 'small', 'tiny']
"""

from nnbench.layers.catalog import ALIASES as ALIASES
from nnbench.layers.catalog import Entry as Entry
from nnbench.layers.catalog import all_entries as all_entries
from nnbench.layers.catalog import get as get
from nnbench.layers.catalog import import_styles as import_styles
from nnbench.layers.catalog import names as names

# The styles and the parity check import Flax, Haiku and optax (half a second
# and more): they load on first use, so a worker timing only user cases, or a
# command that never builds a layer, does not pay for them.
_LAZY = {
    "ParityError": "parity",
    "check_parity": "parity",
    "parity_report": "parity",
    "STYLES": "styles",
    "Built": "styles",
    "build": "styles",
}


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f"nnbench.layers.{_LAZY[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
