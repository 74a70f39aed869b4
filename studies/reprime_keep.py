"""Do kept executables remove the reprime without moving the cold compile
or the step time?

Takes run files of the same selection made alternately without the keeper
(``base``: a checkout whose ``run_group`` reprimes by compiling again) and
with it (``keep``: ``nnbench/measure/keep.py``), e.g. on an idle machine,
each from its own checkout, in an order that balances drift (base, keep,
keep, base, keep, base, base, keep):

    nnbench run --suite ci --layer mlp,transformer_lm --out base1.json   # checkout without
    nnbench run --suite ci --layer mlp,transformer_lm --out keep1.json   # this checkout
    ...
    python studies/reprime_keep.py --base base1.json ... --keep keep1.json ...

and prints, per run, the wall time (the run file's own start and finish),
the reprime and the cold compile summed over the cases; then per style (in
its place in the worker group), the geometric mean over cases and pairs of
keep/base for the cold XLA compile (with a 95 % t-interval) and the step
median, next to the same compile ratio between like runs (A/A: the
run-to-run noise); and the rank correlation of the compile ratio with the
style's place in its group: the staging-only clear tried before
(``studies/clear_order.py``) made later styles' compile slower, x1.08 for
the first rising to x1.37 for the last.

Result, live executables (2026-12-03, the 2-core Xeon VM, idle, 48 cases
per run, 4 pairs in the order above; base with the cheaper untimed
compiles of ``layers.untimed`` already in): wall 166-204 s -> 111-132 s;
reprime 60-73 s (42 XLA compiles) -> 6.2-7.8 s (0 compiles, 42 executables
served; what remains is the re-trace and re-lowering); cold XLA compile
keep/base 0.985 over the 192 case pairs (A/A between like runs 1.078), per
style 0.946-1.011, every 95 % interval spanning 1 (the widest
0.924-1.107: a bias like the staging-only clear's x1.37 is excluded, one
under ~8 % is not), no trend with the style's place in its group (Spearman
rho 0.05, p 0.51); step medians keep/base 0.90-0.95 per style, inside the
run-to-run spread (each run's step level against base1: base 0.96-1.12,
keep 0.77-1.03). The eight run files:

    python studies/reprime_keep.py \
        --base studies/results/reprime-live-2026-12-03-base{1,2,3,4}.json.gz \
        --keep studies/results/reprime-live-2026-12-03-keep{1,2,3,4}.json.gz

Earlier, serialized executables (commit 5f66816, removed: some
deserialized CPU executables failed when called in a long pytest process,
``NOT_FOUND: Function add_select_fusion not found``), 2 pairs: wall 244 and
234 s -> 188 and 170 s, reprime 76/69 -> 14/13 s, cold compile keep/base
0.98 (A/A 0.88), no trend (rho -0.16, p 0.12); files
``studies/results/reprime-keep-2026-12-03-{base,base2,keep,keep2}.json.gz``.
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
    ap.add_argument("--base", nargs="+", required=True, metavar="RUN")
    ap.add_argument("--keep", nargs="+", required=True, metavar="RUN")
    args = ap.parse_args()
    if len(args.base) != len(args.keep) or len(args.base) < 2:
        ap.error("give as many --keep runs as --base runs, two or more each")
    n = len(args.base)
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

    pairs = [(f"base{i}", f"keep{i}") for i in range(1, n + 1)]
    kb = [log_ratios(recs[a], recs[b], keys, compile_s) for a, b in pairs]
    sb = [log_ratios(recs[a], recs[b], keys, step) for a, b in pairs]
    like = [(f"{side}{i}", f"{side}{i + 1}") for side in ("base", "keep") for i in range(1, n)]
    aa = [log_ratios(recs[a], recs[b], keys, compile_s) for a, b in like]
    print("\nstyle (group order)  compile keep/base [95 % CI]  A/A (like runs)  step keep/base")
    pos, val = [], []
    for i, s in enumerate(order):
        both = [x for d in kb for x in d[s]]
        pos += [i] * len(both)
        val += both
        half = stats.t.ppf(0.975, len(both) - 1) * statistics.stdev(both) / math.sqrt(len(both))
        mid = statistics.fmean(both)
        ci = f"{gmean(both):7.3f} [{math.exp(mid - half):.3f}-{math.exp(mid + half):.3f}]"
        noise = gmean([x for d in aa for x in d[s]])
        print(f"{s:20s} {ci:>26s} {noise:16.3f} {gmean([x for d in sb for x in d[s]]):15.3f}")
    every = [x for d in kb for v in d.values() for x in v]
    noise = [x for d in aa for v in d.values() for x in v]
    rho = stats.spearmanr(pos, val)
    print(f"\nall cases: compile keep/base {gmean(every):.3f} (A/A {gmean(noise):.3f}); ", end="")
    print(f"trend with place in group: Spearman rho {rho.statistic:.2f}, p {rho.pvalue:.2f}")


if __name__ == "__main__":
    main()
