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
from nnbench.layers.catalog import names as names
from nnbench.layers.parity import ParityError as ParityError
from nnbench.layers.parity import check_parity as check_parity
from nnbench.layers.parity import parity_report as parity_report
from nnbench.layers.styles import STYLES as STYLES
from nnbench.layers.styles import Built as Built
from nnbench.layers.styles import build as build
