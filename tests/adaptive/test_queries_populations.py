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
from toytheory.adaptive.queries import (ComplementQuery, CoordinateAgreementQuery,
                                        SignClassifierAgreement, TableQuery, empirical_answer,
                                        evaluate_query, label_correlations)
from toytheory.testing.adaptive import (bad_query_values, finite_populations, query_sequences,
                                        query_tables, rademacher_samples)

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
    data[:, -1] = np.where(np.random.default_rng(0).random(len(data)) < 0.1, data[:, 0],
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


def test_label_correlations_estimate_the_mean_shift():
    population = GaussianLabelPopulation.reusable_holdout(10_000, 30, informative=5)
    c = label_correlations(population.sample(10_000, 3))
    z = (c - population.true_correlations()) * math.sqrt(10_000)
    assert stats.ks_1samp(z, ndtr, LEVEL).verdict == "accept"
    assert population.true_correlations()[:5] == pytest.approx(0.06)


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
