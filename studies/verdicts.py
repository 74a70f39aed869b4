"""Verdicts against known truths: simulated timing streams, old rule and new.

``nnbench compare`` (two separate runs, ``_compare.ratio_test``) and
``nnbench ab`` (alternating rounds over worker pairs,
``_compare.paired_test``) give regressed / improved / unchanged /
inconclusive. On real machines the truth is unknown; here it is built in:
each trial draws a baseline and a candidate whose true step time differs by
a known factor (A/A, +3 %, +5 %, +10 %), runs the statistic nnbench runs,
and scores its result with the verdict rule of today's ``_compare`` (new)
and with the rule it replaced (old: "unchanged" also when the CI merely
excluded 1, and past the drift guard's raised bar; kept here only, as
``old_decide``). Printed: the rate of each verdict per truth, both rules
side by side, the median "more data" advice of the new rule's inconclusive
results, and how often following that advice decided.

The streams (log seconds) carry what real ones do (``reports/ci-cpu.json.gz``,
a ``--suite ci`` run on the project's shared 2-core VM, read with
``_results.read_run``; ``--calibrate`` prints its statistics beside the
simulated ones):

- sample noise, autocorrelated (AR(1): a slow call is followed by slow ones);
- a slow random-walk drift within a run; the machine at another level in
  each run (between-run level shifts, invisible from inside a run); each
  worker process at its own small offset, a few of them landing badly;
- occasional outlier blocks (a burst of other load slowing a stretch of
  samples 1.5-3x);
- for tiny steps, bimodal times: a share of calls take ``slow`` times the
  fast ones, the share itself varying by a few points between processes.

In ``ab`` the machine's state (its level, drift, round-to-round load) is
shared by the two sides of a round, each worker process keeps its own
offset and noise, and the rounds are spread over worker pairs as
``nnbench ab --pairs`` does (process offsets of ~1 % SD on a quiet machine:
the README's pair-to-pair spread of 1.3-1.6 %). Machines: ``quiet`` (an idle machine), ``busy``
(moderately loaded) and ``loaded`` / ``tiny`` (like the shared CI VM: noise,
ac1 and drift as in ci-cpu.json.gz; between-run level shifts of ~8 % SD,
which is what the README's sequential A/A ratios of 0.83-1.30 imply).

Compile stage times (one cold compile per process) are simulated too: the
old threshold-only gate on one sample per side against ``nnbench ab``'s
pair-level test over the per-process compile times.

    PYTHONPATH=$PWD python studies/verdicts.py                  # full tables (a few minutes on 2 cores)
    PYTHONPATH=$PWD python studies/verdicts.py --trials 40      # quicker, coarser
    PYTHONPATH=$PWD python studies/verdicts.py --calibrate      # real vs simulated stream statistics

Seeded: the same arguments print the same tables.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import sys
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import numpy as np
import scipy.signal
import scipy.stats

from nnbench.compare import compare as _compare

VERDICTS = (_compare.REGRESSED, _compare.IMPROVED, _compare.UNCHANGED, _compare.INCONCLUSIVE)
TRUTHS = {"A/A": 0.0, "+3%": 0.03, "+5%": 0.05, "+10%": 0.10}
COMPILE_TRUTHS = {"A/A": 0.0, "+10%": 0.10, "+50%": 0.50}
REAL = Path(__file__).resolve().parents[1] / "reports" / "ci-cpu.json.gz"


@dataclasses.dataclass(frozen=True)
class Machine:
    """How one simulated machine times a step (all spreads in log seconds, ~relative).

    ``noise``: SD of one sample around its level; ``rho``: its lag-1
    autocorrelation; ``drift``: SD of a run's slow wander, start to end;
    ``shift``: SD of the machine's level from one run to the next (shared by
    the two sides of an ``ab`` round); ``process``: SD of a worker process's
    own offset (where its buffers and threads landed); ``bad``: chance a
    process lands badly, and ``bad_shift`` the SD of its extra offset;
    ``outliers``: outlier blocks per run (Poisson mean); ``bimodal``: share
    of calls ``slow`` times slower (0: unimodal); ``compile_noise``: SD of
    one cold compile's time, ``compile_common`` the part a worker pair's two
    processes share.
    """

    noise: float
    rho: float
    drift: float
    shift: float
    process: float
    bad: float = 0.0
    bad_shift: float = 0.04
    outliers: float = 0.0
    bimodal: float = 0.0
    slow: float = 3.0
    compile_noise: float = 0.05
    compile_common: float = 0.03


MACHINES = {
    "quiet": Machine(
        noise=0.03,
        rho=0.5,
        drift=0.01,
        shift=0.01,
        process=0.008,
        bad=0.05,
        outliers=0.2,
        compile_noise=0.03,
        compile_common=0.02,
    ),
    "busy": Machine(
        noise=0.10,
        rho=0.6,
        drift=0.03,
        shift=0.03,
        process=0.012,
        bad=0.1,
        outliers=1.0,
        compile_noise=0.08,
        compile_common=0.05,
    ),
    "loaded": Machine(
        noise=0.12,
        rho=0.6,
        drift=0.3,
        shift=0.08,
        process=0.02,
        bad=0.1,
        outliers=2.0,
        bimodal=0.15,
        slow=2.5,
        compile_noise=0.15,
        compile_common=0.10,
    ),
    "tiny": Machine(
        noise=0.08,
        rho=0.6,
        drift=0.25,
        shift=0.08,
        process=0.02,
        bad=0.1,
        outliers=2.0,
        bimodal=0.3,
        slow=2.2,
        compile_noise=0.15,
        compile_common=0.10,
    ),
}


@dataclasses.dataclass(frozen=True)
class Sizes:
    """Samples per run (``compare``); worker pairs, rounds per pair and samples per round and side (``ab``)."""

    samples: int = 600
    pairs: int = 6
    rounds: int = 40
    per_round: int = 20


# --- streams ---


def _ar1(rng: np.random.Generator, n: int, rho: float) -> np.ndarray:
    """Unit-variance AR(1) noise, shape ``(n,)``."""
    white = rng.standard_normal(n)
    return scipy.signal.lfilter([math.sqrt(1 - rho**2)], [1, -rho], white)


def _walk(rng: np.random.Generator, n: int, sd: float) -> np.ndarray:
    """A random walk over ``n`` steps whose end-to-end SD is ``sd``, shape ``(n,)``."""
    return np.cumsum(rng.normal(0.0, sd / math.sqrt(n), n))


def _share(rng: np.random.Generator, m: Machine) -> float:
    """This process's share of slow calls (bimodal machines)."""
    return float(np.clip(m.bimodal + rng.normal(0, 0.05), 0, 0.9)) if m.bimodal else 0.0


def _process_level(rng: np.random.Generator, m: Machine) -> float:
    """A worker process's own log offset: small, now and then a bad landing."""
    return rng.normal(0, m.process) + (rng.normal(0, m.bad_shift) if rng.random() < m.bad else 0.0)


def own_noise(rng: np.random.Generator, m: Machine, n: int, share: float) -> np.ndarray:
    """One process's sample noise (log): AR(1), outlier blocks, slow calls; shape ``(n,)``."""
    x = m.noise * _ar1(rng, n, m.rho)
    for _ in range(rng.poisson(m.outliers)):
        length = int(rng.integers(max(1, n // 50), max(2, n // 15)))
        start = int(rng.integers(0, max(1, n - length)))
        x[start : start + length] += math.log(rng.uniform(1.5, 3.0))
    if share:  # slow calls come in clusters: a thresholded AR(1)
        x += math.log(m.slow) * (_ar1(rng, n, m.rho) > scipy.stats.norm.isf(share))
    return x


def run_samples(rng: np.random.Generator, m: Machine, n: int, truth: float) -> np.ndarray:
    """One separate run of ``n`` samples (seconds, around 1 ms x (1 + truth))."""
    level = rng.normal(0, m.shift) + _process_level(rng, m)  # the machine's level at this run, this process's offset
    x = math.log1p(truth) + level + _walk(rng, n, m.drift) + own_noise(rng, m, n, _share(rng, m))
    return 1e-3 * np.exp(x)


def ab_samples(
    rng: np.random.Generator, m: Machine, s: Sizes, truth: float
) -> tuple[np.ndarray, np.ndarray, list[int], list[int]]:
    """Both sides of one ``nnbench ab``: (baseline, candidate samples in seconds, round ends, process ends).

    The machine's drift and each round's load are shared by the two sides
    of a round; each side's worker process has its own level and noise.
    """
    rounds, per = s.pairs * s.rounds, s.per_round
    common = np.repeat(_walk(rng, rounds, m.drift) + 0.5 * m.noise * _ar1(rng, rounds, m.rho), per)
    sides = []
    for extra in (0.0, math.log1p(truth)):
        parts = [
            np.full(s.rounds * per, _process_level(rng, m)) + own_noise(rng, m, s.rounds * per, _share(rng, m))
            for _ in range(s.pairs)
        ]
        sides.append(1e-3 * np.exp(extra + common + np.concatenate(parts)))
    ends = list(range(per, rounds * per + 1, per))
    return sides[0], sides[1], ends, [s.rounds * (j + 1) for j in range(s.pairs)]


# --- the rule replaced (kept for this study only) ---


def old_verdict(ratio: float, lo: float, hi: float, threshold: float) -> str:
    """Unchanged also when the CI excluded 1, whatever its far end."""
    up, down = 1 + threshold, 1 / (1 + threshold)
    if lo > 1 and ratio > up:
        return _compare.REGRESSED
    if hi < 1 and ratio < down:
        return _compare.IMPROVED
    if down <= ratio <= up and ((lo >= down and hi <= up) or lo > 1 or hi < 1):
        return _compare.UNCHANGED
    return _compare.INCONCLUSIVE


def old_decide(res: dict, threshold: float) -> str:
    """``compare``'s old drift guard: unchanged within the raised bar when the ratio sat inside the asked-for band."""
    if res.get("ci_low") is None:
        return _compare.INCONCLUSIVE
    if "rounds" in res:  # paired: no drift guard, ten rounds
        return (
            old_verdict(res["ratio"], res["ci_low"], res["ci_high"], threshold)
            if res["rounds"] >= _compare.MIN_PAIRED_ROUNDS
            else _compare.INCONCLUSIVE
        )
    used = max(threshold, _compare.DRIFT_FACTOR * res["drift"])
    if min(res["batches"]) < _compare.MIN_VERDICT_BATCHES:
        return _compare.INCONCLUSIVE
    v = old_verdict(res["ratio"], res["ci_low"], res["ci_high"], used)
    if v == _compare.UNCHANGED and used > threshold and not 1 / (1 + threshold) <= res["ratio"] <= 1 + threshold:
        v = _compare.INCONCLUSIVE
    return v


# --- trials ---


def _rng(*key: int) -> np.random.Generator:
    return np.random.default_rng(list(key))


def compare_trial(m: Machine, s: Sizes, truth: float, key: tuple[int, ...], scale: float = 1.0) -> dict:
    """``ratio_test`` on two separate simulated runs (``scale`` times the samples)."""
    rng = _rng(*key)
    n = round(s.samples * scale)
    return _compare.ratio_test(
        run_samples(rng, m, n, 0.0), run_samples(rng, m, n, truth), _compare.Thresholds().time, seed=key[-1]
    )


def ab_trial(m: Machine, s: Sizes, truth: float, key: tuple[int, ...], scale: float = 1.0) -> dict:
    """``paired_test`` on one simulated ``nnbench ab`` (``scale`` times the worker pairs)."""
    s = dataclasses.replace(s, pairs=max(1, round(s.pairs * scale)))
    base, cand, ends, process_ends = ab_samples(_rng(*key), m, s, truth)
    return _compare.paired_test(base, ends, cand, ends, _compare.AB_THRESHOLDS.time, process_ends=process_ends)


def compile_trials(m: Machine, pairs: int, truth: float, trials: int, key: tuple[int, ...]) -> dict[str, Counter]:
    """Compile-stage verdicts per rule: ``old`` (one sample per side, threshold
    only, as ``compare`` gated), ``single`` (today: one sample is untested) and
    ``ab`` (``compile_test`` over ``pairs`` worker pairs)."""
    th = _compare.Thresholds().compile
    out = {"old": Counter(), "single": Counter(), "ab": Counter()}
    for t in range(trials):
        rng = _rng(*key, t)
        shared = rng.normal(0, m.compile_common, pairs)
        base = np.exp(shared + rng.normal(0, m.compile_noise, pairs))
        cand = np.exp(math.log1p(truth) + shared + rng.normal(0, m.compile_noise, pairs))
        r = cand[0] / base[0]  # one sample per side: the first pair
        out["old"][
            _compare.REGRESSED if r > 1 + th else _compare.IMPROVED if r < 1 / (1 + th) else _compare.UNCHANGED
        ] += 1
        out["single"][_compare._single(float(base[0]), float(cand[0]))["verdict"]] += 1
        out["ab"][_compare.compile_test(list(base), list(cand), th)["verdict"]] += 1
    return out


@dataclasses.dataclass
class Tally:
    """Verdict counts of one (test, machine, truth): per rule, plus the new rule's advice and its follow-up."""

    old: Counter = dataclasses.field(default_factory=Counter)
    new: Counter = dataclasses.field(default_factory=Counter)
    factors: list = dataclasses.field(default_factory=list)
    followed: Counter = dataclasses.field(default_factory=Counter)


def run_cell(
    trial: Callable, m: Machine, s: Sizes, truth: float, trials: int, key: tuple[int, ...], follow: int
) -> Tally:
    """``trials`` trials of one truth on one machine; the first ``follow``
    inconclusive ones whose advice is a factor of at most 16 are rerun (new
    draws) with that much more data, and their verdicts tallied."""
    tally = Tally()
    for t in range(trials):
        res = trial(m, s, truth, (*key, t))
        tally.old[old_decide(res, threshold_of(res))] += 1
        tally.new[res["verdict"]] += 1
        advice = res.get("more_data") or {}
        if advice.get("factor"):
            tally.factors.append(advice["factor"])
            if sum(tally.followed.values()) < follow and advice["factor"] <= 16:
                again = trial(m, s, truth, (*key, t, 1), scale=advice["factor"])
                tally.followed[again["verdict"]] += 1
    return tally


def threshold_of(res: dict) -> float:
    return _compare.AB_THRESHOLDS.time if "rounds" in res else _compare.Thresholds().time


# --- output ---


def _rates(c: Counter) -> str:
    n = sum(c.values())
    return " / ".join(f"{100 * c[v] / n:.0f}" for v in VERDICTS) if n else "–"


def print_table(title: str, cells: dict[str, Tally], n: int) -> None:
    print(f"\n{title}, {n} trials per truth; % regressed / improved / unchanged / inconclusive")
    print(
        "| truth | old rule | new rule | new: median advice (inconclusive) "
        "| advice followed: % reg / imp / unch / inc (n) |"
    )
    print("|---|---:|---:|---:|---:|")
    for truth, t in cells.items():
        advice = f"{np.median(t.factors):.1f}× ({len(t.factors)} with a factor)" if t.factors else "–"
        followed = f"{_rates(t.followed)} ({sum(t.followed.values())})" if t.followed else "–"
        print(f"| {truth} | {_rates(t.old)} | {_rates(t.new)} | {advice} | {followed} |")


def headline(name: str, cells: dict[str, Tally], n: int) -> str:
    """False unchanged at +10 % and A/A false alarms, old -> new."""
    ten, aa = cells["+10%"], cells["A/A"]
    alarms = lambda c: c[_compare.REGRESSED] + c[_compare.IMPROVED]
    return (
        f"{name}: +10 % called unchanged {ten.old[_compare.UNCHANGED]}/{n} -> {ten.new[_compare.UNCHANGED]}/{n}; "
        f"A/A false alarms {alarms(aa.old)}/{n} -> {alarms(aa.new)}/{n}; "
        f"+10 % detected {ten.old[_compare.REGRESSED]}/{n} -> {ten.new[_compare.REGRESSED]}/{n}"
    )


def stream_stats(samples: np.ndarray) -> dict[str, float]:
    """What the streams are calibrated on: log SD, lag-1 autocorrelation,
    drift (``_compare._drift`` of batch medians) and the share of calls over 2x the fastest."""
    x = np.log(samples)
    return {
        "log sd": float(np.std(x)),
        "ac1": float(np.corrcoef(x[:-1], x[1:])[0, 1]),
        "drift": _compare._drift(_compare.batch_medians(samples)),
        "share >2x min": float(np.mean(samples > 2 * samples.min())),
    }


def calibrate(s: Sizes) -> None:
    """Median stream statistics of the real CI run beside each simulated machine's."""
    from nnbench.results.runfile import read_run

    real = [
        np.array([v for v in r["time"]["samples_s"] if v]) for r in read_run(REAL)["records"] if r["status"] == "ok"
    ]
    real = [x for x in real if x.size >= 200]
    rows = {
        "real (ci-cpu.json.gz)": [stream_stats(x) for x in real],
        "real, steps under 60 µs": [stream_stats(x) for x in real if np.median(x) < 60e-6],
    }
    for name, m in MACHINES.items():
        rows[name] = [stream_stats(run_samples(_rng(99, i), m, s.samples, 0.0)) for i in range(50)]
    keys = list(next(iter(rows.values()))[0])
    print("| stream | " + " | ".join(keys) + " |\n|---|" + "---:|" * len(keys))
    for name, stats in rows.items():
        print(
            f"| {name} ({len(stats)}) | " + " | ".join(f"{np.median([st[k] for st in stats]):.3f}" for k in keys) + " |"
        )


def study(
    trials: int, machines: list[str], s: Sizes, follow: int, seed: int = 0
) -> dict[str, dict[str, dict[str, Tally]]]:
    """``{test: {machine: {truth: Tally}}}`` for both tests (compare, ab)."""
    out: dict[str, dict[str, dict[str, Tally]]] = {"compare": {}, "ab": {}}
    for ti, (test, trial) in enumerate((("compare", compare_trial), ("ab", ab_trial))):
        for mi, name in enumerate(machines):
            out[test][name] = {
                truth: run_cell(trial, MACHINES[name], s, extra, trials, (seed, ti, mi, ci), follow)
                for ci, (truth, extra) in enumerate(TRUTHS.items())
            }
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--trials", type=int, default=100, help="trials per machine and truth (default 100)")
    ap.add_argument("--machines", default=",".join(MACHINES), help=f"comma-separated, of {', '.join(MACHINES)}")
    ap.add_argument(
        "--follow", type=int, default=10, help="inconclusive trials per cell rerun with the advised data (default 10)"
    )
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--calibrate", action="store_true", help="print real vs simulated stream statistics and stop")
    args = ap.parse_args(argv)
    s = Sizes()
    if args.calibrate:
        calibrate(s)
        return 0
    machines = args.machines.split(",")
    if unknown := set(machines) - set(MACHINES):
        ap.error(f"unknown machine(s): {', '.join(sorted(unknown))}")
    print(
        f"compare: two runs of {s.samples} samples, threshold {100 * _compare.Thresholds().time:g} %; "
        f"ab: {s.pairs} worker pairs x {s.rounds} rounds x {s.per_round} samples per side, "
        f"threshold {100 * _compare.AB_THRESHOLDS.time:g} %"
    )
    result = study(args.trials, machines, s, args.follow, args.seed)
    for test, per_machine in result.items():
        for name, cells in per_machine.items():
            print_table(f"{test} on a {name} machine", cells, args.trials)
    print()
    for test, per_machine in result.items():
        for name, cells in per_machine.items():
            print(headline(f"{test}/{name}", cells, args.trials))
    th = _compare.Thresholds().compile
    print(
        f"\ncompile stage (one cold compile per process), threshold {100 * th:g} %, {args.trials} trials; "
        "% regressed / improved / unchanged|untested / inconclusive"
    )
    print(
        "| machine | truth | old: one sample, threshold only | now: one sample | now: ab, 6 pairs |\n"
        "|---|---|---:|---:|---:|"
    )
    for mi, name in enumerate(machines):
        for ci, (truth, extra) in enumerate(COMPILE_TRUTHS.items()):
            c = compile_trials(MACHINES[name], 6, extra, args.trials, (args.seed, 2, mi, ci))
            single = f"{100 * c['single'][_compare.UNTESTED] / args.trials:.0f} % untested"
            print(f"| {name} | {truth} | {_rates(c['old'])} | {single} | {_rates(c['ab'])} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
