"""Block-diagonal study pieces, the rank bound and the empirical-Bernstein interval,
each against its definition (issue 14 item 4)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats as sps

from toytheory.sampling.bounds import empirical_bernstein_interval
from toytheory.sampling.sample_complexity import (BlockDiagonalOracle, block_diagonal,
                                                  polylog_slack, rank_bound_size)
from toytheory.sampling.sensitivities import lp_sensitivities
from toytheory.sampling.sensitivity_sampling import DistortionOracle, sample_rows


def test_block_diagonal_places_each_block_and_zeros_elsewhere(rng):
    b1, b2 = rng.standard_normal((3, 2)), rng.standard_normal((4, 1))
    a = block_diagonal([b1, b2])
    expected = np.zeros((7, 3))
    expected[:3, :2] = b1
    expected[3:, 2:] = b2
    assert np.array_equal(a, expected)


@pytest.mark.parametrize("p", [1.0, 2.0])
def test_block_oracle_equals_whole_matrix_oracle_on_unequal_weights(rng, p):
    """Weights far from uniform (sampling at small sizes), where a wrong weighting shows."""
    blocks = [rng.standard_normal((8, 2)) * rng.uniform(0.2, 3.0, (8, 1)) for _ in range(2)]
    orc = BlockDiagonalOracle(blocks, p)
    whole = DistortionOracle(orc.a, p)
    sens = lp_sensitivities(orc.a, p).values
    for m in (4.0, 6.0, 9.0):
        smp = sample_rows(sens, p, expected_size=m, rng=rng)
        assert orc(smp.indices, smp.weights).value == pytest.approx(
            whole(smp.indices, smp.weights).value, abs=1e-9)


def test_block_sensitivities_are_the_blocks_sensitivities(rng):
    blocks = [rng.standard_normal((6, 2)) for _ in range(2)]
    whole = lp_sensitivities(block_diagonal(blocks), 1.0).values
    parts = np.concatenate([lp_sensitivities(b, 1.0).values for b in blocks])
    assert np.allclose(whole, parts, atol=1e-8)


def test_rank_bound_size_is_the_median_point_of_the_binomial():
    for rows, d in ((16, 4), (256, 8), (2 ** 50, 20)):
        m = rank_bound_size(rows, d)
        if rows <= 2 ** 40:
            assert sps.binom.sf(d - 1, rows, m / rows) == pytest.approx(0.5, abs=1e-9)
        else:
            assert sps.poisson.sf(d - 1, m) == pytest.approx(0.5, abs=1e-9)
        assert d - 1 < m < d


def test_rank_bound_size_against_simulated_row_counts(rng):
    """At m_lower, the fraction of samples with >= d rows is 1/2 (exact binomial test)."""
    rows, d = 64, 6
    m = rank_bound_size(rows, d)
    k = int(np.sum(rng.binomial(rows, m / rows, size=20000) >= d))
    assert sps.binomtest(k, 20000, 0.5).pvalue > 1e-6


def test_polylog_slack_is_the_chord_slope_of_the_log_factor():
    x0, x1 = 2.0, 40.0
    chord = (np.log(np.log(np.e * x1) ** 2) - np.log(np.log(np.e * x0) ** 2)) / np.log(x1 / x0)
    assert polylog_slack(x0, x1, 2.0) == pytest.approx(chord, rel=1e-12)


def test_empirical_bernstein_covers_a_skewed_mean(rng):
    """Coverage on a skewed bounded law (Bernoulli(0.01) scaled to [0, 100]): at level 0.05
    the miss rate over 400 repetitions is at most 0.05 (exact binomial test at 1e-6)."""
    misses = 0
    for _ in range(400):
        x = 100.0 * (rng.random(500) < 0.01)
        lo, hi = empirical_bernstein_interval(x, 0.0, 100.0, 0.05)
        misses += not (lo <= 1.0 <= hi)
    assert sps.binomtest(misses, 400, 0.05, alternative="greater").pvalue > 1e-6


def test_empirical_bernstein_excludes_a_planted_shift(rng):
    """Uniform[0, 1] data: the interval at 1e-6 excludes 0.4 and 0.6. Power: the half-width
    is at most sqrt(2 (1/4) ln(4e6) / 4000) + 7 ln(4e6) / (3 * 3999) = 0.053 (sample
    variance <= 1/4), so a miss needs |mean - 0.5| > 0.047: by Hoeffding <= 2 exp(-2 * 4000
    * 0.047^2) < 1e-7."""
    x = rng.uniform(0.0, 1.0, 4000)
    lo, hi = empirical_bernstein_interval(x, 0.0, 1.0, 1e-6)
    assert hi < 0.6 and lo > 0.4


@pytest.mark.parametrize("bad, match", [
    (dict(x=[0.5], low=0.0, high=1.0, level=0.1), "x"),
    (dict(x=[0.5, 0.2], low=1.0, high=0.0, level=0.1), "low"),
    (dict(x=[0.5, 2.0], low=0.0, high=1.0, level=0.1), "x"),
    (dict(x=[0.5, 0.2], low=0.0, high=1.0, level=1.5), "level"),
])
def test_empirical_bernstein_bad_input(bad, match):
    with pytest.raises(ValueError, match=match):
        empirical_bernstein_interval(**bad)


def test_block_tools_bad_input():
    with pytest.raises(ValueError, match="blocks"):
        block_diagonal([])
    with pytest.raises(ValueError, match="rows"):
        rank_bound_size(3, 5)
    with pytest.raises(ValueError, match="x_max"):
        polylog_slack(4.0, 2.0)


def test_median_interval_is_the_order_statistic_interval_and_covers(rng):
    """Against the definition (binomial order statistics) and by coverage on a heavy-tailed
    law (Pareto 0.5: no mean): misses over 300 repetitions at level 0.05 stay at or below
    the rate (exact binomial test at 1e-6)."""
    from toytheory.sampling.bounds import median_interval

    x = rng.standard_normal(101)
    lo, hi = median_interval(x, 0.05)
    xs = np.sort(x)
    k = int(np.sum(sps.binom.cdf(np.arange(101), 101, 0.5) <= 0.025))
    assert (lo, hi) == (xs[k - 1], xs[101 - k])
    true_median = 2.0 ** (1 / 0.5) - 1.0          # Pareto(0.5) median: 2^{1/a} - 1
    misses = 0
    for _ in range(300):
        lo, hi = median_interval(rng.pareto(0.5, 80), 0.05)
        misses += not (lo <= true_median <= hi)
    assert sps.binomtest(misses, 300, 0.05, alternative="greater").pvalue > 1e-6
    with pytest.raises(ValueError, match="too few"):
        median_interval(np.arange(5.0), 1e-6)


def test_quantile_interval_is_the_order_statistic_interval_and_covers(rng):
    """Against the definition (the ranks' binomial tails, each end the extreme rank whose
    tail stays <= level / 2), equal to median_interval at p = 1/2, and by coverage of the
    0.1-quantile of Pareto(0.5) (no mean): misses over 300 repetitions at level 0.05 stay at
    or below the rate (exact binomial test at 1e-6)."""
    from toytheory.sampling.bounds import median_interval, quantile_interval

    n, p, level = 120, 0.1, 0.01
    x = rng.standard_normal(n)
    xs = np.sort(x)
    lo, hi = quantile_interval(x, p, level)
    ranks = np.arange(1, n + 1)
    ok_lo = ranks[sps.binom.cdf(ranks - 1, n, p) <= level / 2]    # P(x_(l) > Q_p)
    ok_hi = ranks[sps.binom.sf(ranks - 1, n, p) <= level / 2]     # P(x_(u) < Q_p)
    assert (lo, hi) == (xs[ok_lo.max() - 1], xs[ok_hi.min() - 1])
    assert quantile_interval(x, 0.5, 0.05) == median_interval(x, 0.05)
    true_q = 0.9 ** (-1 / 0.5) - 1.0          # Pareto(0.5) p-quantile: (1 - p)^{-1/a} - 1
    misses = 0
    for _ in range(300):
        lo, hi = quantile_interval(rng.pareto(0.5, 80), p, 0.05)
        misses += not (lo <= true_q <= hi)
    assert sps.binomtest(misses, 300, 0.05, alternative="greater").pvalue > 1e-6
    with pytest.raises(ValueError, match="too few"):
        quantile_interval(np.arange(20.0), 0.1, 1e-6)
    with pytest.raises(ValueError, match="p"):
        quantile_interval(x, 1.0, 0.05)


def test_block_study_grid_runs_geometrically_from_d_to_top_n(rng):
    from toytheory.sampling.sample_complexity import block_study

    rows = block_study(2.0, blocks=(1, 3), family="gaussian", block_rows=10, block_dim=2,
                       eps=0.3, reps=2, sizes=5, top=0.8, rng=rng)
    for r in rows:
        sizes = r.curve.sizes
        assert sizes[0] == pytest.approx(r.d) and sizes[-1] == pytest.approx(0.8 * r.n)
        assert np.allclose(np.diff(np.log(sizes)), np.log(sizes[1] / sizes[0]))
        assert r.n == 10 * (r.d // 2)
