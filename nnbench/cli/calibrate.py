"""``nnbench calibrate``: measure and store this machine's achievable peaks
(matmul FLOP/s per dtype, memory bandwidth, dispatch floor), or show the
stored ones (``--show``). Runs copy them into their environment and hold
every case against them (``docs/roofline.md``)."""

from __future__ import annotations

import argparse
import json

from nnbench.cli.common import EXIT_OK, BadInput

NAME = "calibrate"
HELP = "measure this machine's matmul FLOP/s, memory bandwidth and dispatch floor (stored per machine)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--show", action="store_true", help="print the stored calibration of this machine; measure nothing")
    p.add_argument("--quick", action="store_true", help="small probes and budgets (a few seconds; for tests)")
    p.add_argument("--json", action="store_true", help="print the calibration as JSON")


def lines(cal: dict) -> list[str]:
    """The calibration in a few lines: each figure's median with its 95 % CI (as reports give it)."""
    from nnbench.report.roofline import calibration_lines

    key = cal.get("key") or {}
    out = [f"calibration of {key.get('device_kind')} ({key.get('cpu_model')}), {cal.get('created')}"]
    out += [f"  {line}" for line in calibration_lines(cal)]
    out += [f"  matmul {d}: not measured ({m['error']})" for d, m in (cal.get("matmul") or {}).items() if "error" in m]
    if cal.get("quick"):
        out.append(
            "  (quick mode: small probes; run nnbench calibrate without --quick for the figures runs should use)"
        )
    return out


def command(args) -> int:
    from nnbench.measure import calibration as _calibration

    if args.show:
        cal = _calibration.load()
        if cal is None:
            raise BadInput(
                f"no calibration stored for this machine under {_calibration.cache_dir()}; run: nnbench calibrate"
            )
    else:
        cal = _calibration.calibrate(quick=args.quick)
        path = _calibration.save(cal)
    print(json.dumps(cal, indent=1) if args.json else "\n".join(lines(cal)))
    if not args.show and not args.json:
        print(f"stored: {path}")
    return EXIT_OK
