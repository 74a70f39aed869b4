"""Worker isolation: a worker that crashes or hangs gives failed records
naming the fault; the calling process carries on. And the overhead suite."""

import sys

import pytest

from nnbench import layers
from nnbench.measure.timing import TimingPolicy
from nnbench.results.case import Case
from nnbench.run import cases as _cases
from nnbench.run import group as _group
from nnbench.run import worker as _worker
from nnbench.run.options import RunOptions

CASES = [Case("mlp", "jax", "forward", "tiny"), Case("mlp", "nnx", "forward", "tiny")]


def _fake_python(tmp_path, body: str) -> str:
    script = tmp_path / "python"
    script.write_text("#!/bin/sh\n" + body + "\n")
    script.chmod(0o755)
    return str(script)


def test_worker_killed_by_signal_is_isolated(tmp_path, monkeypatch):
    monkeypatch.setattr(sys, "executable", _fake_python(tmp_path, "echo 'boom' >&2; kill -SEGV $$"))
    records = _worker.run_in_subprocess(CASES, TimingPolicy(), RunOptions(timeout=60))
    assert [r["id"] for r in records] == [c.id for c in CASES]
    assert all(r["status"] == "failed" and r["fault"] == "signal" and "SIGSEGV" in r["error"] for r in records)


def test_worker_exit_and_timeout_are_isolated(tmp_path, monkeypatch):
    monkeypatch.setattr(sys, "executable", _fake_python(tmp_path, "echo 'out of memory' >&2; exit 3"))
    (rec,) = _worker.run_in_subprocess(CASES[:1], TimingPolicy(), RunOptions(timeout=60))
    assert rec["fault"] == "exit" and "status 3" in rec["error"] and "out of memory" in rec["error"]
    monkeypatch.setattr(sys, "executable", _fake_python(tmp_path, "echo ready; exec sleep 30"))
    (rec,) = _worker.run_in_subprocess(CASES[:1], TimingPolicy(), RunOptions(timeout=0.5))
    assert rec["fault"] == "timeout" and rec["status"] == "failed"


def test_overhead_suite_lists_the_depth_sweep():
    cases = _cases.select("overhead")
    assert {c.layer for c in cases} == {"stack"}
    assert {c.style for c in cases} == set(layers.STYLES)
    assert {(c.mode, c.size) for c in cases} == {
        (m, s) for m in ("forward", "train") for s in ("d1", "d10", "d100", "d1000")
    } - {("train", "d1000")}
    entry = layers.get("stack")
    assert [entry.config(s)["depth"] for s in ("d1", "d10", "d100", "d1000")] == [1, 10, 100, 1000]


@pytest.mark.parametrize("size, leaves", [("d1", 2), ("d10", 20)])
def test_param_summary_counts_leaves(size, leaves):
    summary = _group._param_summary(layers.get("stack"), Case("stack", "jax", "forward", size))
    assert summary["param_leaves"] == leaves and summary["params"] == leaves // 2 * (4 * 4 + 4)
