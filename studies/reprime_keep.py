"""Did kept executables (``nnbench/measure/keep.py`` of commit 5f66816, since
removed: some deserialized CPU executables failed when called in a long
pytest process, ``NOT_FOUND: Function add_select_fusion not found``) remove
the reprime without moving the cold compile or the step time?

Takes run files of the same selection made alternately without the keeper
(``base``: the commit before it) and with it (``keep``), e.g. on an idle
machine, each from its own checkout:

    nnbench run --suite ci --layer mlp,transformer_lm --out base1.json   # checkout before
    nnbench run --suite ci --layer mlp,transformer_lm --out keep1.json   # this checkout
    nnbench run --suite ci --layer mlp,transformer_lm --out keep2.json
    nnbench run --suite ci --layer mlp,transformer_lm --out base2.json
    python studies/reprime_keep.py --base base1.json base2.json --keep keep1.json keep2.json

and prints, per run, the wall time (the run file's own start and finish),
the reprime and the cold compile summed over the cases; then per style (in
its place in the worker group), the geometric mean over cases of keep/base
for the cold XLA compile and the step median, next to the same ratio
between the two base runs and the two keep runs (A/A: the run-to-run
noise); and the rank correlation of the compile ratio with the style's
place in its group: the staging-only clear tried before
(``studies/clear_order.py``) made later styles' compile slower, x1.08 for
the first rising to x1.37 for the last.

Result (2026-12-03, the 2-core Xeon VM, idle, 48 cases per run, back to
back in the order above): wall 244 and 234 s -> 188 and 170 s; reprime
76.1 and 69.3 s (42 XLA compiles) -> 13.7 and 13.1 s (0 compiles, 42
executables deserialized; what remains is the re-trace and re-lowering);
cold XLA compile keep/base 0.98 over the 96 case pairs (A/A between like
runs 0.88: the noise is larger than any effect), per style 0.89-1.10, no
trend with the style's place in its group (Spearman rho -0.16, p 0.12);
step median keep/base per style 0.96-1.04. (Its removed test found a
served executable's optimized HLO equal to a fresh compile's.) The four run files are in studies/results/:

    python studies/reprime_keep.py --base studies/results/reprime-keep-2026-12-03-base{,2}.json.gz \
        --keep studies/results/reprime-keep-2026-12-03-keep{,2}.json.gz
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
from datetime import datetime

from scipy import stats

from nnbench.results import runfile as _results


def load(path: str) -> tuple[dict[str, dict], float]:
    run = _results.read_run(path)
    wall = (datetime.fromisoformat(run["finished"]) - datetime.fromisoformat(run["started"])).total_seconds()
    recs = {json.dumps(r["case"], sort_keys=True): r for r in run["records"] if r["status"] == "ok"}
    return recs, wall


def log_ratios(a: dict, b: dict, keys: list[str], get) -> dict[str, list[float]]:
    out: dict[str, list[float]] = {}
    for k in keys:
        out.setdefault(json.loads(k)["style"], []).append(math.log(get(b[k]) / get(a[k])))
    return out


def gmean(v: list[float]) -> float:
    return math.exp(statistics.fmean(v)) if v else float("nan")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--base", nargs=2, required=True, metavar="RUN")
    ap.add_argument("--keep", nargs=2, required=True, metavar="RUN")
    args = ap.parse_args()
    runs = {f"{side}{i + 1}": load(p) for side in ("base", "keep") for i, p in enumerate(getattr(args, side))}
    for name, (recs, wall) in runs.items():
        c = [r["compile"] for r in recs.values()]
        print(
            f"{name}: wall {wall:.0f} s, reprime {sum(x.get('reprime_s') or 0 for x in c):.1f} s "
            f"({sum(x.get('reprime_compiles') or 0 for x in c)} compiles, "
            f"{sum(x.get('reprime_kept') or 0 for x in c)} kept), "
            f"cold compile {sum(x['compile_s'] for x in c):.1f} s, {len(c)} cases"
        )
    recs = {n: r for n, (r, _) in runs.items()}
    keys = sorted(set.intersection(*(set(r) for r in recs.values())))
    order = list(dict.fromkeys(json.loads(k)["style"] for k in runs["base1"][0] if k in keys))  # group order

    def compile_s(r):
        return r["compile"]["compile_s"]

    def step(r):
        return r["time"]["median"]

    pairs = (("base1", "keep1"), ("base2", "keep2"))
    kb = [log_ratios(recs[a], recs[b], keys, compile_s) for a, b in pairs]
    sb = [log_ratios(recs[a], recs[b], keys, step) for a, b in pairs]
    aa = [log_ratios(recs[a], recs[b], keys, compile_s) for a, b in (("base1", "base2"), ("keep1", "keep2"))]
    print("\nstyle (group order)  compile keep/base  A/A base  A/A keep  step keep/base")
    pos, val = [], []
    for i, s in enumerate(order):
        both = kb[0][s] + kb[1][s]
        pos += [i] * len(both)
        val += both
        noise = f"{gmean(aa[0][s]):9.3f} {gmean(aa[1][s]):9.3f}"
        print(f"{s:20s} {gmean(both):17.3f} {noise} {gmean(sb[0][s] + sb[1][s]):15.3f}")
    every = [x for d in kb for v in d.values() for x in v]
    noise = [x for d in aa for v in d.values() for x in v]
    rho = stats.spearmanr(pos, val)
    print(f"\nall cases: compile keep/base {gmean(every):.3f} (A/A {gmean(noise):.3f}); ", end="")
    print(f"trend with place in group: Spearman rho {rho.statistic:.2f}, p {rho.pvalue:.2f}")


if __name__ == "__main__":
    main()
