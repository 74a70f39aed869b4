"""Cross-device reports: runs from different machines side by side per case
(step time, throughput, per-chip throughput, MFU, compiled memory), the
fastest marked. Reads records; never measures."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from nnbench.report import plotting as _plots
from nnbench.report.run import _md_escape, fmt_bytes, fmt_time
from nnbench.results import escape as _escape

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
        fmt_time(cell["median"]),
        f"{cell['items_per_s']:.4g}" if cell["items_per_s"] else "–",
        f"{cell['per_chip']:.4g}" if cell["per_chip"] else "–",
        f"{100 * cell['mfu']:.1f} %" if cell["mfu"] is not None else "n/a",
        fmt_bytes(cell["memory"]),
    ]


def _row_texts(row: dict[str, Any]) -> list[str]:
    out = []
    for i, cell in enumerate(row["cells"]):
        f = cell_fields(cell)
        star = " ★" if row["fastest"] == i else ""
        out.append(f"{f[0]}{star} · {f[1]}/s · {f[2]}/s/chip · MFU {f[3]} · {f[4]}")
    return out


def print_table(runs: Runs, console) -> None:
    from rich.table import Table

    escape = _escape.term  # run-file strings: control characters shown, markup inert

    names, rows = table(runs)
    t = Table(title="across devices: step · items/s · items/s per chip · MFU · compiled memory (★ fastest)", title_justify="left")
    t.add_column("case")
    for n in names:
        t.add_column(escape(n))
    for row in rows:
        t.add_row(escape(row["id"]), *(escape(x) for x in _row_texts(row)))
    console.print(t)


def markdown(runs: Runs, plot_name: str | None = None) -> str:
    names, rows = table(runs)
    e = _md_escape
    lines = ["## across devices", "", "Step time · items/s · items/s per chip · MFU · compiled memory; ★ fastest.", ""]
    lines += ["| case | " + " | ".join(e(n) for n in names) + " |", "|---|" + "---|" * len(names)]
    lines += [f"| {e(r['id'])} | " + " | ".join(e(x) for x in _row_texts(r)) + " |" for r in rows]
    if plot_name:
        lines += ["", f"![step time across devices]({e(plot_name)})"]
    return "\n".join(lines) + "\n"


def html_section(runs: Runs) -> str:
    names, rows = table(runs)
    h = _escape.html
    parts = ["<h2>across devices</h2><p>step time · items/s · items/s per chip · MFU · compiled memory; ★ fastest</p>"]
    parts.append("<table><tr><th>case</th>" + "".join(f"<th>{h(n)}</th>" for n in names) + "</tr>")
    parts += [f"<tr><td>{h(r['id'])}</td>" + "".join(f"<td>{h(x)}</td>" for x in _row_texts(r)) + "</tr>" for r in rows]
    parts.append("</table>")
    parts.append(_plots.img_tag(plot_png(runs), "step time across devices"))
    return "".join(parts)


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
    ax.set_xticks(x + width * (len(names) - 1) / 2, [_plots.short(r["id"], 60) for r in rows], rotation=25, ha="right", fontsize=7, **_plots.LITERAL)
    ax.set_yscale("log")
    ax.set_ylabel("median step time (µs)")
    _plots.legend(ax, fontsize=7)
    return _plots.png(fig)


def plot_path(path):
    """The cross-device plot beside a Markdown report at ``path``."""
    from pathlib import Path

    return Path(path).with_suffix(".devices.png")


def append_markdown(path, runs: Runs) -> list:
    """Append the cross-device section to a written Markdown report, its plot
    beside it (``<name>.devices.png``, never overwritten); returns what was written."""
    from pathlib import Path

    path = Path(path)
    written = []
    plot_name = None
    png = plot_png(runs)
    if png:
        plot = plot_path(path)
        with open(plot, "xb") as f:
            f.write(png)
        plot_name = plot.name
        written.append(plot)
    with open(path, "a") as f:
        f.write("\n" + markdown(runs, plot_name))
    return written
