"""Constructors and estimators of toytheory.sampling against their definitions, on inputs
where a wrong weighting gives a different answer (issue 14 item 4)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats as sps

from toytheory.sampling.bases import legendre_basis
from toytheory.sampling.leverage import leverage_scores, root_leverage_scores
from toytheory.sampling.sample_complexity import family_matrix
from toytheory.sampling.sensitivity_sampling import sample_rows
from toytheory.sampling.volume import least_squares_loss, subset_least_squares
from toytheory.sampling.weighted_ls import TEST_FUNCTIONS, gram_matrix, weighted_least_squares


def test_weighted_least_squares_uses_the_weights_m_over_k_m_outside_the_space(rng):
    """On f outside V_m, the estimator equals the normal-equation solution with explicit
    weights w(x) = m / sum_j phi_j(x)^2 and differs from unweighted least squares."""
    basis = legendre_basis(4)
    x = rng.uniform(-1, 1, (12, 1)) ** 3            # clustered at 0: weights vary a lot
    fx = TEST_FUNCTIONS["runge"].f(x)
    phi = basis(x)
    w = basis.m / np.sum(phi ** 2, axis=1)
    explicit = np.linalg.solve(phi.T @ (w[:, None] * phi), phi.T @ (w * fx))
    got = weighted_least_squares(basis, x, fx)
    assert np.allclose(got, explicit, atol=1e-10)
    unweighted = np.linalg.lstsq(phi, fx, rcond=None)[0]
    assert np.max(np.abs(unweighted - explicit)) > 1e-3


def test_gram_matrix_is_the_weighted_average_of_outer_products(rng):
    basis = legendre_basis(3)
    x = rng.uniform(-1, 1, (7, 1))
    phi = basis(x)
    w = basis.m / np.sum(phi ** 2, axis=1)
    expected = sum(wi * np.outer(p, p) for wi, p in zip(w, phi)) / len(x)
    assert np.allclose(gram_matrix(basis, x), expected, atol=1e-12)


def test_leverage_scores_are_the_diagonal_of_the_hat_matrix_on_uneven_rows(rng):
    a = rng.standard_normal((15, 3)) * rng.uniform(0.1, 5.0, (15, 1))
    hat = a @ np.linalg.solve(a.T @ a, a.T)
    assert np.allclose(leverage_scores(a), np.diag(hat), atol=1e-12)
    assert np.allclose(root_leverage_scores(a, 1.0), np.sqrt(np.diag(hat)), atol=1e-12)


def test_sample_rows_keeps_row_i_with_probability_min_1_alpha_s_and_weight_q_to_minus_1_over_p(
        rng):
    """Probabilities and weights against the definition; inclusion frequencies of two rows of
    very different score against q_i by exact binomial tests at 1e-6 / 2 each (1e-6 for the
    pair, Bonferroni; the weighting matters:
    swapped probabilities move the frequencies by > 20 sd)."""
    s = np.array([0.9, 0.05, 0.3, 0.01, 0.6])
    p = 1.5
    smp = sample_rows(s, p, alpha=2.0, rng=rng)
    q = np.minimum(1.0, 2.0 * s)
    assert np.allclose(smp.probabilities, q)
    assert np.allclose(smp.weights, q[smp.indices] ** (-1.0 / p))
    hits = np.zeros(5)
    draws = 4000
    for _ in range(draws):
        hits[sample_rows(s, p, alpha=2.0, rng=rng).indices] += 1
    for i in (1, 2):
        assert sps.binomtest(int(hits[i]), draws, q[i]).pvalue > 1e-6 / 2


@pytest.mark.parametrize("family", ["sign", "spiky", "gaussian", "heavy_tailed"])
def test_family_matrices_match_their_definitions(rng, family):
    n, d = 30, 3
    a = family_matrix(family, n, d, rng=rng)
    assert a.shape == (n, d)
    assert np.linalg.matrix_rank(a) == d
    if family == "sign":
        assert set(np.unique(a)) <= {-1.0, 1.0}
    if family == "spiky":
        big = np.linalg.norm(a, axis=1) > 0.5
        assert big.sum() == d
        assert np.allclose(np.abs(a[big]).max(axis=1), 1.0, atol=10 / n ** 2)
        assert np.allclose(np.sort(np.argmax(np.abs(a[big]), axis=1)), np.arange(d))
        assert np.max(np.abs(a[~big])) < 10.0 / n ** 2
    if family == "heavy_tailed":
        # rows are Gaussian rows scaled by 1 + Pareto(1.5): the row scale is at least the
        # smallest Gaussian row norm, and the ratio of largest to median row norm is large.
        # Checked on 300 rows: over 20,000 seeds the ratio was >= 6.8 (1e-4 quantile 7.0),
        # far above 1.5. On the 30 rows above it fell to 1.52 (1e-4 quantile 1.62, lower
        # tail falling ~0.4 a decade): it would miss 1.5 for about 3e-5 of seeds.
        norms = np.linalg.norm(family_matrix(family, 300, d, rng=rng), axis=1)
        assert norms.max() / np.median(norms) > 1.5


def test_subset_least_squares_solves_the_subset_and_the_loss_is_the_full_residual(rng):
    x = rng.standard_normal((9, 2)) * rng.uniform(0.2, 3.0, (9, 1))
    y = rng.standard_normal(9)
    s = np.array([1, 4, 7])
    w = subset_least_squares(x, y, s)
    assert np.allclose(w, np.linalg.lstsq(x[s], y[s], rcond=None)[0], atol=1e-12)
    assert least_squares_loss(x, y, w) == pytest.approx(float(np.sum((x @ w - y) ** 2)),
                                                        rel=1e-12)
