"""History over many runs: per case and metric a series, change points by
asv's step detection (``asv.step_detect``), and whether the newest run sits
in a regression.

Plain data in, plain data out; rendering lives in ``_report_compare``.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from typing import Any

DEFAULT_THRESHOLD = 0.05

# (metric name, path in the record); lower is better for all of them.
METRICS = (
    ("time", ("time", "median")),
    ("compile", ("compile", "total_s")),
    ("hlo_ops", ("compile", "hlo_ops")),
    ("xla_flops", ("work", "xla_flops")),
    ("temp_bytes", ("memory", "compiled_temp_bytes")),
)


def parse_threshold(text: str | None) -> float:
    """Percent text to a relative threshold; ``ValueError`` when it is not one."""
    from nnbench.compare.compare import parse_percent

    return DEFAULT_THRESHOLD if text is None else parse_percent(text)


def _value(rec: dict[str, Any] | None, path: Sequence[str]) -> float | None:
    if rec is None or rec.get("status") != "ok":
        return None
    cur: Any = rec
    for p in path:
        cur = cur.get(p) if isinstance(cur, dict) else None
    return float(cur) if isinstance(cur, (int, float)) and math.isfinite(cur) else None


def analyse_series(values: Sequence[float | None], threshold: float) -> dict[str, Any]:
    """Steps, change points and the current regression of one series.

    ``values``: one per run, oldest first, ``None`` where missing. Returns
    ``steps`` (``[first_run_index, end_index, value]``), ``changes`` (each
    step boundary whose relative size exceeds ``threshold``: ``run`` index of
    the new step's first run, ``before``, ``after``, ``ratio``) and
    ``regression`` (``None`` unless the newest value sits above the best
    one: ``{"latest", "best", "jumps"}``, each jump naming the ``run`` index
    where the worse level starts).
    """
    from asv import step_detect

    y = [math.nan if v is None else v for v in values]
    if sum(not math.isnan(v) for v in y) < 2:
        return {"steps": [], "changes": [], "regression": None}
    steps = step_detect.detect_steps(y)
    changes = []
    for (_, _, v0, _, _), (left, _, v1, _, _) in itertools.pairwise(steps):
        ratio = v1 / v0 if v0 else math.inf
        if abs(ratio - 1) > threshold:
            changes.append({"run": left, "before": v0, "after": v1, "ratio": ratio})
    latest, best, positions = step_detect.detect_regressions(steps, threshold=threshold)
    regression = None
    if positions:
        jumps = [{"run": after, "last_good_run": before, "before": v, "best_after": b} for before, after, v, b in positions]
        regression = {"latest": latest, "best": best, "jumps": jumps}
    return {"steps": [[s[0], s[1], s[2]] for s in steps], "changes": changes, "regression": regression}


def history(runs: Sequence[tuple[str, dict[str, Any]]], threshold: float = DEFAULT_THRESHOLD) -> dict[str, Any]:
    """Series per case and metric over ``runs`` (``(name, run dict)``), ordered
    by start time then name.

    Returns a JSON-ready dict: ``runs`` (name, started, commit), ``series``
    (case id, metric, values, steps, changes, regression, command) and
    ``in_regression`` (``"case metric"`` strings where the newest run is in a
    regression).
    """
    from nnbench.results.case import Case

    ordered = sorted(runs, key=lambda nr: (str(nr[1].get("started") or ""), nr[0]))
    by_run = [{r["id"]: r for r in run["records"]} for _, run in ordered]
    ids = list(dict.fromkeys(i for recs in by_run for i in recs))
    series = []
    for cid in ids:
        case = next(recs[cid]["case"] for recs in by_run if cid in recs)
        try:
            command = Case.from_dict(case).command()
        except TypeError:
            command = None
        for metric, path in METRICS:
            values = [_value(recs.get(cid), path) for recs in by_run]
            if all(v is None for v in values):
                continue
            res = analyse_series(values, threshold)
            series.append({"id": cid, "metric": metric, "values": values, "command": command, **res})
    return {
        "runs": [{"name": n, "started": r.get("started"), "commit": r["env"].get("git_commit")} for n, r in ordered],
        "threshold": threshold,
        "series": series,
        "in_regression": [f"{s['id']} {s['metric']}" for s in series if s["regression"]],
    }
