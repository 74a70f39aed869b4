"""The asv suite: its benchmark classes in-process on one tiny case, and a
real ``asv run`` on a throwaway git repository that must save a result."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def bench_catalog(tmp_path_factory):
    """The asv module. Its ``setup`` turns on JAX's persistent cache for the
    process (as asv's fresh process per benchmark wants): here it points at
    a temporary directory, never the user's ``~/.cache``."""
    from suites.asv import bench_catalog

    mp = pytest.MonkeyPatch()
    mp.setenv("JAX_COMPILATION_CACHE_DIR", str(tmp_path_factory.mktemp("asv-jax-cache")))
    yield bench_catalog
    mp.undo()


def test_params_come_from_the_catalog(bench_catalog):
    from nnbench import layers

    layer_names, styles, modes, dtypes = bench_catalog.PARAMS
    assert layer_names == layers.names() and styles == list(layers.STYLES)
    assert modes == ["init", "forward", "train"] and dtypes == ["float32"]
    assert bench_catalog.Step.param_names == ["layer", "style", "mode", "dtype"]


def test_step_and_program_on_one_case(bench_catalog):
    step = bench_catalog.Step()
    step.setup("mlp", "jax", "train", "float32")
    calls_before = step.case.prepared.lane.args[0]["params"]
    step.time_step("mlp", "jax", "train", "float32")  # donated state is carried
    assert step.case.prepared.lane.args[0]["params"] is not calls_before

    program = bench_catalog.Program()
    metrics = {("mlp", "jax", "forward", "float32"): bench_catalog._program_metrics("mlp", "jax", "forward", "float32")}
    program.setup(metrics, "mlp", "jax", "forward", "float32")
    assert program.track_compile_seconds(metrics, "mlp", "jax", "forward", "float32") > 0
    assert program.track_hlo_ops(metrics, "mlp", "jax", "forward", "float32") > 0
    assert program.track_xla_flops(metrics, "mlp", "jax", "forward", "float32") >= 2 * 8 * (16 * 32 + 32 * 32 + 32 * 8)
    assert program.track_compiled_memory_bytes(metrics, "mlp", "jax", "forward", "float32") > 0
    assert bench_catalog.Program.track_compile_seconds.unit == "seconds"
    with pytest.raises(NotImplementedError):  # asv shows a skipped case as n/a
        program.setup(metrics, "mlp", "haiku", "forward", "float32")


def test_mfu_is_skipped_without_a_known_peak(bench_catalog):
    with pytest.raises(NotImplementedError, match="peak FLOP/s"):
        bench_catalog.Utilisation().setup("mlp", "jax", "forward", "float32")


@pytest.mark.slow
def test_asv_run_saves_results(tmp_path):
    """``asv run`` for real (existing environment, this Python) on a throwaway
    repository holding the suite, one tiny benchmark selected."""
    repo = tmp_path / "repo"
    repo.mkdir()
    shutil.copy(ROOT / "asv.conf.json", repo)
    shutil.copytree(ROOT / "suites" / "asv", repo / "suites" / "asv", ignore=shutil.ignore_patterns("__pycache__"))
    env = dict(
        os.environ,
        HOME=str(tmp_path),  # asv's machine file lives in ~
        ASV_PYTHONPATH=str(ROOT),  # benchmarks import this checkout's nnbench
        JAX_COMPILATION_CACHE_DIR=str(tmp_path / "jax-cache"),
        NNBENCH_ASV_LAYERS="mlp",
        NNBENCH_ASV_STYLES="jax",
        NNBENCH_ASV_MODES="forward",
        GIT_AUTHOR_NAME="t",
        GIT_AUTHOR_EMAIL="t@example.com",
        GIT_COMMITTER_NAME="t",
        GIT_COMMITTER_EMAIL="t@example.com",
    )

    def run(*cmd: str) -> str:
        r = subprocess.run(cmd, cwd=repo, env=env, capture_output=True, text=True, timeout=300)
        assert r.returncode == 0, f"{cmd}: {r.stdout}\n{r.stderr}"
        return r.stdout

    run("git", "init", "-q")
    run("git", "add", "-A")
    run("git", "commit", "-qm", "suite")
    commit = run("git", "rev-parse", "HEAD").strip()
    asv = [sys.executable, "-m", "asv"]
    run(*asv, "machine", "--yes", "--machine", "nnbench-test")
    out = run(
        *asv, "run", "-E", f"existing:{sys.executable}", "--set-commit-hash", commit,
        "--bench", r"Step\.time_step", "-a", "rounds=1", "-a", "repeat=1", "-a", "warmup_time=0",
        "--machine", "nnbench-test", "--show-stderr",
    )  # fmt: skip
    saved = [p for p in (repo / ".asv" / "results" / "nnbench-test").glob("*.json") if p.name != "machine.json"]
    assert len(saved) == 1, out
    result = json.loads(saved[0].read_text())
    assert result["commit_hash"] == commit
    value = result["results"]["bench_catalog.Step.time_step"][0]
    assert value == [value[0]] and value[0] > 0, value  # one parameter set, one positive time
