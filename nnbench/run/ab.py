"""``nnbench ab``: a baseline and a candidate timed in alternating rounds.

Two run files taken one after the other see two machine states: on a
shared, noisy machine the same step measured twice differs by up to 30 %
(``studies/sensitivity.py``), so ``nnbench compare`` cannot resolve a 5 %
change there. Sampling both in fine-grained alternation cancels the drift,
but two code versions (a PR and main, jax 0.10 and 0.11) need two processes.
So, per case group, this runs worker processes for both sides
(``_worker.SteppedWorker``: each prepares the group exactly as ``run``
does, then samples one round per command) and alternates them: in each
round both sides run one round, in a seeded random order. Round r of the
baseline and round r of the candidate are then neighbours in time, and
``_compare.paired_test`` compares them pair by pair.

Pairing cancels drift but not what differs between two processes of the
same code (where a process's buffers and threads land): on the 2-core CI
machine two processes of one side differ by up to ~5 %. So the rounds are
spread over ``pairs`` worker pairs, one pair after the other (each side's
records merged, ``time.process_ends`` marking where each pair's rounds
end), and with 3 or more pairs the comparison treats the pair, not the
round, as the unit (``paired_test``).

A side is a Python executable (an environment with nnbench and the code
under test installed) or a checkout directory (this interpreter, with the
directory as working directory and first on ``PYTHONPATH``, so its
``nnbench`` (with its layer catalog) and user modules are imported). Before any timing
each side proves it is a working nnbench (``Side.handshake``: the side's
interpreter imports what its workers import and answers a token), so
``/bin/true`` or a Python without nnbench is refused, not timed as failed.
"""

from __future__ import annotations

import dataclasses
import json
import os
import random
import secrets
import select
import shlex
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from nnbench.compare import compare as _compare
from nnbench.measure import env as _env
from nnbench.measure import step as _measure
from nnbench.results import runfile as _results
from nnbench.results.case import Case
from nnbench.run.options import ABOptions as ABOptions
from nnbench.run.stepped import SteppedWorker

# Run in a side's interpreter before any timing: it must import what its
# workers import and answer with the token reversed (any program that exits
# 0, /bin/true, proves nothing).
_HANDSHAKE = """
import json, sys
import nnbench, nnbench.run.worker as w, nnbench.layers, jax
print("nnbench-handshake " + json.dumps({
    "echo": sys.argv[1][::-1], "file": nnbench.__file__, "version": getattr(nnbench, "__version__", None),
    "stepped": hasattr(w, "SteppedWorker") and hasattr(w, "_stdin_rounds"), "jax": jax.__version__,
}))
"""
HANDSHAKE_TIMEOUT_S = 300.0  # importing JAX and the layer library, as a worker's start (STARTUP_TIMEOUT_S)
_HANDSHAKE_MAX_OUTPUT = 1 << 16


class SideError(ValueError):
    """A side cannot be used as given (a bad-input error: exit 2)."""


@dataclasses.dataclass(frozen=True)
class Side:
    """Where one side's workers run.

    ``spec``: as given on the command line; ``python``: the interpreter;
    ``path``: a checkout directory (working directory, first on
    ``PYTHONPATH``) or None (the current directory, as ``python -m`` has it).
    """

    role: str
    spec: str
    python: str
    path: str | None = None

    @classmethod
    def parse(cls, role: str, spec: str, handshake: bool = True) -> Side:
        """A checkout directory (must hold ``nnbench/``) or a Python
        executable, proven a working nnbench by ``handshake`` (unless
        false); ``SideError`` (one line) otherwise."""
        p = Path(spec)
        where = f"--{role} {spec}"
        if not p.exists():
            raise SideError(f"{where}: no such file or directory")
        if p.is_dir():
            if not (p / "nnbench").is_dir():
                raise SideError(f"{where}: directory has no nnbench/ (expected a checkout, or a Python executable)")
            side = cls(role, spec, sys.executable, str(p.resolve()))
        elif not p.is_file() or not os.access(p, os.X_OK):
            raise SideError(f"{where}: not executable (expected a Python executable, or a checkout directory)")
        else:
            side = cls(role, spec, os.path.abspath(p))  # not resolved: a venv's python is a link that must stay one
        if handshake:
            side.handshake()
        return side

    @classmethod
    def parse_pair(cls, baseline: str, candidate: str) -> tuple[Side, Side]:
        """Both sides of ``nnbench ab``: each checked as given first, then
        each proven by its handshake (a typo is refused in milliseconds)."""
        sides = (cls.parse("baseline", baseline, handshake=False), cls.parse("candidate", candidate, handshake=False))
        _prove(sides)
        return sides

    def handshake(self, cancel: threading.Event | None = None) -> dict[str, Any]:
        """Run ``_HANDSHAKE`` where this side's workers will run (its
        interpreter, working directory and ``PYTHONPATH``) and check its
        answer: the token echoed, a stepped worker, and for a checkout its
        own nnbench. The answer's fields; ``SideError`` naming what failed
        (also when ``cancel`` is set meanwhile)."""
        where = f"--{self.role} {self.spec}"
        token = secrets.token_hex(8)
        env = dict(os.environ)
        if self.path is not None:
            env["PYTHONPATH"] = os.pathsep.join(q for q in (self.path, env.get("PYTHONPATH")) if q)
        code, out, err = _bounded_run([self.python, "-c", _HANDSHAKE, token], self.path, env, cancel)
        if code is None:
            raise SideError(
                f"{where}: not a Python that can import nnbench and answer its handshake "
                f"({out.decode(errors='replace')})"
            )
        line = next((x for x in out.decode(errors="replace").splitlines() if x.startswith("nnbench-handshake ")), None)
        try:
            answer = json.loads(line.removeprefix("nnbench-handshake ")) if line else None
        except ValueError:
            answer = None
        if code != 0 or not isinstance(answer, dict) or answer.get("echo") != token[::-1]:
            tail = [x for x in err.decode(errors="replace").splitlines() if x.strip()]
            why = tail[-1].strip()[:200] if tail else f"exited with status {code} without the handshake's answer"
            raise SideError(f"{where}: not a Python that can import nnbench and answer its handshake ({why})")
        if not answer.get("stepped"):
            raise SideError(
                f"{where}: its nnbench ({answer.get('file')}) predates nnbench ab (no stepped worker); update it"
            )
        if self.path is not None and not _within(str(answer.get("file")), self.path):
            raise SideError(f"{where}: imports nnbench from {answer.get('file')}, not from this checkout")
        return answer


def run(
    cases: Sequence[Case],
    sides: tuple[Side, Side],
    options: ABOptions | None = None,
    outs: tuple[Path, Path] | None = None,
    argv: list[str] | None = None,
    log=None,
    thresholds: _compare.Thresholds | None = None,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Time ``cases`` on both sides, interleaved; the two run dicts
    (baseline, candidate), each rewritten to its path in ``outs`` (already
    claimed) after every group. ``log``: a callable for progress lines;
    ``thresholds``: what a sequential run's verdict is decided at (default
    ``AB_THRESHOLDS``).

    Raises ``SideError`` when a side's nnbench samples on its own (it
    predates ``nnbench ab``).
    """
    options = options or ABOptions()
    thresholds = thresholds or _compare.AB_THRESHOLDS
    _env.pin_matmul_precision()
    runs = [_results.new_run({}, argv=argv) for _ in sides]
    for data, side, other in zip(runs, sides, sides[::-1], strict=True):
        data["ab"] = {
            "side": side.role,
            "spec": side.spec,
            "python": side.python,
            "path": side.path,
            "other": other.spec,
            **options.record(),
        }
    groups: dict[str, list[Case]] = {}
    for case in cases:
        groups.setdefault(f"{case.source or ''}|{case.group}", []).append(case)
    rng = random.Random(options.seed)
    for members in groups.values():
        if log:
            how = f"up to {options.most_pairs}, until decided" if options.sequential else str(options.pairs)
            log(
                f"{members[0].group} ({len(members)} cases): worker pairs ({how}), each compiling on both sides, "
                f"then {options.rounds} alternating rounds"
            )
        batches, envs, rounds, pairs = _group(members, sides, options, rng, thresholds, log)
        for i, (side, other) in enumerate(zip(sides, sides[::-1], strict=True)):
            _check_stepped(side, batches[i])
            for record in batches[i]:
                if record["status"] == "ok":
                    record["time"]["paired"] = {"side": side.role, "with": other.spec, "rounds": rounds, "pairs": pairs}
                runs[i]["records"].append(record)
            runs[i]["env"] = runs[i]["env"] or envs[i] or {}
            _write(runs[i], outs, i)
    for i, side in enumerate(sides):
        runs[i]["env"] = runs[i]["env"] or _parent_env(side)
        runs[i]["finished"] = _results.now()
        _write(runs[i], outs, i)
    return runs[0], runs[1]


def _write(data: dict[str, Any], outs: tuple[Path, Path] | None, i: int) -> None:
    if outs is not None:
        _results.write_atomic(outs[i], data)


def _group(
    members: Sequence[Case],
    sides: tuple[Side, Side],
    options: ABOptions,
    rng: random.Random,
    thresholds: _compare.Thresholds,
    log=None,
):
    """One group on both sides, pair after pair: (records per side, env per
    side, rounds run, pairs run). Sequential options stop adding pairs once
    ``compare.time_decided`` says so, looking first after ``options.pairs`` pairs (and
    never before ``MIN_PAIRS``, where the pair becomes the unit)."""
    per_pair, envs, total = [], [None, None], 0
    first_look = max(options.pairs, _compare.MIN_PAIRS) if options.sequential else options.pairs
    merged: list[list[dict[str, Any]]] = [[], []]
    for k in range(1, options.most_pairs + 1):
        batches, pair_envs, ran = _pair(members, sides, options, rng)
        per_pair.append(batches)
        envs = [e or pe for e, pe in zip(envs, pair_envs, strict=True)]
        total += ran
        merged = [
            [_measure.merge_processes([p[side][i] for p in per_pair]) for i in range(len(members))] for side in (0, 1)
        ]
        if k < first_look:
            continue
        verdicts = _compare.time_decided(merged[0], merged[1], thresholds)
        if log and options.sequential:
            log(f"{members[0].group}: after {k} pair(s): " + "; ".join(text for _, text in verdicts))
        if not options.sequential or all(done for done, _ in verdicts):
            break
    return merged, envs, total, len(per_pair)


def _pair(members: Sequence[Case], sides: tuple[Side, Side], options: ABOptions, rng: random.Random):
    """One worker per side, ``options.rounds`` alternating rounds: (records
    per side, env per side, rounds run)."""
    policy = options.policy()
    # Both workers start at once and import their libraries side by side;
    # then, one after the other, each prepares the group (compiles), so one
    # side's compile never overlaps the other's; both wait, warmed up,
    # before round 1. Which side prepares first is drawn per pair. (A
    # side whose nnbench predates the gate prepares as soon as it imported.)
    first = rng.randrange(2)
    order = (first, 1 - first)
    with (
        SteppedWorker(members, policy, options.run, sides[order[0]].python, sides[order[0]].path) as a,
        SteppedWorker(members, policy, options.run, sides[order[1]].python, sides[order[1]].path) as b,
    ):
        for w in (a, b):
            w.wait_ready()
        for w in (a, b):
            w.wait_sampling()
        workers = [a, b] if first == 0 else [b, a]  # baseline, candidate
        ran = 0
        while ran < options.rounds and any(w.sampling for w in workers):
            shuffled = workers[:]
            rng.shuffle(shuffled)
            for w in shuffled:
                w.step()
            ran += 1
        for w in workers:
            w.stop()
        batches = [w.finish() for w in workers]
        envs = [w.env() for w in workers]
    return batches, envs, ran


def _within(module_file: str, checkout: str) -> bool:
    """Whether a package's ``__init__.py`` lies directly in ``checkout`` (its
    folder may be a symlink: compared as files, not as path strings)."""
    try:
        return os.path.samefile(os.path.dirname(os.path.dirname(module_file)), checkout)
    except OSError:
        return False


def _prove(sides: Sequence[Side]) -> None:
    """Handshake every side at once (each imports JAX: seconds); the first
    failure cancels the others and is raised."""
    import queue

    cancel, done = threading.Event(), queue.Queue()

    def prove(side: Side) -> None:
        try:
            side.handshake(cancel)
            done.put(None)
        except SideError as e:
            done.put(e)

    threads = [threading.Thread(target=prove, args=(side,), daemon=True) for side in sides]
    for t in threads:
        t.start()
    failure = None
    try:
        for _ in threads:
            failure = done.get()
            if failure is not None:
                break
    finally:
        cancel.set()
        for t in threads:
            t.join()
    if failure is not None:
        raise failure


def _bounded_run(
    argv: list[str], cwd: str | None, env: dict[str, str], cancel: threading.Event | None = None
) -> tuple[int | None, bytes, bytes]:
    """Run ``argv`` for at most ``HANDSHAKE_TIMEOUT_S``, keeping at most
    ``_HANDSHAKE_MAX_OUTPUT`` bytes of each stream: ``(status, stdout,
    stderr)``, or ``(None, why, b"")`` when it could not start, ran too long,
    said too much (``yes`` as a side must not fill the memory) or ``cancel``
    was set."""
    try:
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=cwd,
            env=env,
            start_new_session=True,
        )
    except OSError as e:
        return None, f"cannot start it: {e.strerror}".encode(), b""
    bufs = {proc.stdout.fileno(): bytearray(), proc.stderr.fileno(): bytearray()}
    open_fds, deadline, why = set(bufs), time.monotonic() + HANDSHAKE_TIMEOUT_S, None
    try:
        while open_fds and why is None:
            left = deadline - time.monotonic()
            if cancel is not None and cancel.is_set():
                why = "cancelled"
                break
            ready = select.select(list(open_fds), [], [], min(left, 0.1))[0] if left > 0 else []
            if not ready:
                if left <= 0:
                    why = f"no answer within {HANDSHAKE_TIMEOUT_S:g} s"
                continue
            for fd in ready:
                chunk = os.read(fd, 1 << 16)
                if not chunk:
                    open_fds.discard(fd)
                elif len(bufs[fd]) + len(chunk) > _HANDSHAKE_MAX_OUTPUT:
                    why = f"printed over {_HANDSHAKE_MAX_OUTPUT >> 10} KiB without answering"
                else:
                    bufs[fd] += chunk
        if why is None:
            try:
                return (
                    proc.wait(timeout=max(deadline - time.monotonic(), 1.0)),
                    bytes(bufs[proc.stdout.fileno()]),
                    bytes(bufs[proc.stderr.fileno()]),
                )
            except subprocess.TimeoutExpired:
                why = f"no answer within {HANDSHAKE_TIMEOUT_S:g} s"
        return None, why.encode(), b""
    finally:
        if proc.poll() is None:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.wait()
        proc.stdout.close()
        proc.stderr.close()


def _check_stepped(side: Side, records: list[dict[str, Any]]) -> None:
    for r in records:
        if r["status"] == "ok" and r.get("time", {}).get("stop_reason") != "rounds":
            raise SideError(
                f"--{side.role} {side.spec}: its nnbench sampled on its own (it predates nnbench ab); update it"
            )


def _parent_env(side: Side) -> dict[str, Any]:
    """This process's fingerprint, naming the side's interpreter (its worker wrote none)."""
    return {**_env.fingerprint(), "executable": side.python, "env_source": "parent"}


def command(case: Case, sides: tuple[Side, Side], options: ABOptions) -> str:
    """The ``nnbench ab`` line that reruns just ``case``."""
    selection = case.command().removeprefix("nnbench run ")
    seed = f" --seed {options.seed}" if options.seed else ""
    return (
        f"nnbench ab --baseline {shlex.quote(sides[0].spec)} --candidate {shlex.quote(sides[1].spec)} {selection} "
        f"--rounds {options.rounds} --budget {options.budget_s:g} --pairs {options.pairs} "
        f"--max-pairs {options.most_pairs}{seed}"
    )


def annotate(
    result: dict[str, Any], cases: Sequence[Case], sides: tuple[Side, Side], options: ABOptions
) -> dict[str, Any]:
    """Make a ``compare_runs(..., paired=True)`` result say how it was taken
    (``method``) and reproduce each case with ``nnbench ab``."""
    by_id = {c.id: c for c in cases}
    for c in result["cases"]:
        if c["id"] in by_id:
            c["command"] = command(by_id[c["id"]], sides, options)
    many = options.most_pairs >= _compare.MIN_PAIRS
    how = (
        f"worker pairs added one at a time from {max(options.pairs, _compare.MIN_PAIRS)} until every case's "
        f"step-time verdict is decided, at most {options.most_pairs}"
        if options.sequential
        else f"{options.pairs} worker pair(s)"
    )
    result["method"] = (
        f"paired: baseline and candidate interleaved in {options.rounds} rounds per worker pair, {how} "
        f"(seed {options.seed}); "
        + (
            "ratio = exp(20 % trimmed mean over pairs of each pair's median per-round log ratio), "
            "its 95 % trimmed t interval over pairs, Yuen's one-sample p"
            if many
            else "ratio = exp(median of per-round log ratios), its 95 % CI, Wilcoxon signed-rank p"
        )
        + (
            "; compile stages: each pair's cold compiles, the same trimmed t over pairs"
            if many
            else (
                "; compile stages: one cold compile per side and pair, untested "
                f"(a test needs {_compare.MIN_PAIRS} pairs)"
            )
        )
    )
    return result
