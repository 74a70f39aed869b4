"""A --cases module that ends the process while being imported."""

import sys

sys.exit(0)
