"""Compare two runs case by case: verdicts with ratios and confidence intervals.

Plain data in, plain data out (a JSON-ready dict, shape in ``compare_runs``);
rendering lives in ``nnbench.report.compare``. Which metrics are compared,
where they lie in a record and how (their kind and threshold family) comes
from ``nnbench.results.metrics``; the statistics (ratio tests, paired rounds,
worker-pair trimmed t, verdict rules, "more data" advice) are in
``nnbench.compare.statistics``, whose docstring explains the method.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from typing import Any

from nnbench.compare.statistics import (  # noqa: F401 - re-exported: compare's public statistics
    CHANGED,
    CONFIDENCE,
    DRIFT_FACTOR,
    IMPROVED,
    INCONCLUSIVE,
    MAX_BATCHES,
    MAX_DATA_FACTOR,
    MIN_BATCH,
    MIN_PAIRED_ROUNDS,
    MIN_PAIRS,
    MIN_VERDICT_BATCHES,
    POWER_MARGIN,
    REGRESSED,
    TRIM,
    UNCHANGED,
    UNTESTED,
    _drift,  # noqa: F401 - studies/verdicts.py reads it here
    batch_medians,
    ci_room,
    compile_test,
    data_factor,
    decide,
    decide_paired,
    more_data,
    pair_level,
    paired_test,
    pairs_needed,
    ratio_test,
    trimmed_t,
    verdict,
)
from nnbench.measure import stats as _stats
from nnbench.measure.stats import round_medians  # noqa: F401 - re-exported
from nnbench.profile.diff import records_diff as _profile_diff_data
from nnbench.results import metrics as _metrics

ENV_KEYS = (
    "backend",
    "device_kind",
    "device_count",
    "process_count",
    "cpu_model",
    "python",
    "xla_flags",
    "matmul_precision",
    "x64",
    "git_commit",
    "host",
)


class CompareError(ValueError):
    """The two runs cannot be compared as asked (a bad-input error: exit 2)."""


@dataclasses.dataclass(frozen=True)
class Thresholds:
    """Practical thresholds, relative (0.05 = 5 %), one per threshold family
    (``nnbench.results.metrics.FAMILIES``; a metric names its family).

    ``time`` and ``dispatch`` apply to sampled metrics, ``compile`` to the
    single-sample compile stage times, ``exact`` to deterministic metrics
    (growth beyond it is a regression; 0 means any growth).
    """

    time: float = 0.05
    dispatch: float = 0.10
    compile: float = 0.25
    exact: float = 0.0

    @classmethod
    def parse(cls, text: str | None, defaults: Thresholds | None = None) -> Thresholds:
        """``"5"`` (time, in percent) or ``"time=5,compile=20,exact=1"``;
        what it leaves out comes from ``defaults`` (``Thresholds()``).

        Raises ``ValueError`` naming the bad part.
        """
        defaults = defaults or cls()
        if text is None:
            return defaults
        values: dict[str, float] = {}
        for part in (p.strip() for p in text.split(",")):
            if not part:
                continue
            key, _, num = part.rpartition("=")
            key = key.strip() or "time"
            if key not in {f.name for f in dataclasses.fields(cls)}:
                raise ValueError(f"unknown threshold {key!r} (known: {', '.join(_metrics.FAMILIES)})")
            values[key] = parse_percent(num, part)
        return dataclasses.replace(defaults, **values)


# ``nnbench ab``'s defaults: paired rounds over worker pairs resolve less
# than 5 % (studies/sensitivity.py --ab --pairs 6; README, A/B on a noisy
# machine), so its step-time threshold is tighter than ``compare``'s.
AB_THRESHOLDS = Thresholds(time=0.03)


def parse_percent(text: str, what: str | None = None) -> float:
    """``"5"`` -> 0.05; ``ValueError`` naming ``what`` unless a percentage in [0, 1000)."""
    try:
        pct = float(text)
    except ValueError:
        raise ValueError(f"threshold {what or text!r}: not a number") from None
    if not (math.isfinite(pct) and 0 <= pct < 1000):
        raise ValueError(f"threshold {what or text!r}: must be a percentage in [0, 1000)")
    return pct / 100


def _get(rec: dict[str, Any], path: Sequence[str]) -> Any:
    cur: Any = rec
    for p in path:
        if not isinstance(cur, dict):
            return None
        cur = cur.get(p)
    return cur


def _samples(values: Any) -> list[float]:
    """The finite numbers of a stored sample list (null marks a non-finite value)."""
    if not isinstance(values, list):
        return []
    return [float(v) for v in values if isinstance(v, (int, float)) and math.isfinite(v)]


def _raw(values: list) -> list[float]:
    """A stored sample list with null (a non-finite value) as NaN, positions kept."""
    return [float(v) if isinstance(v, (int, float)) else math.nan for v in values]


def _per_process(rec: dict[str, Any], key: str) -> list[float]:
    """One compile stage's seconds in each worker process of a merged ``ab`` record (``compile.per_process``)."""
    procs = _get(rec, ("compile", "per_process"))
    return [_get(p, (key,)) for p in procs] if isinstance(procs, list) else []


def single_result(base: float, cand: float) -> dict[str, Any]:
    """One sample per side: the ratio, no verdict (``UNTESTED``)."""
    ratio = cand / base if base > 0 else None
    return {
        "base": base,
        "cand": cand,
        "ratio": ratio,
        "ci_low": None,
        "ci_high": None,
        "p_value": None,
        "verdict": UNTESTED,
    }


_single = single_result  # the name studies/verdicts.py calls


def exact_result(base: float, cand: float, tolerance: float) -> dict[str, Any]:
    """A deterministic metric: any change shows; growth beyond ``tolerance`` (relative) regresses."""
    ratio = cand / base if base else None
    if cand == base:
        v = UNCHANGED
    elif cand > base * (1 + tolerance) if base >= 0 else cand > base:
        v = REGRESSED
    elif cand < base:
        v = IMPROVED
    else:
        v = CHANGED
    return {"base": base, "cand": cand, "ratio": ratio, "verdict": v}


def compare_records(
    base: dict[str, Any], cand: dict[str, Any], thresholds: Thresholds, paired: bool = False, primary: str = "time"
) -> dict[str, Any]:
    """Metrics of one case in two runs: ``{"status", "metrics": {name: result}}``.

    ``paired``: the runs were sampled in alternating rounds (``nnbench
    ab``); step time and dispatch are compared round by round
    (``paired_test``, rounds read from ``time.round_ends``), compile stages
    pair by pair where the records keep each process's (``compile_test``).
    The case's verdict is the first of regressed, improved, inconclusive
    among its metrics, else unchanged (``untested`` metrics do not count).

    ``primary`` (step time; ``dispatch`` for a bisection hunting it) is
    tested at ``CONFIDENCE``. The case's other tested timings (dispatch, the
    compile stages) are one family sharing the same error rate: each of the
    k is tested at ``1 - (1 - CONFIDENCE) / k`` (Bonferroni; its result's
    ``confidence`` and ``family``), so an A/A case is called regressed by
    them together at most as often as by its step time alone. "unchanged"
    is never widened (``EQUIVALENCE_CONFIDENCE``).
    """
    out: dict[str, Any] = {
        "id": base["id"],
        "case": base["case"],
        "base_status": base["status"],
        "cand_status": cand["status"],
        "metrics": {},
    }
    if base["status"] != "ok" or cand["status"] != "ok":
        if base["status"] == "ok":
            out["verdict"] = REGRESSED  # it worked and now it does not
            out["note"] = f"now {cand['status']}: {cand.get('error')}"
        elif cand["status"] == "ok":
            out["verdict"] = IMPROVED
            out["note"] = f"was {base['status']}, now ok"
        else:
            out["verdict"] = INCONCLUSIVE
            out["note"] = f"{base['status']} in both runs"
        return out
    m = out["metrics"]
    unstable = {
        side: _stats.stability(r["time"])
        for side, r in (("baseline", base), ("candidate", cand))
        if isinstance(r.get("time"), dict)
    }
    if any(unstable.values()):
        out["unstable"] = {
            side: why for side, why in unstable.items() if why
        }  # the step-time verdict is read with this
    timed = [mt for mt in _metrics.shown_in(_metrics.COMPARE) if mt.kind in ("sampled", "single")]
    for mt in timed:
        res = _timed_result(mt, base, cand, thresholds, paired, CONFIDENCE)
        if res is not None:
            m[mt.name] = res
    family = [
        mt
        for mt in timed
        if mt.name != primary and mt.name in m and m[mt.name]["kind"] != "single" and m[mt.name]["ci_low"] is not None
    ]
    if len(family) > 1:  # each at the Bonferroni level of the family
        level = 1 - (1 - CONFIDENCE) / len(family)
        for mt in family:
            m[mt.name] = _timed_result(mt, base, cand, thresholds, paired, level) | {"family": len(family)}
    for mt in _metrics.shown_in(_metrics.COMPARE):
        if mt.kind != "exact":
            continue
        a, b = mt.value(base), mt.value(cand)
        tol = getattr(thresholds, mt.family)
        if a is not None and b is not None:
            m[mt.name] = dict(exact_result(a, b, tol), kind="exact", threshold=tol)
    verdicts = [r["verdict"] for r in m.values()]
    out["verdict"] = next((v for v in (REGRESSED, IMPROVED, INCONCLUSIVE) if v in verdicts), UNCHANGED)
    return out


def _timed_result(
    mt: _metrics.Metric, base: dict[str, Any], cand: dict[str, Any], thresholds: Thresholds, paired: bool, level: float
) -> dict[str, Any] | None:
    """One sampled or single (compile stage) metric of a case compared at
    confidence ``level`` (see ``compare_records``); None when a side lacks it."""
    th = getattr(thresholds, mt.family)
    if mt.kind == "sampled":
        a, b = (_samples(mt.sample_list(r)) for r in (base, cand))
        if not (a and b):
            return None
        if not paired:
            return dict(ratio_test(a, b, th, level), kind="sampled", threshold=th)
        # The raw lists: round_ends index them (a null sample voids its round).
        (ra, ea), (rb, eb) = ((_raw(mt.sample_list(r)), _get(r, ("time", "round_ends")) or []) for r in (base, cand))
        pe = _get(base, ("time", "process_ends"))
        pe = pe if pe == _get(cand, ("time", "process_ends")) else None  # both sides ran the same pairs
        return dict(paired_test(ra, ea, rb, eb, th, level, process_ends=pe), kind="paired", threshold=th)
    if paired and mt.path[0] == "compile":  # merged ab records keep each process's compile stages
        tested = compile_test(_per_process(base, mt.path[-1]), _per_process(cand, mt.path[-1]), th, level)
        if tested:
            return dict(tested, kind="pairs", threshold=th)
    a, b = mt.value(base), mt.value(cand)
    return dict(single_result(a, b), kind="single", threshold=th) if a is not None and b is not None else None


def time_decided(
    base: Sequence[dict[str, Any]], cand: Sequence[dict[str, Any]], thresholds: Thresholds, metric: str = "time"
) -> list[tuple[bool, str]]:
    """Per case: whether its step-time verdict (``metric``: another sampled
    metric's, e.g. ``dispatch``) is decided (regressed, improved or
    unchanged: ``nnbench ab`` stops adding worker pairs when every case's
    is; a case that failed on either side has nothing more to gain), and
    one line saying where it stands."""
    out = []
    for b, c in zip(base, cand, strict=True):
        if b["status"] != "ok" or c["status"] != "ok":
            out.append((True, f"{b['id']}: {b['status']}/{c['status']}"))
            continue
        t = compare_records(b, c, thresholds, paired=True, primary=metric)["metrics"].get(metric)
        if not t or t.get("ratio") is None:
            out.append((False, f"{b['id']}: no ratio yet"))
            continue
        ci = f" [{t['ci_low']:.3f}, {t['ci_high']:.3f}]" if t.get("ci_low") is not None else ""
        out.append((t["verdict"] != INCONCLUSIVE, f"{b['id']}: {t['ratio']:.3f}{ci} {t['verdict']}"))
    return out


def env_differences(base_env: dict[str, Any], cand_env: dict[str, Any]) -> list[tuple[str, Any, Any]]:
    """``(key, baseline value, candidate value)`` for every differing entry."""
    diffs = []
    for key in ENV_KEYS:
        if base_env.get(key) != cand_env.get(key):
            diffs.append((key, base_env.get(key), cand_env.get(key)))
    bv, cv = base_env.get("versions") or {}, cand_env.get("versions") or {}
    for pkg in sorted(set(bv) | set(cv)):
        if bv.get(pkg) != cv.get(pkg):
            diffs.append((f"versions.{pkg}", bv.get(pkg), cv.get(pkg)))
    return diffs


def _profile_diff(base_path: str, base: dict[str, Any], cand_path: str, cand: dict[str, Any]) -> dict[str, Any] | None:
    """The op-level diff of two records' profiles (``profile.diff.records_diff``:
    plain data), ``{"error": "..."}`` when it failed, None when a side has no profile."""
    try:
        return _profile_diff_data(base_path, base, cand_path, cand)
    except Exception as e:  # noqa: BLE001 - a profile diff must not break a comparison
        return {"error": f"{type(e).__name__}: {e}"}


def compare_runs(
    base_run: dict[str, Any],
    cand_run: dict[str, Any],
    thresholds: Thresholds | None = None,
    allow_device_change: bool = False,
    base_path: str = "baseline",
    cand_path: str = "candidate",
    paired: bool = False,
    primary: str = "time",
) -> dict[str, Any]:
    """Compare two validated run files (dicts from ``read_run``).

    Raises ``CompareError`` when the device kinds (or backends) differ and
    ``allow_device_change`` is false. ``paired``: the runs come from one
    ``nnbench ab``; ``primary``: the metric tested on its own (see
    ``compare_records``). Returns a JSON-ready dict with
    ``baseline``/``candidate`` (path, started, env), ``env_diff``
    (``[key, base value, cand value]``), ``thresholds`` (family -> relative
    threshold), ``cases``, ``only_base``/``only_cand`` (case ids) and
    ``regressions`` (count).

    Each case: ``id``, ``case``, ``base_status``/``cand_status``,
    ``verdict``, ``command``, ``note`` (when a side is not ok), ``unstable``
    (when a side's timing is), ``metrics`` (``{metric name: result}``, the
    name a ``nnbench.results.metrics`` declaration: ``base``, ``cand``,
    ``ratio``, ``verdict``, ``kind``, ``threshold``, and the statistics'
    fields) and, when both records carry a profile, ``profile_diff``: the
    plain data of ``nnbench.profile.diff.diff`` (``same_program``,
    ``op_time_s_per_step`` ``[base, cand]``, ``categories`` and ``kinds``
    ``{name: [base_s, cand_s]}``, ``slower``/``faster`` rows ``{op, shape,
    category, base_s, cand_s, ratio}``, ``appeared``/``disappeared`` rows
    with ``cand_s``/``base_s``), or ``{"error": text}`` when it failed.
    Seconds are per step.
    """
    from nnbench.results.case import Case

    thresholds = thresholds or Thresholds()
    be, ce = base_run["env"], cand_run["env"]
    for key in ("backend", "device_kind"):
        if be.get(key) != ce.get(key) and not allow_device_change:
            raise CompareError(
                f"different {key.replace('_', ' ')}s ({be.get(key)!r} vs {ce.get(key)!r}); "
                "pass --allow-device-change to compare them anyway"
            )
    base_recs = {r["id"]: r for r in base_run["records"]}
    cand_recs = {r["id"]: r for r in cand_run["records"]}
    cases = []
    for cid in [i for i in base_recs if i in cand_recs]:
        res = compare_records(base_recs[cid], cand_recs[cid], thresholds, paired, primary)
        try:
            res["command"] = Case.from_dict(base_recs[cid]["case"]).command()
        except TypeError:
            res["command"] = None
        prof = _profile_diff(base_path, base_recs[cid], cand_path, cand_recs[cid])
        if prof:
            res["profile_diff"] = prof
        cases.append(res)
    return {
        "baseline": {"path": base_path, "started": base_run.get("started"), "env": be},
        "candidate": {"path": cand_path, "started": cand_run.get("started"), "env": ce},
        "env_diff": [list(d) for d in env_differences(be, ce)],
        "thresholds": dataclasses.asdict(thresholds),
        "cases": cases,
        "only_base": [i for i in base_recs if i not in cand_recs],
        "only_cand": [i for i in cand_recs if i not in base_recs],
        "regressions": sum(c["verdict"] == REGRESSED for c in cases),
    }
