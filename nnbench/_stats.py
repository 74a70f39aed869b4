"""Summary statistics of timing samples (scipy.stats does the work)."""

from __future__ import annotations

import functools
from collections.abc import Sequence

import numpy as np
import scipy.stats

CONFIDENCE = 0.95


def median_ci(samples: Sequence[float], confidence: float = CONFIDENCE) -> tuple[float, float]:
    """Distribution-free confidence interval of the median.

    The order-statistic interval from the binomial distribution — the same
    order statistics as ``scipy.stats.quantile_test(x, q=median, p=0.5)
    .confidence_interval(confidence)`` (a test checks this), read off
    ``scipy.stats.binom`` directly because the timing loop asks for it many
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
    tail = (1.0 - confidence) / 2.0
    low = int(scipy.stats.binom.ppf(tail, n, 0.5))
    high = int(scipy.stats.binom.isf(tail, n, 0.5)) + 1
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
        "cv": float(scipy.stats.variation(x)) if x.size > 1 else 0.0,
    }
