"""Start worker processes and collect their records (the parent's side).

A group runs in a fresh worker process (``python -m nnbench.run.worker``)
so a crash, a hang or a memory blow-up costs one group, not the run. The
worker gets its request whole: the cases, the timing policy, the run's
``RunOptions`` and a ``WorkerTask`` (what this one process is for); a
worker that dies or outlives its time gives failed records naming how.
"""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from typing import Any

from nnbench.measure.timing import TimingPolicy
from nnbench.results.case import Case
from nnbench.run.group import base_record
from nnbench.run.options import RunOptions
from nnbench.run.scaling import child_env

STARTUP_TIMEOUT_S = 300.0  # importing JAX and the layer library, before any case's clock starts


@dataclasses.dataclass(frozen=True)
class WorkerTask:
    """What one worker process does with the run's options.

    ``run_file``: the run file its records go to (``--profile`` writes
    beside it); ``compile_only``: the warm-compile pass (``compile_pass``
    over ``RunOptions.compile_cache``) instead of measuring; ``stepped``: an
    ``nnbench ab`` side, one round per command on stdin; ``env_out``: a
    file for its environment fingerprint.
    """

    run_file: str | None = None
    compile_only: bool = False
    stepped: bool = False
    env_out: str | None = None


# Whether stepped workers are asked for the phased gates (a test turns it
# off to run the protocol of a side whose nnbench predates them).
PHASED = True


def run_in_subprocess(
    cases: Sequence[Case], policy: TimingPolicy, options: RunOptions | None = None, task: WorkerTask = WorkerTask()
) -> list[dict[str, Any]]:
    """Run ``cases`` as one group in a fresh worker process.

    The worker reads what it needs from ``options`` (``memory_limit``: bytes
    it may grow its address space by past its imports, ``RLIMIT_AS``;
    ``lower_for``; ``profile``: each ok case profiled after timing, beside
    ``task.run_file``; ``compile_cache``, used by a ``task.compile_only``
    pass) and ``task``. It runs with GPU preallocation disabled so device
    memory statistics are per use, and gets ``options.timeout`` per case.

    A worker that dies or outlives its time gives failed records naming the
    fault: ``fault`` is ``timeout``, ``signal`` (with ``signal``: its name),
    ``oom`` (out of memory under the limit) or ``exit``. The worker runs in
    its own session; on any exception here (``KeyboardInterrupt`` included)
    its whole process group is killed.
    """
    options = options or RunOptions()
    # The request and the records pass through unlinked temp files handed to
    # the worker as file descriptors: a runner killed by SIGKILL leaves
    # nothing in the temp directory (its worker dies with it).
    with tempfile.TemporaryFile("w+") as request, tempfile.TemporaryFile("w+") as out:
        proc = _spawn_fds(_request(cases, policy, options, task), cases, request, out)
        timeout_s = options.timeout
        limit = timeout_s * len(cases)
        t0 = time.perf_counter()
        try:
            # The per-case clock starts once the worker has imported JAX.
            phase = "start" if _Lines(proc).wait_for("", STARTUP_TIMEOUT_S) is None else "run"
            _, stderr = proc.communicate(timeout=limit if phase == "run" else 0.01)
        except subprocess.TimeoutExpired:
            _kill_group(proc)
            proc.communicate()
            return _faulted(cases, _timeout_message(phase, timeout_s, len(cases)), "timeout", time.perf_counter() - t0)
        except BaseException:
            _kill_group(proc)
            proc.wait()
            raise
        records = None
        if proc.returncode == 0:
            out.seek(0)
            text = out.read()
            records = json.loads(text) if text else None
        return _outcome(proc, stderr, records, cases, options.memory_limit, t0)


def _spawn_fds(job: dict[str, Any], cases: Sequence[Case], request, out) -> subprocess.Popen:
    """Start ``python -m nnbench.run.worker --fd N`` in its own session: its
    request read from open file ``request`` (descriptor N), its records
    written to open file ``out`` (``out_fd`` in the request)."""
    json.dump({**job, "out": None, "out_fd": out.fileno()}, request)
    request.flush()
    request.seek(0)  # the worker reads through the same open file, from here
    fds = (request.fileno(), out.fileno())
    return subprocess.Popen(
        [sys.executable, "-m", "nnbench.run.worker", "--fd", str(request.fileno())],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        env=_worker_env(cases),
        pass_fds=fds,
    )


def _request(cases: Sequence[Case], policy: TimingPolicy, options: RunOptions, task: WorkerTask) -> dict[str, Any]:
    """A worker's request, each value whole (read back by ``worker.read_request``)."""
    return {
        "cases": [c.to_dict() for c in cases],
        "policy": dataclasses.asdict(policy),
        "run_options": options.to_json(),
        "task": dataclasses.asdict(task),
        "parent": os.getpid(),
    }


def _worker_env(cases: Sequence[Case], path: str | None = None) -> dict[str, str]:
    env = {
        **(child_env(cases) or os.environ),
        "XLA_PYTHON_CLIENT_PREALLOCATE": "false",
    }  # virtual CPU devices for sharded cases
    if path is not None:
        env["PYTHONPATH"] = os.pathsep.join(p for p in (path, env.get("PYTHONPATH")) if p)
    return env


def _spawn(
    cases: Sequence[Case],
    policy: TimingPolicy,
    options: RunOptions,
    task: WorkerTask,
    tmp: str,
    python: str | None = None,
    path: str | None = None,
) -> tuple[subprocess.Popen, str]:
    """Write the request into ``tmp`` and start ``python -m nnbench.run.worker``
    on it in its own session: ``(process, path of its records file)``.

    ``python``: the interpreter (default: this one). ``path``: a checkout
    directory, the worker's working directory and first on its
    ``PYTHONPATH``, so its ``nnbench``, ``layers`` and user modules are the
    ones imported. A stepped worker (``task.stepped``) reads its
    commands from stdin and writes stderr to ``tmp/stderr``.
    """
    out_path = os.path.join(tmp, "records.json")
    request = {**_request(cases, policy, options, task), "out": out_path}
    # A side's nnbench may predate RunOptions: its worker reads this flat dict instead.
    request["options"] = {"memory_limit": options.memory_limit, "stepped": task.stepped, "env_out": task.env_out}
    # A stepped worker waits for "go" once it is ready (imports done): an ab
    # pair's two workers import at once and then compile one after the other.
    # A side whose nnbench predates the gate ignores the key and says plain
    # "ready"; one that predates the phases ("phases": it also waits before
    # its cold compiles, settling and warm-up) says "ready gated".
    request["gate"], request["phases"] = task.stepped, task.stepped and PHASED
    request_path = os.path.join(tmp, "request.json")
    with open(request_path, "w") as f:
        json.dump(request, f)
    env = _worker_env(cases, path)
    stepped = task.stepped
    err = open(os.path.join(tmp, "stderr"), "w") if stepped else subprocess.PIPE  # noqa: SIM115 - closed once the child has it
    try:
        proc = subprocess.Popen(
            [python or sys.executable, "-m", "nnbench.run.worker", request_path],
            stdin=subprocess.PIPE if stepped else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=err,
            text=True,
            start_new_session=True,
            env=env,
            cwd=path,
        )
    finally:
        if stepped:
            err.close()
    return proc, out_path


def _timeout_message(phase: str, timeout_s: float, n: int) -> str:
    if phase == "start":
        return f"timeout: the worker did not start within {STARTUP_TIMEOUT_S:g} s"
    return f"timeout: no result after {timeout_s * n:g} s ({timeout_s:g} s per case)"


def _outcome(
    proc: subprocess.Popen,
    stderr: str | None,
    records: list[dict[str, Any]] | None,
    cases: Sequence[Case],
    memory_limit: int | None,
    t0: float,
) -> list[dict[str, Any]]:
    """The records of a worker that has exited: its own (``records``, read
    by the caller when it exited 0), or failed ones naming how it died."""
    if proc.returncode == 0 and records is not None:
        return records
    lines = [line for line in (stderr or "").strip().splitlines() if line.strip()]
    tail = lines[-1].strip() if lines else ""
    oom_seen = any(m in (stderr or "") for m in ("MemoryError", "bad_alloc", "RESOURCE_EXHAUSTED", "Out of memory"))
    extra: dict[str, Any] = {}
    if proc.returncode < 0:
        name = signal.Signals(-proc.returncode).name
        msg, fault = f"worker killed by {name}", "signal"
        extra["signal"] = name
    else:
        msg, fault = f"worker exited with status {proc.returncode}", "exit"
    if oom_seen and memory_limit is not None:
        msg, fault = f"out of memory under --memory-limit {memory_limit} bytes ({msg})", "oom"
    return _faulted(cases, f"{msg}: {tail}" if tail else msg, fault, time.perf_counter() - t0, **extra)


class _Lines:
    """A worker's stdout, line by line, never blocking past a deadline."""

    def __init__(self, proc: subprocess.Popen):
        self.fd = proc.stdout.fileno()
        self.buf = b""
        self.last = ""  # the line the last successful ``wait_for`` matched

    def wait_for(self, prefix: str | tuple[str, ...], timeout_s: float) -> bool | None:
        """Skip lines until one starts with ``prefix`` (or one of them): True;
        False if stdout closed first (the worker exited); None if
        ``timeout_s`` passed."""
        import select

        deadline = time.monotonic() + timeout_s
        want = prefix.encode() if isinstance(prefix, str) else tuple(p.encode() for p in prefix)
        while True:
            while b"\n" in self.buf:
                line, self.buf = self.buf.split(b"\n", 1)
                if line.startswith(want):
                    self.last = line.decode(errors="replace")
                    return True
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            if select.select([self.fd], [], [], left)[0]:
                chunk = os.read(self.fd, 4096)
                if not chunk:
                    return False
                self.buf += chunk


def _kill_group(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)  # JAX catches SIGTERM
    except ProcessLookupError:
        pass


def _faulted(cases: Sequence[Case], error: str, fault: str, wall: float, **extra: Any) -> list[dict[str, Any]]:
    records = []
    for case in cases:
        rec = base_record(case)
        rec.update(error=error, fault=fault, group_wall_s=wall, **extra)
        records.append(rec)
    return records
