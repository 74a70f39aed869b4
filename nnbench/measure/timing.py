"""Steady-state step timing, styles interleaved in rounds.

The state measured is a training loop's: steps run back to back. A sample
is a *burst* of ``k`` consecutive calls, each dispatched as soon as the one
before it returned (the carried, donated state threaded through), the burst
blocked once, at its end, on every output it produced; the sample is the
burst's time divided by ``k``. Fencing every call instead measures a state
no loop is in: on JAX's CPU backend a step runs on a runtime thread, and a
step whose executable has been idle for more than ~20 µs pays ~80 µs for
that thread to wake (``studies/bimodal.py``), so one-call-at-a-time samples
of a 10 µs step came out bimodal (median up to 10× the minimum). ``k`` is
chosen at warm-up so a burst lasts about ``burst_s``.

Contenders (e.g. the five styles of one layer) are warmed up each until
steady, then sampled in rounds: each round gives every contender, in a
shuffled order, one untimed call (its runtime went cold while the others
ran) and then a short block of bursts, so all of them see the same machine
state over the same period. By default the policy decides when sampling
stops; a caller may decide instead, round by round (``until``): ``nnbench
ab`` steps two worker processes this way, one round each in turn.
"""

from __future__ import annotations

import dataclasses
import gc
import math
import random
import time
from collections.abc import Callable, Sequence
from typing import Any

import jax
import numpy as np

from nnbench.measure import stages as _compile
from nnbench.measure import stats as _stats

Carry = Callable[[tuple[Any, ...], Any], tuple[Any, ...]]
Until = Callable[[int], "str | None"]  # rounds done -> None (run one more) or the stop reason
Gate = Callable[[str], None]  # a phase's name ("compile", "settle", "warm") -> returns when it may start


@dataclasses.dataclass(frozen=True)
class TimingPolicy:
    """When warm-up ends and when sampling stops.

    Warm-up first settles: every contender is called in turn, untimed, for
    ``settle_s`` seconds (on the 2-core CI machine a step runs 1–3 % slow
    for about half a second after an XLA compile, a drift far smaller than
    the windows below can see: ``studies/settle.py``). Then each contender
    runs windows of ``window`` calls until two consecutive windows' medians
    agree within ``steady_tol`` (relative) — steady state detected from the
    data — or for at most ``warmup_budget_s`` (then the record says
    ``steady: false``). Sampling runs in rounds of about
    ``block_s`` per contender and stops when every contender's median has a
    95 % confidence interval narrower than ``target_ci`` of the median (after
    ``min_samples`` each), after ``budget_s`` seconds per contender, or
    once every contender has ``max_samples`` (a contender that has them
    sits out the remaining rounds). A sample is a burst of back-to-back
    calls lasting about ``burst_s`` (at least one call; 0 means one call
    per sample, as a multi-process job's lockstep timing needs).
    """

    min_samples: int = 10
    max_samples: int = 10_000
    budget_s: float = 1.0
    target_ci: float = 0.01
    window: int = 5
    steady_tol: float = 0.05
    warmup_budget_s: float = 1.0
    settle_s: float = 0.5
    block_s: float = 0.005
    burst_s: float = 0.001
    seed: int = 0

    def __post_init__(self):
        if self.min_samples < 1 or self.max_samples < self.min_samples:
            raise ValueError("need 1 <= min_samples <= max_samples")
        if not (
            self.budget_s > 0
            and self.warmup_budget_s >= 0
            and self.settle_s >= 0
            and self.target_ci > 0
            and self.block_s > 0
            and self.burst_s >= 0
        ):
            raise ValueError(
                "budgets, block_s and target_ci must be positive (warm-up, settle and burst times may be 0)"
            )

    def calls_per_sample(self, estimate_s: float) -> int:
        """Calls in one burst for a step of about ``estimate_s`` seconds."""
        return max(1, min(MAX_BURST, math.ceil(self.burst_s / max(estimate_s, 1e-9))))


MAX_BURST = 1000  # calls in one burst at most (their outputs are held until it ends)


def fenced_call(step, args, carry) -> tuple[Any, tuple[Any, ...], float, float]:
    """One call blocked on its whole output: (out, next_args, dispatch_s, total_s)."""
    t0 = time.perf_counter()
    out = step(*args)
    t1 = time.perf_counter()
    jax.block_until_ready(out)
    t2 = time.perf_counter()
    next_args = carry(args, out) if carry is not None else args
    return out, next_args, t1 - t0, t2 - t0


@dataclasses.dataclass
class Lane:
    """One contender's state during timing."""

    step: Callable[..., Any]
    args: tuple[Any, ...]
    carry: Carry | None
    samples_s: list[float] = dataclasses.field(default_factory=list)
    dispatch_s: list[float] = dataclasses.field(default_factory=list)
    round_ends: list[int] = dataclasses.field(default_factory=list)  # len(samples_s) after each round
    warmup_calls: int = 0
    steady: bool = False
    recompiles: int = 0
    estimate_s: float = 0.0
    last_out: Any = None
    calls: int = 0  # every call of the step, timed or not
    calls_per_sample: int = 1  # burst length, set at warm-up
    rewarm_calls: int = 0  # untimed calls opening each round's block

    def call(self) -> tuple[float, float]:
        self.last_out, self.args, d, total = fenced_call(self.step, self.args, self.carry)
        self.calls += 1
        return d, total

    def burst(self, k: int) -> tuple[float, float]:
        """``k`` calls back to back, then one block on every output they
        produced that still exists (a donated buffer is gone: the call it
        fed is what waits on it). Returns ``(dispatch_s, total_s)`` for the
        whole burst: the host's time to issue the calls, and until the last
        output was ready."""
        outs = []
        t0 = time.perf_counter()
        for _ in range(k):
            out = self.step(*self.args)
            outs.append(out)
            if self.carry is not None:
                self.args = self.carry(self.args, out)
        t1 = time.perf_counter()
        jax.block_until_ready([leaf for leaf in jax.tree_util.tree_leaves(outs) if not _deleted(leaf)])
        t2 = time.perf_counter()
        self.last_out = outs[-1]
        self.calls += k
        return t1 - t0, t2 - t0

    def ci_ok(self, policy: TimingPolicy) -> bool:
        if len(self.samples_s) < policy.min_samples:
            return False
        low, high = _stats.median_ci(self.samples_s)
        return (high - low) <= policy.target_ci * float(np.median(self.samples_s))


def _deleted(leaf: Any) -> bool:
    is_deleted = getattr(leaf, "is_deleted", None)
    return bool(is_deleted()) if callable(is_deleted) else False


def _settle(lanes: Sequence[Lane], seconds: float, counter) -> None:
    """Call every lane in turn, untimed, until ``seconds`` have passed."""
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        for lane in lanes:
            before = counter.count
            lane.call()
            lane.warmup_calls += 1
            lane.recompiles += counter.count - before


def _warm_up(lane: Lane, policy: TimingPolicy) -> None:
    """Windows of ``policy.window`` bursts until two consecutive windows'
    per-call medians agree (steady) or the warm-up budget is spent. The
    burst length starts at one call and is re-sized after every window from
    its median: a fenced single call reads several times slower than a call
    in a stream (``studies/bimodal.py``), so sizing from it alone would make
    bursts far shorter than ``burst_s``."""
    prev, t_start = None, time.perf_counter()
    k = 1
    while True:
        window = [lane.burst(k)[1] / k for _ in range(policy.window)]
        lane.warmup_calls += policy.window * k
        median = lane.estimate_s = float(np.median(window))
        k = lane.calls_per_sample = policy.calls_per_sample(median)
        if prev is not None and abs(median - prev) <= policy.steady_tol * prev:
            lane.steady = True
            return
        prev = median
        if time.perf_counter() - t_start > policy.warmup_budget_s:
            return


def policy_stop(lanes: Sequence[Lane], policy: TimingPolicy) -> Until:
    """The policy's stopping rule, its clock started now: ``"max_samples"``,
    ``"ci"`` (checked every 4th round) or ``"budget"`` (``budget_s`` per lane)."""
    deadline = time.perf_counter() + policy.budget_s * len(lanes)

    def until(rounds: int) -> str | None:
        if rounds == 0:
            return None
        if all(len(lane.samples_s) >= policy.max_samples for lane in lanes):
            return "max_samples"
        if rounds % 4 == 0 and all(lane.ci_ok(policy) for lane in lanes):
            return "ci"
        if time.perf_counter() > deadline and all(len(lane.samples_s) >= min(3, policy.min_samples) for lane in lanes):
            return "budget"
        return None

    return until


def run_rounds(
    lanes: Sequence[Lane], policy: TimingPolicy, until: Until | None = None, gate: Gate | None = None
) -> str:
    """Settle and warm up every lane, then sample all of them in shuffled rounds.

    Each round runs every lane's block (one untimed re-warm call, then
    bursts of ``calls_per_sample`` calls, about ``policy.block_s`` in all,
    sized from its warm-up) in a shuffled order, then appends each lane's
    sample count to its ``round_ends``. A sample is a burst's time per call;
    its dispatch sample the host's time to issue the burst, per call. ``until(rounds_done)`` is
    asked after warm-up and after every round: None runs one more round, a
    string stops with that reason; the default is ``policy_stop`` (returns
    ``"ci"``, ``"budget"`` or ``"max_samples"``). Compiles seen while a lane
    runs are added to its ``recompiles``. ``gate(phase)`` is called before
    settling (``"settle"``) and before warming up (``"warm"``): an ``nnbench
    ab`` worker waits there until its parent lets that phase start.
    """
    counter = _compile.compile_counter()
    rng = random.Random(policy.seed)
    gc_was_enabled = gc.isenabled()
    gc.collect()
    gc.disable()
    try:
        if gate is not None:
            gate("settle")
        _settle(lanes, policy.settle_s, counter)
        if gate is not None:
            gate("warm")
        for lane in lanes:
            before = counter.count
            _warm_up(lane, policy)
            lane.recompiles += counter.count - before
        block = [
            max(1, min(1000, round(policy.block_s / max(lane.estimate_s * lane.calls_per_sample, 1e-9))))
            for lane in lanes
        ]
        order = list(range(len(lanes)))
        until = until or policy_stop(lanes, policy)
        rounds = 0
        while (stop := until(rounds)) is None:
            rng.shuffle(order)
            for i in order:
                lane = lanes[i]
                if len(lane.samples_s) >= policy.max_samples:
                    continue  # enough: the others go on
                before = counter.count
                lane.call()  # untimed: this step's runtime went cold while the other lanes ran
                lane.rewarm_calls += 1
                k = lane.calls_per_sample
                for _ in range(block[i]):
                    d, total = lane.burst(k)
                    lane.samples_s.append(total / k)
                    lane.dispatch_s.append(d / k)
                lane.recompiles += counter.count - before
            for lane in lanes:
                lane.round_ends.append(len(lane.samples_s))
            rounds += 1
        return stop
    finally:
        if gc_was_enabled:
            gc.enable()
