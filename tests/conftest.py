"""Test setup: several virtual CPU devices (so sharding code runs here),
fast timing, and how tests spread over pytest-xdist's worker processes
(the README's test command runs ``pytest -n auto``)."""

import functools
import os
import subprocess
import sys
import tempfile
from pathlib import Path


def _xla_flags() -> str:
    """Four virtual CPU devices, and XLA compiling fast: without LLVM's
    optimisation and with XLA:CPU's older loop emitters instead of its MLIR
    fusion emitters (its HLO passes, fusion included, still run; the parity
    views compile this way in nnbench itself). The tests check what nnbench
    measures and computes, not how fast XLA's code is, and compiling is most
    of their time: -O0 cut tests/test_cli.py + tests/test_models.py 248 s ->
    175 s; the emitters tests/test_flops.py + test_models.py + test_roofline.py
    110-123 s -> 83-94 s (-n auto). An XLA that does not know the emitter
    flag aborts on it, so a child process tries it first (once: xdist's
    workers inherit the result)."""
    base = "--xla_force_host_platform_device_count=4 --xla_backend_optimization_level=0"
    fast = base + " --xla_cpu_use_fusion_emitters=false"
    probe = [sys.executable, "-c", "import jax; jax.numpy.zeros(1).block_until_ready()"]
    env = dict(os.environ, XLA_FLAGS=fast, JAX_PLATFORMS="cpu")
    ok = subprocess.run(probe, env=env, capture_output=True, timeout=300).returncode == 0
    return fast if ok else base


# Must happen before jax is imported anywhere.
if "XLA_FLAGS" not in os.environ:
    os.environ["XLA_FLAGS"] = _xla_flags()
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


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config, log):
    """Under pytest-xdist (``-n``) the work is spread test by test, except
    that a module defining a module-scoped fixture (a real run, a compiled
    catalog) goes whole to one worker, which builds the fixture once, and
    each catalog entry's parity tests share a worker (its bfloat16 report's
    float32 gate is then the float32 report already made, and the perturbed
    weights of its gate tests run through views already compiled). xdist's own
    ``--dist loadgroup`` cannot do this on pytest 9.2, where the node id it
    rewrites is read-only. (Handing the tests marked ``slow`` out first was
    tried: 6 min 37 s -> 9 min 07 s, as the multi-process ones then ran two
    at a time.)"""
    from xdist.scheduler import LoadScopeScheduling

    class Scheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            path, _, name = nodeid.partition("::")
            if name.startswith(("test_all_styles_match_jax[", "test_gate_catches_a_5_percent_weight_change[")):
                return "parity:" + name.split("[", 1)[1].rsplit("-", 1)[0]
            return path if _shares_module_fixture(path) else nodeid

    return Scheduling(config, log)


@functools.cache
def _shares_module_fixture(path: str) -> bool:
    return 'scope="module"' in (Path(__file__).parent.parent / path).read_text()
