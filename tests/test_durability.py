"""Durability: a run killed with SIGKILL keeps every finished case, leaves
nothing in the temp directory, and ``--resume`` completes it (leaving no lock
file); Ctrl-C and SIGTERM stop the workers, keep what finished and say how
to resume (exit 130, 143); two runs into one folder both end intact; the
parent's memory is recorded at start and end."""

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from nnbench.results import runfile as _results

TESTS = Path(__file__).parent
FAST = ("--budget", "0.02", "--target-ci", "0.9", "--min-samples", "3")


def _env(**extra):
    path = os.pathsep.join(p for p in (str(TESTS.parent), os.environ.get("PYTHONPATH", "")) if p)
    return dict(os.environ, PYTHONPATH=path, **extra)


# ``python -m nnbench`` with SIGINT raising KeyboardInterrupt, as in a
# terminal: a shell that runs this test suite in the background hands its
# children SIGINT ignored, and a Python started so never raises it.
_WITH_SIGINT = (
    "import runpy, signal; signal.signal(signal.SIGINT, signal.default_int_handler); "
    "runpy.run_module('nnbench', run_name='__main__', alter_sys=True)"
)


def start(out, *args, **env):
    """The real CLI over ``user_cases.faulty:MANY`` (NNBENCH_TEST_CASES cases, 4 per worker)."""
    argv = [
        sys.executable,
        "-c",
        _WITH_SIGINT,
        "run",
        "--cases",
        "user_cases.faulty:MANY",
        *FAST,
        "--out",
        str(out),
        *args,
    ]
    return subprocess.Popen(argv, cwd=TESTS, env=_env(**env), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_for_records(path, n, proc, timeout=300):
    """Poll the run file (as any reader would) until it holds ``n`` records."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()
        if path.exists() and path.stat().st_size:
            data = _results.read_run(path)  # never partial: written atomically
            if len(data["records"]) >= n:
                return data
        time.sleep(0.05)
    raise AssertionError(f"no {n} records in {timeout} s")


def processes_marked(mark):
    """Live processes whose environment carries ``mark`` (the run's workers inherit it)."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            if mark.encode() in Path(f"/proc/{pid}/environ").read_bytes():
                state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
                if state != "Z":
                    found.append(int(pid))
        except OSError:
            continue
    return found


def gone(mark, timeout=30):
    deadline = time.monotonic() + timeout
    while processes_marked(mark) and time.monotonic() < deadline:
        time.sleep(0.1)
    return not processes_marked(mark)


@pytest.mark.slow
def test_sigkill_keeps_finished_cases_and_resume_completes(tmp_path):
    out, mark = tmp_path / "run.json", f"NNBENCH_TEST_MARK={uuid.uuid4()}"
    temp = tmp_path.parent / f"{tmp_path.name}-tmpdir"
    temp.mkdir()
    env = {"NNBENCH_TEST_CASES": "8", "NNBENCH_TEST_MARK": mark, "TMPDIR": str(temp)}
    proc = start(out, **env)
    wait_for_records(out, 4, proc)
    proc.kill()  # SIGKILL mid-run: the second worker is busy
    proc.communicate()
    data = _results.read_run(out)
    assert len(data["records"]) == 4 and data["finished"] is None
    assert all(r["status"] == "ok" for r in data["records"])
    assert gone(mark), [Path(f"/proc/{p}/cmdline").read_bytes() for p in processes_marked(mark)]
    assert [p.name for p in tmp_path.iterdir()] == ["run.json"]  # no temp files left
    assert list(temp.iterdir()) == []  # nor the workers' requests: they travel as unlinked files

    resumed = subprocess.run(
        [sys.executable, "-m", "nnbench", "run", "--resume", str(out)],
        cwd=TESTS,
        env=_env(**env),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert resumed.returncode == 0, resumed.stderr
    assert "4 cases kept, 4 to run" in resumed.stderr
    final = _results.read_run(out)
    ids = [r["id"] for r in final["records"]]
    assert ids == [f"g{i // 4:03d}/c{i:03d}/forward/default/float32" for i in range(8)]
    assert final["finished"] and len(final["resumed"]) == 1
    assert final["request"]["budget"] == 0.02  # the first run's options were reused
    assert not [p.name for p in tmp_path.iterdir() if p.name.endswith(".lock")]  # the resume lock is gone


@pytest.mark.slow
@pytest.mark.parametrize(
    "sig, code, said",
    [(signal.SIGINT, 130, ""), (signal.SIGTERM, 128 + signal.SIGTERM, "terminated (SIGTERM)")],
    ids=["ctrl-c", "sigterm"],
)
def test_a_stop_signal_stops_workers_keeps_results_and_says_how_to_resume(tmp_path, sig, code, said):
    out, mark = tmp_path / "run.json", f"NNBENCH_TEST_MARK={uuid.uuid4()}"
    proc = start(out, NNBENCH_TEST_CASES="8", NNBENCH_TEST_MARK=mark)
    wait_for_records(out, 4, proc)
    proc.send_signal(sig)
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == code, stderr
    assert said in stderr and f"resume with: nnbench run --resume {out}" in stderr and "Traceback" not in stderr
    assert gone(mark), f"workers survived {sig.name}"
    data = _results.read_run(out)
    assert len(data["records"]) >= 4 and all(r["status"] == "ok" for r in data["records"])


def test_resume_lock_is_exclusive_and_leaves_no_file(tmp_path):
    from nnbench.cli.common import BadInput
    from nnbench.cli.run import hold_lock as _lock

    run = tmp_path / "run.json"
    run.write_text("{}")
    held = _lock(run)
    assert (tmp_path / ".run.json.lock").exists()
    with pytest.raises(BadInput, match="another nnbench is writing"):
        _lock(run)
    held.close()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run.json"]
    _lock(run).close()  # free again


@pytest.mark.slow
def test_two_runs_into_one_folder_both_end_intact(tmp_path):
    a = start(tmp_path, NNBENCH_TEST_CASES="4")
    b = start(tmp_path, NNBENCH_TEST_CASES="4")
    for p in (a, b):
        p.communicate(timeout=600)
        assert p.returncode == 0
    runs = sorted(tmp_path.glob("*.json"))
    assert len(runs) == 2
    for run in runs:
        data = _results.read_run(run)
        assert len(data["records"]) == 4 and data["finished"]
        assert run.with_suffix(".md").exists()
        rss = data["parent_rss"][0]
        assert rss["start_bytes"] > 0 and rss["end_bytes"] > 0


def test_loading_never_executes_strings(tmp_path):
    """Run files are JSON data: code-looking strings stay strings."""
    import nnbench

    payload = "__import__('os').system('touch " + str(tmp_path / "PWNED") + "')"
    run = _results.new_run({"device_kind": payload, "host": "{{7*7}}"}, argv=[payload])
    run["records"] = [
        {
            "id": payload,
            "case": {"layer": payload, "style": "jax", "mode": "forward", "size": "tiny", "dtype": "float32"},
            "status": "failed",
            "error": payload,
        }
    ]
    path = tmp_path / "run.json"
    path.write_text(json.dumps(run))
    df = nnbench.load(path)
    assert df["id"][0] == payload and not (tmp_path / "PWNED").exists()


def test_claimed_run_file_is_readable_from_the_start(tmp_path):
    """A run killed right after claiming its file still leaves a valid (empty) run."""
    path = tmp_path / "run.json"
    _results.create_exclusive(path)
    assert _results.read_run(path)["records"] == []
    assert [p.name for p in tmp_path.iterdir()] == ["run.json"]


def test_run_files_are_world_readable(tmp_path):
    """Atomic writes go through a private temp file; the result is not left private."""
    path = tmp_path / "run.json"
    _results.create_exclusive(path)
    assert path.stat().st_mode & 0o777 == 0o644
    _results.write_atomic(path, _results.new_run({}))
    assert path.stat().st_mode & 0o777 == 0o644
