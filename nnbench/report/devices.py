"""Cross-device reports: runs from different machines side by side per case
(step time, throughput, per-chip throughput, MFU, compiled memory), the
fastest marked: a section of a report over several runs, and a plot (the
registry's ``runs`` scope). Reads records; never measures."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from nnbench.report import plotting as _plots
from nnbench.report.document import Note, Section, Table
from nnbench.results import escape as _escape
from nnbench.results import metrics as _metrics

Runs = Sequence[tuple[str, dict[str, Any]]]
FIELDS = ("step", "items/s", "items/s/chip", "MFU", "memory")


def labels(runs: Runs) -> list[str]:
    """``device_kind ×count`` per run; the run name is added where two would clash."""
    base = [f"{run['env'].get('device_kind')} ×{run['env'].get('device_count')}" for _, run in runs]
    return [f"{b} ({name})" if base.count(b) > 1 else b for b, (name, _) in zip(base, runs, strict=True)]


def is_cross_device(runs: Runs) -> bool:
    """More than one run and more than one device kind among them."""
    return len(runs) > 1 and len({run["env"].get("device_kind") for _, run in runs}) > 1


def _chips(rec: dict[str, Any]) -> int:
    """Devices the case ran on: ``case.devices`` of a sharded case (its mesh
    size), else 1 (a plain case runs on one device whatever the machine has)."""
    count = rec["case"].get("devices", 1)
    return count if isinstance(count, int) and not isinstance(count, bool) and count > 0 else 1


def table(runs: Runs) -> tuple[list[str], list[dict[str, Any]]]:
    """Rows per case id: ``{"id", "cells": [cell or None per run], "fastest": index}``.

    A cell: ``median`` (s), ``items_per_s``, ``per_chip``, ``mfu``,
    ``memory`` (compiled peak, else temp bytes) or ``status`` when not ok.
    """
    rows: dict[str, dict[str, Any]] = {}
    for i, (_, run) in enumerate(runs):
        for rec in run["records"]:
            row = rows.setdefault(rec["id"], {"id": rec["id"], "cells": [None] * len(runs), "fastest": None})
            if rec["status"] != "ok":
                row["cells"][i] = {"status": rec["status"]}
                continue
            ips = (rec.get("throughput") or {}).get("items_per_s")
            mem = rec.get("memory") or {}
            row["cells"][i] = {
                "median": rec["time"]["median"],
                "items_per_s": ips,
                "per_chip": ips / _chips(rec) if ips else None,
                "mfu": (rec.get("work") or {}).get("mfu"),
                "memory": mem.get("compiled_peak_bytes") or mem.get("compiled_temp_bytes"),
            }
    for row in rows.values():
        timed = [(c["median"], i) for i, c in enumerate(row["cells"]) if c and "median" in c]
        if len(timed) > 1:
            row["fastest"] = min(timed)[1]
    return labels(runs), list(rows.values())


def cell_fields(cell: dict[str, Any] | None) -> list[str]:
    """Texts for ``FIELDS``."""
    if cell is None:
        return ["–"] * len(FIELDS)
    if "median" not in cell:
        return [cell["status"]] + ["–"] * (len(FIELDS) - 1)
    return [
        _metrics.get("time").format(cell["median"]),
        f"{cell['items_per_s']:.4g}" if cell["items_per_s"] else "–",
        f"{cell['per_chip']:.4g}" if cell["per_chip"] else "–",
        _metrics.get("work.mfu").format(cell["mfu"]) if cell["mfu"] is not None else "n/a",
        _metrics.get("memory.compiled_peak_bytes").format(cell["memory"]),
    ]


def _row_texts(row: dict[str, Any]) -> list[str]:
    out = []
    for i, cell in enumerate(row["cells"]):
        f = cell_fields(cell)
        star = " ★" if row["fastest"] == i else ""
        out.append(f"{f[0]}{star} · {f[1]}/s · {f[2]}/s/chip · MFU {f[3]} · {f[4]}")
    return out


TITLE = "across devices: step · items/s · items/s per chip · MFU · compiled memory (★ fastest)"
PLOT_TITLE = "step time across devices"


def section(runs: Runs) -> Section:
    """The cross-device section: one column per run, one row per case, and its plot."""
    names, rows = table(runs)
    body = [[r["id"], *_row_texts(r)] for r in rows]
    blocks = [
        Note("Step time · items/s · items/s per chip · MFU · compiled memory; ★ fastest."),
        Table(TITLE, ("case", *names), body, align="l" * (len(names) + 1)),
        *_plots.figures("runs", runs),
    ]
    return Section("across devices", blocks)


@_plots.register("runs", "devices", PLOT_TITLE, file=".devices.png")
def plot_png(runs: Runs) -> bytes | None:
    """Bars of median step time per case, one colour per device (log scale)."""
    import numpy as np

    plt = _plots.pyplot()
    names, rows = table(runs)
    rows = [r for r in rows if any(c and "median" in c for c in r["cells"])]
    if not rows:
        return None
    fig, ax = plt.subplots(figsize=(max(6, 0.9 * len(rows)), 4), dpi=110)
    width = 0.8 / len(names)
    x = np.arange(len(rows))
    for i, n in enumerate(names):
        y = [r["cells"][i]["median"] * 1e6 if r["cells"][i] and "median" in r["cells"][i] else np.nan for r in rows]
        ax.bar(x + i * width, y, width, label=_escape.label(n))
    ax.set_xticks(
        x + width * (len(names) - 1) / 2,
        [_plots.short(r["id"], 60) for r in rows],
        rotation=25,
        ha="right",
        fontsize=7,
        **_plots.LITERAL,
    )
    ax.set_yscale("log")
    ax.set_ylabel("median step time (µs)")
    _plots.legend(ax, fontsize=7)
    return _plots.png(fig)
