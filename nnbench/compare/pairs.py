"""The worker pair as the unit of an ``nnbench ab`` comparison: one log
ratio per pair, their 20 % trimmed mean and Yuen's trimmed t interval
(``nnbench.compare.statistics`` decides verdicts on them)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import scipy.stats

CONFIDENCE = 0.95
# "unchanged" is two one-sided tests at the same 5 % level (TOST): the 90 %
# interval inside the band. It is never widened for multiplicity: every
# metric of a family must be inside its band, which is already the harder claim.
EQUIVALENCE_CONFIDENCE = 2 * CONFIDENCE - 1
TRIM = 0.2  # fraction of worker pairs trimmed from each end of the pair-level mean (Yuen)


def pair_level(log_ratios: np.ndarray, confidence: float = CONFIDENCE) -> dict[str, Any]:
    """The worker pair as the unit: ``log_ratios`` holds one log(candidate /
    baseline) per pair (1-D float, at least ``MIN_PAIRS``). Returns ``ratio``
    (exp of the 20 % trimmed mean), ``ci_low``/``ci_high`` and ``p_value``
    (``trimmed_t`` at ``confidence``: what "regressed" and "improved" are
    decided on), ``eq_low``/``eq_high`` (its interval at
    ``EQUIVALENCE_CONFIDENCE``: what "unchanged" is decided on), ``pairs``
    and ``pair_ratios``."""
    mean, lo, hi, p = trimmed_t(log_ratios, confidence)
    _, eq_lo, eq_hi, _ = trimmed_t(log_ratios, EQUIVALENCE_CONFIDENCE)
    return {
        "ratio": math.exp(mean),
        "ci_low": math.exp(lo),
        "ci_high": math.exp(hi),
        "eq_low": math.exp(eq_lo),
        "eq_high": math.exp(eq_hi),
        "p_value": p,
        "pairs": int(log_ratios.size),
        "pair_ratios": [math.exp(g) for g in log_ratios],
    }


def trimmed_t(x: np.ndarray, confidence: float = CONFIDENCE) -> tuple[float, float, float, float]:
    """``(trimmed mean, CI low, CI high, p)`` of ``x`` against 0: Yuen's
    one-sample trimmed t, ``TRIM`` of the values cut from each end
    (``int(TRIM * n)`` of them; none below 5 values, where it is Student's
    t). Its standard error comes from the winsorized variance, with
    n - 2k - 1 degrees of freedom (``scipy.stats.mstats``)."""
    n = x.size
    k = int(TRIM * n)
    lim = (k / n + 1e-9,) * 2  # trim exactly k from each end
    m = float(scipy.stats.mstats.trimmed_mean(x, limits=lim))
    se = float(scipy.stats.mstats.trimmed_stde(x, limits=lim))
    df = trimmed_df(n)
    q = float(scipy.stats.t.ppf(0.5 + confidence / 2, df))
    p = float(2 * scipy.stats.t.sf(abs(m) / se, df)) if se > 0 else (1.0 if m == 0 else 0.0)
    return m, m - q * se, m + q * se, p


def trimmed_df(n: int) -> int:
    """Degrees of freedom of ``trimmed_t`` over ``n`` values: n - 2k - 1, k = int(TRIM * n) trimmed from each end."""
    return n - 2 * int(TRIM * n) - 1
