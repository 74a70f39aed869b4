"""How often ``nnbench ab`` calls an A/A case's compile stages changed, and
whether it still finds a real compile regression, against a simulation
whose truth is known.

An ``ab`` case compares three compile stages (trace, lower, XLA compile)
over its worker pairs. Tested one by one at 95 %, an A/A case
is then called regressed or improved by *some* stage far more often than
5 %. This study builds per-process stage times from real cold compiles:
each case's own level, plus residuals drawn from the pooled run-to-run
residuals of every case (whole trace/lower/compile vectors, so the stages'
correlation and tails are the machine's). The
candidate is the same with a known factor applied to one stage (or none:
A/A). Each trial is judged twice:

- ``per stage``: every stage at 95 % on its own (``compile_test``), as
  ``nnbench ab`` did before the family rule;
- ``family``: ``compare_records`` as it is now (the stages share 5 %).

The default runs are 8 ``nnbench run --suite ci --layer mlp,transformer_lm``
runs of one checkout (48 cases, 8 cold compiles each):

    python studies/compile_verdicts.py --trials 2000
    python studies/compile_verdicts.py RUN.json.gz ... --pairs 3,8 --trials 500

A benchmark of the statistics, not a test: it runs no JAX.
"""

from __future__ import annotations

import argparse
import collections
import glob
import math
from pathlib import Path

import numpy as np

from nnbench.compare import compare as _compare
from nnbench.results import runfile as _results

STAGES = ("trace_s", "lower_s", "compile_s")
DEFAULT_RUNS = sorted(glob.glob(str(Path(__file__).parent / "results" / "reprime-live-2026-12-03-*.json.gz")))
EFFECTS = {"A/A": {}, "XLA compile x1.5": {"compile_s": 1.5}, "trace x1.5": {"trace_s": 1.5}}


def load(paths: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """``(levels, residuals)``: each case's mean log stage seconds, shape
    ``(cases, 3)``, and the pooled residuals about them, shape ``(cases *
    runs, 3)``, scaled by sqrt(n / (n - 1)) so their spread is a single
    process's, not the mean's."""
    logs: dict[str, list[list[float]]] = collections.defaultdict(list)
    for path in paths:
        for r in _results.read_run(path)["records"]:
            c = r.get("compile") or {}
            if r["status"] == "ok" and all((c.get(k) or 0) > 0 for k in STAGES):
                logs[r["id"]].append([math.log(c[k]) for k in STAGES])
    n = len(paths)
    full = [np.array(v) for v in logs.values() if len(v) == n]
    levels = np.array([v.mean(axis=0) for v in full])
    residuals = np.concatenate([v - v.mean(axis=0) for v in full]) * math.sqrt(n / (n - 1))
    return levels, residuals


def _record(stages: np.ndarray) -> dict:
    """A merged ``ab`` record holding only compile stages: ``stages`` is
    ``(pairs, 3)`` seconds."""
    per = [dict(zip(STAGES, map(float, row), strict=True)) for row in stages]
    medians = {k: float(np.median([p[k] for p in per])) for k in STAGES}
    return {"id": "sim", "case": {}, "status": "ok", "compile": {**medians, "per_process": per}}


def trial(rng: np.random.Generator, levels, residuals, pairs: int, effect: dict[str, float]) -> dict[str, bool]:
    """One simulated case: which judgement called which stage changed."""
    level = levels[rng.integers(len(levels))]
    factor = np.array([effect.get(k, 1.0) for k in STAGES])
    base = np.exp(level + residuals[rng.integers(len(residuals), size=pairs)])
    cand = np.exp(level + residuals[rng.integers(len(residuals), size=pairs)]) * factor
    b, c = _record(base), _record(cand)
    th = _compare.AB_THRESHOLDS.compile
    per_stage = {
        k: _compare.compile_test(
            [p[k] for p in b["compile"]["per_process"]], [p[k] for p in c["compile"]["per_process"]], th
        )
        for k in STAGES
    }
    family = _compare.compare_records(b, c, _compare.AB_THRESHOLDS, paired=True)["metrics"]
    out = {}
    for name, results in (("per stage", per_stage), ("family", {k: family[f"compile.{k}"] for k in STAGES})):
        verdicts = {k: r["verdict"] for k, r in results.items()}
        out[f"{name} any"] = any(v in (_compare.REGRESSED, _compare.IMPROVED) for v in verdicts.values())
        out[f"{name} regressed"] = any(v == _compare.REGRESSED for v in verdicts.values())
        for k in effect:
            out[f"{name} {k}"] = verdicts[k] == _compare.REGRESSED
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("runs", nargs="*", default=DEFAULT_RUNS, help="run files of one checkout (default: %(default)s)")
    p.add_argument("--pairs", default="3,5,8,12", help="worker pairs per case, comma-separated")
    p.add_argument("--trials", type=int, default=1000, help="simulated cases per condition")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    levels, residuals = load(args.runs)
    sd = residuals.std(axis=0, ddof=1)
    print(
        f"{len(levels)} cases x {len(args.runs)} runs; one process's sd of log seconds: "
        + ", ".join(f"{k} {s:.3f}" for k, s in zip(STAGES, sd, strict=True))
    )
    rng = np.random.default_rng(args.seed)
    print(
        "| condition | pairs | any stage changed: per stage | family | any regressed: per stage | family "
        "| the changed stage found: per stage | family |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for name, effect in EFFECTS.items():
        for pairs in map(int, args.pairs.split(",")):
            counts: collections.Counter[str] = collections.Counter()
            for _ in range(args.trials):
                counts.update(k for k, v in trial(rng, levels, residuals, pairs, effect).items() if v)

            def rate(key: str, counts=counts) -> str:
                return f"{100 * counts[key] / args.trials:.1f} %"

            found = [rate(f"{j} {k}") for j in ("per stage", "family") for k in effect] or ["–", "–"]
            print(
                f"| {name} | {pairs} | {rate('per stage any')} | {rate('family any')} | "
                f"{rate('per stage regressed')} | {rate('family regressed')} | {' | '.join(found)} |"
            )
    print(
        f"({args.trials} simulated cases per row, seed {args.seed}; ab's compile threshold "
        f"{100 * _compare.AB_THRESHOLDS.compile:g} %)"
    )


if __name__ == "__main__":
    main()
