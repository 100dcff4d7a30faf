"""toytheory.stats: calibration under the null, power against planted differences,
refusal of proportions, and planted bugs that the audits catch."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats as sps

from toytheory import stats
from toytheory.calibration import audit_rate, rejection_count

ALPHA = 0.05
AUDIT = 1e-6
REPS = 1000


def _audit(fn, reps=REPS, seed=1, rate=ALPHA, alternative="two-sided"):
    count = rejection_count(fn, reps, seed)
    return count, audit_rate(count, reps, rate, AUDIT, alternative=alternative)


# ----------------------------------------------------------------------------- calibration

def test_chisquare_rejection_rate_under_null_matches_level():
    p = np.array([0.3, 0.2, 0.2, 0.1, 0.1, 0.05, 0.03, 0.02])  # small cells get pooled at n=100

    def run(rng):
        return stats.chisquare_gof(rng.multinomial(100, p), p, ALPHA)

    count, audit = _audit(run)
    assert not audit.reject, (count, audit)


def test_ks_one_sample_rejection_rate_under_null_matches_level():
    count, audit = _audit(lambda r: stats.ks_1samp(r.standard_normal(50), sps.norm.cdf, ALPHA))
    assert not audit.reject, count


def test_ks_two_sample_is_not_anticonservative():
    count, audit = _audit(lambda r: stats.ks_2samp(r.standard_normal(40), r.standard_normal(60),
                                                   ALPHA), alternative="greater")
    assert not audit.reject, count


def test_energy_permutation_test_is_valid_under_null():
    def run(rng):
        return stats.energy_two_sample_test(rng.standard_normal((20, 2)),
                                            rng.standard_normal((25, 2)), ALPHA, rng=rng,
                                            max_permutations=99)

    count, audit = _audit(run, reps=400, alternative="greater")
    assert not audit.reject, count


def test_bonferroni_and_holm_family_rate_is_exact_under_global_null():
    m = 5
    rate = 1 - (1 - ALPHA / m) ** m
    for method in (stats.bonferroni, stats.holm):
        count, audit = _audit(lambda r: method(r.random(m), ALPHA), reps=4000, rate=rate)
        assert not audit.reject, (method.__name__, count)


def test_wilson_and_exact_intervals_cover_at_their_level():
    rng = np.random.default_rng(7)
    n, p, level = 60, 0.13, 0.05
    ks = rng.binomial(n, p, size=3000)
    miss_exact = sum(not (lo <= p <= hi) for lo, hi in
                     (stats.exact_binomial_interval(int(k), n, level) for k in ks))
    # Clopper-Pearson is conservative: misses at most at rate `level`
    assert not audit_rate(miss_exact, len(ks), level, AUDIT, alternative="greater").reject
    miss_wilson = sum(not (lo <= p <= hi) for lo, hi in
                      (stats.wilson_interval(int(k), n, level) for k in ks))
    assert miss_wilson < 0.1 * len(ks)


# ----------------------------------------------------------------------------- power

def test_chisquare_detects_a_planted_shift():
    p = np.full(8, 1 / 8)
    q = p.copy()
    q[0] += 0.05
    q[1] -= 0.05
    res = stats.chisquare_gof(np.random.default_rng(3).multinomial(2000, q), p, AUDIT)
    assert res.reject and res.verdict == "reject"


def test_chisquare_rejects_an_impossible_cell_outright():
    res = stats.chisquare_gof([5, 5, 1], [0.5, 0.5, 0.0], AUDIT)
    assert res.reject and res.pvalue == 0.0 and res.details["impossible_cells"] == [2]


def test_ks_detects_a_planted_shift():
    x = np.random.default_rng(4).standard_normal(2000) + 0.25
    assert stats.ks_1samp(x, sps.norm.cdf, AUDIT).reject


def test_energy_test_detects_a_planted_scale_change_at_level_1e6():
    rng = np.random.default_rng(5)
    x, y = rng.standard_normal((150, 3)), 1.8 * rng.standard_normal((150, 3))
    res = stats.energy_two_sample_test(x, y, AUDIT, rng=6)
    assert res.reject
    assert res.details["permutations"] >= 1 / AUDIT - 1


def test_energy_test_stops_early_under_the_null():
    rng = np.random.default_rng(8)
    res = stats.energy_two_sample_test(rng.standard_normal((50, 2)),
                                       rng.standard_normal((50, 2)), AUDIT, rng=9)
    assert not res.reject
    assert res.details["rule"] == "stopped at exceedances"
    assert res.details["permutations"] < 10_000


def test_energy_distance_matches_scipy_in_one_dimension():
    rng = np.random.default_rng(10)
    x, y = rng.standard_normal(40), rng.standard_normal(30) + 1
    # scipy's energy_distance is sqrt(2 E|X-Y| - E|X-X'| - E|Y-Y'|)
    assert stats.energy_distance(x, y) == pytest.approx(sps.energy_distance(x, y) ** 2, rel=1e-10)


def test_holm_adjusted_pvalues_match_the_step_down_definition():
    p = [0.01, 0.04, 0.03, 0.005]
    res = stats.holm(p, 0.05)
    # sorted 0.005, 0.01, 0.03, 0.04 -> 4*0.005, 3*0.01, 2*0.03, 1*0.04, running max
    assert res.adjusted == pytest.approx((0.03, 0.06, 0.06, 0.02))
    assert res.rejects == (True, False, False, True)


# ----------------------------------------------------------------------------- planted bugs

def test_audit_catches_a_test_with_the_wrong_degrees_of_freedom():
    p = np.full(6, 1 / 6)

    def buggy(rng):  # uses df = k + 1 instead of k - 1: far too conservative
        counts = rng.multinomial(300, p)
        stat = np.sum((counts - 300 * p) ** 2 / (300 * p))
        pv = sps.chi2.sf(stat, df=len(p) + 1)
        return stats.TestResult("buggy", stat, pv, ALPHA, pv <= ALPHA)

    count, audit = _audit(buggy, reps=2000)
    assert audit.reject, count


def test_audit_catches_a_chisquare_fed_proportions():
    p = np.full(6, 1 / 6)

    def on_proportions(rng):
        res = sps.chisquare(rng.multinomial(300, p) / 300, p)
        return stats.TestResult("proportions", res.statistic, res.pvalue, ALPHA,
                                res.pvalue <= ALPHA)

    count, audit = _audit(on_proportions)
    assert count == 0 and audit.reject


def test_audit_catches_an_anticonservative_ks():
    def buggy(rng):  # tests at twice the stated level
        res = stats.ks_1samp(rng.standard_normal(50), sps.norm.cdf, 2 * ALPHA)
        return stats.TestResult("buggy", res.statistic, res.pvalue, ALPHA, res.reject)

    count, audit = _audit(buggy, alternative="greater")
    assert audit.reject, count


# ----------------------------------------------------------------------------- bad input

def test_chisquare_refuses_proportions():
    with pytest.raises(ValueError, match="counts: must be integer counts"):
        stats.chisquare_gof([0.25, 0.25, 0.5], [0.3, 0.3, 0.4], 0.01)


def test_chisquare_two_sample_refuses_proportions():
    with pytest.raises(ValueError, match="counts_b: must be integer counts"):
        stats.chisquare_two_sample([10, 20, 30], [0.1, 0.2, 0.7], 0.01)


@pytest.mark.parametrize("counts, probs, match", [
    ([1, -1, 3], [0.2, 0.3, 0.5], "counts: must be non-negative"),
    ([1, 2, 3], [0.2, 0.3, 0.6], "probabilities: must sum to one"),
    ([1, 2], [0.2, 0.3, 0.5], "probabilities: must have the shape of counts"),
    ([1, 2, 3], [0.2, np.nan, 0.8], "probabilities: must contain only finite values"),
    ([0, 0, 0], [0.2, 0.3, 0.5], "counts: must contain at least one observation"),
    ([2, 1, 1], [0.4, 0.3, 0.3], "too few observations"),
])
def test_chisquare_bad_input_names_the_argument(counts, probs, match):
    with pytest.raises(ValueError, match=match):
        stats.chisquare_gof(counts, probs, 0.01)


@pytest.mark.parametrize("level", [0.0, 1.0, -0.1, float("nan")])
def test_levels_outside_zero_one_are_refused(level):
    with pytest.raises(ValueError, match="level"):
        stats.ks_1samp([0.1, 0.2], sps.norm.cdf, level)


def test_energy_test_refuses_a_permutation_budget_that_cannot_reject():
    with pytest.raises(ValueError, match="max_permutations: must be >= 1/level - 1"):
        stats.energy_two_sample_test(np.zeros((5, 2)), np.ones((5, 2)), 1e-6,
                                     max_permutations=1000)


def test_nan_samples_are_refused():
    with pytest.raises(ValueError, match="x: must contain only finite values"):
        stats.ks_2samp([0.0, np.nan], [1.0, 2.0], 0.01)


def test_binomial_test_k_above_n_is_refused():
    with pytest.raises(ValueError, match="k: must be <= n"):
        stats.binomial_test(5, 3, 0.5, 0.01)


# ----------------------------------------------------------------------------- pooling

def test_pooling_gives_every_group_the_minimum_expected_count():
    expected = np.array([0.5, 1.0, 1.2, 2.0, 3.0, 10.0, 20.0])
    groups = stats.pool_small_cells(expected, 5.0)
    sums = [expected[g].sum() for g in groups]
    assert min(sums) >= 5.0
    assert sorted(np.concatenate(groups).tolist()) == list(range(len(expected)))


# ----------------------------------------------------------------------------- more calibration and power

def test_exact_binomial_test_is_not_anticonservative_under_the_null():
    # the exact test is conservative: its rejection rate is at most the level
    count, audit = _audit(lambda r: stats.binomial_test(int(r.binomial(80, 0.3)), 80, 0.3, ALPHA),
                          alternative="greater")
    assert not audit.reject, count


def test_exact_binomial_test_detects_a_planted_probability_shift():
    # planted: true p = 0.45 where the null says 0.30, n = 400 (power about 1 at 1e-6)
    result = stats.binomial_test(int(np.random.default_rng(3).binomial(400, 0.45)), 400, 0.3,
                                 AUDIT)
    assert result.reject


def test_chisquare_two_sample_rejection_rate_under_null_matches_level():
    p = np.array([0.4, 0.3, 0.2, 0.1])

    def run(rng):
        return stats.chisquare_two_sample(rng.multinomial(150, p), rng.multinomial(200, p), ALPHA)

    count, audit = _audit(run)
    assert not audit.reject, count


def test_chisquare_two_sample_detects_a_planted_cell_shift():
    # planted: 0.1 of mass moved from the first cell to the last in one sample, n = 5000 each
    rng = np.random.default_rng(4)
    p = np.array([0.4, 0.3, 0.2, 0.1])
    q = np.array([0.3, 0.3, 0.2, 0.2])
    assert stats.chisquare_two_sample(rng.multinomial(5000, p), rng.multinomial(5000, q),
                                      AUDIT).reject
    assert not stats.chisquare_two_sample(rng.multinomial(5000, p), rng.multinomial(5000, p),
                                          AUDIT).reject


def test_ks_two_sample_detects_a_planted_location_shift():
    # planted: mean 0.25 against 0, 4000 points each (D about 0.1, critical value at 1e-6
    # about 0.06)
    rng = np.random.default_rng(5)
    assert stats.ks_2samp(rng.standard_normal(4000), 0.25 + rng.standard_normal(4000),
                          AUDIT).reject


def test_family_corrections_detect_one_planted_signal_among_nulls():
    # planted: one p-value of 1e-9 among four uniform ones; Holm and Bonferroni both reject
    # the family at 1e-6 and single out that hypothesis, and neither rejects four nulls
    rng = np.random.default_rng(6)
    nulls = list(rng.uniform(0.01, 1.0, 4))
    for method in (stats.bonferroni, stats.holm):
        family = method(nulls + [1e-9], AUDIT)
        assert family.reject and list(family.rejects) == [False] * 4 + [True]
        assert not method(nulls, AUDIT).reject


def test_wilson_interval_coverage_is_within_a_binomial_band_around_the_level():
    # Wilson's interval is approximate: at n = 200, p = 0.3 its miss rate is close to the
    # level; held two-sided to a binomial audit at 1e-6 around the exact miss probability
    n, p, level = 200, 0.3, 0.05
    ks = np.arange(n + 1)
    miss = np.array([not (lo <= p <= hi) for lo, hi in
                     (stats.wilson_interval(int(k), n, level) for k in ks)])
    exact_miss = float(sps.binom.pmf(ks, n, p)[miss].sum())
    assert abs(exact_miss - level) < 0.02      # the interval's exact miss probability
    rng = np.random.default_rng(8)
    draws = rng.binomial(n, p, size=4000)
    count = int(miss[draws].sum())
    assert not audit_rate(count, draws.size, exact_miss, AUDIT).reject
