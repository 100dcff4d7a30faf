"""Statistical queries, their validation, and the exact answers of the populations."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy.special import ndtr

from toytheory import stats
from toytheory.adaptive.populations import (FinitePopulation, GaussianLabelPopulation,
                                            RademacherPopulation)
from toytheory.adaptive import queries as queries_module
from toytheory.adaptive.queries import (ComplementQuery, CoordinateAgreementQuery,
                                        SignClassifierAgreement, TableQuery, empirical_answer,
                                        evaluate_query, label_correlations)
from toytheory.testing.adaptive import (bad_query_values, finite_populations, query_sequences,
                                        query_tables, rademacher_samples)
from tests._seeds import reseed

LEVEL = 1e-6


@given(st.integers(1, 40).flatmap(lambda n: st.tuples(st.just(n), bad_query_values(n))))
def test_a_query_with_a_value_outside_0_1_or_nan_is_refused_naming_the_query(case):
    n, values = case
    with pytest.raises(ValueError, match="^query: must return values in \\[0, 1\\]"):
        evaluate_query(lambda data: values, np.zeros((n, 2)))


def test_a_query_with_the_wrong_shape_or_not_callable_is_refused():
    with pytest.raises(ValueError, match="query: must return one value per data point"):
        evaluate_query(lambda data: np.zeros(3), np.zeros((4, 2)))
    with pytest.raises(ValueError, match="query: must be callable"):
        evaluate_query(0.5, np.zeros((4, 2)))


@given(rademacher_samples())
def test_coordinate_agreement_on_signs_is_one_plus_y_x_over_two(case):
    population, data = case
    for j in range(population.dim):
        expected = 0.5 * (1 + data[:, -1].astype(float) * data[:, j])
        np.testing.assert_array_equal(CoordinateAgreementQuery(j)(data), expected)


def test_sign_classifier_agreement_counts_a_tie_as_one_half():
    data = np.array([[1, -1, 1], [1, 1, 1], [-1, -1, 1], [1, -1, -1]], dtype=np.int8)
    q = SignClassifierAgreement(np.array([0, 1]), np.array([1.0, 1.0]))
    np.testing.assert_array_equal(q(data), [0.5, 1.0, 0.0, 0.5])
    np.testing.assert_array_equal(ComplementQuery(q)(data), [0.5, 0.0, 1.0, 0.5])


@given(rademacher_samples(max_dim=8), st.data())
def test_every_generated_query_takes_values_in_0_1_and_its_answer_is_the_mean(case, data):
    population, sample = case
    for q in data.draw(query_sequences(population.dim)):
        values = evaluate_query(q, sample)
        assert np.all((values >= 0) & (values <= 1))
        assert empirical_answer(q, sample) == pytest.approx(values.mean(), abs=1e-15)


@given(st.integers(1, 9), st.integers(0, 2**32 - 1))
def test_rademacher_true_answers_equal_enumeration_over_all_points(dim, seed):
    population = RademacherPopulation(dim)
    rng = np.random.default_rng(seed)
    k = int(rng.integers(1, dim + 1))
    idx = rng.choice(dim, size=k, replace=False)
    for q in (CoordinateAgreementQuery(int(idx[0])),
              SignClassifierAgreement(idx, rng.standard_normal(k)),
              ComplementQuery(SignClassifierAgreement(idx, np.ones(k)))):
        assert population.true_answer(q) == population.enumerate_answer(q) == 0.5


def test_rademacher_enumeration_answers_a_query_without_closed_form():
    population = RademacherPopulation(3)
    q = lambda d: (d[:, 0] == 1).astype(float) * (d[:, 1] == 1)  # noqa: E731
    assert population.true_answer(q) == 0.25
    with pytest.raises(ValueError, match="query: no exact answer"):
        RademacherPopulation(20).true_answer(q)


def test_rademacher_sample_bits_are_uniform_and_independent_chi_square_on_counts():
    data = RademacherPopulation(3).sample(40_000, 11)
    codes = ((data + 1) // 2).astype(int) @ (2 ** np.arange(4))
    counts = np.bincount(codes, minlength=16)
    assert stats.chisquare_gof(counts, np.full(16, 1 / 16), LEVEL).verdict == "accept"


def test_rademacher_sample_test_sees_a_label_that_copies_a_feature():
    data = RademacherPopulation(3).sample(40_000, 11)
    data[:, -1] = np.where(np.random.default_rng(reseed(0)).random(len(data)) < 0.1, data[:, 0],
                           data[:, -1])
    codes = ((data + 1) // 2).astype(int) @ (2 ** np.arange(4))
    counts = np.bincount(codes, minlength=16)
    assert stats.chisquare_gof(counts, np.full(16, 1 / 16), LEVEL).verdict == "reject"


def test_gaussian_classifier_accuracy_is_phi_of_w_mu_over_norm_and_matches_counts():
    n, d = 200_000, 5
    population = GaussianLabelPopulation(d, np.array([0.3, -0.2, 0.0, 0.1, 0.0]))
    idx, w = np.array([0, 1, 3]), np.array([1.0, -2.0, 0.5])
    exact = population.classifier_accuracy(idx, w)
    assert exact == pytest.approx(ndtr((0.3 + 0.4 + 0.05) / math.sqrt(1 + 4 + 0.25)), rel=1e-15)
    hits = int(SignClassifierAgreement(idx, w)(population.sample(n, 5)).sum())
    assert stats.binomial_test(hits, n, exact, LEVEL).verdict == "accept"
    assert stats.binomial_test(hits, n, exact + 0.01, LEVEL).verdict == "reject"


CORR_N, CORR_D = 10_000, 1000


@pytest.fixture(scope="module")
def correlation_sample():
    """One sample of the reusable-holdout population (n = 10,000, d = 1,000, 5 informative)."""
    population = GaussianLabelPopulation.reusable_holdout(CORR_N, CORR_D, informative=5)
    return population, population.sample(CORR_N, 3)


def label_correlation_ks(population, sample):
    """KS at ``LEVEL`` of :math:`\\sqrt n (c_j - \\mu_j)` over the ``d`` features against N(0, 1).

    Calls ``queries.label_correlations`` through its module, so a test can
    plant a bug in it with ``monkeypatch``. With ``d = 1000`` the test's
    critical distance at 1e-6 is about 0.085.
    """
    c = queries_module.label_correlations(sample)
    z = (c - population.true_correlations()) * math.sqrt(CORR_N)
    return stats.ks_1samp(z, ndtr, LEVEL)


def test_label_correlations_estimate_the_mean_shift(correlation_sample):
    population, sample = correlation_sample
    assert label_correlation_ks(population, sample).verdict == "accept"
    assert population.true_correlations()[:5] == pytest.approx(0.06)


@pytest.mark.parametrize("planted, why", [
    (lambda c, n: 2.0 * c, "normalised by n/2 instead of n (scale off by 2)"),
    (lambda c, n: c + 0.5 / math.sqrt(n), "biased by half a standard error, 0.5/sqrt(n)"),
])
def test_the_label_correlation_ks_sees_a_wrong_scale_or_shift(monkeypatch, correlation_sample,
                                                              planted, why):
    """Planted bugs in ``label_correlations``: the same KS test, at the same level, rejects.

    Power: over the 995 uninformative features z becomes N(0, 4) (scale) or N(0.5, 1)
    (shift), a KS distance of 0.196 or 0.197 from N(0, 1) (0.5% of the features moved
    otherwise); against the critical 0.085, by DKW a miss has probability <= 2 exp(-2 * 1000
    * 0.105^2) < 1e-9 for whatever sample is drawn."""
    real = queries_module.label_correlations
    monkeypatch.setattr(queries_module, "label_correlations",
                        lambda data: planted(real(data), len(data)))
    population, sample = correlation_sample
    assert label_correlation_ks(population, sample).verdict == "reject", why


@given(finite_populations(), st.data())
def test_finite_population_true_answer_is_the_table_dotted_with_p(population, data):
    table = data.draw(query_tables(population.size))
    assert population.true_answer(TableQuery(table)) == pytest.approx(
        float(np.dot(table, population.probabilities)), abs=1e-15)


def test_finite_population_refuses_tables_of_the_wrong_size_or_range():
    population = FinitePopulation([0.5, 0.5])
    with pytest.raises(ValueError, match="query: table must have 2 entries"):
        population.true_answer(np.ones(3))
    with pytest.raises(ValueError, match="table: must be a non-empty vector with values in"):
        TableQuery(np.array([0.2, 1.5]))


def test_population_arguments_are_checked():
    with pytest.raises(ValueError, match="dim"):
        RademacherPopulation(0)
    with pytest.raises(ValueError, match="mean_shift"):
        GaussianLabelPopulation(3, np.zeros(2))
    with pytest.raises(ValueError, match="probabilities"):
        FinitePopulation([0.5, 0.6])
    with pytest.raises(ValueError, match="n"):
        RademacherPopulation(2).sample(0)


@pytest.mark.parametrize("values, what", [
    (np.array([0.5, 0.5 + 0j]), "complex values"),
    (np.array([0.5 + 0.1j, 0.5]), "complex values"),
    (["0.5", "0.5"], "strings"),
    (np.array([b"0", b"1"]), "bytes"),
    ([0.5, None], "NoneType"),
    ([0.5, 0.5 + 0j], "complex values"),
    (np.array(["2020-01-01", "2020-01-02"], dtype="datetime64[D]"), "datetime64"),
], ids=["complex-zero-imag", "complex", "strings", "bytes", "none", "python-complex", "dates"])
def test_a_query_returning_non_real_values_is_refused_not_coerced(values, what):
    with pytest.raises(ValueError, match=f"^query: must return real numbers \\(got .*{what}"):
        evaluate_query(lambda data: values, np.zeros((2, 2)))


def test_a_query_returning_booleans_or_integers_in_0_1_is_accepted():
    np.testing.assert_array_equal(evaluate_query(lambda d: np.array([True, False]),
                                                 np.zeros((2, 2))), [1.0, 0.0])
    np.testing.assert_array_equal(evaluate_query(lambda d: [0, 1], np.zeros((2, 2))), [0.0, 1.0])
    with pytest.raises(ValueError, match="^query: must return values in \\[0, 1\\]"):
        evaluate_query(lambda d: [0, 2], np.zeros((2, 2)))


@pytest.mark.parametrize("sample, message", [
    ([0, 5], "must lie in \\[0, 2\\)"),
    ([0, -1], "must lie in \\[0, 2\\)"),
    ([0.0, 0.5], "must be integer indices"),
    ([0.0, np.nan], "must be integer indices"),
    ([True, False], "must be integer indices"),
    (["0", "1"], "must be integer indices"),
    ([[0, 1]], "must be 1-D"),
], ids=["too-large", "negative", "fractional", "nan", "bool", "strings", "2-D"])
def test_finite_population_histogram_refuses_indices_outside_the_universe(sample, message):
    with pytest.raises(ValueError, match=f"^sample: {message}"):
        FinitePopulation([0.5, 0.5]).histogram(sample)


def test_finite_population_histogram_counts_integer_and_whole_float_indices():
    population = FinitePopulation([0.25, 0.25, 0.5])
    np.testing.assert_array_equal(population.histogram([2, 0, 2]), [1, 0, 2])
    np.testing.assert_array_equal(population.histogram(np.array([2.0, 0.0])), [1, 0, 1])
    assert population.histogram(population.sample(50, 0)).sum() == 50


@pytest.mark.parametrize("indices, weights, name, message", [
    ([-1], [1.0], "indices", "must lie in \\[0, 3\\)"),
    ([3], [1.0], "indices", "must lie in \\[0, 3\\)"),
    ([0.7], [1.0], "indices", "must be integer indices"),
    ([0, 1], [1.0], "weights", "must have the shape of indices"),
    ([0], [np.nan], "weights", "must contain only finite values"),
], ids=["negative", "too-large", "fractional", "shape", "nan-weight"])
def test_gaussian_classifier_accuracy_refuses_bad_indices_and_weights(indices, weights, name,
                                                                      message):
    population = GaussianLabelPopulation(3, np.array([0.5, 0.0, -0.2]))
    with pytest.raises(ValueError, match=f"^{name}: {message}"):
        population.classifier_accuracy(indices, weights)


def test_gaussian_classifier_accuracy_adds_the_weights_of_a_repeated_feature():
    """sign(x_0 + x_0) = sign(x_0): accuracy Phi(mu_0), not Phi(2 mu_0 / sqrt 2)."""
    population = GaussianLabelPopulation(3, np.array([0.5, 0.0, -0.2]))
    assert population.classifier_accuracy([0, 0], [1.0, 1.0]) == pytest.approx(ndtr(0.5),
                                                                             rel=1e-15)
    assert population.classifier_accuracy([0, 2, 0], [1.0, 1.0, 1.0]) == pytest.approx(
        population.classifier_accuracy([0, 2], [2.0, 1.0]), rel=1e-15)
    assert population.classifier_accuracy([1, 1], [1.0, -1.0]) == 0.5
    data = population.sample(100_000, 7)
    hits = int(SignClassifierAgreement(np.array([0, 2, 0]), np.ones(3))(data).sum())
    exact = population.classifier_accuracy([0, 2, 0], [1.0, 1.0, 1.0])
    assert stats.binomial_test(hits, 100_000, exact, LEVEL).verdict == "accept"


@pytest.mark.parametrize("kwargs, name", [
    (dict(strength=float("nan")), "strength"), (dict(strength=float("inf")), "strength"),
    (dict(informative=2.5), "informative"), (dict(informative=11), "informative"),
    (dict(dim=0), "dim"),
])
def test_reusable_holdout_population_arguments_are_checked(kwargs, name):
    args = dict(n=100, dim=10, informative=2) | kwargs
    with pytest.raises(ValueError, match=f"^{name}:"):
        GaussianLabelPopulation.reusable_holdout(**args)


def test_a_complement_or_table_query_does_not_coerce_non_real_values():
    with pytest.raises(ValueError, match="^query: must return real numbers \\(got strings"):
        evaluate_query(ComplementQuery(lambda d: ["0.5"] * len(d)), np.zeros((2, 2)))
    with pytest.raises(ValueError, match="^query: must return real numbers \\(got complex"):
        evaluate_query(ComplementQuery(lambda d: np.full(len(d), 0.5 + 0j)), np.zeros((2, 2)))
    for table in (["0.5", "1"], np.array([0.5 + 0j, 1.0])):
        with pytest.raises(ValueError, match="^table: must hold real numbers"):
            TableQuery(table)


@pytest.mark.parametrize("population", [RademacherPopulation(3),
                                        GaussianLabelPopulation(3, np.array([0.1, 0.0, 0.0]))],
                         ids=["rademacher", "gaussian"])
@pytest.mark.parametrize("query", [
    CoordinateAgreementQuery(3),
    SignClassifierAgreement(np.array([0, 5]), np.ones(2)),
    ComplementQuery(CoordinateAgreementQuery(7)),
], ids=["coordinate", "classifier", "complement"])
def test_true_answers_refuse_queries_on_features_the_population_lacks(population, query):
    with pytest.raises(ValueError, match="^(query|indices):"):
        population.true_answer(query)
