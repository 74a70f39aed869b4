"""The statistics of a comparison: ratio tests, paired rounds, worker-pair
trimmed t, verdicts and "more data" advice, on plain numbers.

``nnbench.compare.compare`` applies these to two records metric by metric
(the metrics and their kinds: ``nnbench.results.metrics``). Numbers in,
JSON-ready dicts out.

Noisy metrics with raw samples (step time, dispatch) are compared on *batch
medians*: each run's samples are cut into contiguous batches and each batch
reduced to its median. Consecutive samples of one run are autocorrelated
(caches, frequency, other load), so treating thousands of samples as
independent makes any test flag tiny drifts; batch medians are close to
independent. On those, ``scipy.stats.mannwhitneyu`` gives a p-value and
``scipy.stats.bootstrap`` a confidence interval of the ratio of medians
(candidate / baseline). A verdict needs both statistics and practice:

- ``regressed``: the CI lies above 1 and the ratio is beyond ``1 + t``;
- ``improved``: the CI lies below 1 and the ratio is below ``1 / (1 + t)``;
- ``unchanged``: the whole CI lies within the band ``[1 / (1 + t), 1 + t]``
  (an equivalence test: the data exclude a change beyond the threshold; a
  CI that excludes 1 but reaches past the band is not enough);
- ``inconclusive``: anything else. The result then carries ``more_data``:
  how many times the data would likely decide (80 % power if the ratio
  held and the CI shrank as 1/sqrt(n): ``data_factor``), or why no
  reasonable amount of it would.

Level shifts *between* runs (another job on the machine, a different CPU
frequency) are invisible to any within-run statistic. As a guard, the
practical threshold is raised to ``DRIFT_FACTOR`` times the larger
within-run drift of the two runs (relative interquartile range of the batch
medians): a run that wanders by 8 % inside itself cannot support a 5 %
verdict, either way. So a change needs a ratio beyond the raised bar, and
"unchanged" needs the bar not raised at all (the CI inside the band the user
asked for, from runs steady enough to be judged against it). A verdict also
needs at least ``MIN_VERDICT_BATCHES`` batches per run. The sensitivity
study (``studies/sensitivity.py``) measures what this gives on a real
machine, the simulation study (``studies/verdicts.py``) against known truths.

*Paired* comparisons (``nnbench ab``: baseline and candidate sampled in
alternating rounds, each run's ``time.round_ends`` marking where a round's
samples end) compare round by round instead: d_r = log(median of the
candidate's round r) - log(median of the baseline's round r). A drift of
the machine moves both sides of a round alike and cancels in d_r. The ratio
is exp(median(d)), its CI the order-statistic interval of that median
(``_stats.median_ci``) mapped through exp, the p-value Wilcoxon's
signed-rank test on d. The verdict rule is the same, with no drift guard
(pairing is what removes drift) and at least ``MIN_PAIRED_ROUNDS`` rounds.
Rounds of one pair of processes share that pair's offset (two processes
of the same code differ by a few per cent), so when the rounds came from
``MIN_PAIRS`` or more worker pairs (``time.process_ends``) the pair is the
unit: m_j = median of pair j's d_r, ratio = exp(trimmed mean m_j), its CI the
interval of a 20 % trimmed mean over the pairs (``trimmed_t``: Yuen's
one-sample test, which also gives the p-value; from 5 pairs on it drops
the highest and lowest fifth, so one pair whose processes landed badly
cannot decide or veto a verdict; below 5 pairs it is Student's t).
There "unchanged" is two one-sided tests at the same 5 % level (TOST,
the usual equivalence test): the 90 % interval (``eq_low``/``eq_high``)
inside the band; regressed and improved still need the 95 % one off 1.

Compile stage times (trace, lower, XLA compile) are one cold compile per
process. One sample per side has no noise estimate (an A/A on a loaded
machine moved them by 40 %), so it is shown with its ratio as ``untested``
and never makes a verdict or an exit code. ``nnbench ab`` compiles every
case cold in each worker pair and keeps each process's stage times
(``compile.per_process``); from ``MIN_PAIRS`` pairs on they are compared
with the pair-level trimmed t as step time is, against the ``compile``
threshold.

A case's verdict is the first of regressed, improved, inconclusive among
its metrics, so each tested metric is another chance to call an A/A case
changed. Step time (the metric ``nnbench ab`` decides and stops on) keeps
the 95 % level; the case's other tested timings (dispatch and, in ``ab``,
the three compile stages) are one family sharing it: each of the k at
``1 - 5 % / k`` (Bonferroni, ``compare.compare_records``). "unchanged" is
not widened (every metric inside its band is already the harder claim).
Deterministic metrics (XLA FLOPs, HLO ops, jaxpr equations,
compiled memory, parameter count) are compared exactly: any change is shown,
growth beyond the ``exact`` tolerance is a regression.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import scipy.stats

from nnbench.compare.pairs import (  # noqa: F401 - re-exported
    CONFIDENCE,
    EQUIVALENCE_CONFIDENCE,
    TRIM,
    pair_level,
    trimmed_df,
    trimmed_t,
)
from nnbench.measure import stats as _stats
from nnbench.measure.stats import round_medians

MAX_BATCHES = 30
MIN_BATCH = 5
MIN_VERDICT_BATCHES = 10  # so a verdict needs >= 50 samples per run
# Separate runs on the project's 2-core VM shift by more than their own
# within-run drift: A/A false alarms were 18 % with the bar at 1x drift, 3 %
# at 2x (studies/sensitivity.py, 40 reps, 1 s per run; see the README).
DRIFT_FACTOR = 2.0
MIN_PAIRED_ROUNDS = 10
MIN_PAIRS = 3  # worker pairs from which the pair, not the round, is the unit

REGRESSED, IMPROVED, UNCHANGED, INCONCLUSIVE = "regressed", "improved", "unchanged", "inconclusive"
CHANGED = "changed"  # a deterministic metric moved, within tolerance or downwards is 'improved'
UNTESTED = "untested"  # one sample per side: the ratio is shown, no verdict is made (no noise estimate)
MAX_DATA_FACTOR = 100.0  # beyond this many times the data, "more data" is not advice
# "More data" advice aims at 80 % power (if the ratio held), not at the break-even
# point where the CI would just touch the band's edge (a coin flip):
# ((z_0.975 + z_0.8) / z_0.975)^2 times the break-even data.
POWER_MARGIN = ((scipy.stats.norm.isf(0.025) + scipy.stats.norm.isf(0.2)) / scipy.stats.norm.isf(0.025)) ** 2


def batch_medians(samples: Sequence[float], max_batches: int = MAX_BATCHES, min_batch: int = MIN_BATCH) -> np.ndarray:
    """Medians of contiguous batches of ``samples`` (float64, shape ``(k,)``).

    ``k = min(max_batches, n // min_batch)``; with fewer than
    ``2 * min_batch`` samples the raw samples are returned.
    """
    x = np.asarray(samples, dtype=float)
    k = min(max_batches, x.size // min_batch)
    if k < 2:
        return x
    return np.array([np.median(b) for b in np.array_split(x, k)])


def ratio_test(
    base: Sequence[float], cand: Sequence[float], threshold: float, confidence: float = CONFIDENCE, seed: int = 0
) -> dict[str, Any]:
    """Compare two sample sets (e.g. step times in seconds, 1-D float).

    Returns ``{"base", "cand"}`` (medians), ``ratio`` (cand / base median),
    ``ci_low``/``ci_high`` (bootstrap CI of the ratio of batch medians),
    ``p_value`` (two-sided Mann-Whitney U on batch medians), ``batches``,
    ``n`` (samples per run), ``drift`` (the larger relative spread of batch
    medians within a run), ``threshold_used`` (the bar ``decide`` used),
    ``verdict`` (see ``decide``) and, when inconclusive, ``more_data``.
    """
    a, b = batch_medians(base), batch_medians(cand)
    med_a, med_b = float(np.median(base)), float(np.median(cand))
    out: dict[str, Any] = {
        "base": med_a,
        "cand": med_b,
        "ratio": med_b / med_a if med_a > 0 else None,
        "batches": [int(a.size), int(b.size)],
        "n": [len(base), len(cand)],
    }
    if a.size < 3 or b.size < 3 or med_a <= 0:
        out.update(ci_low=None, ci_high=None, p_value=None, drift=None, threshold_used=threshold, verdict=INCONCLUSIVE)
        return out

    def stat(x, y, axis=-1):
        return np.median(y, axis=axis) / np.median(x, axis=axis)

    out["drift"] = max(_drift(a), _drift(b))
    res = scipy.stats.bootstrap(
        (a, b),
        stat,
        confidence_level=confidence,
        n_resamples=2000,
        method="percentile",
        vectorized=True,
        rng=np.random.default_rng(seed),
    )
    lo, hi = float(res.confidence_interval.low), float(res.confidence_interval.high)
    p = float(scipy.stats.mannwhitneyu(a, b, alternative="two-sided").pvalue)
    out.update(ci_low=lo, ci_high=hi, p_value=p, confidence=confidence)
    out["threshold_used"], out["verdict"] = decide(out, threshold)
    if out["verdict"] == INCONCLUSIVE:
        out["more_data"] = more_data(out, threshold)
    return out


def decide(res: dict[str, Any], threshold: float) -> tuple[float, str]:
    """``(threshold used, verdict)`` for a ``ratio_test`` result.

    Fewer than ``MIN_VERDICT_BATCHES`` batches on a side: inconclusive (too
    few near-independent values to bound anything). A level shift between
    runs is not evidence unless it clearly exceeds the drift inside them, so
    the practical bar is raised to ``DRIFT_FACTOR`` times the runs' own
    drift. The same shift can hide a change, so runs that drift past the
    requested band are never "unchanged" against it: a CI inside the raised
    bar is inconclusive.
    """
    if res["ci_low"] is None:
        return threshold, INCONCLUSIVE
    used = max(threshold, DRIFT_FACTOR * res["drift"])
    if min(res["batches"]) < MIN_VERDICT_BATCHES:
        return used, INCONCLUSIVE
    v = verdict(res["ratio"], res["ci_low"], res["ci_high"], used)
    if v == UNCHANGED and used > threshold:
        v = INCONCLUSIVE  # within the raised bar, not within the band the user asked for
    return used, v


def _drift(batches: np.ndarray) -> float:
    """Relative interquartile range of one run's batch medians: its own drift."""
    q25, q50, q75 = np.quantile(batches, [0.25, 0.5, 0.75])
    return float((q75 - q25) / q50) if q50 > 0 else math.inf


def paired_test(
    base: Sequence[float],
    base_ends: Sequence[int],
    cand: Sequence[float],
    cand_ends: Sequence[int],
    threshold: float,
    confidence: float = CONFIDENCE,
    process_ends: Sequence[int] | None = None,
) -> dict[str, Any]:
    """Compare two sides sampled in alternating rounds (see the module docstring).

    ``base``/``cand``: all samples of one side (seconds, 1-D float);
    ``*_ends``: where each round's samples end. Rounds are paired by index.
    ``process_ends``: the round count after each worker pair, when the rounds
    came from several (``nnbench ab --pairs``). Returns ``base``/``cand``
    (overall medians), ``ratio``, ``ci_low``/``ci_high``, ``p_value``,
    ``rounds`` (pairs of rounds used), ``pairs`` and ``pair_ratios`` (worker
    pairs and each one's median ratio, when they are the unit),
    ``threshold_used``, ``verdict`` and, when inconclusive, ``more_data``.
    """
    a, b = round_medians(base, base_ends), round_medians(cand, cand_ends)
    n = min(a.size, b.size)
    a, b = a[:n], b[:n]
    keep = np.isfinite(a) & np.isfinite(b) & (a > 0) & (b > 0)
    d_all = np.full(n, math.nan)  # NaN where a round is unusable: process_ends count rounds, not usable ones
    d_all[keep] = np.log(b[keep]) - np.log(a[keep])
    d = d_all[keep]
    out: dict[str, Any] = {"base": _nanmedian(base), "cand": _nanmedian(cand), "rounds": int(d.size)}
    # Median per worker pair (a pair with no usable round left out).
    groups = round_medians(d_all, process_ends, skip_nan=True) if process_ends else np.empty(0)
    groups = groups[np.isfinite(groups)]
    out["confidence"] = confidence
    if groups.size >= MIN_PAIRS:
        out.update(pair_level(groups, confidence))
    elif d.size < 2:
        out.update(
            ratio=math.exp(float(d[0])) if d.size else None,
            ci_low=None,
            ci_high=None,
            p_value=None,
            threshold_used=threshold,
            verdict=INCONCLUSIVE,
        )
        return out
    else:
        lo, hi = _stats.median_ci(d, confidence)
        p = float(scipy.stats.wilcoxon(d).pvalue) if np.any(d != 0) else 1.0
        out.update(ratio=math.exp(float(np.median(d))), ci_low=math.exp(lo), ci_high=math.exp(hi), p_value=p)
    out["threshold_used"], out["verdict"] = decide_paired(out, threshold)
    if out["verdict"] == INCONCLUSIVE:
        out["more_data"] = more_data(out, threshold)
    return out


def _nanmedian(x: Sequence[float]) -> float | None:
    x = np.asarray(x, dtype=float)
    x = x[np.isfinite(x)]
    return float(np.median(x)) if x.size else None


def decide_paired(res: dict[str, Any], threshold: float) -> tuple[float, str]:
    """``(threshold used, verdict)`` for a ``paired_test`` result: ``verdict``
    as it stands, inconclusive under ``MIN_PAIRED_ROUNDS`` rounds; over
    worker pairs, "unchanged" when the equivalence interval (``eq_low``/
    ``eq_high``, TOST) lies in the band."""
    if res["ci_low"] is None or res["rounds"] < MIN_PAIRED_ROUNDS:
        return threshold, INCONCLUSIVE
    return threshold, _interval_verdict(res, threshold)


def _interval_verdict(res: dict[str, Any], threshold: float) -> str:
    """``verdict`` on the result's CI; "unchanged" on its equivalence
    interval where it has one (``pair_level``)."""
    v = verdict(res["ratio"], res["ci_low"], res["ci_high"], threshold)
    if v == INCONCLUSIVE and res.get("eq_low") is not None:
        if verdict(res["ratio"], res["eq_low"], res["eq_high"], threshold) == UNCHANGED:
            v = UNCHANGED
    return v


def verdict(ratio: float, lo: float, hi: float, threshold: float) -> str:
    """The rule in the module docstring (ratio and CI: candidate / baseline)."""
    if lo > 1 and ratio > 1 + threshold:
        return REGRESSED
    if hi < 1 and ratio < 1 / (1 + threshold):
        return IMPROVED
    if in_band(lo, threshold) and in_band(hi, threshold) and in_band(ratio, threshold):
        return UNCHANGED
    return INCONCLUSIVE


def in_band(ratio: float, threshold: float) -> bool:
    """Whether ``ratio`` lies in ``[1 / (1 + threshold), 1 + threshold]``."""
    return 1 / (1 + threshold) <= ratio <= 1 + threshold


def ci_room(ratio: float, lo: float, hi: float, threshold: float) -> float:
    """The factor the CI's extent about the ratio (log scale) must shrink by
    for ``verdict`` to decide at ``threshold``, the ratio held: a ratio inside
    the band needs the CI inside it (unchanged), one outside needs it off 1
    (regressed / improved). At least 1 when the CI decides now, 0 when no
    shrinking would (the ratio on the band's edge)."""
    x, band = math.log(ratio), math.log1p(threshold)
    above, below = max(math.log(hi) - x, 0.0), max(x - math.log(lo), 0.0)
    if abs(x) < band:  # into the band
        return min((band - x) / above if above else math.inf, (band + x) / below if below else math.inf)
    return x / below if x > 0 and below else -x / above if x < 0 and above else math.inf  # off 1


def data_factor(ratio: float, lo: float, hi: float, threshold: float) -> float:
    """How many times the data would let ``verdict`` decide at ``threshold``,
    if the ratio held and the CI shrank as 1/sqrt(n) about it, with
    ``POWER_MARGIN`` (80 % power) over the break-even point (``ci_room``).
    1.0 when the CI decides now, ``math.inf`` when no amount would."""
    room = ci_room(ratio, lo, hi, threshold)
    return 1.0 if room >= 1 else math.inf if room <= 0 else POWER_MARGIN / room**2


def pairs_needed(pairs: int, room: float, confidence: float = CONFIDENCE) -> int | None:
    """The fewest worker pairs whose trimmed t interval (``trimmed_t``) would
    decide with 80 % power, from ``pairs`` pairs whose CI must shrink by
    ``room`` (``ci_room``): the half-width is t(df) times a standard error
    that falls as 1/sqrt(pairs), and t(df) itself falls as pairs are added.
    None past ``MAX_DATA_FACTOR`` times the pairs."""
    if room <= 0:
        return None
    z = scipy.stats.norm.isf(0.2)

    def q(n: int) -> float:
        return float(scipy.stats.t.ppf(0.5 + confidence / 2, trimmed_df(n)))

    for n in range(pairs + 1, int(MAX_DATA_FACTOR * pairs) + 1):
        if (q(n) + z) / q(pairs) * math.sqrt(pairs / n) <= room:
            return n
    return None


def more_data(res: dict[str, Any], threshold: float) -> dict[str, Any]:
    """What would decide an inconclusive ``ratio_test``, ``paired_test`` or
    ``compile_test`` result at ``threshold``: ``factor`` (times the data;
    None when a fixed minimum is missing, or past ``MAX_DATA_FACTOR``),
    ``unit`` (``samples`` per run, ``rounds``, or worker ``pairs``),
    ``count`` (that many of the unit; for pairs also ``rounds``) and
    ``text`` (one line).

    ``factor`` is ``data_factor`` at ``threshold``. Where the drift guard
    raised the bar (separate runs), the runs' spread must also shrink below
    what the ratio needs (``threshold``, or the ratio's own distance from 1),
    which longer batches give only as far as that spread is sampling noise
    rather than drift: the text says so.
    """
    out: dict[str, Any] = {"factor": None, "unit": None, "count": None}
    if res.get("ratio") is None or res.get("ci_low") is None:
        return out | {"text": "no ratio or CI to scale"}
    if res.get("rounds") is not None and res["rounds"] < MIN_PAIRED_ROUNDS:
        return out | {
            "unit": "rounds",
            "count": MIN_PAIRED_ROUNDS,
            "text": f"a verdict needs at least {MIN_PAIRED_ROUNDS} rounds",
        }
    if res.get("batches") and min(res["batches"]) < MIN_VERDICT_BATCHES:
        need = MIN_VERDICT_BATCHES * MIN_BATCH
        return out | {"unit": "samples", "count": need, "text": f"a verdict needs at least {need} samples per run"}
    pct, caveat = f"±{100 * threshold:g} %", ""
    if res.get("pairs"):  # the trimmed t interval over pairs (in the band: the equivalence interval)
        lo, hi, conf = res["ci_low"], res["ci_high"], res.get("confidence", CONFIDENCE)
        if res.get("eq_low") is not None and in_band(res["ratio"], threshold):
            lo, hi, conf = res["eq_low"], res["eq_high"], EQUIVALENCE_CONFIDENCE
        pairs = pairs_needed(res["pairs"], ci_room(res["ratio"], lo, hi, threshold), conf)
        if pairs is None:
            return out | {
                "text": (
                    f"more than {MAX_DATA_FACTOR:g}× the worker pairs would be needed: "
                    f"a ratio this near the {pct} edge cannot be resolved"
                )
            }
        factor = pairs / res["pairs"]
        rounds = pairs * math.ceil(res["rounds"] / res["pairs"]) if res.get("rounds") else None
        text = (
            f"about {factor:.1f}× the worker pairs (--pairs {pairs} --max-pairs {pairs}) would likely decide at {pct}"
        )
        return out | {"factor": factor, "unit": "pairs", "count": pairs, "rounds": rounds, "text": text}
    factor = data_factor(res["ratio"], res["ci_low"], res["ci_high"], threshold)
    raised = res.get("threshold_used") is not None and res["threshold_used"] > threshold
    if raised:  # the bar must come down to what the ratio needs
        r = res["ratio"]
        need = threshold if in_band(r, threshold) else max(r, 1 / r) - 1
        factor = max(factor, POWER_MARGIN * (DRIFT_FACTOR * res["drift"] / need) ** 2)
        caveat = " if the runs' spread is noise, not drift (else nnbench ab, which pairs the sides in time)"
    if factor > MAX_DATA_FACTOR:
        if raised:
            why = (
                f"runs drifting {100 * res['drift']:.0f} % within themselves cannot be resolved at {pct} "
                "(nnbench ab pairs the two sides in time)"
            )
        else:
            why = f"a ratio this near the {pct} edge cannot be resolved"
        return out | {"text": f"more than {MAX_DATA_FACTOR:g}× the data would be needed: {why}"}
    if res.get("rounds") is not None:
        rounds = math.ceil(factor * res["rounds"])
        return out | {
            "factor": factor,
            "unit": "rounds",
            "count": rounds,
            "text": f"about {factor:.1f}× the rounds ({rounds}) would likely decide at {pct}",
        }
    samples = math.ceil(factor * max(res["n"]))
    text = f"about {factor:.1f}× the samples (~{samples} per run) would likely decide at {pct}{caveat}"
    return out | {"factor": factor, "unit": "samples", "count": samples, "text": text}


def compile_test(
    base: Sequence[Any], cand: Sequence[Any], threshold: float, confidence: float = CONFIDENCE
) -> dict[str, Any] | None:
    """One compile stage over worker pairs: ``base[j]``/``cand[j]`` are pair
    j's cold-compile seconds on each side. The ``pair_level`` result with
    ``base``/``cand`` (medians), ``threshold_used`` and ``verdict``; None
    when fewer than ``MIN_PAIRS`` pairs have a positive time on both sides."""
    ok = [
        (a, b)
        for a, b in zip(base, cand, strict=False)
        if isinstance(a, (int, float)) and isinstance(b, (int, float)) and a > 0 and b > 0
    ]
    if len(base) != len(cand) or len(ok) < MIN_PAIRS:
        return None
    a, b = (np.array(x, dtype=float) for x in zip(*ok, strict=True))
    out = {
        "base": float(np.median(a)),
        "cand": float(np.median(b)),
        **pair_level(np.log(b) - np.log(a), confidence),
        "confidence": confidence,
        "threshold_used": threshold,
    }
    out["verdict"] = _interval_verdict(out, threshold)
    if out["verdict"] == INCONCLUSIVE:
        out["more_data"] = more_data(out, threshold)
    return out
