"""Mechanisms: answers, the budget sentinel, noise laws, Thresholdout and PMW step by step."""

from __future__ import annotations

import math
import pickle

import numpy as np
import pytest

from toytheory import stats
from toytheory.adaptive import bounds
from toytheory.adaptive.mechanisms import (EXHAUSTED, EmpiricalMechanism, Exhausted,
                                           GaussianMechanism, LaplaceMechanism,
                                           PrivateMultiplicativeWeights,
                                           SampleSplittingMechanism, Thresholdout, is_exhausted)
from toytheory.adaptive.mechanisms import thresholdout as thresholdout_module
from toytheory.adaptive.populations import FinitePopulation, RademacherPopulation
from toytheory.adaptive.queries import CoordinateAgreementQuery, TableQuery
from tests._seeds import reseed

LEVEL = 1e-6


def laplace_cdf(scale):
    return lambda x: np.where(x < 0, 0.5 * np.exp(x / scale), 1 - 0.5 * np.exp(-x / scale))


def normal_cdf(sigma):
    from scipy.special import ndtr
    return lambda x: ndtr(x / sigma)


# ---------------------------------------------------------------- the sentinel
def test_exhausted_is_a_singleton_that_refuses_to_be_a_number():
    assert Exhausted() is EXHAUSTED and pickle.loads(pickle.dumps(EXHAUSTED)) is EXHAUSTED
    assert not EXHAUSTED and is_exhausted(EXHAUSTED) and not is_exhausted(0.5)
    for op in (lambda: float(EXHAUSTED), lambda: EXHAUSTED + 1, lambda: 1 - EXHAUSTED,
               lambda: EXHAUSTED < 0.5, lambda: abs(EXHAUSTED)):
        with pytest.raises(TypeError):
            op()


def test_a_spent_mechanism_answers_exhausted_forever_after():
    data = RademacherPopulation(4).sample(40, 0)
    mech = SampleSplittingMechanism(data, 2)
    answers = [mech.answer(CoordinateAgreementQuery(j % 4)) for j in range(5)]
    assert all(isinstance(a, float) for a in answers[:2])
    assert answers[2:] == [EXHAUSTED] * 3 and mech.exhausted and mech.queries_answered == 2


# ---------------------------------------------------------------- empirical and splitting
def test_empirical_mechanism_answers_the_sample_mean():
    data = RademacherPopulation(5).sample(101, 1)
    q = CoordinateAgreementQuery(3)
    assert EmpiricalMechanism(data).answer(q) == pytest.approx(q(data).mean(), abs=1e-15)


def test_sample_splitting_answers_query_i_on_the_ith_disjoint_part():
    m, n = 4, 23
    data = np.arange(n)  # universe indices; the query reads the row index itself
    table = np.linspace(0.0, 1.0, n)
    mech = SampleSplittingMechanism(data, m)
    part = n // m
    for i in range(m):
        assert mech.answer(TableQuery(table)) == pytest.approx(
            table[i * part:(i + 1) * part].mean(), abs=1e-15)
    assert mech.answer(TableQuery(table)) is EXHAUSTED


def test_sample_splitting_refuses_a_sample_too_small_to_split():
    with pytest.raises(ValueError, match="^m: the sample of n = 3 points is too small"):
        SampleSplittingMechanism(np.zeros((3, 2)), 4)
    with pytest.raises(ValueError, match="m: must be >= 1"):
        SampleSplittingMechanism(np.zeros((3, 2)), 0)


def test_mechanisms_refuse_a_query_outside_0_1():
    data = np.zeros((10, 2))
    bad = lambda d: np.full(len(d), 1.5)  # noqa: E731
    for mech in (EmpiricalMechanism(data), LaplaceMechanism(data, 1.0, rng=reseed(0)),
                 GaussianMechanism(data, 0.1, rng=reseed(0)), SampleSplittingMechanism(data, 2),
                 Thresholdout(data, data, 0.1, 0.01, 3, rng=reseed(0))):
        with pytest.raises(ValueError, match="^query: must return values in \\[0, 1\\]"):
            mech.answer(bad)
        with pytest.raises(ValueError, match="^query: must return values in \\[0, 1\\]"):
            mech.answer(lambda d: np.full(len(d), np.nan))


@pytest.mark.parametrize("make, name", [
    (lambda d: LaplaceMechanism(d, 0.0), "epsilon"),
    (lambda d: LaplaceMechanism(d, -1.0), "epsilon"),
    (lambda d: LaplaceMechanism(d, 1.0, total_epsilon=0.0), "total_epsilon"),
    (lambda d: LaplaceMechanism.for_budget(d, -2.0, 3), "total_epsilon"),
    (lambda d: GaussianMechanism(d, 0.0), "sigma"),
    (lambda d: GaussianMechanism(d, 0.1, rho_budget=-1.0), "rho_budget"),
    (lambda d: GaussianMechanism.for_budget(d, 0.0, 3), "rho_budget"),
    (lambda d: Thresholdout(d, d, 0.1, 0.01, 0), "budget"),
    (lambda d: Thresholdout(d, d, 0.1, 0.01, -3), "budget"),
    (lambda d: Thresholdout(d, d, 0.0, 0.01, 3), "threshold"),
    (lambda d: Thresholdout(d, d, 0.1, 0.0, 3), "sigma"),
    (lambda d: PrivateMultiplicativeWeights(np.ones(4, int), 0.1, 0.01, 0), "max_updates"),
    (lambda d: PrivateMultiplicativeWeights(np.ones(4, int), -0.1, 0.01, 5), "threshold"),
    (lambda d: EmpiricalMechanism(np.zeros((0, 2))), "data"),
])
def test_bad_parameters_raise_value_errors_naming_the_argument(make, name):
    with pytest.raises(ValueError, match=f"^{name}:"):
        make(np.zeros((10, 2)))


# ---------------------------------------------------------------- noise laws
def test_laplace_mechanism_noise_is_laplace_of_scale_one_over_n_epsilon():
    mech = LaplaceMechanism(np.zeros((50, 2)), 0.8, rng=reseed(3))
    assert mech.scale == pytest.approx(1 / (50 * 0.8), rel=1e-15)
    assert stats.ks_1samp(mech.noise(20_000), laplace_cdf(mech.scale), LEVEL).verdict == "accept"


def test_laplace_noise_test_sees_a_halved_scale():
    mech = LaplaceMechanism(np.zeros((50, 2)), 0.8, rng=reseed(3))
    assert stats.ks_1samp(mech.noise(20_000) / 2, laplace_cdf(mech.scale),
                          LEVEL).verdict == "reject"


def test_gaussian_mechanism_noise_is_normal_with_its_sigma():
    """Planted: the noise scaled by 1.1. KS distance D = sup |Phi(x / 1.1) - Phi(x)| = 0.0230;
    with n = 80,000 draws the test rejects at 1e-6 once the statistic passes
    d* = sqrt(ln(2e6) / (2n)) = 0.0095 (Massart's DKW bound, which scipy's p-value obeys), so it
    misses only if the empirical CDF at the sup point strays by D - d* = 0.0135:
    exp(-2n 0.0135^2) = 2e-13 (Hoeffding). At the former n = 20,000 the bound was useless and
    the miss probability about 1e-5 (p-values over 3000 seeds: 0.1% quantile 4e-8)."""
    mech = GaussianMechanism(np.zeros((50, 2)), 0.02, rng=reseed(4))
    assert stats.ks_1samp(mech.noise(20_000), normal_cdf(0.02), LEVEL).verdict == "accept"
    n = 80_000
    x = np.linspace(0.0, 5.0, 50_001)
    phi = normal_cdf(1.0)
    gap = np.max(np.abs(phi(x / 1.1) - phi(x))) - np.sqrt(np.log(2 / LEVEL) / (2 * n))
    assert np.exp(-2 * n * gap * gap) < 1e-12
    assert stats.ks_1samp(1.1 * mech.noise(n), normal_cdf(0.02), LEVEL).verdict == "reject"


def test_noisy_answers_are_the_sample_mean_plus_the_noise_stream():
    data = RademacherPopulation(3).sample(64, 2)
    q = CoordinateAgreementQuery(1)
    a = LaplaceMechanism(data, 0.5, rng=reseed(9)).answer(q)
    noise = LaplaceMechanism(data, 0.5, rng=reseed(9)).noise(1)[0]
    assert a == pytest.approx(q(data).mean() + noise, abs=1e-15)


# ---------------------------------------------------------------- Thresholdout
def _thresholdout_on_means(train_mean, holdout_mean, threshold, sigma, budget, rng):
    mech = Thresholdout(np.zeros((1, 1)), np.zeros((100, 1)), threshold, sigma, budget, rng=rng)
    return mech, mech.answer_means(train_mean, holdout_mean)


def test_thresholdout_answers_the_training_mean_when_the_sets_agree():
    mech, a = _thresholdout_on_means(0.61, 0.60, threshold=0.5, sigma=1e-4, budget=1, rng=reseed(0))
    assert a == 0.61 and mech.budget_left == 1 and mech.accountant.epsilon == 0


def test_thresholdout_answers_holdout_plus_noise_and_spends_budget_when_they_disagree():
    mech, a = _thresholdout_on_means(0.9, 0.1, threshold=0.05, sigma=1e-3, budget=2, rng=reseed(1))
    assert a != 0.1 and abs(a - 0.1) < 0.05 and mech.budget_left == 1
    assert mech.answer_means(0.9, 0.1) != 0.1 and mech.budget_left == 0
    assert mech.answer_means(0.5, 0.5) is EXHAUSTED and mech.exhausted


def _p_above(delta_gap, threshold, sigma):
    """Exact P(Lap(2 sigma) + Lap(4 sigma) < gap - T): the first query goes over the threshold.

    The sum of independent Lap(a) and Lap(b), a != b, has CDF
    (a^2 e^{x/a} - b^2 e^{x/b}) / (2 (a^2 - b^2)) for x < 0, and 1 - F(-x) above.
    """
    a, b = 2 * sigma, 4 * sigma

    def cdf(x):
        if x < 0:
            return (a * a * math.exp(x / a) - b * b * math.exp(x / b)) / (2 * (a * a - b * b))
        return 1.0 - cdf(-x)

    return cdf(delta_gap - threshold)


def _above_count(reps, gap, threshold, sigma, seed):
    rng = np.random.default_rng(seed)
    hits = 0
    for child in rng.spawn(reps):
        mech, _ = _thresholdout_on_means(0.5, 0.5 + gap, threshold, sigma, 5, child)
        hits += mech.over_threshold
    return hits


def test_thresholdout_goes_over_the_threshold_with_the_exact_laplace_probability():
    gap, threshold, sigma, reps = 0.05, 0.04, 0.005, 4000
    p = _p_above(gap, threshold, sigma)
    assert 0.3 < p < 0.9
    assert stats.binomial_test(_above_count(reps, gap, threshold, sigma, 5), reps, p,
                               LEVEL).verdict == "accept"


def test_threshold_test_sees_comparison_noise_of_the_wrong_scale(monkeypatch):
    gap, threshold, sigma, reps = 0.05, 0.04, 0.005, 4000
    p = _p_above(gap, threshold, sigma)
    monkeypatch.setattr(thresholdout_module.Thresholdout, "_draw_comparison",
                        lambda self: (2.0 * self.sigma) * self._comparison_stream.laplace())
    assert stats.binomial_test(_above_count(reps, gap, threshold, sigma, 5), reps, p,
                               LEVEL).verdict == "reject"


def test_thresholdout_above_threshold_answers_carry_laplace_sigma_noise():
    sigma = 0.01
    mech = Thresholdout(np.zeros((1, 1)), np.zeros((100, 1)), 1e-6, sigma, 20_000, rng=reseed(7))
    noise = np.array([mech.answer_means(0.0, 0.9) - 0.9 for _ in range(5000)])
    assert mech.over_threshold == 5000
    assert stats.ks_1samp(noise, laplace_cdf(sigma), LEVEL).verdict == "accept"
    assert stats.ks_1samp(noise, laplace_cdf(2 * sigma), LEVEL).verdict == "reject"


def test_thresholdout_answers_statistical_queries_from_both_sets():
    pop = RademacherPopulation(3)
    train, holdout = pop.sample(200, 1), pop.sample(200, 2)
    q = CoordinateAgreementQuery(0)
    mech = Thresholdout(train, holdout, 0.9, 1e-4, 2, rng=reseed(0))
    assert mech.answer(q) == pytest.approx(q(train).mean(), abs=1e-15)
    first = lambda d: d[:, 0].astype(float)  # noqa: E731  train mean 0, holdout mean 1
    mech = Thresholdout(np.zeros((50, 1)), np.ones((50, 1)), 0.05, 1e-3, 2, rng=reseed(0))
    a = mech.answer(first)
    assert a != 1.0 and a == pytest.approx(1.0, abs=0.05) and mech.over_threshold == 1


# ---------------------------------------------------------------- private multiplicative weights
def test_pmw_answers_many_queries_within_its_sample_accuracy_and_few_updates():
    N, n, m = 16, 4000, 800
    population = FinitePopulation(np.random.default_rng(reseed(0)).dirichlet(np.ones(N)))
    counts = population.histogram(population.sample(n, 1))
    T, sigma, lam, cap = 0.08, 2e-4, 0.02, 10_000
    mech = PrivateMultiplicativeWeights(counts, T, sigma, cap, learning_rate=lam, rng=reseed(2))
    rng = np.random.default_rng(reseed(3))
    h = counts / n
    errors = []
    for _ in range(m):
        q = rng.random(N)
        errors.append(abs(mech.answer(TableQuery(q)) - q @ h))
    beta = 1e-6
    # PMW's test is Thresholdout's (threshold and comparison noise, Laplace answers)
    assert max(errors) <= bounds.thresholdout_sample_accuracy(T, sigma, m, cap, beta)
    # every update fixes a discrepancy of at least T minus the noise tails: the potential bound
    low = T - 2 * sigma * math.log(3 * (cap + 1) / beta) - 4 * sigma * math.log(3 * m / beta)
    assert low > lam
    assert 0 < mech.updates <= bounds.pmw_update_bound(N, low, lam)
    assert mech.accountant.epsilon == mech.updates * mech._epsilon_per_update
    assert float(mech.accountant.epsilon) == pytest.approx(mech.updates * 2 / (sigma * n),
                                                           rel=1e-12)


def test_pmw_runs_out_of_updates_and_then_answers_exhausted():
    counts = np.array([10, 0, 0, 0])
    mech = PrivateMultiplicativeWeights(counts, 1e-3, 1e-4, 2, rng=reseed(0))
    answers = [mech.answer(np.array([1.0, 0.0, 0.0, 0.0])) for _ in range(4)]
    assert mech.updates == 2 and answers[2:] == [EXHAUSTED, EXHAUSTED]
    assert float(mech.accountant.epsilon) == pytest.approx(2 * 2 / (1e-4 * 10), rel=1e-12)
    with pytest.raises(ValueError, match="^query: must return values in \\[0, 1\\]"):
        PrivateMultiplicativeWeights(counts, 0.1, 0.01, 3).answer(np.array([2.0, 0, 0, 0]))
    with pytest.raises(ValueError, match="^query: table must have 4 entries"):
        PrivateMultiplicativeWeights(counts, 0.1, 0.01, 3).answer(np.ones(3))


def test_pmw_synthetic_distribution_moves_toward_the_data():
    counts = np.array([70, 20, 5, 5])
    h = counts / counts.sum()
    mech = PrivateMultiplicativeWeights(counts, 0.1, 1e-4, 500, rng=reseed(1))
    kl = [float(np.sum(h * np.log(h / mech.synthetic)))]
    for i in range(400):
        mech.answer(np.eye(4)[i % 4])
        kl.append(float(np.sum(h * np.log(h / mech.synthetic))))
    assert mech.updates > 0 and kl[-1] < kl[0] / 5
    assert all(b <= a + 1e-12 for a, b in zip(kl, kl[1:]))  # each update lowers the potential


# ---------------------------------------------------------------- bad queries once spent
def _spent(make):
    """Build a mechanism and spend its whole budget on a valid query."""
    mech = make()
    q = CoordinateAgreementQuery(0)
    for _ in range(100):
        if mech.exhausted:
            break
        mech.answer(q)
    assert mech.answer(q) is EXHAUSTED
    return mech


SPENT_MECHANISMS = {
    "splitting": lambda: SampleSplittingMechanism(RademacherPopulation(2).sample(20, 0), 2),
    "laplace": lambda: LaplaceMechanism.for_budget(RademacherPopulation(2).sample(20, 0), 1.0, 2,
                                                   rng=reseed(0)),
    "gaussian": lambda: GaussianMechanism.for_budget(RademacherPopulation(2).sample(20, 0), 0.5,
                                                     2, rng=reseed(0)),
    # feature 0 agrees with the label on every training point and on no holdout point
    "thresholdout": lambda: Thresholdout(np.ones((20, 3), dtype=np.int8),
                                         np.array([[-1, -1, 1]] * 20, dtype=np.int8), 0.01,
                                         1e-4, 1, rng=reseed(0)),
}


@pytest.mark.parametrize("kind", sorted(SPENT_MECHANISMS))
@pytest.mark.parametrize("query, message", [
    (lambda d: np.full(len(d), 1.5), "must return values in \\[0, 1\\]"),
    (lambda d: np.full(len(d), np.nan), "must return values in \\[0, 1\\] \\(got NaN\\)"),
    (lambda d: np.full(len(d), 0.5 + 0j), "must return real numbers"),
    (lambda d: np.zeros(3), "must return one value per data point"),
    ("not a query", "must be callable"),
], ids=["out-of-range", "nan", "complex", "shape", "not-callable"])
def test_a_spent_mechanism_still_refuses_a_malformed_query(kind, query, message):
    mech = _spent(SPENT_MECHANISMS[kind])
    with pytest.raises(ValueError, match=f"^query: {message}"):
        mech.answer(query)
    assert mech.answer(CoordinateAgreementQuery(1)) is EXHAUSTED  # and stays spent, quietly


def test_a_spent_thresholdout_checks_the_query_on_the_holdout_too():
    mech = _spent(SPENT_MECHANISMS["thresholdout"])
    holdout_only = lambda d: np.where(d[:, 0] < 0, 2.0, 0.5)  # noqa: E731  bad on S_h only
    with pytest.raises(ValueError, match="^query: must return values in \\[0, 1\\]"):
        mech.answer(holdout_only)


def test_a_spent_pmw_still_refuses_a_malformed_table():
    mech = PrivateMultiplicativeWeights(np.array([10, 0, 0, 0]), 1e-3, 1e-4, 1, rng=reseed(0))
    for _ in range(100):
        if mech.exhausted:
            break
        mech.answer(np.array([1.0, 0.0, 0.0, 0.0]))
    assert mech.answer(np.array([1.0, 0.0, 0.0, 0.0])) is EXHAUSTED
    with pytest.raises(ValueError, match="^query: must return values in \\[0, 1\\]"):
        mech.answer(np.array([2.0, 0.0, 0.0, 0.0]))


# ---------------------------------------------------------------- PMW learning rate
@pytest.mark.parametrize("rate, message", [
    (5.0, "must be <= 1 \\(got 5.0\\): the multiplicative-weights potential argument"),
    (1.0 + 1e-12, "must be <= 1"),
    (0.0, "must be > 0"),
    (-0.1, "must be > 0"),
    (float("nan"), "must be finite"),
])
def test_pmw_refuses_a_learning_rate_outside_0_1_and_says_why(rate, message):
    with pytest.raises(ValueError, match=f"^learning_rate: {message}"):
        PrivateMultiplicativeWeights(np.ones(4, int), 0.1, 0.01, 5, learning_rate=rate)


def test_pmw_learning_rate_default_and_upper_end_are_accepted():
    assert PrivateMultiplicativeWeights(np.ones(4, int), 0.1, 0.01, 5).learning_rate == 0.05
    assert PrivateMultiplicativeWeights(np.ones(4, int), 0.1, 0.01, 5,
                                        learning_rate=1.0).learning_rate == 1.0
    assert PrivateMultiplicativeWeights(np.ones(4, int), 3.0, 0.01, 5).learning_rate == 1.0


def test_pmw_refuses_a_table_of_strings_or_complex_values():
    mech = PrivateMultiplicativeWeights(np.array([1, 1]), 0.1, 0.01, 3, rng=reseed(0))
    for table in (["0.5", "1"], np.array([0.5 + 0j, 1.0])):
        with pytest.raises(ValueError, match="^query: must be a table of real numbers"):
            mech.answer(table)
