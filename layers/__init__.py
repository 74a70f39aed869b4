"""The layer library: every layer and model in each API style, one catalog.

``layers`` knows nothing of nnbench. It describes *what to run*; nnbench
decides how to measure it.

>>> import layers
>>> entry = layers.get("mlp")
>>> sorted(entry.sizes)
['base', 'large', 'small', 'tiny']
"""

from layers._catalog import ALIASES as ALIASES
from layers._catalog import Entry as Entry
from layers._catalog import all_entries as all_entries
from layers._catalog import get as get
from layers._catalog import names as names
from layers._parity import ParityError as ParityError
from layers._parity import check_parity as check_parity
from layers._parity import parity_report as parity_report
from layers._styles import STYLES as STYLES
from layers._styles import Built as Built
from layers._styles import build as build
