"""pytest-benchmark suite over the layer catalog (see ``test_catalog_bench.py``).

The ``jax_benchmark`` fixture comes from nnbench's pytest plugin; importing it
here makes the suite work from a plain checkout too (no entry point needed).
"""

from nnbench.integrations.pytest_plugin import jax_benchmark as jax_benchmark
