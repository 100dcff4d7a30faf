"""Weighted least squares (Nouy and Michel): bases, optimal density, continuous DPP, identity."""

from __future__ import annotations

import math

import numpy as np
import pytest

from toytheory import stats
from toytheory.sampling import interpolation, weighted_ls
from toytheory.sampling.bases import gauss_legendre_rule, legendre_basis, tensor_legendre_basis
from toytheory.sampling.continuous_dpp import (sample_continuous_projection_dpp,
                                               sample_optimal_density)
from toytheory.sampling.interpolation import (cell_multiset, continuous_dpp_cell_law,
                                              dpp_interpolation_expected_error,
                                              optimal_density_cdf)
from toytheory.sampling.weighted_ls import (TEST_FUNCTIONS, TestFunction, best_approximation,
                                            draw_points, gram_matrix, squared_error,
                                            weighted_least_squares)
from tests._seeds import reseed

LEVEL = 1e-6


@pytest.mark.parametrize("basis", [legendre_basis(7), tensor_legendre_basis(3),
                                   tensor_legendre_basis(2, kind="tensor")])
def test_bases_are_orthonormal_and_the_christoffel_function_integrates_to_m(basis):
    nodes, weights = gauss_legendre_rule(12, basis.dim)
    phi = basis(nodes)
    np.testing.assert_allclose((phi * weights[:, None]).T @ phi, np.eye(basis.m), atol=1e-12)
    assert weights @ basis.christoffel(nodes) == pytest.approx(basis.m, rel=1e-12)
    corners = np.array([[1.0] * basis.dim])
    assert basis.christoffel(corners)[0] == pytest.approx(basis.christoffel_sup, rel=1e-12)


def test_optimal_density_sampler_matches_its_cdf():
    basis = legendre_basis(6)
    x = sample_optimal_density(basis, 5000, rng=reseed(0))[:, 0]
    assert stats.ks_1samp(x, lambda t: optimal_density_cdf(basis, t), LEVEL).verdict == "accept"
    # planted bug: no rejection step. Power: U(-1, 1) is 0.102 from the optimal law (m = 6) in
    # KS distance, critical sqrt(ln(2e6) / 10000) = 0.038: by DKW a miss has probability
    # <= 2 exp(-2 * 5000 * 0.064^2) < 1e-17
    uniform = np.random.default_rng(reseed(0)).uniform(-1, 1, 5000)
    assert stats.ks_1samp(uniform, lambda t: optimal_density_cdf(basis, t),
                          LEVEL).verdict == "reject"


def _cell_counts(sampler, m=2, bins=6, draws=3000):
    basis = legendre_basis(m)
    edges = np.linspace(-1, 1, bins + 1)
    cells, probs = continuous_dpp_cell_law(basis, edges)
    index = {c: i for i, c in enumerate(cells)}
    counts = np.zeros(len(cells), dtype=np.int64)
    rng = np.random.default_rng(reseed(7))
    for _ in range(draws):
        counts[index[cell_multiset(sampler(basis, rng), edges)]] += 1
    return counts, probs / probs.sum()


def test_continuous_dpp_bin_counts_match_the_exact_law():
    counts, probs = _cell_counts(lambda b, g: sample_continuous_projection_dpp(b, rng=g))
    assert stats.chisquare_gof(counts, probs, LEVEL).verdict == "accept"


def test_continuous_dpp_bin_counts_reject_iid_optimal_points():
    counts, probs = _cell_counts(lambda b, g: sample_optimal_density(b, b.m, rng=g))
    assert stats.chisquare_gof(counts, probs, LEVEL).verdict == "reject"


def _interpolation_identity_holds(m, name):
    """The check: E||f - f_hat||^2 = (m + 1) ||f - P_m f||^2 to 1e-6, by the real quadrature."""
    basis = legendre_basis(m)
    f = TEST_FUNCTIONS[name]
    coef, best = best_approximation(basis, f, points=300)
    expected, _ = dpp_interpolation_expected_error(basis, f.f, coef, points=60 if m == 2 else 30,
                                                   breakpoints=f.breakpoints)
    return abs(expected / best - (m + 1)) <= 1e-6


@pytest.mark.parametrize("m", [2, 3])
@pytest.mark.parametrize("name", ["runge", "abs"])
def test_dpp_interpolation_error_is_m_plus_one_times_the_best_error(m, name):
    assert _interpolation_identity_holds(m, name)


def test_dpp_interpolation_identity_is_exact_for_a_polynomial_by_the_symbolic_proof():
    pytest.importorskip("sympy")
    from proofs.sampling_dpp_interpolation import prove_interpolation_identity

    result = prove_interpolation_identity(2, 3)
    assert result.holds, result.residuals


def _iid_weighted_error(mat, ev):
    """Planted bug: the point law of i.i.d. optimal points, prod_i k_m(x_i) / m, in place of
    the projection DPP's det(Phi)^2 / m! (times m!, like the function it replaces)."""
    m = mat.shape[1]
    k_m = np.einsum("bij,bij->bi", mat, mat)  # k_m(x_i) = ||phi(x_i)||^2
    density = math.factorial(m) * np.prod(k_m / m, axis=1)
    ok = np.abs(np.linalg.det(mat)) > 1e-12  # Phi^{-1} e: interpolation at the points
    err = np.zeros(mat.shape[0])
    err[ok] = np.sum(np.linalg.solve(mat[ok], ev[ok][..., None])[..., 0] ** 2, axis=1)
    return density * err


@pytest.mark.parametrize("m, name", [(2, "runge"), (3, "abs")])
def test_identity_quadrature_sees_iid_points_in_place_of_the_dpp(monkeypatch, m, name):
    # the real dpp_interpolation_expected_error, with the DPP's point law replaced by i.i.d.
    # optimal points inside it: the same check must now fail (ratios 3.95 and 40.7).
    # Power: deterministic — the identity is checked by quadrature, no random draw
    monkeypatch.setattr(interpolation, "_dpp_weighted_error", _iid_weighted_error)
    assert not _interpolation_identity_holds(m, name)


def test_identity_quadrature_is_exact_for_a_cubic_with_the_real_point_law():
    basis = legendre_basis(2)
    f = TestFunction("x^3", lambda x: x[:, 0] ** 3, 1)
    coef, best = best_approximation(basis, f, points=20)
    expected, best_q = dpp_interpolation_expected_error(basis, f.f, coef, points=4)
    assert best_q == pytest.approx(best, rel=1e-13)
    assert expected / best == pytest.approx(3.0, rel=1e-12)


def test_weighted_least_squares_reproduces_functions_of_the_space_exactly():
    basis = legendre_basis(5)
    x, _ = draw_points(basis, "volume_rescaled", 9, rng=reseed(0))
    c = np.arange(1.0, 6.0)
    coef = weighted_least_squares(basis, x, basis(x) @ c)
    np.testing.assert_allclose(coef, c, atol=1e-10)
    assert squared_error(coef, c, 0.0) == pytest.approx(0.0, abs=1e-18)


GRAM_CASES = [("iid", 12), ("volume_rescaled", 12), ("repeated_dpp", 8), ("dpp", 4)]


def _gram_identity_verdict(scheme, n):
    """E G = I for 400 draws: one t-test per entry, Bonferroni at LEVEL."""
    basis = legendre_basis(4)
    rng = np.random.default_rng(reseed(3))
    grams = np.array([gram_matrix(basis, draw_points(basis, scheme, n, rng=rng)[0])
                      for _ in range(400)])
    tests = [stats.mean_test(grams[:, i, j], float(i == j), LEVEL)
             for i in range(4) for j in range(i, 4)]
    return stats.bonferroni(tests, LEVEL).verdict


@pytest.mark.parametrize("scheme, n", GRAM_CASES)
def test_every_scheme_has_gram_matrix_with_expectation_identity(scheme, n):
    assert _gram_identity_verdict(scheme, n) == "accept"


def _uniform_points(basis, n, *, rng=None):
    return np.random.default_rng(rng).uniform(-1.0, 1.0, size=(n, basis.dim))


@pytest.mark.parametrize("scheme, n", GRAM_CASES)
def test_gram_identity_check_rejects_a_scheme_that_draws_from_mu_instead(monkeypatch, scheme, n):
    # planted bug, in each scheme's own sampler: points from mu = U(-1, 1) (the rejection step
    # towards k_m / m, or the DPP's repulsion, forgotten) while the weights m / k_m stay; then
    # E G = E_mu[w phi phi^T] != I, and the same test at the same level must reject.
    # Power: entry G_00 = mean of w = m / k_m <= 4 / 2.25 = 1.78 (bounded) has mean 1.23
    # against 1, per-draw sd 0.11-0.19 (measured, 20,000 draws per scheme): expected
    # t 24-42 against a Bonferroni critical near 5.4. A miss needs the mean of 400 draws
    # >= 0.165 off (critical <= 5.4 * 0.25 / 20 = 0.068), by Bernstein with variance
    # 0.19^2 and range 1.78: <= 2 exp(-400 * 0.165^2 / (2 * 0.037 + 2 * 1.78 * 0.165 / 3))
    # < 1e-17
    if scheme == "iid":
        monkeypatch.setattr(weighted_ls, "sample_optimal_density", _uniform_points)
    else:  # the DPP part ("volume_rescaled": only its m DPP points of n = 12)
        monkeypatch.setattr(weighted_ls, "sample_continuous_projection_dpp",
                            lambda basis, *, rng=None: _uniform_points(basis, basis.m, rng=rng))
    assert _gram_identity_verdict(scheme, n) == "reject"


def test_conditioning_redraws_until_the_gram_matrix_is_close_to_identity():
    basis = legendre_basis(4)
    x, redraws = draw_points(basis, "iid", 8, rng=reseed(1), condition=0.5)
    assert np.linalg.norm(gram_matrix(basis, x) - np.eye(4), 2) <= 0.5


@pytest.mark.parametrize("call, match", [
    (lambda: draw_points(legendre_basis(3), "dpp", 4), "n: must equal m = 3"),
    (lambda: draw_points(legendre_basis(3), "repeated_dpp", 7), "n: must be a multiple of m"),
    (lambda: draw_points(legendre_basis(3), "sobol", 7), "scheme: must be one of"),
    (lambda: draw_points(legendre_basis(3), "iid", 2), "n: must be >= 3"),
    (lambda: legendre_basis(0), "m: must be >= 1"),
    (lambda: legendre_basis(3)(np.array([[2.0]])), "x: must lie in"),
    (lambda: sample_continuous_projection_dpp("legendre"), "basis: must be a PolynomialBasis"),
])
def test_bad_input_raises_value_error_naming_the_argument(call, match):
    with pytest.raises(ValueError, match=match):
        call()
