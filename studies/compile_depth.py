"""Compile stages (trace, lower, XLA compile) of the train step vs depth,
unrolled vs scanned, per style — the ``compile`` suite's question without its
parity gate and step timing, for a quick look on a busy machine.

    PYTHONPATH=$PWD python studies/compile_depth.py --layer transformer_lm --depths 1,4,16 --out /tmp/compile-depth.json

Each (layer, style, depth, variant) is built once and its stages timed once
via ``nnbench.measure.stages.compile_stages`` (caches cleared first): single
samples, so read the growth, not the third digit.
"""

from __future__ import annotations

import argparse
import json

from nnbench import layers
from nnbench.measure.stages import compile_stages


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--layer", default="transformer_lm")
    parser.add_argument("--depths", default="1,2,4,8,16,32")
    parser.add_argument("--styles", default=",".join(layers.STYLES))
    parser.add_argument("--mode", default="train")
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    entry = layers.get(args.layer)
    rows = []
    for depth in (int(d) for d in args.depths.split(",")):
        for variant in ("", "_scan"):
            size = f"d{depth}{variant}"
            for style in args.styles.split(","):
                built = layers.build(entry, style, size, args.mode)
                _, info, _, _ = compile_stages(built.step, built.args)
                row = {"layer": args.layer, "style": style, "depth": depth, "scan": bool(variant), "mode": args.mode}
                row.update(
                    {k: info[k] for k in ("trace_s", "lower_s", "compile_s", "total_s", "jaxpr_eqns", "hlo_ops")}
                )
                rows.append(row)
                print(json.dumps(row), flush=True)
    with open(args.out, "x") as f:
        json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main()
