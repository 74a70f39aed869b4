"""Sensitivity of ``nnbench compare``'s step-time verdict on this machine.

Runs A/A comparisons (the same step measured twice, as two CI runs would)
and A/B comparisons against a deliberately slowed variant (+3 %, +5 %,
+10 % more loop iterations of the same work), each ``--reps`` times, with
``nnbench.measure`` and the same ``ratio_test`` that ``nnbench compare``
uses. Prints the false-alarm rate (A/A called regressed or improved) and the
detection rate (A/B called regressed) at the default threshold, and the same
rates at other thresholds from the stored ratios and CIs, to tune the
default. Order (A first or B first) alternates between repetitions.
``--interleaved`` instead samples A and B in shuffled rounds within one
run (how ``nnbench run`` times the styles of a layer), which separates what
the statistics do from how much the machine drifts between runs. ``--ab``
runs each comparison through ``nnbench ab`` itself: two checkouts in temp
directories whose user-case module differs only in the loop's iteration
count, ``--pairs`` worker pairs one after the other, alternating rounds,
the paired statistic (``_compare.paired_test``).

    PYTHONPATH=$PWD python studies/sensitivity.py --reps 20 --budget 0.25 --out studies/sensitivity.json
    # nnbench ab's defaults:
    PYTHONPATH=$PWD python studies/sensitivity.py --ab --reps 12 --only A/A,+5%,+3% --out ab.json
    PYTHONPATH=$PWD python studies/sensitivity.py --report ab.json more.json   # pool, re-score, tables

``studies/results/`` keeps the trials behind the README's table.

This is a benchmark, not a test: it takes minutes and its figures depend
on the machine and its load.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

import nnbench
from nnbench.compare import compare as _compare
from nnbench.measure import step as _measure
from nnbench.measure.timing import run_rounds
from nnbench.run import ab as _ab

BASE_ITERS = 100
EXTRA = {"A/A": 0.0, "+3%": 0.03, "+5%": 0.05, "+10%": 0.10}
REPO = Path(__file__).resolve().parents[1]
# The --ab sides' user-case module: ``make_step`` as a user case.
AB_MODULE = """import jax, jax.numpy as jnp, nnbench

def build():
    x = jnp.ones((64, 64), jnp.float32) * 0.01
    w = jnp.eye(64, dtype=jnp.float32) * 0.5
    return jax.jit(lambda x, w: jax.lax.fori_loop(0, {iters}, lambda i, y: jnp.tanh(y @ w), x)), (x, w)

CASES = [nnbench.UserCase("loop", build)]
"""


def make_step(iters: int):
    """A jitted step doing ``iters`` rounds of ``tanh(x @ w)`` on (64, 64) float32."""

    def step(x, w):
        return jax.lax.fori_loop(0, iters, lambda i, y: jnp.tanh(y @ w), x)

    return jax.jit(step)


def one_trial(extra: float, rep: int, policy: nnbench.TimingPolicy, interleaved: bool = False) -> dict:
    x = jnp.ones((64, 64), jnp.float32) * 0.01
    w = jnp.eye(64, dtype=jnp.float32) * 0.5
    base_step = make_step(BASE_ITERS)
    cand_step = make_step(round(BASE_ITERS * (1 + extra)))
    order = [("base", base_step), ("cand", cand_step)]
    if rep % 2:
        order.reverse()
    samples = {}
    if interleaved:  # both in one run, sampled in shuffled rounds: shared machine state
        prepared = {name: _measure.prepare(step, (x, w)) for name, step in order}
        _measure.reprime(list(prepared.values()))
        run_rounds([p.lane for p in prepared.values()], policy)
        samples = {name: p.lane.samples_s for name, p in prepared.items()}
    else:  # two separate measurements, one after the other, as two CI runs
        for name, step in order:
            samples[name] = nnbench.measure(step, x, w, policy=policy)["time"]["samples_s"]
    res = _compare.ratio_test(samples["base"], samples["cand"], _compare.Thresholds().time, seed=rep)
    return {
        k: res.get(k) for k in ("ratio", "ci_low", "ci_high", "p_value", "drift", "batches", "verdict", "base", "cand")
    } | {"n": [len(samples["base"]), len(samples["cand"])]}


def _checkout(root: Path, iters: int, role: str) -> _ab.Side:
    """A checkout in ``root``: this repository's code, and the loop at ``iters``."""
    root.mkdir()
    (root / "nnbench").symlink_to(REPO / "nnbench")
    (root / "abstudy.py").write_text(AB_MODULE.format(iters=iters))
    return _ab.Side(role, str(root), sys.executable, str(root))


def ab_trial(extra: float, rep: int, options: _ab.ABOptions) -> dict:
    """One ``nnbench ab`` comparison: both sides are checkouts in temp directories."""
    case = nnbench.UserCase("loop", None).case("abstudy.py:CASES")
    with tempfile.TemporaryDirectory(prefix="nnbench-sensitivity-") as tmp:
        sides = (
            _checkout(Path(tmp) / "base", BASE_ITERS, "baseline"),
            _checkout(Path(tmp) / "cand", round(BASE_ITERS * (1 + extra)), "candidate"),
        )
        t0 = time.perf_counter()
        runs = _ab.run([case], sides, options)
        wall = time.perf_counter() - t0
    (res,) = _compare.compare_runs(*runs, _compare.AB_THRESHOLDS, paired=True)["cases"]  # ab's threshold
    if "time" not in res["metrics"]:
        raise RuntimeError(f"ab trial failed: {res.get('note')}")
    t = res["metrics"]["time"]
    return {
        k: t.get(k)
        for k in (
            "ratio",
            "ci_low",
            "ci_high",
            "eq_low",
            "eq_high",
            "p_value",
            "rounds",
            "pairs",
            "pair_ratios",
            "verdict",
            "base",
            "cand",
        )
    } | {"n": [len(r["records"][0]["time"]["samples_s"]) for r in runs], "wall_s": wall}


def rescore(trial: dict) -> dict:
    """A stored ``--ab`` trial with its per-pair ratios, its ratio and CI
    recomputed with ``nnbench ab``'s current pair-level interval (trials
    recorded before it changed are scored as they would be now)."""
    if not trial.get("pair_ratios") or len(trial["pair_ratios"]) < _compare.MIN_PAIRS:
        return trial
    level = _compare.pair_level(np.log(trial["pair_ratios"]))
    return trial | {k: level[k] for k in ("ratio", "ci_low", "ci_high", "eq_low", "eq_high", "p_value")}


def verdict_at(trial: dict, threshold: float) -> str:
    """The trial's verdict at ``threshold`` (paired rule for ``--ab`` trials)."""
    return (_compare.decide_paired if "rounds" in trial else _compare.decide)(trial, threshold)[1]


def describe(ab: bool, interleaved: bool, rounds: int | None, pairs: int | None) -> str:
    return (
        f"nnbench ab ({rounds} paired rounds, {pairs} worker pair(s))"
        if ab
        else "interleaved"
        if interleaved
        else "sequential"
    )


def rates(trials: dict[str, list[dict]], threshold: float) -> dict[str, float]:
    out = {"inconclusive": {}}
    for cond, ts in trials.items():
        vs = [verdict_at(t, threshold) for t in ts]
        if cond == "A/A":
            out[cond] = sum(v in (_compare.REGRESSED, _compare.IMPROVED) for v in vs) / len(vs)
        else:
            out[cond] = sum(v == _compare.REGRESSED for v in vs) / len(vs)
        out["inconclusive"][cond] = sum(v == _compare.INCONCLUSIVE for v in vs) / len(vs)
    return out


def print_tables(trials: dict[str, list[dict]], default: float) -> None:
    """Ratio ranges per condition, then false-alarm and detection rates per threshold (Markdown)."""
    for cond, ts in trials.items():
        r = sorted(t["ratio"] for t in ts)
        walls = [t["wall_s"] for t in ts if t.get("wall_s") is not None]
        cost = (
            f"; wall per comparison median {np.median(walls):.0f} s (max {max(walls):.0f} s), "
            f"worker pairs median {np.median([t['pairs'] for t in ts]):g}"
            if walls
            else ""
        )
        print(
            f"  {cond:5s} ratio median {r[len(r) // 2]:.3f}, range {r[0]:.3f} – {r[-1]:.3f}; "
            f"samples/run ~{ts[0]['n'][0]}{cost}"
        )
    names = {c: ("false alarms (A/A)" if c == "A/A" else f"detected {c}") for c in trials}
    print("\nthreshold | " + " | ".join(names.values()) + " | inconclusive " + ", ".join(trials))
    print("---:|" + "---:|" * len(names) + "---:")
    for t in sorted({0.01, 0.02, 0.03, default, 0.05, 0.07}):
        r = rates(trials, t)
        mark = " (default)" if t == default else ""
        n = {c: len(ts) for c, ts in trials.items()}
        inc = ", ".join(f"{round(v * n[c])}/{n[c]}" for c, v in r["inconclusive"].items())
        print(
            f"{100 * t:.0f} %{mark} | "
            + " | ".join(f"{round(r[c] * n[c])}/{n[c]} ({100 * r[c]:.0f} %)" for c in trials)
            + f" | {inc}"
        )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--reps", type=int, default=20, help="comparisons per condition (default 20)")
    ap.add_argument(
        "--budget", type=float, help="timing budget per measurement, seconds (default 0.25; with --ab, nnbench ab's)"
    )
    ap.add_argument(
        "--interleaved",
        action="store_true",
        help="measure A and B interleaved in one run instead of one after the other",
    )
    ap.add_argument(
        "--ab",
        action="store_true",
        help="compare through nnbench ab: two checkouts, one worker each, alternating rounds",
    )
    ap.add_argument(
        "--rounds",
        type=int,
        default=_ab.ABOptions.rounds,
        help=f"with --ab: alternating rounds per worker pair (default {_ab.ABOptions.rounds}, as nnbench ab)",
    )
    ap.add_argument(
        "--pairs",
        type=int,
        default=_ab.ABOptions.pairs,
        help=f"with --ab: worker pairs before the first verdict (default {_ab.ABOptions.pairs}, as nnbench ab)",
    )
    ap.add_argument(
        "--max-pairs",
        type=int,
        default=_ab.ABOptions.max_pairs,
        help=f"with --ab: pairs added until decided, at most this many (default {_ab.ABOptions.max_pairs})",
    )
    ap.add_argument("--only", help="comma-separated conditions to run (default: A/A,+3%%,+5%%,+10%%)")
    ap.add_argument(
        "--out", help="write every trial's ratio and CI here (JSON, rewritten after each repetition; must not exist)"
    )
    ap.add_argument(
        "--report",
        nargs="+",
        metavar="JSON",
        help="measure nothing: pool the trials of these --out files and print the tables",
    )
    args = ap.parse_args(argv)
    if args.budget is None:
        args.budget = _ab.ABOptions.budget_s if args.ab else 0.25
    if args.report:
        saved = [json.loads(Path(f).read_text()) for f in args.report]
        trials = {c: [rescore(t) for d in saved for t in d["trials"].get(c, [])] for c in saved[0]["trials"]}
        meta = saved[0]
        mode = describe(meta["ab"], meta["interleaved"], meta["rounds"], meta["pairs"])
        print(
            f"{mode}: {', '.join(f'{len(v)} {c}' for c, v in trials.items())} comparisons pooled "
            f"from {len(saved)} file(s), budget {meta['budget_s']} s per measurement"
        )
        print_tables(trials, (_compare.AB_THRESHOLDS if meta["ab"] else _compare.Thresholds()).time)
        return 0
    policy = nnbench.TimingPolicy(budget_s=args.budget, target_ci=0.005, min_samples=10)
    options = _ab.ABOptions(rounds=args.rounds, budget_s=args.budget, pairs=args.pairs, max_pairs=args.max_pairs)
    if args.out and Path(args.out).exists():
        ap.error(f"--out {args.out} exists; not overwriting it")
    default = (_compare.AB_THRESHOLDS if args.ab else _compare.Thresholds()).time
    load0 = os.getloadavg()[0]
    t0 = time.perf_counter()
    conditions = {c: EXTRA[c] for c in args.only.split(",")} if args.only else EXTRA
    trials: dict[str, list[dict]] = {c: [] for c in conditions}
    for rep in range(args.reps):
        for cond, extra in conditions.items():
            if args.ab:
                t = ab_trial(extra, rep, dataclasses.replace(options, seed=rep))
            else:
                t = one_trial(extra, rep, policy, args.interleaved)
            trials[cond].append(t)
            print(
                f"  {cond:5s} {t['ratio']:.4f} [{t['ci_low']:.4f}, {t['ci_high']:.4f}] "
                f"{verdict_at(t, default)} at {100 * default:g} %"
                + (f", {t['pairs']} pairs, {t['wall_s']:.0f} s" if args.ab else ""),
                file=sys.stderr,
                flush=True,
            )
        print(f"rep {rep + 1}/{args.reps} done ({time.perf_counter() - t0:.0f} s)", file=sys.stderr, flush=True)
        if args.out:  # after every repetition, so a stopped study keeps what it measured
            tmp = Path(args.out + ".tmp")
            tmp.write_text(
                json.dumps(
                    {
                        "interleaved": args.interleaved,
                        "ab": args.ab,
                        "rounds": args.rounds if args.ab else None,
                        "pairs": args.pairs if args.ab else None,
                        "max_pairs": args.max_pairs if args.ab else None,
                        "reps": rep + 1,
                        "budget_s": args.budget,
                        "base_iters": BASE_ITERS,
                        "load": [load0, os.getloadavg()[0]],
                        "trials": trials,
                    },
                    indent=1,
                )
            )
            os.replace(tmp, args.out)
    load1 = os.getloadavg()[0]
    mode = describe(args.ab, args.interleaved, args.rounds, args.pairs)
    print(
        f"{mode}: {args.reps} comparisons per condition, budget {args.budget} s per measurement, "
        f"{os.cpu_count()} CPUs, load average {load0:.1f} -> {load1:.1f}, {time.perf_counter() - t0:.0f} s"
    )
    print_tables(trials, default)
    return 0


if __name__ == "__main__":
    sys.exit(main())
