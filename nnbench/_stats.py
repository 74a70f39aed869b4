"""Summary statistics of timing samples (scipy.stats does the work)."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import scipy.stats

CONFIDENCE = 0.95


def median_ci(samples: Sequence[float], confidence: float = CONFIDENCE) -> tuple[float, float]:
    """Distribution-free confidence interval of the median.

    The order-statistic interval from the binomial distribution
    (``scipy.stats.quantile_test``), valid for any continuous distribution.
    With fewer than 6 samples no 95 % interval exists and (min, max) is
    returned.
    """
    x = np.asarray(samples, dtype=float)
    if x.size < 6:
        return float(x.min()), float(x.max())
    res = scipy.stats.quantile_test(x, q=float(np.median(x)), p=0.5)
    ci = res.confidence_interval(confidence)
    low = float(ci.low) if math.isfinite(ci.low) else float(x.min())
    high = float(ci.high) if math.isfinite(ci.high) else float(x.max())
    return low, high


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
