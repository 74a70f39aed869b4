"""The timing statistics agree with scipy.stats' own routines."""

import numpy as np
import pytest
import scipy.stats

from nnbench import _stats


@pytest.mark.parametrize("n", [6, 7, 10, 31, 100, 257, 1000])
def test_median_ci_is_quantile_tests_interval(n):
    x = np.random.default_rng(n).lognormal(size=n)
    ci = scipy.stats.quantile_test(x, q=float(np.median(x)), p=0.5).confidence_interval(0.95)
    low, high = _stats.median_ci(x)
    assert low == (ci.low if np.isfinite(ci.low) else x.min())
    assert high == (ci.high if np.isfinite(ci.high) else x.max())
    assert low <= np.median(x) <= high


def test_median_ci_of_few_samples_is_their_range():
    assert _stats.median_ci([3.0, 1.0, 2.0]) == (1.0, 3.0)
