"""The summary a run report opens with: "Flax or Haiku (or NNX, or raw
JAX)?" in about ten lines.

Per style, over the groups (same layer/mode/size/dtype, one record per
style) where both it and raw JAX (the ``jax`` style) are ok: the geometric
mean of its ratio to jax for step time, cold compile time and compiled peak
memory, with a 95 % CI (Student t on the log ratios across groups), how many
groups, and the groups where its step time is best and worst relative to
jax. The step-time ratio of a group is the one the step-time table shows
(``tables.side_by_side``: paired over rounds where it can be). Reads
records; never measures.

Example::

    >>> from nnbench.report.summary import geomean_ci
    >>> [round(x, 3) for x in geomean_ci([1.0, 4.0])[:1]]
    [2.0]
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from nnbench.report import tables
from nnbench.report.document import DIM, GOOD, Note, Section, Table

REFERENCE = "jax"
LEVEL = 0.95
# name, grid of per-group cells, key of the cell's value
METRICS = ("step time", "compile time", "compiled memory")


def _grids(records: Sequence[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    compile_of = lambda r: {"total_s": (r.get("compile") or {}).get("total_s")}  # noqa: E731
    return {
        "step time": tables.side_by_side(records)[1],
        "compile time": tables.grid(records, compile_of, "total_s")[1],
        "compiled memory": tables.memory_side_by_side(records)[1],
    }


def geomean_ci(ratios: Sequence[float], level: float = LEVEL) -> tuple[float, float | None, float | None]:
    """Geometric mean of ``ratios`` and its ``level`` CI: ``exp(mean ± t·sd/√n)``
    of the logs (Student t, n − 1 degrees of freedom); no CI for fewer than
    two ratios."""
    from scipy import stats

    logs = [math.log(r) for r in ratios]
    n = len(logs)
    mean = sum(logs) / n
    if n < 2:
        return math.exp(mean), None, None
    sd = math.sqrt(sum((x - mean) ** 2 for x in logs) / (n - 1))
    half = float(stats.t.ppf(0.5 + level / 2, n - 1)) * sd / math.sqrt(n)
    return math.exp(mean), math.exp(mean - half), math.exp(mean + half)


def summarize(records: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per style but jax, in report order: ``{"style", "groups": n compared
    on step time, <metric>: {"ratio", "ci_low", "ci_high", "groups"} or None,
    "fastest"/"slowest": (group, step-time ratio)}``."""
    grids = _grids(records)
    per: dict[str, dict[str, list[tuple[str, float]]]] = {}
    for metric, rows in grids.items():
        for row in rows:
            if "ratio" not in row["cells"].get(REFERENCE, {}):
                continue  # no ok jax case with a value: nothing to divide by
            for style, cell in row["cells"].items():
                ratio = cell.get("ratio")
                if style != REFERENCE and ratio is not None and ratio > 0 and math.isfinite(ratio):
                    per.setdefault(style, {}).setdefault(metric, []).append((row["group"], ratio))
    out = []
    for style in tables.styles_in(records):
        if style == REFERENCE or style not in per:
            continue
        entry: dict[str, Any] = {"style": style, "groups": len(per[style].get("step time", []))}
        for metric in METRICS:
            pairs = per[style].get(metric, [])
            if pairs:
                gm, lo, hi = geomean_ci([r for _, r in pairs])
                entry[metric] = {"ratio": gm, "ci_low": lo, "ci_high": hi, "groups": len(pairs)}
            else:
                entry[metric] = None
        steps = per[style].get("step time", [])
        entry["fastest"] = min(steps, key=lambda p: p[1]) if steps else None
        entry["slowest"] = max(steps, key=lambda p: p[1]) if steps else None
        out.append(entry)
    return out


def _ratio_text(m: dict[str, Any] | None) -> str:
    if m is None:
        return "–"
    ci = f" [{m['ci_low']:.2f}–{m['ci_high']:.2f}]" if m["ci_low"] is not None else ""
    return f"×{m['ratio']:.2f}{ci}"


def _where(p: tuple[str, float] | None) -> str:
    return "–" if p is None else f"{p[0]} ×{p[1]:.2f}"


COLUMNS = ("style", "groups", *METRICS, "step time: best group", "worst group")


def section(records: Sequence[dict[str, Any]]) -> Section | None:
    """The summary section (None when no style has a group shared with jax)."""
    rows = summarize(records)
    if not rows:
        return None
    blocks: list[Any] = []
    ranked = sorted((e for e in rows if e["step time"]), key=lambda e: e["step time"]["ratio"])
    if ranked:
        best = ranked[0]["step time"]
        tied = [
            e["style"]
            for e in ranked[1:]
            if best["ci_high"] is not None
            and e["step time"]["ci_low"] is not None
            and e["step time"]["ci_low"] <= best["ci_high"]
        ]
        text = ", ".join(f"{e['style']} ×{e['step time']['ratio']:.2f}" for e in ranked) + " (raw JAX ×1)"
        if tied:
            text += f"; {ranked[0]['style']}'s 95 % CI overlaps {', '.join(tied)}'s: not separated by this run"
        blocks.append(Note(text, GOOD, lead="step time, fastest first:"))
    data = [
        {
            "style": e["style"],
            "groups": e["groups"],
            **{m: e[m] for m in METRICS},
            "fastest": e["fastest"],
            "slowest": e["slowest"],
        }
        for e in rows
    ]
    body = [
        [
            e["style"],
            str(e["groups"]),
            *(_ratio_text(e[m]) for m in METRICS),
            _where(e["fastest"]),
            _where(e["slowest"]),
        ]
        for e in rows
    ]
    blocks.append(
        Table(
            "per style: geometric mean over the groups of its ratio to raw JAX (jax) [95 % CI]",
            COLUMNS,
            body,
            align="lrrrrll",
            data=data,
        )
    )
    blocks.append(
        Note(
            "×1 is raw JAX; below 1 is faster or smaller. A group is one layer/mode/size/dtype with an ok jax case; "
            "compile time is the cold trace+lower+compile; memory is XLA's compiled peak; "
            "95 % CI: Student t on the log ratios across groups",
            DIM,
        )
    )
    return Section("summary: which style, relative to raw JAX", blocks, level=3)
