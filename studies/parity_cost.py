"""Where a parity report's time goes: tracing and lowering the views,
compiling them, running them, and the rest (weights, batch, comparisons).

Each view's first call is split into ``lower`` and ``compile`` (with the
options given, ``layers.untimed.VIEW_OPTIONS`` by default) and its
calls are timed blocked on their outputs. XLA_FLAGS, when set, applies as
usual (the tests' four virtual devices do not change a view).

    PYTHONPATH=$PWD python studies/parity_cost.py resnet float32
    PYTHONPATH=$PWD python studies/parity_cost.py resnet float32 --options '{"xla_backend_optimization_level": 0}'

On the 2-core CI VM (2026-12-03, idle; one process per figure), ResNet
tiny float32, in a process compiling everything at -O0 as the tests do
(XLA_FLAGS=--xla_backend_optimization_level=0): options -O0 only 18.4 s in
all, view compile 11.2 s; with the older CPU emitters as well (the default
since) 9.8 s, view compile 4.6 s. ViT tiny bfloat16 (its float32 gate
included) 29.0 s -> 20.8 s, view compile 20.0 s -> 11.2 s. Errors
unchanged (ResNet's largest gradient error 2.9e-6 either way). Without
XLA_FLAGS, as ``nnbench run``'s gate runs: 23.7 s -> 21.4 s, view compile
8.9 s -> 4.1 s (8 views: raw JAX's are the reference's), but 12-14 s go
outside the views — the canonical initialiser's and the batch's compiles
at full optimisation — the next thing to cut in a run's gate.
"""

from __future__ import annotations

import argparse
import json
import time

import jax

from nnbench import layers
from nnbench.layers import untimed


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("layer")
    ap.add_argument("dtype", nargs="?", default="float32")
    ap.add_argument("--size", default="tiny")
    ap.add_argument("--options", help="the views' compiler options, as JSON")
    args = ap.parse_args()
    if args.options:
        untimed.VIEW_OPTIONS.clear()
        untimed.VIEW_OPTIONS.update(json.loads(args.options))
    spent = {"lower": 0.0, "compile": 0.0, "run": 0.0, "views": 0}

    class Timed(untimed.Once):  # the views' programs only (the weights and batches are "other")
        def lower(self, *a):
            t = time.perf_counter()
            lowered = super().lower(*a)
            if self._options is untimed.VIEW_OPTIONS:
                spent["lower"] += time.perf_counter() - t
            return lowered

        def __call__(self, *a):
            if self._options is not untimed.VIEW_OPTIONS:
                return super().__call__(*a)
            views, lowering = len(self._compiled), spent["lower"]
            t = time.perf_counter()
            compiled = self.compile(*a)
            if len(self._compiled) > views:
                spent["compile"] += time.perf_counter() - t - (spent["lower"] - lowering)
                spent["views"] += 1
            t = time.perf_counter()
            out = jax.block_until_ready(compiled(*a))
            spent["run"] += time.perf_counter() - t
            return out

    untimed.Once = Timed
    t = time.perf_counter()
    report = layers.parity_report(layers.get(args.layer), args.size, args.dtype)
    total = time.perf_counter() - t
    other = total - spent["lower"] - spent["compile"] - spent["run"]
    worst = {k: max((r[k] or 0.0) for r in report.values()) for k in ("forward", "grad", "loss")}
    print(
        f"{args.layer}/{args.size}/{args.dtype}: {total:.1f} s in all; lower {spent['lower']:.1f} s, "
        f"compile {spent['compile']:.1f} s ({spent['views']} views), run {spent['run']:.1f} s, "
        f"other {other:.1f} s; options {untimed.VIEW_OPTIONS}"
    )
    print("largest errors:", {k: f"{v:.2g}" for k, v in worst.items()}, "ok:", all(r["ok"] for r in report.values()))


if __name__ == "__main__":
    main()
