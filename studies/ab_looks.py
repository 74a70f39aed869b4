"""What ``nnbench ab``'s sequential looks decide, against known truths.

Simulated worker pairs (each pair its own log-normal offset, ``--pair-sd``,
each round 1 % noise; the model of ``tests/test_ab.py``'s error-rate test)
at a set of true candidate/baseline ratios. Each run looks as ``ab`` does:
from 3 pairs on, stop at the first decided verdict (``compare.time_decided``),
at most 12 pairs, at ab's 3 % threshold. Prints, per truth, how often each
verdict came out and how many pairs it took.

    PYTHONPATH=$PWD python studies/ab_looks.py            # 300 runs per truth, ~1 min
    PYTHONPATH=$PWD python studies/ab_looks.py --replay studies/results/ab-sequential-2026-12-02.json

Run it at another commit to see another rule (docs/comparing.md quotes the
rule before two one-sided tests decided "unchanged", commit 6f54e59).
``--replay`` takes real sequential trials of ``studies/sensitivity.py --ab``
(each keeps every pair's ratio) and finds where each would have stopped
under the old rule ("unchanged": the 95 % interval in the band) and under
today's (two one-sided tests, the 90 % interval), and with what verdict;
wall time scales with the pairs (the trial's own seconds per pair).
"""

from __future__ import annotations

import argparse
import json
import math

import numpy as np

from nnbench.compare import compare as _compare

TRUTHS = (1.0, 1.02, 1.03, 1.035, 1.04, 1.05)


def simulated(rng: np.random.Generator, pair_sd: float, true_ratio: float, pairs: int, rounds: int = 40):
    """Baseline and candidate records of ``pairs`` worker pairs."""
    sides = [{"samples_s": [], "round_ends": [], "process_ends": []} for _ in range(2)]
    for _ in range(pairs):
        offset = true_ratio * math.exp(pair_sd * rng.standard_normal())
        for side, f in zip(sides, (1.0, offset), strict=True):
            for _ in range(rounds):
                side["samples_s"] += list(1e-3 * f * (1 + 0.01 * rng.standard_normal(5)))
                side["round_ends"].append(len(side["samples_s"]))
            side["process_ends"].append(len(side["round_ends"]))
    return [{"id": "sim", "case": "sim", "status": "ok", "time": t} for t in sides]


def first_pairs(t: dict, k: int) -> dict:
    rounds = t["process_ends"][k - 1]
    return {
        "samples_s": t["samples_s"][: t["round_ends"][rounds - 1]],
        "round_ends": t["round_ends"][:rounds],
        "process_ends": t["process_ends"][:k],
    }


def sequential(full, thresholds, first: int = 3, most: int = 12) -> tuple[str, int]:
    """(verdict, pairs used) of one sequential ``ab`` over the simulated pairs."""
    for k in range(first, most + 1):
        base, cand = ({**r, "time": first_pairs(r["time"], k)} for r in full)
        ((done, _),) = _compare.time_decided([base], [cand], thresholds)
        if done or k == most:
            return _compare.compare_records(base, cand, thresholds, paired=True)["metrics"]["time"]["verdict"], k
    raise AssertionError("unreachable")


def stop(pair_ratios: list[float], rule: str, threshold: float, most: int = 12) -> tuple[int, str]:
    """(pairs, verdict) where a sequential ab over these pairs' ratios stops."""
    for k in range(3, len(pair_ratios) + 1):
        level = _compare.pair_level(np.log(pair_ratios[:k])) | {"rounds": 40 * k}
        if rule == "old":
            v = _compare.verdict(level["ratio"], level["ci_low"], level["ci_high"], threshold)
        else:
            v = _compare.decide_paired(level, threshold)[1]
        if v != "inconclusive" or k == most:
            return k, v
    return len(pair_ratios), "inconclusive"


def replay(paths: list[str], threshold: float) -> None:
    print("| condition | rule | verdicts | pairs per trial | wall per comparison, median |")
    print("|---|---|---|---|---:|")
    for path in paths:
        with open(path) as f:
            trials = json.load(f)["trials"]
        for cond, ts in trials.items():
            for rule in ("old", "new"):
                out = [stop(t["pair_ratios"], rule, threshold) for t in ts]
                walls = [t["wall_s"] / len(t["pair_ratios"]) * k for t, (k, _) in zip(ts, out, strict=True)]
                verdicts = [v for _, v in out]
                counts = ", ".join(f"{v} {verdicts.count(v)}" for v in sorted(set(verdicts)))
                pairs = " ".join(str(k) for k, _ in out)
                print(f"| {cond} | {rule} | {counts} | {pairs} | {np.median(walls):.1f} s |")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=300, help="simulated ab runs per truth (default 300)")
    ap.add_argument("--pair-sd", type=float, default=0.015, help="SD of a worker pair's log offset (default 0.015)")
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--replay", nargs="+", metavar="JSON", help="replay stored sequential ab trials instead")
    args = ap.parse_args(argv)
    th = _compare.AB_THRESHOLDS
    if args.replay:
        replay(args.replay, th.time)
        return 0
    print(f"threshold {100 * th.time:g} %, pair SD {100 * args.pair_sd:g} %, {args.runs} runs per truth")
    print("| truth | regressed | unchanged | inconclusive | improved | pairs, median (mean) |")
    print("|---:|---:|---:|---:|---:|---:|")
    for truth in TRUTHS:
        rng = np.random.default_rng(args.seed)
        out = [sequential(simulated(rng, args.pair_sd, truth, 12), th) for _ in range(args.runs)]
        verdicts, used = [v for v, _ in out], [k for _, k in out]
        counts = " | ".join(f"{verdicts.count(v)}" for v in ("regressed", "unchanged", "inconclusive", "improved"))
        print(f"| {truth:g} | {counts} | {np.median(used):g} ({np.mean(used):.1f}) |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
