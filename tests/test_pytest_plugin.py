"""The ``jax_benchmark`` fixture, driven from a user's own test file in a
separate pytest run: compile recorded and kept out of the rounds, state
carried, setup untimed, results in --benchmark-json, autosave and
--benchmark-compare-fail working."""

import json
import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

USER_TESTS = """
import os

import jax
import jax.numpy as jnp

N = int(os.environ.get("USER_N", "16"))


def _chain(x):
    for _ in range(20):
        x = jnp.tanh(x @ x)
    return {"cheap": x[0, 0], "y": x}


def test_user_step(jax_benchmark):
    out = jax_benchmark(jax.jit(_chain), jnp.ones((N, N)) / N, model_flops=20 * 2 * N**3)
    assert out["y"].shape == (N, N)


def test_setup_not_timed(jax_benchmark):
    step = jax.jit(lambda s: s * 2.0, donate_argnums=0)
    out = jax_benchmark(step, setup=lambda: (jnp.ones((N, N)),), rounds=5)
    assert float(out[0, 0]) == 2.0


def test_carry(jax_benchmark):
    step = jax.jit(lambda s, x: s + x, donate_argnums=0)
    out = jax_benchmark(step, jnp.zeros(4), jnp.ones(4), carry=lambda a, o: (o, a[1]), rounds=5, warmup_rounds=1)
    # first (compile-excluded) call + 1 warm-up round + 5 rounds, state threaded through
    assert float(out[0]) == 7.0


def test_catalog_case(jax_benchmark):
    from nnbench import layers
    import numpy as np

    out = jax_benchmark.case("mlp", "jax", "forward")
    built = layers.build(layers.get("mlp"), "linen", "tiny", "forward")  # the same weights through another library
    assert out.shape == (8, 8)  # tiny mlp: batch 8, last width 8
    np.testing.assert_allclose(np.asarray(out), np.asarray(built.step(*built.args)), rtol=1e-5, atol=1e-6)
"""

CONFTEST = "from nnbench.integrations.pytest_plugin import jax_benchmark as jax_benchmark\n"


def _pytest(tmp_path: Path, *args: str, n: int = 16) -> subprocess.CompletedProcess:
    # not as an xdist worker: pytest-benchmark turns itself off where it sees one
    outer = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_XDIST")}
    env = dict(outer, PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]), USER_N=str(n))
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-W",
            "error",
            "-p",
            "no:cacheprovider",
            "--benchmark-max-time=0.05",
            *args,
        ],  # fmt: skip
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.fixture(scope="module")
def user_project(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("user")
    (tmp / "test_user_model.py").write_text(USER_TESTS)
    (tmp / "conftest.py").write_text(CONFTEST)
    return tmp


def test_entry_point_registered():
    with open(ROOT / "pyproject.toml", "rb") as f:
        eps = tomllib.load(f)["project"]["entry-points"]["pytest11"]
    assert eps["nnbench"] == "nnbench.integrations.pytest_plugin"
    import nnbench.integrations.pytest_plugin as plugin

    assert "jax" not in plugin.__dict__  # loading the plugin must not import JAX


@pytest.mark.slow
def test_fixture_json_autosave_and_compare_fail(user_project):
    store = f"file://{user_project / 'store'}"
    r = _pytest(user_project, "--benchmark-json=out.json", "--benchmark-autosave", f"--benchmark-storage={store}")
    assert r.returncode == 0, r.stdout + r.stderr
    data = json.loads((user_project / "out.json").read_text())
    bench = {b["name"]: b for b in data["benchmarks"]}
    assert set(bench) == {"test_user_step", "test_setup_not_timed", "test_carry", "test_catalog_case"}
    info = bench["test_user_step"]["extra_info"]
    assert info["compile_s"] > 0 and info["trace_s"] > 0 and info["hlo_ops"] > 0
    assert info["xla_flops"] >= 20 * 2 * 16**3 * 0.9
    assert info["compiled_bytes"] > 0 and info["recompiles"] == 0
    assert info["mfu"] is None  # CPU: no known peak, never a guess
    assert bench["test_setup_not_timed"]["stats"]["rounds"] == 5
    assert bench["test_catalog_case"]["extra_info"]["model_flops"] > 0
    assert list((user_project / "store").rglob("*.json")), "autosave wrote nothing"

    # The same step 16x wider is >1000x the work: the compare gate must trip.
    r = _pytest(
        user_project,
        "-k",
        "test_user_step",
        f"--benchmark-storage={store}",
        "--benchmark-compare",
        "--benchmark-compare-fail=min:100%",
        n=256,
    )
    assert r.returncode == 1, r.stdout + r.stderr
    assert "Performance has regressed" in r.stdout + r.stderr
