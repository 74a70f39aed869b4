"""A stepped worker: one side of ``nnbench ab``, sampling one round per command."""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
import time
from collections.abc import Sequence
from typing import Any

from nnbench.measure.timing import TimingPolicy
from nnbench.results.case import Case
from nnbench.run.options import RunOptions
from nnbench.run.spawn import (
    STARTUP_TIMEOUT_S,
    WorkerTask,
    _faulted,
    _kill_group,
    _Lines,
    _outcome,
    _spawn,
    _timeout_message,
)


class SteppedWorker:
    """One side of ``nnbench ab``: a worker that prepares its group as
    ``run_group`` does (parity, build, compile, warm-up), says ``sampling``,
    then runs one round of its lanes per ``step()``; ``finish()`` stops it
    and returns its records. Faults (death, timeouts) become failed records
    as in ``run_in_subprocess``. Use as a context manager: leaving it kills
    the worker's process group if it still runs.
    """

    def __init__(
        self,
        cases: Sequence[Case],
        policy: TimingPolicy,
        options: RunOptions | None = None,
        python: str | None = None,
        path: str | None = None,
    ):
        options = options or RunOptions()
        self.cases, self.timeout_s, self.memory_limit = list(cases), options.timeout, options.memory_limit
        self._tmp = tempfile.TemporaryDirectory(prefix="nnbench-ab-")
        self.env_path = os.path.join(self._tmp.name, "env.json")
        task = WorkerTask(stepped=True, env_out=self.env_path)
        self.proc, self.out_path = _spawn(cases, policy, options, task, self._tmp.name, python, path)
        self.lines = _Lines(self.proc)
        self.t0 = time.perf_counter()
        self.fault: str | None = None  # a timeout message, once one happened
        self.sampling = False
        self._ready: bool | None = None  # whether it finished importing (None: not asked yet)
        self.gated = False  # it waits for "go" before preparing
        self.phased = False  # it also waits before its cold compiles, settling and warm-up
        self.at: str | None = None  # the phase it waits to be let into ("go", "compile", "settle", "warm")
        self.running = False  # let into a phase, not yet at its next gate

    def __enter__(self) -> SteppedWorker:
        return self

    def __exit__(self, *exc) -> None:
        if self.proc.poll() is None:
            _kill_group(self.proc)
            self.proc.wait()
        for pipe in (self.proc.stdin, self.proc.stdout):
            try:
                pipe.close()
            except OSError:  # a broken pipe's flush
                pass
        self._tmp.cleanup()

    def wait_ready(self) -> bool:
        """Wait until the worker has imported its libraries: True; False when
        it ended or timed out first (``finish`` tells). A worker that says
        ``ready gated`` then waits for ``go`` before it prepares anything, one
        that says ``ready phased`` also before its cold compiles, settling
        and warm-up (``at compile``, ``at settle``, ``at warm``; ``release``
        lets it on); one whose nnbench predates the gate goes straight on."""
        if self._ready is None:
            got = self.lines.wait_for("ready", STARTUP_TIMEOUT_S)
            if got is None:
                self._timed_out("start")
            self._ready = bool(got)
            said = self.lines.last.split()[1:]
            self.gated = self._ready and said in (["gated"], ["phased"])
            self.phased = self._ready and said == ["phased"]
            self.at = "go" if self.gated else None
        return self._ready

    def release(self, phase: str) -> bool:
        """Let the worker into ``phase``, the gate it waits at (``self.at``):
        False when it has ended."""
        if self.at != phase:
            raise RuntimeError(f"the worker waits at {self.at!r}, not {phase!r}")
        self.at = None
        self.running = self._send(phase)
        return self.running

    def wait_gate(self) -> bool:
        """Wait until the worker reaches its next gate (``self.at``) or is
        ready to sample (``self.sampling``): True; False when it ended first
        (nothing to time, or it died; ``finish`` tells)."""
        got = self.lines.wait_for(("at ", "sampling"), self.timeout_s * len(self.cases))
        self.running = False
        if got is None:
            self._timed_out("run")
        if not got:
            return False
        if self.lines.last.startswith("at "):
            self.at = self.lines.last.split()[1]
        else:
            self.sampling = True
        return True

    def wait_sampling(self) -> bool:
        """Let the worker prepare its group alone, through every gate, and
        wait until it is ready to sample: True; False when it ended first."""
        if not self.wait_ready():
            return False
        while not self.sampling:
            if self.at is not None and not self.release(self.at):
                return False
            if not self.wait_gate():
                return False
        return True

    def _send(self, line: str) -> bool:
        try:
            self.proc.stdin.write(line + "\n")
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError):
            return False
        return True

    def step(self) -> bool:
        """One round of every lane: True when done, False when the worker ended."""
        if not self.sampling:
            return False
        if not self._send("round"):
            self.sampling = False
            return False
        got = self.lines.wait_for("done", self.timeout_s)
        if got is None:
            self._timed_out("run")
        self.sampling = bool(got)
        return self.sampling

    def stop(self) -> None:
        """Tell the worker to stop sampling and write its records (``finish``
        collects them): both sides of a pair stop at once."""
        if self.fault is None and not self.proc.stdin.closed:
            try:
                self.proc.stdin.write("stop\n")
                self.proc.stdin.close()
            except (BrokenPipeError, OSError):
                pass

    def finish(self) -> list[dict[str, Any]]:
        """Stop sampling, let the worker write its records, return them."""
        if self.fault is None:
            self.stop()
            try:
                self.proc.wait(timeout=self.timeout_s * len(self.cases))
            except subprocess.TimeoutExpired:
                self._timed_out("run")
        if self.fault is not None:
            return _faulted(self.cases, self.fault, "timeout", time.perf_counter() - self.t0)
        with open(os.path.join(self._tmp.name, "stderr")) as f:
            stderr = f.read()
        records = None
        if self.proc.returncode == 0 and os.path.exists(self.out_path):
            with open(self.out_path) as f:
                records = json.load(f)
        return _outcome(self.proc, stderr, records, self.cases, self.memory_limit, self.t0)

    def env(self) -> dict[str, Any] | None:
        """The worker's environment fingerprint (once it finished), if it wrote one."""
        try:
            with open(self.env_path) as f:
                return json.load(f)
        except (OSError, ValueError):
            return None

    def _timed_out(self, phase: str) -> None:
        _kill_group(self.proc)
        self.proc.wait()
        self.sampling = False
        self.fault = _timeout_message(phase, self.timeout_s, len(self.cases))
