"""Does a cold trace stay cold, and fair between styles, if only JAX's
Python-level caches are cleared before each case?

``compile_stages`` calls ``jax.clear_caches()`` before each case; that also
drops the C++ executable caches, so every step prepared before the last one
must be compiled again before timing (the *reprime*: 332 s of a 22-min ci
run). ``jax._src.util.clear_all_caches()`` clears the trace, lowering and
compile caches (``util.cache``, ``lu.cache``, ``weakref_lru_cache``) and
keeps the C++ fast-path entries of steps already called. The risk is an
order bias: an eager helper a later style reuses would stay compiled. This
study prepares one group's styles three ways, alternating per repetition —
``full`` (today), ``python`` (styles in catalog order) and ``python-rev``
(reversed order) — and compares each style's trace, lower and compile time
between the two orders (a bias shows as a ratio away from 1 that flips with
the order) and against ``full``.

    PYTHONPATH=$PWD python studies/clear_order.py --layer mlp --mode train --reps 10

(It replaces studies/reprime_clear.py, which compared the two clears in one
order only.)

Result (2026-12-02, this 2-core VM, idle; not adopted): here, one group in
a fresh process, 15 repetitions, the staging-only clear removed the
reprime (7 recompiles, 4.2 s -> 0.01 s) with no order effect (each style's
cold total, reversed / catalog order: medians 0.95-1.04, every 95 % CI
spanning 1). But in real ``nnbench run`` workers (several groups per
worker, every executable kept alive) the cold compile of later cases grew:
``--suite ci --layer mlp,transformer_lm``, main (full clear) then the
staging-only clear, one run each, back to back: wall 204 s -> 155 s,
reprime 60 s -> 0, but cold XLA compile +22 % (median per case) rising with
the style's place in its group (jax, first, x1.08; nnx_cached and
nnx_partial, last, x1.37). A bias that grows with a style's position is
worse than the lost time, so ``compile_stages`` keeps ``jax.clear_caches()``.
The reprime is now served by the cold compiles' own executables, kept
alive with a full clear (``nnbench/measure/keep.py``), which shows no such
trend (``studies/reprime_keep.py``).
"""

from __future__ import annotations

import argparse
import statistics
import time

import jax
import numpy as np
from jax._src import util
from scipy import stats

from nnbench import layers
from nnbench.measure import stages
from nnbench.measure import step as measure_step

KEYS = ("trace_s", "lower_s", "compile_s", "total_s")


def one(strategy: str, styles: list[str], layer: str, mode: str, size: str) -> dict:
    order = styles[::-1] if strategy == "python-rev" else styles
    entry = layers.get(layer)
    built = [layers.build(entry, s, size, mode, "float32") for s in order]
    orig = jax.clear_caches
    if strategy != "full":
        stages.jax.clear_caches = util.clear_all_caches
    try:
        prepared = [measure_step.prepare(b.step, b.args, b.carry) for b in built]
    finally:
        stages.jax.clear_caches = orig
    t0 = time.perf_counter()
    measure_step.reprime(prepared)
    out = {"reprime_s": time.perf_counter() - t0, "reprime_compiles": 0}
    for s, p in zip(order, prepared, strict=True):
        out[s] = {k: p.compile_info[k] for k in KEYS}
        out["reprime_compiles"] += p.compile_info["reprime_compiles"]
    return out


def ratio_ci(a: list[float], b: list[float]) -> tuple[float, float, float]:
    r = np.log(np.array(b) / np.array(a))
    ci = stats.bootstrap((r,), np.median, n_resamples=2000, random_state=0).confidence_interval
    return float(np.exp(np.median(r))), float(np.exp(ci.low)), float(np.exp(ci.high))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--layer", default="mlp")
    parser.add_argument("--mode", default="train")
    parser.add_argument("--size", default="tiny")
    parser.add_argument("--reps", type=int, default=10)
    args = parser.parse_args()
    styles = list(layers.STYLES)
    strategies = ["full", "python", "python-rev"]
    res: dict[str, list[dict]] = {s: [] for s in strategies}
    one("full", styles, args.layer, args.mode, args.size)  # imports and first-use costs, discarded
    for rep in range(args.reps):
        turn = strategies[rep % 3 :] + strategies[: rep % 3]
        for s in turn:
            res[s].append(one(s, styles, args.layer, args.mode, args.size))
    print(f"{args.layer} {args.mode} {args.size}, {args.reps} repetitions per strategy")
    for s in strategies:
        rs = res[s]
        print(
            f"{s:10s} reprime median {statistics.median(r['reprime_s'] for r in rs):.2f} s, "
            f"compiles {sorted({r['reprime_compiles'] for r in rs})}"
        )
    print("per style: median ms (full | python | python-rev), ratio python-rev/python [95% CI], python/full")
    for k in KEYS:
        print(k)
        for st in styles:
            f, p, q = ([r[st][k] for r in res[s]] for s in strategies)
            mid, lo, hi = ratio_ci(p, q)
            pf = ratio_ci(f, p)
            print(
                f"  {st:12s} {statistics.median(f) * 1e3:8.1f} {statistics.median(p) * 1e3:8.1f} "
                f"{statistics.median(q) * 1e3:8.1f}   rev/fwd {mid:.3f} [{lo:.3f}, {hi:.3f}]   "
                f"python/full {pf[0]:.3f} [{pf[1]:.3f}, {pf[2]:.3f}]"
            )


if __name__ == "__main__":
    main()
