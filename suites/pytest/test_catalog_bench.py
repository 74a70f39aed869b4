"""pytest-benchmark suite generated from the layer catalog: one benchmark per
layer × style × mode (× dtype), at a CPU-friendly size by default.

    pytest suites/pytest --benchmark-only
    pytest suites/pytest --benchmark-autosave                  # keep a run
    pytest suites/pytest --benchmark-compare --benchmark-compare-fail=median:25%

Environment: ``NNBENCH_PYTEST_SIZE`` (default ``tiny``), ``NNBENCH_PYTEST_DTYPES``
(comma-separated, default ``float32``). Compile seconds, XLA FLOPs and
compiled memory bytes of each case are in the run's ``extra_info``.
"""

import itertools
import os

import pytest

from nnbench import layers
from nnbench.layers.catalog import MODES

SIZE = os.environ.get("NNBENCH_PYTEST_SIZE", "tiny")
DTYPES = [d.strip() for d in os.environ.get("NNBENCH_PYTEST_DTYPES", "float32").split(",") if d.strip()]

CASES = [
    pytest.param(layer, style, mode, dtype, id=f"{layer}-{style}-{mode}-{dtype}")
    for layer, style, mode, dtype in itertools.product(layers.names(), layers.STYLES, MODES, DTYPES)
    if SIZE in layers.get(layer).sizes
]


@pytest.mark.parametrize(("layer", "style", "mode", "dtype"), CASES)
def test_step(jax_benchmark, layer: str, style: str, mode: str, dtype: str) -> None:
    jax_benchmark.benchmark.group = f"{layer}/{mode}/{SIZE}/{dtype}"
    out = jax_benchmark.case(layer, style, mode, SIZE, dtype)
    assert out is not None
