"""Which styles compile to the same optimized HLO as raw JAX, per layer.

Builds each layer × style × mode step at one size, compiles it (no timing)
and compares its optimized-HLO op histogram with the ``jax`` style's, using
the same helpers a run's report uses (``nnbench.measure.stages.hlo_op_histogram``,
``nnbench.compare.same_program``). Prints a Markdown table.

    PYTHONPATH=. python reports/hlo_equality.py [--layer a,b] [--mode forward,train] [--size tiny]
"""

from __future__ import annotations

import argparse

from nnbench import layers
from nnbench.compare.same_program import diff_text, same_program
from nnbench.measure import env as _env
from nnbench.measure.stages import hlo_op_histogram


def records(names: list[str], modes: list[str], size: str, dtype: str) -> list[dict]:
    out = []
    for name in names:
        entry = layers.get(name)
        for mode in modes:
            for style in layers.STYLES:
                case = {"layer": name, "style": style, "mode": mode, "size": size, "dtype": dtype}
                try:
                    built = layers.build(entry, style, size, mode, dtype)
                    hlo = built.step.trace(*built.args).lower().compile().as_text()
                    out.append({"case": case, "status": "ok", "compile": {"hlo_op_histogram": hlo_op_histogram(hlo)}})
                except Exception as e:  # noqa: BLE001 - report, don't stop
                    out.append({"case": case, "status": "failed", "error": f"{type(e).__name__}: {e}"})
                    print(f"<!-- {name}/{style}/{mode}: {type(e).__name__}: {str(e)[:200]} -->", flush=True)
    return out


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--layer", default=",".join(layers.names()))
    p.add_argument("--mode", default="forward,train")
    p.add_argument("--size", default="tiny")
    p.add_argument("--dtype", default="float32")
    a = p.parse_args()
    _env.pin_matmul_precision()
    styles = [s for s in layers.STYLES if s != "jax"]
    print("| layer/mode/size/dtype | " + " | ".join(styles) + " |")
    print("|---|" + "---|" * len(styles), flush=True)
    for name in a.layer.split(","):  # one layer at a time: rows appear as they finish
        _print_rows(same_program(records([name], a.mode.split(","), a.size, a.dtype)), styles)


def _print_rows(table: dict, styles: list[str]) -> None:
    for group, row in table.items():
        cells = []
        for s in styles:
            res = row.get(s, {"same": None, "diff": {}})
            cells.append({True: "same", None: "–"}.get(res["same"], f"differs: {diff_text(res['diff'], 3)}"))
        print(f"| {group} | " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()
