"""toytheory.stats: calibration under the null, power against planted differences,
refusal of proportions, and planted bugs that the audits catch.

Every random test draws from the suite seed (``test_seed``/``rng``), and every test is
sized to pass with probability at least 1 - 1e-6 under any seed: a test that must
*detect* something (a planted shift, a planted bug) states its power, computed exactly
(binomial enumeration) or bounded rigorously (Massart's DKW, Hoeffding), in its
docstring, and the sizing is asserted next to it (``_miss_*``); a calibration test
under the null fails with probability at most about 1e-6, the audit's level.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats as sps

from toytheory import stats
from toytheory.calibration import audit_rate, rejection_count

ALPHA = 0.05
AUDIT = 1e-6
REPS = 1000


def _audit(fn, seed, reps=REPS, rate=ALPHA, alternative="two-sided"):
    count = rejection_count(fn, reps, seed)
    return count, audit_rate(count, reps, rate, AUDIT, alternative=alternative)


def _audit_rejects(reps, rate, alternative):
    """The counts ``k`` at which ``audit_rate(k, reps, rate, AUDIT, alternative)`` rejects.

    Computed from the binomial law directly (scipy's two-sided rule: the outcomes no
    likelier than ``k``), not through the code under test.
    """
    k = np.arange(reps + 1)
    pmf = sps.binom.pmf(k, reps, rate)
    if alternative == "greater":
        return sps.binom.sf(k - 1, reps, rate) <= AUDIT
    if alternative == "less":
        return sps.binom.cdf(k, reps, rate) <= AUDIT
    order = np.sort(pmf)
    cum = np.cumsum(order)
    return cum[np.searchsorted(order, pmf * (1 + 1e-7), side="right") - 1] <= AUDIT


def _miss_audit(reps, null_rate, bug_rates, alternative):
    """Largest probability, over the bug's possible rejection rates, that the audit misses."""
    rejects = _audit_rejects(reps, null_rate, alternative)
    k = np.arange(reps + 1)
    return max(float(sps.binom.pmf(k, reps, r)[~rejects].sum()) for r in bug_rates)


# ----------------------------------------------------------------------------- calibration

def test_chisquare_rejection_rate_under_null_matches_level(test_seed):
    p = np.array([0.3, 0.2, 0.2, 0.1, 0.1, 0.05, 0.03, 0.02])  # small cells get pooled at n=100

    def run(rng):
        return stats.chisquare_gof(rng.multinomial(100, p), p, ALPHA)

    count, audit = _audit(run, test_seed)  # true rate 0.048 (40000 reps): well inside
    assert not audit.reject, (count, audit)


def test_ks_one_sample_rejection_rate_under_null_matches_level(test_seed):
    count, audit = _audit(lambda r: stats.ks_1samp(r.standard_normal(50), sps.norm.cdf, ALPHA),
                          test_seed)
    assert not audit.reject, count


def test_ks_two_sample_is_not_anticonservative(test_seed):
    count, audit = _audit(lambda r: stats.ks_2samp(r.standard_normal(40), r.standard_normal(60),
                                                   ALPHA), test_seed, alternative="greater")
    assert not audit.reject, count


def test_energy_permutation_test_is_valid_under_null(test_seed):
    def run(rng):
        return stats.energy_two_sample_test(rng.standard_normal((20, 2)),
                                            rng.standard_normal((25, 2)), ALPHA, rng=rng,
                                            max_permutations=99)

    count, audit = _audit(run, test_seed, reps=400, alternative="greater")
    assert not audit.reject, count


def test_bonferroni_and_holm_family_rate_is_exact_under_global_null(test_seed):
    m = 5
    rate = 1 - (1 - ALPHA / m) ** m
    for method in (stats.bonferroni, stats.holm):
        count, audit = _audit(lambda r: method(r.random(m), ALPHA), test_seed, reps=4000,
                              rate=rate)
        assert not audit.reject, (method.__name__, count)


def test_wilson_and_exact_intervals_cover_at_their_level(rng):
    """Clopper-Pearson: audited for too many misses. Wilson: its exact miss probability
    at n = 60, p = 0.13 is 0.054 (enumeration), so 300 misses in 3000 draws has
    probability 8e-24."""
    n, p, level = 60, 0.13, 0.05
    ks = rng.binomial(n, p, size=3000)
    # each interval depends on k alone: compute it once for every k in 0..n
    miss_exact_k = np.array([not (lo <= p <= hi) for lo, hi in
                             (stats.exact_binomial_interval(k, n, level) for k in range(n + 1))])
    miss_wilson_k = np.array([not (lo <= p <= hi) for lo, hi in
                              (stats.wilson_interval(k, n, level) for k in range(n + 1))])
    miss_exact = int(miss_exact_k[ks].sum())
    # Clopper-Pearson is conservative: misses at most at rate `level`
    assert not audit_rate(miss_exact, len(ks), level, AUDIT, alternative="greater").reject
    miss_wilson = int(miss_wilson_k[ks].sum())
    assert miss_wilson < 0.1 * len(ks)


# ----------------------------------------------------------------------------- power

def test_chisquare_detects_a_planted_shift(rng):
    """Planted: 0.05 of mass moved from cell 1 to cell 0 of a uniform 8-cell law, n = 8000.

    Power: X^2 is at least cell 0's term (O_0 - n/8)^2 / (n/8), so it rejects once
    O_0 >= n/8 + sqrt(c n/8), c = chi2_7.isf(1e-6) = 40.5; O_0 ~ Bin(8000, 0.175) misses
    that with probability 1.3e-9 (exact binomial), asserted below.
    """
    n = 8000
    p = np.full(8, 1 / 8)
    q = p.copy()
    q[0] += 0.05
    q[1] -= 0.05
    c = sps.chi2.isf(AUDIT, 7)
    assert sps.binom.cdf(np.ceil(n / 8 + np.sqrt(c * n / 8)) - 1, n, q[0]) < 1e-8
    res = stats.chisquare_gof(rng.multinomial(n, q), p, AUDIT)
    assert res.reject and res.verdict == "reject"


def test_chisquare_rejects_an_impossible_cell_outright():
    res = stats.chisquare_gof([5, 5, 1], [0.5, 0.5, 0.0], AUDIT)
    assert res.reject and res.pvalue == 0.0 and res.details["impossible_cells"] == [2]


def _ks_shift_miss(n_eff):
    """Bound on P(KS misses a 0.25 normal location shift at 1e-6), effective size n_eff.

    The true distance is D = 2 Phi(0.125) - 1 = 0.0995; the test rejects once the
    statistic passes d* = sqrt(ln(2e6) / (2 n_eff)) (Massart: P(D_n >= d) <= 2 exp(-2 n d^2)
    under the null, and scipy's p-values obey it); the statistic falls short of d* only if
    the empirical CDF(s) stray by D - d* at the true sup point: Hoeffding, exp(-2 n_eff t^2).
    """
    d_true = 2 * sps.norm.cdf(0.125) - 1
    t = d_true - np.sqrt(np.log(2 / AUDIT) / (2 * n_eff))
    return float(np.exp(-2 * n_eff * t * t))


def test_ks_detects_a_planted_shift(rng):
    """Planted: N(0.25, 1) tested against N(0, 1), n = 6000: misses with probability at
    most 1.5e-22 (``_ks_shift_miss``)."""
    assert _ks_shift_miss(6000) < 1e-12
    x = rng.standard_normal(6000) + 0.25
    assert stats.ks_1samp(x, sps.norm.cdf, AUDIT).reject


def test_energy_test_rejects_two_separated_samples_at_level_1e6(rng):
    """Planted: two samples of 40 points, N(0, I_3) and N(0, I_3) shifted by s = 1000.

    Power 1 - 1e-18: when every point lies within 10 of its centre (all 80 do, but with
    probability 80 P(chi2_3 > 100) < 1e-18), the observed energy statistic is at least
    2s - 80, while a relabelling that swaps k >= 1 points of each sample scores at most
    2(s + 20) - 8 s k(40 - k) / 40^2 <= 2s + 40 - 0.195 s < 2s - 80; only the observed
    split (or its mirror, 2 of C(80, 40) ~ 1e23 relabellings) reaches it, so no drawn
    permutation does and the p-value is 1 / (1 + permutations) <= 1e-6.
    """
    x = rng.standard_normal((40, 3))
    y = rng.standard_normal((40, 3)) + np.array([1000.0, 0.0, 0.0])
    res = stats.energy_two_sample_test(x, y, AUDIT, rng=rng, max_permutations=1_000_000)
    assert res.reject and res.details["exceedances"] == 0
    assert res.details["permutations"] == 1_000_000


def test_energy_test_stops_early_under_the_null(rng):
    """Under the null the sequential p-value is valid: a rejection at 1e-6 has probability
    at most 1e-6. Stopping early is random under the null (P(more than M permutations) =
    20 / (M + 1)), so the stopping rule is checked exactly on a sample against a
    relabelling of itself: the observed statistic is 0, the smallest value, every
    permutation reaches it, and the test stops after exactly 20."""
    x, y = rng.standard_normal((50, 2)), rng.standard_normal((50, 2))
    res = stats.energy_two_sample_test(x, y, AUDIT, rng=rng)
    assert not res.reject
    if res.details["rule"] == "stopped at exceedances":
        assert res.pvalue == 20 / res.details["permutations"]
    same = stats.energy_two_sample_test(x, x[rng.permutation(50)], AUDIT, rng=rng)
    assert same.details["rule"] == "stopped at exceedances"
    assert same.details["permutations"] == 20 and same.pvalue == 1.0


def test_energy_distance_matches_scipy_in_one_dimension(rng):
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

def test_audit_catches_a_test_with_the_wrong_degrees_of_freedom(test_seed):
    """Planted: chi-square p-values on k + 1 = 7 degrees of freedom instead of k - 1 = 5.

    The buggy test rejects at rate P(chi2_5 > chi2_7.isf(0.05)) = 0.0152 (0.0156 by
    40000 simulated repetitions); a two-sided audit of 4000 repetitions against 0.05
    misses any rate up to 0.02 with probability at most 5.2e-9 (exact binomial,
    asserted below).
    """
    p = np.full(6, 1 / 6)
    reps = 4000
    assert _miss_audit(reps, ALPHA, (0.0152, 0.0156, 0.02), "two-sided") < 1e-8

    def buggy(rng):  # uses df = k + 1 instead of k - 1: far too conservative
        counts = rng.multinomial(300, p)
        stat = np.sum((counts - 300 * p) ** 2 / (300 * p))
        pv = sps.chi2.sf(stat, df=len(p) + 1)
        return stats.TestResult("buggy", stat, pv, ALPHA, pv <= ALPHA)

    count, audit = _audit(buggy, test_seed, reps=reps)
    assert audit.reject, count


def test_audit_catches_a_chisquare_fed_proportions(test_seed):
    """Planted: scipy's chisquare fed proportions. Its statistic is X^2 / 300 <= 1500 / 300
    = 5 (all 300 in one cell gives X^2 = 1500, the most), below chi2_5.isf(0.05) = 11.07:
    it never rejects, and 0 rejections in 1000 against 0.05 has probability 5e-23, so the
    audit rejects under every seed (power 1)."""
    p = np.full(6, 1 / 6)

    def on_proportions(rng):
        res = sps.chisquare(rng.multinomial(300, p) / 300, p)
        return stats.TestResult("proportions", res.statistic, res.pvalue, ALPHA,
                                res.pvalue <= ALPHA)

    count, audit = _audit(on_proportions, test_seed)
    assert count == 0 and audit.reject


def test_audit_catches_an_anticonservative_ks(test_seed):
    """Planted: a KS test held at twice its stated level (stated 0.1, tested at 0.2).

    The buggy test rejects at rate 0.2014 (20000 simulated repetitions, sd 0.003). The
    one-sided audit of 2000 repetitions against 0.1 rejects at 268 rejections or more; at
    any rate >= 0.18 it misses with probability at most 1.2e-8 (exact binomial, asserted
    below). (The old size, 1000 repetitions of a test stated at 0.05, missed about 8% of
    seeds.)
    """
    reps, stated = 2000, 0.1
    assert _miss_audit(reps, stated, (0.18, 0.2014, 0.2), "greater") < 1e-7

    def buggy(rng):  # tests at twice the stated level
        res = stats.ks_1samp(rng.standard_normal(50), sps.norm.cdf, 2 * stated)
        return stats.TestResult("buggy", res.statistic, res.pvalue, stated, res.reject)

    count, audit = _audit(buggy, test_seed, reps=reps, rate=stated, alternative="greater")
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

def test_exact_binomial_test_is_not_anticonservative_under_the_null(test_seed):
    # the exact test is conservative: its rejection rate is at most the level
    count, audit = _audit(lambda r: stats.binomial_test(int(r.binomial(80, 0.3)), 80, 0.3, ALPHA),
                          test_seed, alternative="greater")
    assert not audit.reject, count


def test_exact_binomial_test_detects_a_planted_probability_shift(rng):
    """Planted: true p = 0.45 where the null says 0.30, n = 1200: the two-sided exact test
    at 1e-6 misses with probability 3e-9 or less (enumeration of its rejection region,
    asserted below; at the old n = 400 it missed 8.7% of seeds)."""
    n = 1200
    k = np.arange(n + 1)
    rejects = np.array([stats.binomial_test(int(i), n, 0.3, AUDIT).reject for i in k])
    assert sps.binom.pmf(k, n, 0.45)[~rejects].sum() < 1e-8
    assert stats.binomial_test(int(rng.binomial(n, 0.45)), n, 0.3, AUDIT).reject


def test_chisquare_two_sample_rejection_rate_under_null_matches_level(test_seed):
    p = np.array([0.4, 0.3, 0.2, 0.1])

    def run(rng):
        return stats.chisquare_two_sample(rng.multinomial(150, p), rng.multinomial(200, p), ALPHA)

    count, audit = _audit(run, test_seed)  # true rate 0.0503 (40000 reps)
    assert not audit.reject, count


def test_chisquare_two_sample_detects_a_planted_cell_shift(rng):
    """Planted: 0.1 of mass moved from the first cell to the last in one sample, n = 10000
    each.

    Power: collapsing cells can only lower Pearson's X^2 (data processing for the
    chi-square divergence), and the collapsed 2 x 2 table (last cell against the rest) has
    X^2 = z^2 of the pooled two-proportion test, with pooled standard error at most
    sqrt(0.5 / n); it rejects at chi2_3.isf(1e-6) = 30.7 once the observed difference
    passes 5.54 sqrt(0.5 / n) = 0.039, which a true difference of 0.1 misses with
    probability at most exp(-n t^2), t = 0.061 (Hoeffding): 8e-17. The same-law pair is
    accepted but for the test's level, 1e-6.
    """
    n = 10000
    t = 0.1 - np.sqrt(sps.chi2.isf(AUDIT, 3)) * np.sqrt(0.5 / n)
    assert np.exp(-n * t * t) < 1e-12
    p = np.array([0.4, 0.3, 0.2, 0.1])
    q = np.array([0.3, 0.3, 0.2, 0.2])
    assert stats.chisquare_two_sample(rng.multinomial(n, p), rng.multinomial(n, q),
                                      AUDIT).reject
    assert not stats.chisquare_two_sample(rng.multinomial(n, p), rng.multinomial(n, p),
                                          AUDIT).reject


def test_ks_two_sample_detects_a_planted_location_shift(rng):
    """Planted: mean 0.25 against 0, 12000 points each (effective size nm/(n+m) = 6000):
    misses with probability at most 1.5e-22 (``_ks_shift_miss``; Hoeffding for the
    difference of the two empirical CDFs at the sup point; scipy's asymptotic p-value is
    below 2 exp(-2 n_eff d^2)). At the old 4000 each the bound was only 0.002."""
    assert _ks_shift_miss(6000) < 1e-12
    assert stats.ks_2samp(rng.standard_normal(12000), 0.25 + rng.standard_normal(12000),
                          AUDIT).reject


def test_family_corrections_detect_one_planted_signal_among_nulls(rng):
    # planted: one p-value of 1e-9 among four uniform ones on [0.01, 1]; Holm and Bonferroni
    # both reject the family at 1e-6 and single out that hypothesis, and neither rejects
    # four nulls (5 * 0.01 > 1e-6). Power: deterministic in effect — 1 under every seed
    nulls = list(rng.uniform(0.01, 1.0, 4))
    for method in (stats.bonferroni, stats.holm):
        family = method(nulls + [1e-9], AUDIT)
        assert family.reject and list(family.rejects) == [False] * 4 + [True]
        assert not method(nulls, AUDIT).reject


def test_wilson_interval_coverage_is_within_a_binomial_band_around_the_level(rng):
    # Wilson's interval is approximate: at n = 200, p = 0.3 its miss rate is close to the
    # level; held two-sided to a binomial audit at 1e-6 around the exact miss probability
    n, p, level = 200, 0.3, 0.05
    ks = np.arange(n + 1)
    miss = np.array([not (lo <= p <= hi) for lo, hi in
                     (stats.wilson_interval(int(k), n, level) for k in ks)])
    exact_miss = float(sps.binom.pmf(ks, n, p)[miss].sum())
    assert abs(exact_miss - level) < 0.02      # the interval's exact miss probability
    draws = rng.binomial(n, p, size=4000)
    count = int(miss[draws].sum())
    assert not audit_rate(count, draws.size, exact_miss, AUDIT).reject


# ----------------------------------------------------------------------------- means and tails

def _rare(rng):
    """200 Bernoulli(0.002) draws: a bounded, heavily skewed law with mean 0.002."""
    return (rng.random(200) < 0.002).astype(float)


def test_audit_catches_the_t_test_on_rare_event_data(test_seed):
    """Planted misuse: Student's t on rare-event data with a true mean. The sample is all
    zeros with probability 0.998^200 = 0.67, and mean_test then rejects, so its rejection
    rate at level 0.05 is at least 0.67; the one-sided audit of 1000 repetitions against
    0.05 misses a rate >= 0.6 with probability < 1e-300 (asserted below)."""
    assert _miss_audit(REPS, ALPHA, (0.6, 0.67), "greater") < 1e-12
    count, audit = _audit(lambda r: stats.mean_test(_rare(r), 0.002, ALPHA), test_seed,
                          alternative="greater")
    assert audit.reject, count


@pytest.mark.parametrize("method", ["bernstein", "hoeffding"])
def test_bounded_mean_test_holds_its_level_on_rare_event_data(test_seed, method):
    # valid for every law on [0, 1]: audited for too many rejections at 0.05
    count, audit = _audit(lambda r: stats.bounded_mean_test(_rare(r), 0.002, 0.0, 1.0, ALPHA,
                                                            method=method),
                          test_seed, alternative="greater")
    assert not audit.reject, count


@pytest.mark.parametrize("method", ["bernstein", "hoeffding"])
def test_bounded_mean_interval_covers_on_a_skewed_law(rng, method):
    # Beta(0.1, 5): mean 0.1 / 5.1, most mass near 0, rare values near 1
    true_mean = 0.1 / 5.1
    misses = 0
    for _ in range(REPS):
        lo, hi = stats.bounded_mean_interval(rng.beta(0.1, 5.0, 50), 0.0, 1.0, ALPHA,
                                             method=method)
        misses += not (lo <= true_mean <= hi)
    assert not audit_rate(misses, REPS, ALPHA, AUDIT, alternative="greater").reject, misses


@pytest.mark.parametrize("method", ["bernstein", "hoeffding"])
def test_bounded_mean_test_detects_a_planted_shift(rng, method):
    """Planted: Uniform[0, 1] (mean 0.5) tested against 0.6, n = 5000, at 1e-6.

    Power: the half-width is at most sqrt(2 (1/4) ln(4e6) / n) + 7 ln(4e6) / (3(n-1))
    = 0.046 for Bernstein (any sample variance <= 1/4) and sqrt(ln(2e6) / (2n)) = 0.038
    for Hoeffding, so the test misses only if the sample mean strays 0.054 or more from
    0.5: probability <= exp(-2n 0.054^2) = 2.5e-13 (Hoeffding), asserted below.
    """
    n = 5000
    log4 = np.log(4 / AUDIT)
    worst = np.sqrt(2 * 0.25 * log4 / n) + 7 * log4 / (3 * (n - 1))
    assert np.exp(-2 * n * (0.1 - worst) ** 2) < 1e-12
    res = stats.bounded_mean_test(rng.random(n), 0.6, 0.0, 1.0, AUDIT, method=method)
    assert res.reject and res.pvalue <= AUDIT


@pytest.mark.parametrize("method", ["bernstein", "hoeffding"])
def test_bounded_mean_pvalue_is_where_the_interval_reaches_the_mean(rng, method):
    # the p-value inverts the interval: at a level just below p the interval still holds
    # the null mean, just above it no longer does
    x = rng.beta(2.0, 5.0, 400)      # mean 2/7 = 0.286, sd 0.16: sample mean within 0.05
    checked = 0
    for mean in (0.4, 0.45, 0.5):
        p = stats.bounded_mean_test(x, mean, 0.0, 1.0, 0.5, method=method).pvalue
        if not 1e-12 < p < 0.5:
            continue
        checked += 1
        lo, hi = stats.bounded_mean_interval(x, 0.0, 1.0, p * (1 - 1e-6), method=method)
        assert lo <= mean <= hi
        lo, hi = stats.bounded_mean_interval(x, 0.0, 1.0, p * (1 + 1e-6), method=method)
        assert not lo <= mean <= hi
    assert checked >= 1


def test_bounded_mean_interval_hoeffding_width_matches_its_formula():
    x = np.linspace(2.0, 4.0, 101)          # mean 3, on [2, 4]
    lo, hi = stats.bounded_mean_interval(x, 2.0, 4.0, 0.01, method="hoeffding")
    half = 2.0 * np.sqrt(np.log(2 / 0.01) / (2 * 101))
    assert (lo, hi) == pytest.approx((3.0 - half, 3.0 + half), rel=1e-12)


@pytest.mark.parametrize("kwargs, match", [
    (dict(samples=[0.1, 1.5], low=0.0, high=1.0), r"samples: must lie in \[low, high\]"),
    (dict(samples=[0.1, 0.2], low=1.0, high=1.0), "high: must be > low"),
    (dict(samples=[0.1], low=0.0, high=1.0), "samples: must contain at least 2 values"),
    (dict(samples=[0.1, 0.2], low=0.0, high=1.0, method="t"), "method: must be one of"),
])
def test_bounded_mean_bad_input_names_the_argument(kwargs, match):
    with pytest.raises(ValueError, match=match):
        stats.bounded_mean_interval(level=0.05, **kwargs)


def test_mean_test_reports_the_largest_terms_share(rng):
    x = rng.standard_normal(100)
    x[0] = 1e3
    share = stats.mean_test(x, 0.0, ALPHA).details["max_share"]
    assert 0.98 < share <= 1.0   # (1000 - 10)^2 against about 99 * 10^2 + 99
