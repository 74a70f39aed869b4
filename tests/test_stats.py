"""The timing statistics agree with scipy.stats' own routines."""

import numpy as np
import pytest
import scipy.stats

from nnbench.measure import stats as _stats


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


def _lane(rng, rounds, per_round, level, slow=None):
    """Samples and round ends of one lane: each round's samples around
    ``level`` (times the round's machine slow-down ``slow[r]``) with 3 % noise."""
    slow = np.ones(rounds) if slow is None else slow
    samples, ends = [], []
    for r in range(rounds):
        samples += list(level * slow[r] * np.exp(rng.normal(0, 0.03, per_round)))
        ends.append(len(samples))
    return {"samples_s": samples, "round_ends": ends, "steady": True}


def test_paired_ratio_recovers_a_known_ratio_through_shared_machine_phases():
    """Two interleaved lanes share each round's state: 40 % of rounds run 2×
    slow for both. The per-round ratio cancels it: 1.3 recovered, stable;
    each lane's own median is flagged (its level moved with the machine)."""
    rng = np.random.default_rng(1)
    slow = np.where(rng.random(40) < 0.4, 2.0, 1.0)
    a, b = _lane(rng, 40, 8, 1e-5, slow), _lane(rng, 40, 8, 1.3e-5, slow)
    ratio, lo, hi = _stats.paired_ratio(a, b)
    assert lo <= 1.3 <= hi and abs(ratio / 1.3 - 1) < 0.02
    assert not _stats.ratio_unstable((ratio, lo, hi))
    assert any(w.startswith("level") for w in _stats.stability(a))


def test_unshared_phases_and_a_wandering_ratio():
    """Each lane slow (2×) in its own 40 % of rounds: the per-round ratio is
    ×0.5, ×1 or ×2, and its median still finds the truth (×1). Lanes whose
    levels wander independently and continuously (log-sd 0.3 per round)
    leave the ratio uncertain by more than ±10 %: flagged."""
    rng = np.random.default_rng(2)
    steady = _lane(rng, 40, 8, 1e-5)
    assert _stats.stability(steady) == []
    a = _lane(rng, 40, 8, 1e-5, np.where(rng.random(40) < 0.4, 2.0, 1.0))
    b = _lane(rng, 40, 8, 1e-5, np.where(rng.random(40) < 0.4, 2.0, 1.0))
    ratio, lo, hi = _stats.paired_ratio(a, b)
    assert lo <= 1.0 <= hi and abs(ratio - 1) < 0.05
    c = _lane(rng, 40, 8, 1e-5, np.exp(rng.normal(0, 0.3, 40)))
    d = _lane(rng, 40, 8, 1e-5, np.exp(rng.normal(0, 0.3, 40)))
    assert _stats.ratio_unstable(_stats.paired_ratio(c, d))
    assert _stats.stability({**steady, "round_ends": steady["round_ends"][:5]}) == ["few rounds"]
    assert "not steady" in _stats.stability({**steady, "steady": False})
