"""Steady-state step timing, styles interleaved in rounds.

Every sample is one call fenced by ``jax.block_until_ready`` on the whole
output pytree. Contenders (e.g. the five styles of one layer) are warmed up
each until steady, then sampled in rounds: each round gives every contender
a short block of calls, in a shuffled order, so all of them see the same
machine state over the same period. By default the policy decides when
sampling stops; a caller may decide instead, round by round (``until``):
``nnbench ab`` steps two worker processes this way, one round each in turn.
"""

from __future__ import annotations

import dataclasses
import gc
import random
import time
from collections.abc import Callable, Sequence
from typing import Any

import jax
import numpy as np

from nnbench import _compile, _stats

Carry = Callable[[tuple[Any, ...], Any], tuple[Any, ...]]
Until = Callable[[int], "str | None"]  # rounds done -> None (run one more) or the stop reason


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
    sits out the remaining rounds).
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
    seed: int = 0

    def __post_init__(self):
        if self.min_samples < 1 or self.max_samples < self.min_samples:
            raise ValueError("need 1 <= min_samples <= max_samples")
        if not (self.budget_s > 0 and self.warmup_budget_s >= 0 and self.settle_s >= 0 and self.target_ci > 0 and self.block_s > 0):
            raise ValueError("budgets, block_s and target_ci must be positive (warm-up and settle times may be 0)")


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

    def call(self) -> tuple[float, float]:
        self.last_out, self.args, d, total = fenced_call(self.step, self.args, self.carry)
        return d, total

    def ci_ok(self, policy: TimingPolicy) -> bool:
        if len(self.samples_s) < policy.min_samples:
            return False
        low, high = _stats.median_ci(self.samples_s)
        return (high - low) <= policy.target_ci * float(np.median(self.samples_s))


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
    prev, t_start = None, time.perf_counter()
    while True:
        window = [lane.call()[1] for _ in range(policy.window)]
        lane.warmup_calls += policy.window
        median = lane.estimate_s = float(np.median(window))
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


def run_rounds(lanes: Sequence[Lane], policy: TimingPolicy, until: Until | None = None) -> str:
    """Settle and warm up every lane, then sample all of them in shuffled rounds.

    Each round runs every lane's block of calls (about ``policy.block_s``
    each, sized from its warm-up) in a shuffled order, then appends each
    lane's sample count to its ``round_ends``. ``until(rounds_done)`` is
    asked after warm-up and after every round: None runs one more round, a
    string stops with that reason; the default is ``policy_stop`` (returns
    ``"ci"``, ``"budget"`` or ``"max_samples"``). Compiles seen while a lane
    runs are added to its ``recompiles``.
    """
    counter = _compile.compile_counter()
    rng = random.Random(policy.seed)
    gc_was_enabled = gc.isenabled()
    gc.collect()
    gc.disable()
    try:
        _settle(lanes, policy.settle_s, counter)
        for lane in lanes:
            before = counter.count
            _warm_up(lane, policy)
            lane.recompiles += counter.count - before
        block = [max(1, min(1000, round(policy.block_s / max(lane.estimate_s, 1e-9)))) for lane in lanes]
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
                for _ in range(block[i]):
                    d, total = lane.call()
                    lane.samples_s.append(total)
                    lane.dispatch_s.append(d)
                lane.recompiles += counter.count - before
            for lane in lanes:
                lane.round_ends.append(len(lane.samples_s))
            rounds += 1
        return stop
    finally:
        if gc_was_enabled:
            gc.enable()
