"""The nightly CI recipe (examples/ci/nightly.sh, called by nightly.yml) run
locally on two small runs: first night makes the baseline, second compares."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "examples" / "ci" / "nightly.sh"
SMALL = "--layer mlp --style jax --mode forward --size tiny --dtype float32 --in-process --budget 0.05 --min-samples 3 --target-ci 0.5"


def _has_compare() -> bool:
    r = subprocess.run(
        [sys.executable, "-m", "nnbench", "compare", "--help"], capture_output=True, env=_env(), timeout=120
    )
    return r.returncode == 0


def _env(**extra: str) -> dict[str, str]:
    return dict(
        os.environ,
        PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
        NNBENCH=f"{sys.executable} -m nnbench",
        NNBENCH_RUN_ARGS=SMALL,
        **extra,
    )


def _night(out: Path, prev: Path | None, summary: Path) -> subprocess.CompletedProcess:
    args = ["bash", str(SCRIPT), str(out)] + ([str(prev)] if prev else [])
    return subprocess.run(args, env=_env(GITHUB_STEP_SUMMARY=str(summary)), capture_output=True, text=True, timeout=400)


def test_workflow_calls_the_script():
    workflow = (ROOT / "examples" / "ci" / "nightly.yml").read_text()
    assert "examples/ci/nightly.sh out prev/run.json" in workflow
    assert "name: nightly-run" in workflow  # the artifact the next night downloads


@pytest.mark.slow
def test_two_nights(tmp_path):
    summary = tmp_path / "summary.md"
    first = _night(tmp_path / "night1", None, summary)
    assert first.returncode == 0, first.stdout + first.stderr
    for name in ("run.json", "report.md", "report.html"):
        assert (tmp_path / "night1" / name).stat().st_size > 0, name
    assert "baseline" in first.stderr
    assert "mlp" in summary.read_text()

    if not _has_compare():
        pytest.skip("`nnbench compare` is not in this build yet (issue 7); first night checked")
    second = _night(tmp_path / "night2", tmp_path / "night1" / "run.json", summary)
    # 1 is a legitimate answer (a regression on a noisy machine); 2 is not.
    assert second.returncode in (0, 1), second.stdout + second.stderr
    assert (tmp_path / "night2" / "compare.md").stat().st_size > 0
    assert summary.read_text().count("mlp") >= 2
