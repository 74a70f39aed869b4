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

A side (``nnbench.run.sides``) is a Python executable, a directory (a
checkout of nnbench, or a user's project), ``git:REV`` or ``pip:REQ,...``;
each proves it is a working nnbench before any timing.
"""

from __future__ import annotations

import random
import shlex
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from nnbench.compare import compare as _compare
from nnbench.measure import env as _env
from nnbench.measure import step as _measure
from nnbench.results import runfile as _results
from nnbench.results.case import Case
from nnbench.run.options import ABOptions as ABOptions
from nnbench.run.sides import Side as Side
from nnbench.run.sides import SideError as SideError
from nnbench.run.stepped import SteppedWorker


def run(
    cases: Sequence[Case],
    sides: tuple[Side, Side],
    options: ABOptions | None = None,
    outs: tuple[Path, Path] | None = None,
    argv: list[str] | None = None,
    log=None,
    thresholds: _compare.Thresholds | None = None,
    metric: str = "time",
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Time ``cases`` on both sides, interleaved; the two run dicts
    (baseline, candidate), each rewritten to its path in ``outs`` (already
    claimed) after every group. ``log``: a callable for progress lines;
    ``thresholds``: what a sequential run's verdict is decided at (default
    ``AB_THRESHOLDS``), on ``metric`` (step time; ``dispatch`` for a
    bisection hunting dispatch).

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
        batches, envs, rounds, pairs = _group(members, sides, options, rng, thresholds, log, metric)
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
    metric: str = "time",
):
    """One group on both sides, pair after pair: (records per side, env per
    side, rounds run, pairs run). Sequential options stop adding pairs once
    ``compare.time_decided`` says so, looking first after ``options.pairs`` pairs (and
    never before ``MIN_PAIRS``, where the pair becomes the unit)."""
    per_pair, envs, total = [], [None, None], 0
    first_look = max(options.pairs, _compare.MIN_PAIRS) if options.sequential else options.pairs
    merged: list[list[dict[str, Any]]] = [[], []]
    pending: list[tuple[int, list[SteppedWorker]]] = []  # the next pair, started while this one builds or finishes
    try:
        for k in range(1, options.most_pairs + 1):
            started = pending.pop() if pending else _start(members, sides, options, rng)
            last = k == options.most_pairs
            start_next = None if last else lambda: _queue(pending, _start(members, sides, options, rng))
            batches, pair_envs, ran = _pair(started, options, rng, start_next, lambda: _let_build(pending))
            per_pair.append(batches)
            envs = [e or pe for e, pe in zip(envs, pair_envs, strict=True)]
            total += ran
            merged = [
                [_measure.merge_processes([p[side][i] for p in per_pair]) for i in range(len(members))]
                for side in (0, 1)
            ]
            if k < first_look:
                continue
            verdicts = _compare.time_decided(merged[0], merged[1], thresholds, metric)
            if log and options.sequential:
                log(f"{members[0].group}: after {k} pair(s): " + "; ".join(text for _, text in verdicts))
            if not options.sequential or all(done for done, _ in verdicts):
                break
    finally:
        for _, workers in pending:  # started for a pair that was not needed
            for w in workers:
                w.__exit__(None, None, None)
    return merged, envs, total, len(per_pair)


def _start(members: Sequence[Case], sides: tuple[Side, Side], options: ABOptions, rng: random.Random):
    """A pair's two workers, started: they import side by side, then wait at
    the gate (``SteppedWorker.wait_sampling`` lets each prepare). Which side
    prepares first is drawn per pair. Returns ``(first, workers in that
    order)``."""
    policy = options.policy()
    first = rng.randrange(2)
    return first, [
        SteppedWorker(members, policy, options.run, sides[i].python, sides[i].path) for i in (first, 1 - first)
    ]


def _queue(pending: list, started: tuple[int, list[SteppedWorker]]) -> tuple[int, list[SteppedWorker]]:
    pending.append(started)
    return started


def _let_build(pending: list[tuple[int, list[SteppedWorker]]]) -> None:
    """Let the next pair's phased workers build their group now (untimed)."""
    for _, workers in pending:
        for w in workers:
            if w.phased and w.at == "go":
                w.release("go")


def _pair(started, options: ABOptions, rng: random.Random, start_next=None, stopped=None):
    """One worker per side (``_start``'s), ``options.rounds`` alternating
    rounds: (records per side, env per side, rounds run). ``start_next``
    starts the next pair (returns ``_start``'s tuple): for phased workers
    while this pair builds its group (both imports are done before this
    pair's first cold compile), else once sampling has stopped. Either way
    its imports overlap untimed work only, never a compile or the rounds.
    ``stopped`` is called once the rounds end, before this pair's finish
    (``_let_build``: the next pair builds while this one writes its
    records)."""
    first, (a, b) = started
    with a, b:
        for w in (a, b):
            w.wait_ready()  # both import their libraries side by side
        if a.phased and b.phased:
            _prepare_pair((a, b), start_next)
            start_next = None
        else:  # a side whose nnbench predates the phases prepares alone, start to end
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
        if start_next is not None:
            start_next()
        if stopped is not None:
            stopped()
        batches = [w.finish() for w in workers]
        envs = [w.env() for w in workers]
    return batches, envs, ran


# A pair's preparation, phase by phase: True where both workers may run the
# phase at once (nothing in it is measured: building the group, with its
# parity gate, weights and batches; settling), False where they take turns
# (the cold compile stages, recorded; the warm-up, which sizes each side's
# rounds from step times read alone).
PHASES = (("go", True), ("compile", False), ("settle", True), ("warm", False))


def _prepare_pair(pair: tuple[SteppedWorker, SteppedWorker], start_next=None) -> None:
    """Take a pair of phased workers through ``PHASES`` to ``sampling``; a
    worker that ends on the way (its group failed) drops out. ``start_next``
    (if given) is called once both build, and the next pair's imports are
    awaited before the first cold compile."""
    for phase, together in PHASES:
        if together:
            for w in pair:
                if w.at == phase:  # "go" may have been said already (``_let_build``)
                    w.release(phase)
            if phase == "go" and start_next is not None:
                for w in start_next()[1]:
                    w.wait_ready()
            for w in pair:
                if w.running:
                    w.wait_gate()
        else:
            for w in pair:
                if w.at == phase and w.release(phase):
                    w.wait_gate()


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
            "its 95 % trimmed t interval over pairs, Yuen's one-sample p; "
            "unchanged when the 90 % interval lies in the band (two one-sided tests at 5 %)"
            if many
            else "ratio = exp(median of per-round log ratios), its 95 % CI, Wilcoxon signed-rank p"
        )
        + (
            "; compile stages: each pair's cold compiles, the same trimmed t over pairs; the case's timings "
            "other than step time (dispatch, compile stages) share 5 %: each of k at 1 - 5 %/k (Bonferroni)"
            if many
            else (
                "; compile stages: one cold compile per side and pair, untested "
                f"(a test needs {_compare.MIN_PAIRS} pairs)"
            )
        )
    )
    return result
