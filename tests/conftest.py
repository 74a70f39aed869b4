"""Test setup: several virtual CPU devices (so sharding code runs here), a
shared persistent compilation cache, and fixtures for compiled steps."""

import os
import tempfile

# Must happen before jax is imported anywhere.
os.environ.setdefault("XLA_FLAGS", "--xla_force_host_platform_device_count=4")
os.environ.setdefault("JAX_PLATFORMS", "cpu")
# A user's stored calibration (nnbench calibrate) must not reach the tests: each
# session gets an empty cache (tests that calibrate point it elsewhere again).
os.environ["XDG_CACHE_HOME"] = tempfile.mkdtemp(prefix="nnbench-test-cache-")

import jax  # noqa: E402
import pytest  # noqa: E402

from nnbench import TimingPolicy  # noqa: E402

# Fast timing for tests: correctness of the machinery, not precise numbers.
FAST = TimingPolicy(min_samples=5, budget_s=0.05, warmup_budget_s=0.05, settle_s=0.0, target_ci=0.5)


@pytest.fixture(scope="session")
def fast_policy() -> TimingPolicy:
    return FAST


@pytest.fixture(scope="session")
def tmp_results(tmp_path_factory):
    return tmp_path_factory.mktemp("results")


def pytest_configure(config):
    assert jax.device_count() >= 4, "tests expect 4 virtual CPU devices"
    tempfile.gettempdir()
