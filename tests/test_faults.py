"""Fault isolation: each fault kind injected into one case of one multi-case
run (``tests/user_cases/faulty.py``); every other case completes, the fault
is recorded with its kind and message, the run exits 1 and the report lists
every failure."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from nnbench.results import runfile as _results

TESTS = Path(__file__).parent
pytestmark = pytest.mark.slow  # one real run: eight cases, five worker processes, one 10 s timeout

FAST = ("--budget", "0.05", "--target-ci", "0.5", "--min-samples", "5")


def nnbench_in_tests(*args, timeout=600):
    """The real CLI, run from tests/ so ``user_cases.faulty`` imports (workers inherit the cwd)."""
    env = dict(
        os.environ, PYTHONPATH=os.pathsep.join(p for p in (str(TESTS.parent), os.environ.get("PYTHONPATH", "")) if p)
    )
    return subprocess.run(
        [sys.executable, "-m", "nnbench", *args], capture_output=True, text=True, cwd=TESTS, env=env, timeout=timeout
    )


@pytest.fixture(scope="module")
def fault_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("faults") / "run.json"
    proc = nnbench_in_tests(
        "run",
        "--cases",
        "user_cases.faulty:FAULTS",
        "--timeout",
        "10",
        "--memory-limit",
        "256M",
        *FAST,
        "--out",
        str(out),
    )
    return proc, _results.read_run(out), out


def _by_name(data):
    return {r["case"]["style"] if r["case"]["style"] != "user" else r["case"]["layer"]: r for r in data["records"]}


@pytest.mark.slow
def test_run_exits_1_and_every_case_is_recorded_once(fault_run):
    proc, data, _ = fault_run
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    assert sorted(_by_name(data)) == sorted(["ok1", "exception", "ok2", "segfault", "oom", "oom_step", "hang", "nan"])
    assert len(data["records"]) == 8 and data["finished"]


def test_healthy_cases_complete_beside_the_faults(fault_run):
    recs = _by_name(fault_run[1])
    for name in ("ok1", "ok2"):
        assert recs[name]["status"] == "ok" and recs[name]["time"]["median"] > 0
        assert recs[name]["case"]["source"] == "user_cases.faulty:FAULTS"
    # ok2 shared a worker with the segfault: it was retried in a process of its own.
    assert recs["ok2"]["interleaved_with"] == 1


@pytest.mark.parametrize(
    "name, fault, message",
    [
        ("exception", "exception", "RuntimeError: injected fault"),
        ("segfault", "signal", "worker killed by SIGSEGV"),
        ("oom", "oom", "MemoryError"),
        ("oom_step", "oom", "MemoryError: Unable to allocate"),  # inside the step: XLA re-raised the callback's error
        ("hang", "timeout", "timeout: no result after 10 s"),
    ],
)
def test_fault_recorded_with_kind_and_message(fault_run, name, fault, message):
    rec = _by_name(fault_run[1])[name]
    assert rec["status"] == "failed" and rec["fault"] == fault
    assert message in rec["error"]
    assert "time" not in rec
    if fault == "signal":
        assert rec["signal"] == "SIGSEGV"


def test_each_failure_is_one_console_line(fault_run):
    """The console names each failure on one line (an XLA error wrapping a
    callback's traceback was 35); the whole text stays in the record."""
    proc, data, _ = fault_run
    for r in data["records"]:
        if r["status"] != "ok":
            lines = [line for line in proc.stderr.splitlines() if r["id"] in line]
            assert len(lines) == 1, (r["id"], proc.stderr)
            assert "\n" not in r["error"]
    step_oom = _by_name(data)["oom_step"]
    assert "Traceback" in step_oom["traceback"] and "CpuCallback" in step_oom["traceback"]


def test_non_finite_output_is_invalid_not_a_timing(fault_run):
    rec = _by_name(fault_run[1])["nan"]
    assert rec["status"] == "invalid" and "non-finite" in rec["error"] and "time" not in rec


def test_reports_list_every_failure(fault_run):
    proc, data, out = fault_run
    md = out.with_suffix(".md").read_text()
    for r in data["records"]:
        if r["status"] != "ok":
            assert r["id"] in proc.stdout
            assert r["id"].replace("_", "\\_") in md
    assert "<script>" not in md
