"""The worker process: ``python -m nnbench.run.worker REQUEST`` (or
``--fd N``, the request handed over as an open file) measures one group of
cases and writes their records.

Its request holds each value whole (``spawn._request``): the cases, the
timing policy, the run's ``RunOptions`` and this process's ``WorkerTask``;
what the worker does it reads from their attributes. The parent's side
(``run_in_subprocess``, ``SteppedWorker``) and the in-process measurement
(``run_group``) live in ``spawn``, ``stepped`` and ``group``; their names
are re-exported here, where ``nnbench ab``'s handshake looks for them.
"""

from __future__ import annotations

import json
import os
import signal
import sys
from typing import Any

from nnbench.measure.stages import enable_compile_cache
from nnbench.measure.timing import TimingPolicy
from nnbench.results.case import Case
from nnbench.run.group import base_record as base_record
from nnbench.run.group import compile_pass, group_key, run_group, run_groups
from nnbench.run.options import DEFAULT_TIMEOUT_S as DEFAULT_TIMEOUT_S
from nnbench.run.options import RunOptions, profile_dir
from nnbench.run.spawn import STARTUP_TIMEOUT_S as STARTUP_TIMEOUT_S
from nnbench.run.spawn import WorkerTask, run_in_subprocess
from nnbench.run.stepped import SteppedWorker

__all__ = [
    "DEFAULT_TIMEOUT_S",
    "SteppedWorker",
    "WorkerTask",
    "enable_compile_cache",
    "group_key",
    "run_group",
    "run_groups",
    "run_in_subprocess",
]


def read_request(request: dict[str, Any]) -> tuple[list[Case], TimingPolicy, RunOptions, WorkerTask]:
    """A request's values, whole. One from an ``nnbench ab`` parent that
    predates ``RunOptions`` (a flat ``options`` dict) is read as it meant."""
    cases = [Case.from_dict(c) for c in request["cases"]]
    policy = TimingPolicy(**request["policy"])
    if "run_options" in request:
        return cases, policy, RunOptions.from_json(request["run_options"]), WorkerTask(**request["task"])
    legacy = request.get("options") or {}
    options = RunOptions(memory_limit=legacy.get("memory_limit"))
    return cases, policy, options, WorkerTask(stepped=bool(legacy.get("stepped")), env_out=legacy.get("env_out"))


def _main() -> int:
    from nnbench import layers
    from nnbench.measure import env as _env
    from nnbench.measure.step import peak_rss_bytes

    _die_with_parent()
    if sys.argv[1] == "--fd":  # a request file handed over open (``spawn._spawn_fds``)
        with os.fdopen(int(sys.argv[2])) as f:
            request = json.load(f)
    else:
        with open(sys.argv[1]) as f:
            request = json.load(f)
    if os.getppid() != request.get("parent", os.getppid()):
        return 1  # the runner died before the death signal was set
    cases, policy, options, task = read_request(request)
    _env.pin_matmul_precision()  # the compile-only pass must build the same programs
    if task.compile_only and options.compile_cache:
        # Only the warm-compile passes use the cache: the timing worker's compile is the cold one.
        enable_compile_cache(options.compile_cache)
    if any(c.source is None for c in cases):
        layers.import_styles()  # every style's library imported before the baseline memory is read
    import jax.numpy as jnp

    jnp.zeros(1).block_until_ready()  # start the backend (its threads) before any limit
    baseline = peak_rss_bytes()
    if options.memory_limit:
        _limit_address_space(options.memory_limit)
    gate = None
    if task.stepped and request.get("gate"):
        phased = bool(request.get("phases"))
        # an ab parent says "go" when this side may prepare
        print("ready phased" if phased else "ready gated", flush=True)
        if sys.stdin.readline().strip() != "go":
            return 0  # the pair was abandoned before it started: nothing measured, nothing written
        gate = _stdin_gate if phased else None
    else:
        print("ready", flush=True)
    if task.compile_only:
        records = compile_pass(cases)
    else:
        until = _stdin_rounds if task.stepped else None
        profiles = str(profile_dir(task.run_file)) if options.profile and task.run_file else None
        records = run_groups(cases, policy, options.platforms(), profiles, until, gate)
    for record in records:
        record.setdefault("memory", {})["worker_baseline_rss_bytes"] = baseline
    if task.env_out:
        with open(task.env_out, "w") as f:
            json.dump(_env.fingerprint(), f)
    if request.get("out_fd") is not None:  # read by the runner only after this process exits 0
        with os.fdopen(int(request["out_fd"]), "w") as f:
            json.dump(records, f)
        return 0
    tmp = request["out"] + ".tmp"
    with open(tmp, "w") as f:
        json.dump(records, f)
    os.replace(tmp, request["out"])
    if task.stepped:  # everything is written: skip the interpreter's and JAX's teardown (~0.3 s a worker)
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)
    return 0


def _stdin_rounds(rounds: int) -> str | None:
    """A stepped worker's stop rule (``nnbench ab``): say where it stands
    (``sampling`` after warm-up, ``done N`` after round N), then run one more
    round on a ``round`` line; ``stop`` or end of input stops sampling."""
    print("sampling" if rounds == 0 else f"done {rounds}", flush=True)
    return None if sys.stdin.readline().strip() == "round" else "rounds"


def _stdin_gate(phase: str) -> None:
    """A phased stepped worker's gate (``nnbench ab``): say ``at PHASE``, then
    wait for the parent's ``PHASE`` line. Anything else means the pair was
    abandoned: the worker ends there, nothing written."""
    print(f"at {phase}", flush=True)
    if sys.stdin.readline().strip() != phase:
        sys.stdout.flush()
        os._exit(0)


def _die_with_parent() -> None:
    """Ask Linux to SIGKILL this worker when the runner dies (even by SIGKILL)."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return


def _limit_address_space(extra_bytes: int) -> None:
    """Cap this process's address space at its current size plus ``extra_bytes``."""
    import resource

    with open("/proc/self/statm") as f:
        current = int(f.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    hard = resource.getrlimit(resource.RLIMIT_AS)[1]
    cap = current + extra_bytes if hard == resource.RLIM_INFINITY else min(current + extra_bytes, hard)
    resource.setrlimit(resource.RLIMIT_AS, (cap, hard))


if __name__ == "__main__":
    sys.exit(_main())
