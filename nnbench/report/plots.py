"""The plots of a run report: step time and compiled memory per style relative
to raw JAX (heatmaps, one row per layer/mode/size/dtype group), compile time
by stage, and, for small runs, absolute step times with their CIs.

Reads records; never measures. Each plot is PNG bytes, or None when the run
holds nothing to draw. They are the registry's ``run`` scope
(``nnbench.report.plotting``), in report order at the end of this module.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

from nnbench.report import plotting as _plots
from nnbench.report.tables import UNSTABLE_MARK, fmt_bytes, fmt_time, memory_side_by_side, side_by_side, styles_in

BAR_CHART_MAX_GROUPS = 8  # beyond this the grouped bars are unreadable; the heatmap carries the run
RATIO_SPAN_MAX = 10.0  # the colour scale saturates beyond ×10 and ×1/10 (the cell text still tells)
STAGES = (
    ("trace", "trace_s", "#4c72b0"),
    ("lower", "lower_s", "#dd8452"),
    ("backend compile (XLA)", "compile_s", "#55a868"),
)
MODE_ORDER = ("init", "forward", "train")
HEATMAP_KEY = (
    f"hatched: not ok (status shown) · –: not in the run · {UNSTABLE_MARK}: unstable, read as a range\n"
    "no jax: the group has no ok jax case to divide by"
)


class Plot(NamedTuple):
    key: str  # names the file beside a Markdown report: ``<stem>.<key>.png`` (``<stem>.png`` for "bars")
    title: str  # alt text and link text
    png: bytes


def run_plots(records: Sequence[dict[str, Any]]) -> list[Plot]:
    """Every plot of one run's records that has something to draw, in report order."""
    return [Plot(f.key, f.title, f.png()) for f in _plots.figures("run", records) if f.png()]


def step_bars_png(records: Sequence[dict[str, Any]], max_groups: int = BAR_CHART_MAX_GROUPS) -> bytes | None:
    """Grouped bars of median step time per style with 95 % CIs; None beyond ``max_groups`` groups."""
    import numpy as np

    styles, rows = side_by_side(records)
    rows = [r for r in rows if any("median" in c for c in r["cells"].values())]
    if not rows or len(rows) > max_groups:
        return None
    plt = _plots.pyplot()
    fig, ax = plt.subplots(figsize=(max(6, 1.6 * len(rows)), 4.4), dpi=110)
    width = 0.8 / max(1, len(styles))
    x = np.arange(len(rows))
    for i, s in enumerate(styles):
        med, lo, hi = (
            np.array([r["cells"].get(s, {}).get(k, np.nan) for r in rows]) * 1e6
            for k in ("median", "ci_low", "ci_high")
        )
        ax.bar(x + i * width, med, width, yerr=[med - lo, hi - med], label=_plots.short(s), capsize=2)
    ax.set_xticks(
        x + width * (len(styles) - 1) / 2,
        [_plots.short(r["group"], 60) for r in rows],
        rotation=20,
        ha="right",
        fontsize=8,
        **_plots.LITERAL,
    )
    ax.set_xlabel("layer/mode/size/dtype")
    ax.set_ylabel("median step time (µs, log scale), 95 % CI")
    ax.set_yscale("log")
    ax.set_title("Median step time per style")
    _plots.legend(ax, fontsize=8)
    return _plots.png(fig)


def step_ratio_png(records: Sequence[dict[str, Any]]) -> bytes | None:
    """Heatmap of median step time ÷ the jax style's, per group and style."""
    styles, rows = side_by_side(records)
    return _ratio_heatmap(
        styles,
        rows,
        ref_text=lambda cell: fmt_time(cell["median"]),
        title="Median step time relative to raw JAX (same layer/mode/size/dtype)",
        scale_label="step time ÷ jax's (log; red: slower)",
    )


def memory_ratio_png(records: Sequence[dict[str, Any]]) -> bytes | None:
    """Heatmap of compiled peak bytes ÷ the jax style's, per group and style."""
    styles, rows = memory_side_by_side(records)
    return _ratio_heatmap(
        styles,
        rows,
        ref_text=lambda cell: fmt_bytes(cell["peak_bytes"]),
        title="Compiled peak memory relative to raw JAX (XLA memory_analysis)",
        scale_label="peak bytes ÷ jax's (log; red: more)",
    )


def _ratio_ticks(span: float) -> list[float]:
    """``×1`` and, inside ``[1/span, span]``, the largest round ratio ``m``
    and one near its square root, each with its inverse."""
    ms = [m for m in (1.05, 1.1, 1.25, 1.5, 2, 3, 5, 10) if m <= span * 1.0001]
    if not ms:
        return [1.0]
    picked = [ms[-1], *[m for m in ms if m * m <= ms[-1] * 1.0001][-1:]]
    return sorted([1.0, *picked, *(1 / m for m in picked)])


def _ratio_text(ratio: float) -> str:
    """``×1.25``, ``×0.91``, ``×10``."""
    return "×" + f"{ratio:.2f}".rstrip("0").rstrip(".")


def _ratio_heatmap(
    styles: list[str],
    rows: list[dict[str, Any]],
    *,
    ref_text: Callable[[dict[str, Any]], str],
    title: str,
    scale_label: str,
) -> bytes | None:
    """Rows: groups; columns: styles; colour and text: each cell's ``ratio``
    on a diverging log scale centred on ×1. Cells that are not ok are
    hatched with their status; a group's jax value is given in its label."""
    import matplotlib
    import numpy as np
    from matplotlib.colors import LogNorm
    from matplotlib.patches import Rectangle

    ratios = np.full((len(rows), len(styles)), np.nan)
    for i, row in enumerate(rows):
        for j, s in enumerate(styles):
            r = row["cells"].get(s, {}).get("ratio")
            if r is not None and r > 0:
                ratios[i, j] = r
    if not np.isfinite(ratios).any():
        return None
    finite = ratios[np.isfinite(ratios)]
    span = min(max(float(finite.max()), 1 / float(finite.min()), 1.1), RATIO_SPAN_MAX)
    norm = LogNorm(vmin=1 / span, vmax=span, clip=False)

    plt = _plots.pyplot()
    cmap = matplotlib.colormaps["RdBu_r"].with_extremes(bad="#f2f2f2")
    labels = []
    for row in rows:
        jax = row["cells"].get("jax", {})
        group = _plots.short(row["group"], 60)
        labels.append(f"{group} (jax {ref_text(jax)})" if jax.get("ratio") else group)
    width = max(8.0, 3.0 + 0.065 * max(len(x) for x in labels) + 0.9 * len(styles))
    fig, ax = plt.subplots(figsize=(width, max(3.6, 1.9 + 0.26 * len(rows))), dpi=100)
    image = ax.imshow(np.ma.masked_invalid(ratios), cmap=cmap, norm=norm, aspect="auto", interpolation="nearest")
    for i, row in enumerate(rows):
        for j, s in enumerate(styles):
            cell, emphasis = row["cells"].get(s), {}
            if cell is None:
                text, colour = "–", "#888"
            elif "status" in cell:
                ax.add_patch(
                    Rectangle((j - 0.5, i - 0.5), 1, 1, facecolor="#e6e6e6", edgecolor="#d88", hatch="///", lw=0)
                )
                text, colour = _plots.short(cell["status"], 12), "#a00"
                emphasis = {"weight": "bold", "bbox": {"facecolor": "white", "edgecolor": "none", "pad": 0.5}}
            elif np.isfinite(ratios[i, j]):
                text = f"×{ratios[i, j]:.2f}" + (UNSTABLE_MARK if cell.get("ratio_unstable") else "")
                colour = "white" if abs(np.log(ratios[i, j])) > 0.55 * np.log(span) else "black"
            else:
                text, colour = ("no jax" if cell.get("ratio", 0) is None else "n/a"), "#555"
            ax.text(j, i, text, ha="center", va="center", fontsize=7, color=colour, **emphasis, **_plots.LITERAL)
    ax.set_xticks(
        range(len(styles)), [_plots.short(s) for s in styles], rotation=30, ha="right", fontsize=8, **_plots.LITERAL
    )
    ax.set_yticks(range(len(rows)), labels, fontsize=7, **_plots.LITERAL)
    ax.set_xlabel(f"style\n{HEATMAP_KEY}", fontsize=8)
    ax.set_ylabel("layer/mode/size/dtype")
    ax.set_title(title, fontsize=10)
    ticks = _ratio_ticks(span)
    bar = fig.colorbar(image, ax=ax, extend="both" if span >= RATIO_SPAN_MAX else "neither", fraction=0.05, pad=0.02)
    bar.minorticks_off()
    bar.set_ticks(ticks, labels=[_ratio_text(t) for t in ticks])
    bar.ax.tick_params(labelsize=7)
    bar.set_label(scale_label, fontsize=8)
    return _plots.png(fig)


def compile_stages_png(records: Sequence[dict[str, Any]]) -> bytes | None:
    """Stacked bars of trace, lower and XLA-compile seconds per style, one
    panel per mode; each stage is the median over the style's ok cases of
    that mode (medians: a few big models would dominate a sum)."""
    import numpy as np

    timed = [r for r in records if r["status"] == "ok" and isinstance(r.get("compile"), dict)]
    modes = sorted(
        {r["case"]["mode"] for r in timed},
        key=lambda m: (MODE_ORDER.index(m) if m in MODE_ORDER else len(MODE_ORDER), m),
    )
    if not modes:
        return None
    styles = styles_in(timed)
    plt = _plots.pyplot()
    fig, axes = plt.subplots(
        1, len(modes), figsize=(1.2 + len(modes) * max(3.2, 0.55 * len(styles) + 1), 4.6), dpi=110, squeeze=False
    )
    for ax, mode in zip(axes[0], modes, strict=True):
        per_style = {
            s: [r["compile"] for r in timed if r["case"]["mode"] == mode and r["case"]["style"] == s] for s in styles
        }
        shown = [s for s in styles if per_style[s]]
        x = np.arange(len(shown))
        bottom = np.zeros(len(shown))
        for stage, key, colour in STAGES:
            values = np.array(
                [np.median([c[key] for c in per_style[s] if c.get(key) is not None] or [0.0]) for s in shown]
            )
            ax.bar(x, values, 0.7, bottom=bottom, label=stage, color=colour)
            bottom += values
        counts = sorted({len(per_style[s]) for s in shown})
        n = str(counts[0]) if len(counts) == 1 else f"{counts[0]}–{counts[-1]}"
        ax.set_title(f"{_plots.short(mode)} (n = {n} cases per style)", fontsize=9, **_plots.LITERAL)
        ax.set_xticks(x, [_plots.short(s) for s in shown], rotation=30, ha="right", fontsize=8, **_plots.LITERAL)
        ax.set_xlabel("style")
        ax.set_ylabel("seconds (median of each stage over the cases)", fontsize=8)
        ax.set_ylim(top=1.2 * max(bottom.max(), 1e-3))  # headroom for the legend
    _plots.legend(axes[0][0], fontsize=7, loc="upper center", ncol=len(STAGES))
    fig.suptitle("Compile time by stage (cold: trace → lower → XLA backend compile)", fontsize=10)
    return _plots.png(fig)


# The run scope of the plot registry, in report order; the bar chart keeps its old file name ``<stem>.png``.
_plots.register("run", "ratio", "median step time relative to jax per group and style")(step_ratio_png)
_plots.register("run", "bars", "median step time per style with 95 % CIs", file="{run}.png")(step_bars_png)
_plots.register("run", "compile", "compile time by stage per style and mode")(compile_stages_png)
_plots.register("run", "memory", "compiled peak memory relative to jax per group and style")(memory_ratio_png)
PLOT_KEYS = tuple(spec.key for spec in _plots.specs("run"))
