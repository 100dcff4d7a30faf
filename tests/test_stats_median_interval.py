"""The order-statistic median interval (toytheory.stats.median_interval) against its
definition: exact coverage of the true median by the binomial law of the count below it,
the largest k that keeps it, and a planted too-narrow interval caught by the same check."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as sps

from toytheory import stats

CASES = [(n, level) for n in (6, 11, 40, 101, 400) for level in (0.3, 0.05, 1e-3, 1e-6)
         if 2.0 ** (1 - n) <= level]          # n values suffice: P(B = 0) = 2^-n <= level/2


def _orders(interval, n, level):
    """The order-statistic indices (k, j) an interval function picks on n values: fed the
    ranks 1..n themselves (continuous data enter only through their ranks)."""
    lo, hi = interval(np.arange(1.0, n + 1.0), level)
    return int(lo), int(hi)


def _exact_coverage(k, j, n):
    """P(X_(k) <= m <= X_(j)) for n i.i.d. draws of any continuous law with median m: with
    B ~ Bin(n, 1/2) the count below m, X_(k) <= m iff B >= k and m <= X_(j) iff B <= j - 1."""
    return float(sps.binom.cdf(j - 1, n, 0.5) - sps.binom.cdf(k - 1, n, 0.5))


@pytest.mark.parametrize("n, level", CASES)
def test_median_interval_covers_exactly_at_its_level_and_is_the_narrowest_symmetric(n, level):
    k, j = _orders(stats.median_interval, n, level)
    assert j == n + 1 - k                              # symmetric order statistics
    assert _exact_coverage(k, j, n) >= 1 - level      # the level holds, for every law
    # the largest k: one order statistic further in on each side loses the level
    assert k + 1 <= n - k and _exact_coverage(k + 1, n - k, n) < 1 - level


@pytest.mark.parametrize("n, level", CASES)
def test_a_planted_too_narrow_interval_is_caught(n, level):
    """The same exact check refutes an interval one order statistic narrower per side
    (the off-by-one this function could carry): its coverage is below 1 - level."""
    def narrow(x, lv):
        xs = np.sort(x)
        k = _orders(stats.median_interval, xs.size, lv)[0] + 1
        return xs[k - 1], xs[xs.size - k]

    k, j = _orders(narrow, n, level)
    assert k <= j and _exact_coverage(k, j, n) < 1 - level


def test_median_interval_on_a_known_law_picks_the_order_statistics_of_the_data(rng):
    """On continuous data the ends are the order statistics that the ranks select, and the
    true median of the law (exponential: log 2) is inside at the rate computed above."""
    n, level = 101, 0.05
    k, j = _orders(stats.median_interval, n, level)
    x = rng.exponential(1.0, n)
    xs = np.sort(x)
    assert stats.median_interval(x, level) == (xs[k - 1], xs[j - 1])
    # coverage by simulation matches the exact one: 400 repetitions, exact binomial at 1e-6
    misses = sum(not (lo <= math.log(2.0) <= hi) for lo, hi in
                 (stats.median_interval(rng.exponential(1.0, n), level) for _ in range(400)))
    miss_rate = 1.0 - _exact_coverage(k, j, n)
    assert sps.binomtest(misses, 400, miss_rate).pvalue > 1e-6


def test_median_interval_is_reexported_by_sampling_bounds():
    from toytheory.sampling import bounds

    assert bounds.median_interval is stats.median_interval


def test_median_interval_bad_input():
    with pytest.raises(ValueError, match="too few"):
        stats.median_interval(np.arange(5.0), 1e-6)
    with pytest.raises(ValueError, match="level"):
        stats.median_interval(np.arange(50.0), 1.5)
    with pytest.raises(ValueError, match="x"):
        stats.median_interval(np.ones((3, 3)), 0.05)
