"""History over many runs: per case and metric a series, change points by
asv's step detection (``asv.step_detect``), and whether the newest run sits
in a regression.

The metrics tracked are those ``nnbench.results.metrics`` declares for
``HISTORY``; a series names its metric by the declaration's ``name``. asv's
detection takes lower as better: a higher-is-better metric (roofline
efficiency) is analysed as its reciprocal and reported back in its own
values. Plain data in, plain data out; rendering lives in
``nnbench.report.compare``.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from typing import Any

from nnbench.results import metrics as _metrics

DEFAULT_THRESHOLD = 0.05


def parse_threshold(text: str | None) -> float:
    """Percent text to a relative threshold; ``ValueError`` when it is not one."""
    from nnbench.compare.compare import parse_percent

    return DEFAULT_THRESHOLD if text is None else parse_percent(text)


def _value(rec: dict[str, Any] | None, metric: _metrics.Metric) -> float | None:
    if rec is None or rec.get("status") != "ok":
        return None
    v = metric.value(rec)
    return None if v is None else float(v)


def analyse_series(values: Sequence[float | None], threshold: float, lower_is_better: bool = True) -> dict[str, Any]:
    """Steps, change points and the current regression of one series.

    ``values``: one per run, oldest first, ``None`` where missing. Returns
    ``steps`` (``[first_run_index, end_index, value]``), ``changes`` (each
    step boundary whose relative size exceeds ``threshold``: ``run`` index of
    the new step's first run, ``before``, ``after``, ``ratio``) and
    ``regression`` (``None`` unless the newest value sits above the best
    one: ``{"latest", "best", "jumps"}``, each jump naming the ``run`` index
    where the worse level starts). ``lower_is_better=False``: the series
    is analysed as ``1 / value`` (positive values), reported as values.
    """
    if not lower_is_better:
        inverse = [None if v is None or v <= 0 else 1 / v for v in values]
        return _inverted(analyse_series(inverse, threshold))
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
        jumps = [
            {"run": after, "last_good_run": before, "before": v, "best_after": b} for before, after, v, b in positions
        ]
        regression = {"latest": latest, "best": best, "jumps": jumps}
    return {"steps": [[s[0], s[1], s[2]] for s in steps], "changes": changes, "regression": regression}


def _inverted(res: dict[str, Any]) -> dict[str, Any]:
    """An ``analyse_series`` result over reciprocals, in the original values."""

    def inv(v: float | None) -> float | None:
        return None if v is None or v == 0 else 1 / v

    changes = [
        {**c, "before": inv(c["before"]), "after": inv(c["after"]), "ratio": inv(c["ratio"])} for c in res["changes"]
    ]
    regression = res["regression"]
    if regression is not None:
        jumps = [{**j, "before": inv(j["before"]), "best_after": inv(j["best_after"])} for j in regression["jumps"]]
        regression = {"latest": inv(regression["latest"]), "best": inv(regression["best"]), "jumps": jumps}
    steps = [[a, b, inv(v)] for a, b, v in res["steps"]]
    return {"steps": steps, "changes": changes, "regression": regression}


def history(runs: Sequence[tuple[str, dict[str, Any]]], threshold: float = DEFAULT_THRESHOLD) -> dict[str, Any]:
    """Series per case and metric over ``runs`` (``(name, run dict)``), ordered
    by start time then name.

    Returns a JSON-ready dict: ``runs`` (name, started, commit), ``series``
    (case id, metric, values, steps, changes, regression, command) and
    ``in_regression`` (``"case metric"`` strings where the newest run is in a
    regression) and ``bisect`` (for each such step-time series, the ``nnbench
    bisect`` line that finds its culprit: ``bisect_command``).
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
        for metric in _metrics.shown_in(_metrics.HISTORY):
            values = [_value(recs.get(cid), metric) for recs in by_run]
            if all(v is None for v in values):
                continue
            res = analyse_series(values, threshold, metric.lower_is_better)
            series.append({"id": cid, "metric": metric.name, "values": values, "command": command, **res})
    listed = [
        {
            "name": n,
            "started": r.get("started"),
            "commit": r["env"].get("git_commit"),
            "versions": r["env"].get("versions"),
        }
        for n, r in ordered
    ]
    commands = (bisect_command(listed, s) for s in series if s["regression"])
    return {
        "runs": listed,
        "threshold": threshold,
        "series": series,
        "in_regression": [f"{s['id']} {s['metric']}" for s in series if s["regression"]],
        "bisect": list(dict.fromkeys(c for c in commands if c)),
    }


# Packages a bisection over releases can name, in the order they are tried
# (``nnbench bisect --package jax`` brings jaxlib along).
BISECT_PACKAGES = ("jax", "flax", "dm-haiku", "optax", "numpy")


def bisect_command(runs: Sequence[dict[str, Any]], series: dict[str, Any]) -> str | None:
    """The ``nnbench bisect`` line between the last good run and the first
    bad one of a step-time series in regression: over commits when the runs'
    commits differ, else over the releases of the first package whose version
    differs; None when neither does (or the runs do not say)."""
    regression = series.get("regression")
    if series["metric"] != "time" or not regression:
        return None
    jump = regression["jumps"][-1]
    if jump.get("run") is None or jump.get("last_good_run") is None:
        return None
    good, bad = runs[jump["last_good_run"]], runs[jump["run"]]
    selection = (series.get("command") or "").removeprefix("nnbench run ").strip()
    commits = [(r.get("commit") or "").removesuffix("-dirty") for r in (good, bad)]
    if all(commits) and commits[0] != commits[1]:
        return f"nnbench bisect {commits[0][:12]} {commits[1][:12]} {selection}".strip()
    versions = [r.get("versions") or {} for r in (good, bad)]
    for package in BISECT_PACKAGES:
        old, new = (v.get(package) for v in versions)
        if old and new and old != new:
            return f"nnbench bisect --package {package} {old} {new} {selection}".strip()
    return None
