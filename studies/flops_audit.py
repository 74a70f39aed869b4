"""Analytic model FLOPs of every catalog entry against XLA's own count.

    PYTHONPATH=$PWD python studies/flops_audit.py --out studies/results/flops-audit.md
    PYTHONPATH=$PWD python studies/flops_audit.py --layers lstm,gru --sizes small --no-compiled
    PYTHONPATH=$PWD python studies/flops_audit.py --layers transformer_lm,mlp,lstm --sizes d8,d8_scan,small --styles all

For each entry × size × mode (forward, train) × style (default: the raw-JAX
one) it builds the step (float32) and prints one table row: the analytic ``entry.flops``; XLA's count
of the step as JAX lowered it and as XLA compiled it (every loop iteration
counted, ``nnbench.measure.stages.program_cost``); XLA's count of the optimizer
update alone over the same parameter tree (train; model FLOPs exclude it);
and (XLA − update) ÷ analytic for both (NNX styles: the update over the
same parameters in the canonical layout). The lowered count is the program as
written; the compiled one adds what XLA's fusion recomputes. Entries that
state why their count differs from XLA's (``Entry.flops_note``) show it.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

from nnbench import layers
from nnbench.measure.flops import xla_reference

HEADER = (
    "entry",
    "style",
    "size",
    "mode",
    "analytic",
    "XLA lowered",
    "XLA compiled",
    "update (lowered)",
    "update (compiled)",
    "lowered − update ÷ analytic",
    "compiled − update ÷ analytic",
    "note",
)


def _num(x: float | None) -> str:
    return "–" if x is None else f"{x:.4g}"


def _ratio(xla: dict | None, analytic: float) -> str:
    if xla is None or not analytic:
        return "–"
    return f"{xla['model_xla'] / analytic:.3f}" + (" (≥)" if xla["lower_bound"] else "")


def row(entry, style: str, size: str, mode: str, compiled: bool) -> tuple[str, ...]:
    analytic = entry.flops(entry.config(size), mode)
    low = xla_reference(entry, size, mode, style)
    comp = xla_reference(entry, size, mode, style, compile=True) if compiled else None
    note = getattr(entry, "flops_note", None) or ""
    return (
        entry.name,
        style,
        size,
        mode,
        _num(analytic),
        _num(low["xla"]),
        _num(comp and comp["xla"]),
        _num(low["update"] if mode == "train" else None),
        _num(comp["update"] if comp and mode == "train" else None),
        _ratio(low, analytic),
        _ratio(comp, analytic),
        note,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--layers", default=",".join(layers.names()))
    parser.add_argument("--sizes", default="tiny,small")
    parser.add_argument("--styles", default="jax", help="comma-separated, or 'all'")
    parser.add_argument("--no-compiled", action="store_true", help="only the lowered count (no XLA compile)")
    parser.add_argument("--out", help="Markdown file to write (refuses to overwrite)")
    args = parser.parse_args()
    if args.out and os.path.exists(args.out):
        sys.exit(f"flops_audit: error: {args.out} exists")
    styles = layers.STYLES if args.styles == "all" else tuple(args.styles.split(","))
    lines = ["| " + " | ".join(HEADER) + " |", "|" + "---|" * 4 + "---:|" * (len(HEADER) - 5) + "---|"]
    print(lines[0], flush=True)
    t0 = time.perf_counter()
    for name in args.layers.split(","):
        entry = layers.get(name)
        for size in args.sizes.split(","):
            if size not in entry.sizes:
                continue
            for mode in ("forward", "train"):
                for style in styles:
                    line = "| " + " | ".join(row(entry, style, size, mode, not args.no_compiled)) + " |"
                    lines.append(line)
                    print(line, flush=True)
    print(f"({time.perf_counter() - t0:.0f} s)", file=sys.stderr)
    if args.out:
        with open(args.out, "x") as f:
            f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
