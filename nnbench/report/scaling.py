"""The scaling report: throughput, efficiency, FLOP/s and utilisation vs
device count per strategy: a section of a run report (a table) and a plot
(registered for every report's records together). Reads records only."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from nnbench.report import plotting as _plots
from nnbench.report.document import DIM, Note, Section, Table
from nnbench.results import escape as _escape
from nnbench.results.metrics import fmt_bytes, fmt_fraction, fmt_time

TITLE = "throughput and scaling efficiency vs devices"

COLUMNS = (
    "case",
    "strategy",
    "devices",
    "step (median)",
    "items/s",
    "items/s/device",
    "efficiency",
    "model FLOP/s",
    "FLOP/s/device",
    "MFU",
    "HFU",
    "memory/device",
    "collectives",
)
_SHORT = {
    "all-reduce": "AR",
    "all-gather": "AG",
    "reduce-scatter": "RS",
    "all-to-all": "A2A",
    "collective-permute": "CP",
}


def _scaling_records(records: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    return [r for r in records if r.get("case", {}).get("strategy")]


def _collectives_text(c: dict[str, int] | None) -> str:
    if not c:
        return "–"
    parts = [f"{n} {_SHORT.get(k, k)}" for k, n in c.items() if n]
    return ", ".join(parts) if parts else "none"


def _rate_text(x: float | None) -> str:
    """FLOP/s with an SI prefix, e.g. ``3.1 TFLOP/s``."""
    if not x:
        return "–"
    for scale, prefix in ((1e15, "P"), (1e12, "T"), (1e9, "G"), (1e6, "M")):
        if x >= scale:
            return f"{x / scale:.3g} {prefix}FLOP/s"
    return f"{x:.3g} FLOP/s"


def _util_text(work: dict[str, Any], key: str) -> str:
    """MFU or HFU against all the record's devices; n/a where no peak is known."""
    if work.get(key) is not None:
        return fmt_fraction(work[key])
    return "n/a" if work.get("peak_flops_per_s") is None else "–"


def rows(records: Sequence[dict[str, Any]]) -> list[dict[str, str]]:
    """One row per sharded record, sorted by case, strategy, device count.

    FLOP/s and utilisation read the record's ``work``: model FLOP/s of the
    whole step (all devices) and per device, MFU and HFU against the
    combined peak of all the case's devices."""
    out = []
    for r in sorted(
        _scaling_records(records), key=lambda r: (_case_text(r["case"]), r["case"]["strategy"], r["case"]["devices"])
    ):
        c = r["case"]
        row = {"case": _case_text(c), "strategy": c["strategy"], "devices": str(c["devices"])}
        if r["status"] != "ok":
            row.update({k: "–" for k in COLUMNS[3:]}, **{"step (median)": r["status"]})
            out.append(row)
            continue
        s, t, w = r.get("scaling", {}), r["throughput"], r.get("work") or {}
        eff = s.get("efficiency")
        row.update(
            {
                "step (median)": fmt_time(r["time"]["median"]),
                "items/s": f"{t['items_per_s']:.4g}" if t.get("items_per_s") else "–",
                "items/s/device": f"{s['items_per_s_per_device']:.4g}" if s.get("items_per_s_per_device") else "–",
                "efficiency": f"{100 * eff:.0f} %" if eff is not None else "–",
                "model FLOP/s": _rate_text(w.get("achieved_flops_per_s")),
                "FLOP/s/device": _rate_text(w.get("achieved_flops_per_s_per_device")),
                "MFU": _util_text(w, "mfu"),
                "HFU": _util_text(w, "hfu"),
                "memory/device": fmt_bytes(s.get("memory_per_device_bytes")),
                "collectives": _collectives_text(s.get("collectives")),
            }
        )
        out.append(row)
    return out


def _case_text(c: dict[str, Any]) -> str:
    return f"{c['layer']}/{c['style']}/{c['size']}/{c['dtype']}/{c.get('scaling', 'strong')}"


NOTE = (
    "efficiency: per-device throughput over the 1-device record's throughput; "
    "model FLOP/s of the whole step and per device; "
    "MFU and HFU against the combined peak of all N devices; collectives counted in the optimized HLO: "
    "AR all-reduce, AG all-gather, RS reduce-scatter, A2A all-to-all, CP collective-permute"
)


def section(records: Sequence[dict[str, Any]]) -> Section | None:
    """The scaling section of a run report; None without sharded records."""
    body = rows(records)
    if not body:
        return None
    align = "".join("l" if col in ("case", "strategy", "collectives") else "r" for col in COLUMNS)
    table = Table(
        "scaling (efficiency: per-device throughput vs the 1-device record; MFU/HFU against all N devices' peak)",
        COLUMNS,
        [[row[c] for c in COLUMNS] for row in body],
        align,
    )
    return Section("scaling", [table, Note(NOTE, DIM)], level=3)


@_plots.register("records", "scaling", TITLE, file="-scaling.png")
def plot_png(records: Sequence[dict[str, Any]]) -> bytes | None:
    """Throughput (left) and efficiency (right) vs device count, one line per
    case and strategy."""
    series: dict[str, list[tuple[int, float, float | None]]] = {}
    for r in _scaling_records(records):
        if r["status"] != "ok" or not r.get("throughput", {}).get("items_per_s"):
            continue
        c = r["case"]
        series.setdefault(f"{_case_text(c)} {c['strategy']}", []).append(
            (c["devices"], r["throughput"]["items_per_s"], r["scaling"].get("efficiency"))
        )
    if not series:
        return None
    plt = _plots.pyplot()
    fig, (ax_t, ax_e) = plt.subplots(1, 2, figsize=(11, 4), dpi=110)
    for label, points in sorted(series.items()):
        points.sort()
        n = [p[0] for p in points]
        ax_t.plot(n, [p[1] for p in points], marker="o", label=_escape.label(label))
        eff = [(p[0], p[2]) for p in points if p[2] is not None]
        if eff:
            ax_e.plot([e[0] for e in eff], [100 * e[1] for e in eff], marker="o", label=_escape.label(label))
    counts = sorted({p[0] for pts in series.values() for p in pts})
    for ax in (ax_t, ax_e):
        ax.set_xscale("log", base=2)
        ax.set_xticks(counts, [str(c) for c in counts])
        ax.set_xlabel("devices")
    ax_t.set_ylabel("throughput (items/s)")
    ax_e.set_ylabel("scaling efficiency (%)")
    ax_e.axhline(100, color="grey", lw=0.8, ls="--")
    _plots.legend(ax_t, fontsize=7)
    return _plots.png(fig)
