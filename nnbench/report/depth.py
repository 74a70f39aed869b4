"""Compile time against model depth: the ``compile`` suite's question (how
trace, lower and XLA compile grow with the number of blocks, unrolled
against each library's scan, per style), as a report section and a plot.

Records qualify when their size is a depth size (``d<N>`` unrolled,
``d<N>_scan`` scanned; ``layers.catalog.COMPILE_DEPTHS``) and they hold
cold compile stages. Growth is the slope of log(seconds) on log(depth)
over every depth measured (least squares): 1 is linear in depth, 0 flat;
a single cold compile per point, so read the slope, not the third digit.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from nnbench.report import plotting as _plots
from nnbench.report.document import DIM, Note, Section, Table
from nnbench.report.plots import STAGES
from nnbench.report.tables import fmt_time, style_rank

DEPTH_SIZE = re.compile(r"^d(\d+)(_scan)?$")
STAGE_KEYS = tuple((name, key) for name, key, _ in STAGES)


def points(records: Sequence[dict[str, Any]]) -> dict[tuple[str, str, str, str], dict[int, dict[str, float]]]:
    """``{(layer, mode, variant, style): {depth: compile}}`` of the depth-sized
    ok records (``variant``: ``unrolled`` or ``scan``)."""
    out: dict[tuple[str, str, str, str], dict[int, dict[str, float]]] = {}
    for r in records:
        case = r["case"]
        m = DEPTH_SIZE.match(case.get("size", ""))
        if not m or r.get("status") != "ok" or not isinstance(r.get("compile"), dict):
            continue
        key = (case["layer"], case["mode"], "scan" if m.group(2) else "unrolled", case["style"])
        out.setdefault(key, {})[int(m.group(1))] = r["compile"]
    return {k: v for k, v in out.items() if len(v) >= 2}


def growth(by_depth: dict[int, dict[str, float]], key: str) -> float | None:
    """Least-squares slope of log(seconds) on log(depth); None without two positive points."""
    import numpy as np

    xy = [(d, c[key]) for d, c in sorted(by_depth.items()) if c.get(key)]
    if len(xy) < 2:
        return None
    x, y = np.log([d for d, _ in xy]), np.log([s for _, s in xy])
    return float(np.polyfit(x, y, 1)[0])


def _order(key: tuple[str, str, str, str]) -> tuple:
    layer, mode, variant, style = key
    return (layer, mode, variant != "unrolled", style_rank(style))


def section(records: Sequence[dict[str, Any]]) -> Section | None:
    pts = points(records)
    if not pts:
        return None
    depths = sorted({d for v in pts.values() for d in v})
    keys = sorted(pts, key=_order)
    total = Table(
        "cold trace + lower + compile by depth (seconds) and growth (slope of log time on log depth)",
        ("layer/mode", "variant", "style", *(f"d{d}" for d in depths), "growth"),
        [
            [
                f"{layer}/{mode}",
                variant,
                style,
                *(fmt_time(pts[k][d]["total_s"]) if d in pts[k] else "–" for d in depths),
                _slope(growth(pts[k], "total_s")),
            ]
            for k in keys
            for layer, mode, variant, style in [k]
        ],
        "lll" + "r" * (len(depths) + 1),
    )
    deepest = depths[-1]
    stages = Table(
        f"growth per stage, and each stage's share of the total at d{deepest}",
        (
            "layer/mode",
            "variant",
            "style",
            *(f"{n} growth" for n, _ in STAGE_KEYS),
            *(f"{n} share" for n, _ in STAGE_KEYS),
        ),
        [
            [
                f"{layer}/{mode}",
                variant,
                style,
                *(_slope(growth(pts[k], key)) for _, key in STAGE_KEYS),
                *(_share(pts[k].get(deepest), key) for _, key in STAGE_KEYS),
            ]
            for k in keys
            for layer, mode, variant, style in [k]
        ],
        "lll" + "r" * (2 * len(STAGE_KEYS)),
    )
    note = Note(
        "growth 1 ≈ linear in depth, 0 ≈ flat; one cold compile (JAX caches cleared) per point, "
        "so single points carry a few % of noise",
        DIM,
    )
    return Section("compile time vs depth", [total, stages, note], level=3)


def _slope(v: float | None) -> str:
    return "–" if v is None else f"{v:.2f}"


def _share(compile_info: dict[str, float] | None, key: str) -> str:
    if not compile_info or not compile_info.get("total_s") or compile_info.get(key) is None:
        return "–"
    return f"{100 * compile_info[key] / compile_info['total_s']:.0f} %"


@_plots.register("run", "depth", "cold compile time against depth per style, unrolled and scanned")
def depth_png(records: Sequence[dict[str, Any]]) -> bytes | None:
    """Log-log lines of cold trace+lower+compile seconds against depth, one
    line per style, one panel per layer/mode and variant."""
    pts = points(records)
    if not pts:
        return None
    panels = sorted({(k[0], k[1], k[2]) for k in pts}, key=lambda p: (p[0], p[1], p[2] != "unrolled"))
    styles = sorted({k[3] for k in pts}, key=style_rank)
    plt = _plots.pyplot()
    colours = plt.get_cmap("tab10")
    cols = 2 if len(panels) > 1 else 1
    rows = (len(panels) + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(5.2 * cols, 3.8 * rows), dpi=110, squeeze=False)
    for ax, (layer, mode, variant) in zip(axes.flat, panels, strict=False):
        for i, style in enumerate(styles):
            by_depth = pts.get((layer, mode, variant, style))
            if not by_depth:
                continue
            ds = sorted(by_depth)
            ax.plot(ds, [by_depth[d]["total_s"] for d in ds], marker="o", ms=3, color=colours(i % 10), label=style)
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_title(f"{layer}/{mode}, {variant}", fontsize=9, **_plots.LITERAL)
        ax.set_xlabel("depth (blocks)")
        ax.set_ylabel("cold trace + lower + compile (s)", fontsize=8)
    for ax in list(axes.flat)[len(panels) :]:
        ax.set_visible(False)
    _plots.legend(axes.flat[0], fontsize=7)
    fig.suptitle("Cold compile time against depth", fontsize=10)
    return _plots.png(fig)
