"""Flax or Haiku? Where the API choice stops mattering for speed.

    PYTHONPATH=$PWD python studies/overhead_crossover.py --out studies/results/overhead-crossover.md
    PYTHONPATH=$PWD python studies/overhead_crossover.py --layers mlp --sizes 16x8,32x8 --styles jax,linen

Host overhead is a fixed cost per call: the Python a style runs to issue a
step (``nnx.jit``'s graph traversal, Haiku's and Linen's ``apply``) before
the device works. This sweeps the step size — width × batch of the MLP
(widths ``w, 2w, 2w, w``) and of the Transformer LM (``d_model = w``, 4×
MLP, 2 blocks, seq 32, vocab 256) — and, for every style of the catalog
(raw jax, linen, haiku, nnx in each jit mode), measures the step and the
host's dispatch time per call with ``nnbench.measure`` (all styles of one
size interleaved in rounds, as ``nnbench run`` does). Host overhead =
median dispatch ÷ median step. The crossover of a style is the smallest
size (ordered by jax's step time) from which its overhead stays below
``--share`` (5 %): past it, the style's own Python costs under 5 % of the
step. Weights are the canonical ones in every style; the parity gate is
the catalog's (``tests/test_parity.py``), not repeated here.

Writes a Markdown table per layer and mode, the crossovers, and a plot
(overhead share against jax's step time, one line per style). About 10
minutes on 2 cores with the defaults; run it on an idle machine.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import time
from pathlib import Path

from nnbench import layers
from nnbench.layers import styles as _styles
from nnbench.measure import env as _env
from nnbench.measure.step import finish, prepare, reprime
from nnbench.measure.timing import TimingPolicy, run_rounds

# width x batch per layer, growing together: from the catalog's tiny step to
# ~0.1-0.3 s a step on 2 cores (the LM's cost grows as width² × batch × seq).
DEFAULT_SIZES = {"mlp": "16x8,64x32,256x128,1024x512", "transformer_lm": "16x8,64x16,128x32,256x64"}


def config(layer: str, width: int, batch: int) -> dict:
    """The catalog config of ``layer`` at ``width`` and ``batch``."""
    base = dict(layers.get(layer).config("tiny"))
    if layer == "mlp":
        return {**base, "batch": batch, "widths": (width, 2 * width, 2 * width, width)}
    heads = max(2, width // 64)
    return {**base, "batch": batch, "seq": 32, "vocab": 256, "d_model": width, "heads": heads, "hidden": 4 * width}


def measure_size(layer: str, width: int, batch: int, mode: str, styles: list[str], policy: TimingPolicy) -> dict:
    """``{style: (median step s, median dispatch s)}`` of one size, styles interleaved."""
    entry = dataclasses.replace(layers.get(layer), sizes={"sweep": config(layer, width, batch)})
    prepared = []
    for style in styles:
        built = _styles.build(entry, style, "sweep", mode)
        prepared.append(prepare(built.step, built.args, built.carry))
    reprime(prepared)
    stop = run_rounds([p.lane for p in prepared], policy)
    out = {}
    for style, p in zip(styles, prepared, strict=True):
        rec = finish(p, stop, policy)
        out[style] = (rec["time"]["median"], rec["dispatch"]["median"])
    return out


def crossover(rows: list[tuple[float, str, float]], share: float) -> str:
    """The first size label from which ``overhead < share`` holds to the end; rows sorted by jax's step."""
    first = None
    for _, label, s in rows:
        if s < share:
            first = first or label
        else:
            first = None
    return first or "not reached"


def plot(path: Path, series: dict, share: float, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5), dpi=110)
    for style, pts in series.items():
        pts = sorted(pts)
        ax.plot([p[0] * 1e6 for p in pts], [100 * p[1] for p in pts], marker="o", ms=3, label=style)
    ax.axhline(100 * share, color="0.3", ls="--", lw=1, label=f"{100 * share:g} %")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("jax's median step (µs) at the same size")
    ax.set_ylabel("host overhead: dispatch ÷ step (%)")
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--layers", default="mlp,transformer_lm")
    p.add_argument("--sizes", help="WIDTHxBATCH,... for every layer (default: DEFAULT_SIZES per layer)")
    p.add_argument("--styles", default="all", help="comma-separated, or all (every catalog style)")
    p.add_argument("--mode", default="train", choices=("forward", "train"))
    p.add_argument("--share", type=float, default=0.05, help="the overhead share that ends the crossover (0.05)")
    p.add_argument("--budget", type=float, default=0.3, help="timing budget per style and size, seconds")
    p.add_argument("--out", help="Markdown file (a .png plot per layer beside it); default: print")
    args = p.parse_args(argv)
    _env.pin_matmul_precision()
    styles = list(_styles.STYLES) if args.styles == "all" else args.styles.split(",")
    policy = TimingPolicy(budget_s=args.budget, warmup_budget_s=args.budget / 2, settle_s=0.2, target_ci=0.02)
    started = time.perf_counter()
    lines = [
        "# Host overhead against step size, per style",
        "",
        f"`{' '.join(['python', *sys.argv])}`; jax {_env.fingerprint()['versions']['jax']}, "
        f"{_env.cpu_model()}, {os.cpu_count()} cores; mode {args.mode}.",
        "",
        f"Cells: median step · host overhead (median dispatch ÷ median step). Crossover: the smallest size "
        f"(by jax's step) from which a style's overhead stays under {100 * args.share:g} %.",
    ]
    for layer in args.layers.split(","):
        results = {}
        for item in (args.sizes or DEFAULT_SIZES[layer]).split(","):
            w, b = (int(v) for v in item.lower().split("x"))
            label = f"w{w}×b{b}"
            results[label] = measure_size(layer, w, b, args.mode, styles, policy)
            print(f"{layer} {label}: done ({time.perf_counter() - started:.0f} s)", file=sys.stderr)
        order = sorted(results, key=lambda k: results[k].get("jax", next(iter(results[k].values())))[0])
        lines += ["", f"## {layer} ({args.mode})", "", "| size | " + " | ".join(styles) + " |"]
        lines.append("|---|" + "---:|" * len(styles))
        for label in order:
            cells = [f"{1e6 * t:.4g} µs · {100 * d / t:.1f} %" for t, d in (results[label][s] for s in styles)]
            lines.append(f"| {label} | " + " | ".join(cells) + " |")
        lines += ["", "| style | crossover (overhead < " + f"{100 * args.share:g} % from here on) |", "|---|---|"]
        series = {}
        for s in styles:
            ref = [(results[k].get("jax", results[k][s])[0], k, results[k][s][1] / results[k][s][0]) for k in order]
            lines.append(f"| {s} | {crossover(ref, args.share)} |")
            series[s] = [(r[0], r[2]) for r in ref]
        if args.out:
            png = Path(args.out).with_name(f"{Path(args.out).stem}.{layer}.png")
            plot(png, series, args.share, f"{layer} {args.mode}: host overhead per style")
            lines += ["", f"![{layer}]({png.name})"]
    lines += ["", f"Wall time: {time.perf_counter() - started:.0f} s."]
    text = "\n".join(lines) + "\n"
    if args.out:
        Path(args.out).write_text(text, encoding="utf-8")
        print(args.out)
    else:
        print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
