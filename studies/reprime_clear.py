"""Can the ci suite's reprime go?  ``compile_stages`` calls
``jax.clear_caches()`` before each case (a cold trace), which also drops the
executables of the group's cases prepared before it, so ``reprime``
recompiles them (332 s of the 22-min ci run). Strategy ``python-only``
clears only JAX's Python-level staging caches (``jax._src.util.
clear_all_caches``) and keeps the C++ executable caches: does it keep the
cold trace/lower/compile figures and remove the recompiles? The two
strategies alternate, one group of five styles (mlp train tiny) at a time.

    PYTHONPATH=$PWD python studies/reprime_clear.py [REPS]   # 20: ~3 min here
"""

import statistics
import sys
import time

import jax
import numpy as np
from jax._src import util
from scipy import stats

from nnbench import layers
from nnbench.measure import stages
from nnbench.measure import step as measure_step

STYLES = ["jax", "linen", "nnx_split", "haiku", "nnx"]


def build(style, layer="mlp", mode="train", size="tiny"):
    entry = layers.get(layer)
    return layers.build(entry, style, size, mode, "float32")


def one(strategy):
    built = [build(s) for s in STYLES]
    orig = jax.clear_caches
    if strategy == "python-only":
        stages.jax.clear_caches = lambda: util.clear_all_caches()
    try:
        prepared = [measure_step.prepare(b.step, b.args, b.carry) for b in built]
    finally:
        stages.jax.clear_caches = orig
    t0 = time.perf_counter()
    measure_step.reprime(prepared)
    reprime = time.perf_counter() - t0
    info = [p.compile_info for p in prepared]
    return {
        "trace": [i["trace_s"] for i in info],
        "lower": [i["lower_s"] for i in info],
        "compile": [i["compile_s"] for i in info],
        "reprime_s": reprime,
        "reprime_compiles": sum(i["reprime_compiles"] for i in info),
    }


res: dict[str, list] = {"full": [], "python-only": []}
for rep in range(int(sys.argv[1]) if len(sys.argv) > 1 else 4):
    for s in ("full", "python-only") if rep % 2 == 0 else ("python-only", "full"):
        res[s].append(one(s))
for s, rs in res.items():
    print(
        s, "reprime compiles", [r["reprime_compiles"] for r in rs], "reprime s", [round(r["reprime_s"], 3) for r in rs]
    )
    for k in ("trace", "lower", "compile"):
        per_style = [statistics.median(r[k][i] for r in rs) for i in range(len(STYLES))]
        print("  ", k, " ".join(f"{st}={v * 1e3:.1f}ms" for st, v in zip(STYLES, per_style)))
print(
    "per-stage ratio python-only / full, all styles pooled (paired by repetition and style), "
    "95% bootstrap CI of the median ratio:"
)
for k in ("trace", "lower", "compile"):
    r = np.array([b[k][i] / a[k][i] for a, b in zip(res["full"], res["python-only"]) for i in range(len(STYLES))])
    ci = stats.bootstrap((np.log(r),), np.median, n_resamples=2000, random_state=0).confidence_interval
    mid, low, high = np.exp(np.median(np.log(r))), np.exp(ci.low), np.exp(ci.high)
    print(f"  {k}: median ratio {mid:.3f} [{low:.3f}, {high:.3f}] (n={len(r)})")
