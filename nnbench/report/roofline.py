"""The roofline in a run report: the calibrated ceilings, each case's bound
and roofline efficiency per style, the roofline plot (registry scope
``run``), and, with ``--lower-for``, each case's roofline lower bound on
accelerators this machine does not have (vendor figures: a bound, never a
measurement).

Reads records (their ``roofline`` section, ``nnbench.measure.roofline``) and
the run's ``env.calibration``; never measures. Old records without a
``roofline`` read as n/a.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from nnbench.measure import roofline as _roofline
from nnbench.report import plotting as _plots
from nnbench.report.document import DIM, WARN, Note, Section, Table
from nnbench.report.tables import bound_text, grid, styles_in
from nnbench.results.metrics import fmt_rate, fmt_time

HOW_TO_CALIBRATE = (
    "no calibration stored for this machine when the run started: MFU and the roofline have no measured ceilings "
    "(vendor figures only where the device is in nnbench's table). Measure them once with `nnbench calibrate` "
    "(about 30 s), or pass `nnbench run --calibrate`."
)
THRESHOLDS = (
    f"bound: overhead when the step is under {_roofline.OVERHEAD_FLOOR_FACTOR:g} × the dispatch floor or dispatch "
    f"is over {100 * _roofline.OVERHEAD_DISPATCH_SHARE:.0f} % of it; else memory when bytes ÷ bandwidth exceeds "
    "FLOPs ÷ peak, else compute. Roofline efficiency: max(FLOPs ÷ peak, bytes ÷ bandwidth) ÷ median step "
    "(XLA's per-device counts of the compiled program; see docs/roofline.md)"
)


def _section(record: dict[str, Any]) -> dict[str, Any]:
    return (record.get("roofline") or {}) if record.get("status") == "ok" else {}


def calibration_lines(cal: dict[str, Any]) -> list[str]:
    """The calibrated figures, each a median with its 95 % CI."""
    out = []
    for dtype, m in (cal.get("matmul") or {}).items():
        if "flops_per_s" in m:
            lo, hi = m["ci"]
            out.append(
                f"matmul {dtype} {m['n']}²: {fmt_rate(m['flops_per_s'], 'FLOP/s')} "
                f"[{fmt_rate(lo, 'FLOP/s')} – {fmt_rate(hi, 'FLOP/s')}]"
            )
    bw, floor = cal.get("bandwidth") or {}, cal.get("dispatch_floor") or {}
    if "bytes_per_s" in bw:
        out.append(
            f"bandwidth: {fmt_rate(bw['bytes_per_s'], 'B/s')} [{fmt_rate(bw['ci'][0], 'B/s')} – "
            f"{fmt_rate(bw['ci'][1], 'B/s')}]"
        )
    if "s" in floor:
        out.append(f"dispatch floor: {fmt_time(floor['s'])} [{fmt_time(floor['ci'][0])} – {fmt_time(floor['ci'][1])}]")
    return out


def section(run: dict[str, Any], lower_for: Sequence[str] = ()) -> Section | None:
    """The roofline section of one run; None when no record has a roofline and no bound was asked for."""
    records = run["records"]
    have = [r for r in records if _section(r)]
    if not have and not lower_for:
        return None
    blocks: list[Any] = []
    cal = (run.get("env") or {}).get("calibration")
    if cal:
        blocks.append(
            Note(
                "; ".join(calibration_lines(cal)) + f" ({cal.get('created')}{', quick' if cal.get('quick') else ''})",
                DIM,
                lead="calibrated peaks (median [95 % CI]):",
            )
        )
    elif have:
        blocks.append(Note(HOW_TO_CALIBRATE, WARN))
    if have:
        styles, rows = grid(records, lambda r: {"text": bound_text(r)}, "none")
        body = [[row["group"], *(row["cells"].get(s, {}).get("text", "–") for s in styles)] for row in rows]
        blocks.append(Table("bound and roofline efficiency per style", ("layer/mode/size/dtype", *styles), body))
        sources = sorted({str(_section(r).get("peak_source")) for r in have})
        blocks.append(Note(f"{THRESHOLDS}; peak source: {', '.join(sources)}", DIM))
    if lower_for:
        blocks.append(lower_bound_table(records, lower_for))
    return Section("roofline", blocks, level=3)


def lower_bound_table(records: Sequence[dict[str, Any]], accelerators: Sequence[str]) -> Table:
    """Each ok case's roofline lower bound on ``accelerators`` (keys of
    ``measure.roofline.ACCELERATORS``), from XLA's counts and vendor figures."""
    body = []
    for r in records:
        if r.get("status") != "ok":
            continue
        work = r.get("work") or {}
        flops, nbytes = work.get("xla_flops"), work.get("xla_bytes_accessed")
        cells = []
        for name in accelerators:
            b = _roofline.lower_bound(flops, nbytes, name, r["case"].get("dtype", "float32"))
            sub = "" if b["peak_dtype"] in (None, r["case"].get("dtype")) else f", {b['peak_dtype']} peak"
            cells.append(f"≥ {fmt_time(b['time_s'])} ({b['bound']}{sub})" if b["time_s"] is not None else "n/a")
        body.append([r["id"], fmt_time((r.get("time") or {}).get("median")), *cells])
    return Table(
        "roofline lower bound per step on other accelerators — a bound (not measured): max(FLOPs ÷ vendor peak, "
        "bytes ÷ vendor bandwidth) from this machine's XLA counts",
        ("case", "measured here", *(f"{a} bound (not measured)" for a in accelerators)),
        body,
    )


@_plots.register("run", "roofline", "roofline: achieved FLOP/s against arithmetic intensity per case and style")
def roofline_png(records: Sequence[dict[str, Any]]) -> bytes | None:
    """Log-log: x = FLOPs/byte, y = XLA FLOP/s achieved per device; ceilings
    ``min(peak, bandwidth × intensity)`` for each peak the records use (and
    the calibrated one beside a vendor peak); one point per case, coloured
    by style. None when no record has both counts and a time."""
    import numpy as np

    points = []
    for r in records:
        s = _section(r)
        median = (r.get("time") or {}).get("median")
        if s.get("flops") and s.get("bytes") and median:
            points.append((r["case"].get("style"), s["flops"] / s["bytes"], s["flops"] / median))
    if not points:
        return None
    plt = _plots.pyplot()
    fig, ax = plt.subplots(figsize=(7.5, 5), dpi=110)
    ceilings = {}
    for r in records:
        s = _section(r)
        bw = s.get("bandwidth_bytes_per_s")
        peaks = [(s.get("peak_flops_per_s"), s.get("peak_source"))]
        measured = (r.get("work") or {}).get("measured_peak_flops_per_s")
        if s.get("peak_source") == "vendor" and measured:
            peaks.append((measured, "measured"))
        for peak, source in peaks:
            if peak and bw:
                label = f"{source} {r['case'].get('dtype')}: {fmt_rate(peak, 'FLOP/s')}, {fmt_rate(bw, 'B/s')}"
                ceilings[label] = (peak, bw)
    ends = [p[1] for p in points] + [peak / bw for peak, bw in ceilings.values()]  # the ridge points too
    x = np.logspace(np.log10(min(ends)) - 1, np.log10(max(ends)) + 1, 200)
    for i, (label, (peak, bw)) in enumerate(ceilings.items()):
        ax.plot(x, np.minimum(peak, bw * x), color="0.2", lw=1.2, ls=("-", "--", ":", "-.")[i % 4], label=label)
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for i, style in enumerate(styles_in([{"case": {"style": p[0]}} for p in points])):
        mine = [p for p in points if p[0] == style]
        ax.scatter([p[1] for p in mine], [p[2] for p in mine], s=18, color=colours[i % len(colours)], label=str(style))
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("arithmetic intensity (XLA FLOPs ÷ bytes accessed)")
    ax.set_ylabel("achieved FLOP/s per device (XLA FLOPs ÷ median step)")
    ax.set_title(
        "Roofline (ceilings: peak FLOP/s and memory bandwidth)"
        if ceilings
        else "Roofline (no ceilings: not calibrated)"
    )
    _plots.legend(ax, fontsize=7, loc="lower right")
    return _plots.png(fig)
