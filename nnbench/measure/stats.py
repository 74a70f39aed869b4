"""Summary statistics of timing samples.

Every worker process imports this module, so it stays off ``scipy.stats``
(most of a second to import, more than JAX's own backend start): the
median's order-statistic CI comes from ``scipy.special``'s binomial
distribution, which ``tests/test_stats.py`` checks against
``scipy.stats.quantile_test``. Even ``scipy.special`` (0.25 s) is imported
on first use, so a worker is ready to prepare before it loads."""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence

import numpy as np

CONFIDENCE = 0.95


def median_ci(samples: Sequence[float], confidence: float = CONFIDENCE) -> tuple[float, float]:
    """Distribution-free confidence interval of the median.

    The order-statistic interval from the binomial distribution — the same
    order statistics as ``scipy.stats.quantile_test(x, q=median, p=0.5)
    .confidence_interval(confidence)`` (a test checks this), read off the
    binomial CDF (``scipy.special.bdtr``) directly because the timing loop asks for it many
    times per second and ``quantile_test`` costs milliseconds per call.
    Valid for any continuous distribution. With fewer than 6 samples no 95 %
    interval exists and (min, max) is returned.
    """
    x = np.sort(np.asarray(samples, dtype=float))
    n = x.size
    if n < 6:
        return float(x[0]), float(x[-1])
    low, high = _median_ci_ranks(n, confidence)
    return float(x[low - 1]), float(x[high - 1])


@functools.lru_cache(maxsize=4096)
def _median_ci_ranks(n: int, confidence: float) -> tuple[int, int]:
    """1-based ranks of the order statistics bounding the median's CI (they
    depend on ``n`` only: the timing loop asks again each time it checks)."""
    import scipy.special

    tail = (1.0 - confidence) / 2.0
    # binom.ppf(tail, n, 1/2): the least k with P(X <= k) >= tail (isf by
    # symmetry: n - ppf), searched where it lies, within 4 SDs below n/2,
    # unless the tail is thinner than that.
    start = max(0, int(n / 2 - 2 * math.sqrt(n)))
    ks = np.arange(start if scipy.special.bdtr(start, n, 0.5) < tail else 0, n // 2 + 1)
    cdf = scipy.special.bdtr(ks, n, 0.5)
    low = int(ks[np.searchsorted(cdf, tail * (1 - 1e-12))])
    high = n - low + 1
    return max(low, 1), min(high, n)


def summarize(samples: Sequence[float]) -> dict[str, float]:
    """Median, its CI, quantiles, mean and coefficient of variation."""
    x = np.asarray(samples, dtype=float)
    low, high = median_ci(x)
    q = np.quantile(x, [0.05, 0.25, 0.75, 0.95])
    return {
        "n": int(x.size),
        "median": float(np.median(x)),
        "ci_low": low,
        "ci_high": high,
        "mean": float(x.mean()),
        "min": float(x.min()),
        "max": float(x.max()),
        "q05": float(q[0]),
        "q25": float(q[1]),
        "q75": float(q[2]),
        "q95": float(q[3]),
        "cv": float(x.std() / x.mean()) if x.size > 1 else 0.0,  # scipy.stats.variation's definition
    }


# --- stability: can a median (and a ratio of two) be read as one number? ---

# A median whose 95 % CI over the run's rounds is wider than this (relative,
# half-width) moved with the machine between rounds more than one number
# can say; a ratio between two interleaved cases whose per-round CI is wider
# than RATIO_CI_LIMIT likewise (studies/bimodal.py, the README's method).
LEVEL_CI_LIMIT = 0.10
RATIO_CI_LIMIT = 0.10
MIN_ROUNDS = 10


def round_medians(samples: Sequence[float], round_ends: Sequence[int], skip_nan: bool = False) -> np.ndarray:
    """Median of each round's samples (float64, shape ``(rounds,)``).

    ``round_ends[r]`` is the sample count after round r. An empty round,
    or one holding a NaN (a non-finite sample, stored as null), is NaN;
    with ``skip_nan`` a round's non-finite samples are dropped first.
    One sort for all rounds (``nnbench ab`` asks after every worker pair,
    for thousands of rounds).
    """
    x = np.asarray(samples, dtype=float)
    ends = np.asarray(round_ends, dtype=np.int64)
    if ends.size == 0:
        return np.empty(0)
    starts = np.concatenate(([0], ends[:-1]))
    if np.any(ends < starts) or ends[-1] > x.size:  # not a valid record: round by round
        return np.array([_median_or_nan(x[s:e], skip_nan) for s, e in zip(starts, ends, strict=True)])
    rounds = np.repeat(np.arange(ends.size), ends - starts)
    values = x[: ends[-1]]
    out = np.full(ends.size, np.nan)
    if skip_nan:
        keep = np.isfinite(values)
        values, rounds = values[keep], rounds[keep]
    else:
        out_nan = np.bincount(rounds[np.isnan(values)], minlength=ends.size) > 0
    counts = np.bincount(rounds, minlength=ends.size)
    first = np.cumsum(counts) - counts
    ordered = values[np.lexsort((values, rounds))]
    some = counts > 0
    low, high = first[some] + (counts[some] - 1) // 2, first[some] + counts[some] // 2
    out[some] = (ordered[low] + ordered[high]) / 2
    if not skip_nan:
        out[out_nan] = np.nan
    return out


def _median_or_nan(block: np.ndarray, skip_nan: bool) -> float:
    if skip_nan:
        block = block[np.isfinite(block)]
    return float(np.median(block)) if block.size else np.nan


def stability(time: dict) -> list[str]:
    """Why a record's median step time should not be read as one number
    (empty: it can). ``time`` is a record's ``time`` section.

    - ``level``: over the run's rounds (each a short block of the case's
      samples, interleaved with the other cases of its group) the median's
      95 % CI is wider than ±``LEVEL_CI_LIMIT``: the level moved with the
      machine (on the 2-core VM, phases of ~2× slower calls) more than the
      median absorbs;
    - ``not steady``: warm-up never found two windows that agree;
    - ``few rounds``: fewer than ``MIN_ROUNDS`` rounds to judge by.
    """
    out = []
    if time.get("steady") is False:
        out.append("not steady")
    ends = time.get("round_ends") or []
    levels = round_medians(time.get("samples_s") or [], ends)
    levels = levels[np.isfinite(levels)]
    if levels.size < MIN_ROUNDS:
        return out + ["few rounds"]
    mid = float(np.median(levels))
    lo, hi = median_ci(levels)
    if mid > 0 and max(hi / mid - 1, 1 - lo / mid) > LEVEL_CI_LIMIT:
        out.append(f"level ±{100 * max(hi / mid - 1, 1 - lo / mid):.0f} % over rounds")
    return out


def paired_ratio(base: dict, cand: dict) -> tuple[float, float, float] | None:
    """``(ratio, low, high)``: the median over rounds of ``cand``'s round
    median ÷ ``base``'s in the same round, with its 95 % CI — two cases timed
    interleaved in one worker share each round's machine state, so their
    per-round ratio cancels what moved both. ``base``/``cand`` are records'
    ``time`` sections; None without at least ``MIN_ROUNDS`` shared rounds.
    """
    a = round_medians(base.get("samples_s") or [], base.get("round_ends") or [])
    b = round_medians(cand.get("samples_s") or [], cand.get("round_ends") or [])
    n = min(a.size, b.size)
    keep = np.isfinite(a[:n]) & np.isfinite(b[:n]) & (a[:n] > 0) & (b[:n] > 0)
    d = np.log(b[:n][keep]) - np.log(a[:n][keep])
    if d.size < MIN_ROUNDS:
        return None
    lo, hi = median_ci(d)
    return float(np.exp(np.median(d))), float(np.exp(lo)), float(np.exp(hi))


def ratio_unstable(ci: tuple[float, float, float] | None) -> bool:
    """A paired ratio whose CI reaches beyond ±``RATIO_CI_LIMIT`` of it."""
    if ci is None:
        return True
    r, lo, hi = ci
    return hi / r - 1 > RATIO_CI_LIMIT or 1 - lo / r > RATIO_CI_LIMIT
