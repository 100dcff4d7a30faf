"""The fraction of the score's variance explained by the Gaussian approximation."""

from __future__ import annotations

import numpy as np
import pytest

from toytheory import stats
from toytheory.diffusion import explained_variance as evar
from toytheory.diffusion.laws import Gaussian, GaussianMixture
from toytheory.diffusion.toys import grid_25, two_mode_1d
from tests._seeds import reseed

LEVEL = 1e-6


def test_gaussian_data_is_fully_explained_at_every_noise_level():
    g = Gaussian([1.0, -2.0], [[2.0, 0.3], [0.3, 0.5]])
    for sigma in (1e-2, 1.0, 1e2):
        res = evar.gaussian_score_fraction(g, 0.8, sigma, order=6)
        assert res.fraction == pytest.approx(1.0, abs=1e-12)
        assert res.mse == pytest.approx(0.0, abs=1e-12 * res.fisher)


def test_gaussian_score_is_the_score_of_the_moment_matched_gaussian():
    law = two_mode_1d()
    x = np.linspace(-5, 5, 11)[:, None]
    moment_matched = Gaussian(law.mean(), law.covariance())
    np.testing.assert_allclose(evar.gaussian_score(law, x, 0.7, 0.4),
                               moment_matched.score(x, 0.7, 0.4), rtol=1e-13)


@pytest.mark.parametrize("sigma", [0.3, 1.0, 3.0])
def test_quadrature_satisfies_the_stein_identity(sigma):
    # E|s - s_G|^2 = E|s|^2 - tr (alpha^2 Sigma + sigma^2 I)^-1: two routes to one number
    # held to the quadrature's own error estimate (orders 40 and 30 compared), which the
    # residual at order 120 shows to be conservative
    res = evar.gaussian_score_fraction(grid_25(), 1.0, sigma, order=40)
    tol = res.stderr + 1e-12
    assert abs(res.mse - (res.fisher - res.trace_a)) / res.fisher <= tol
    assert res.fraction == pytest.approx(res.identity_fraction, abs=tol)


@pytest.mark.parametrize("sigma", [0.3, 1.0, 3.0])
def test_monte_carlo_agrees_with_quadrature(sigma):
    law = grid_25()
    quad = evar.gaussian_score_fraction(law, 1.0, sigma, order=40)
    x = law.sample(20_000, 1.0, sigma, rng=reseed(4))
    e, q = evar.score_errors(law, x, 1.0, sigma)
    assert not stats.mean_test(e - (quad.mse / quad.fisher) * q, 0.0, LEVEL).reject


def test_monte_carlo_check_catches_samples_drawn_at_the_wrong_noise_level():
    """Power: at n = 80,000 the t statistic is 22.9-24.5 (6 draws; it was 11.5-12.4 at
    20,000) against the critical 4.89 (level 1e-6): a miss needs an 18-s.e. shortfall of a
    mean of quadratic forms of Gaussians, probability < 1e-60 by the normal tail."""
    law = grid_25()
    sigma = 3.0
    quad = evar.gaussian_score_fraction(law, 1.0, sigma, order=40)
    x = law.sample(80_000, 1.0, 1.2 * sigma, rng=reseed(4))  # planted: 20% too much noise
    e, q = evar.score_errors(law, x, 1.0, sigma)
    assert stats.mean_test(e - (quad.mse / quad.fisher) * q, 0.0, LEVEL).reject


def test_stein_identity_check_catches_a_score_scaled_by_1_05():
    """Power: at n = 80,000 the planted 1.05 gives |t| = 19.7-21.2 (6 draws; 10.7-11.8 at
    20,000) against the critical 4.89: a miss needs a 14.8-s.e. shortfall, probability
    < 1e-40 by the normal tail. The unscaled score is held at the same level 1e-6."""
    law = grid_25()
    sigma = 3.0
    x = law.sample(80_000, 1.0, sigma, rng=reseed(4))
    centre, prec = evar._gaussian_parts(law, 1.0, sigma)
    for factor, rejects in ((1.0, False), (1.05, True)):  # 1.05: planted
        s = factor * law.score(x, 1.0, sigma)
        e = np.sum((s + (x - centre) @ prec) ** 2, axis=1)
        q = np.sum(s * s, axis=1)
        assert stats.mean_test(e - q + np.trace(prec), 0.0, LEVEL).reject is rejects


def test_stein_identity_check_catches_a_wrong_gaussian_approximation(monkeypatch):
    """Power: the planted approximation gives t = 105-109 (6 draws of 20,000) against the
    critical 4.89: a miss needs a 100-s.e. shortfall, probability < 1e-300 (normal tail)."""
    # planted: the "Gaussian approximation" drops the spread of the means (within-component
    # covariance only); E[|s - s_G|^2 - |s|^2] = -tr A then fails in a t-test
    law = GaussianMixture.isotropic([0.5, 0.5], [[-1.0, 0.0], [1.0, 0.0]], [0.5, 0.5])
    x = law.sample(20_000, 1.0, 0.5, rng=reseed(6))
    e, q = evar.score_errors(law, x, 1.0, 0.5)
    _, prec = evar._gaussian_parts(law, 1.0, 0.5)
    assert not stats.mean_test(e - q + np.trace(prec), 0.0, LEVEL).reject

    def within_only(law_, alpha, sigma):
        inv = 1.0 / (alpha**2 * 0.5 + sigma**2)
        return alpha * law_.mean(), inv * np.eye(law_.dim)

    monkeypatch.setattr(evar, "_gaussian_parts", within_only)
    e, q = evar.score_errors(law, x, 1.0, 0.5)
    _, prec = within_only(law, 1.0, 0.5)
    assert stats.mean_test(e - q + np.trace(prec), 0.0, LEVEL).reject


def test_explained_fraction_goes_from_nothing_to_everything_on_the_grid():
    law = grid_25()
    res = evar.explained_variance_curve(law, [0.05, 30.0], order=24)
    assert res[0].fraction < 0.01 and res[1].fraction > 0.9999


def test_quadrature_is_limited_to_three_dimensions_and_inputs_are_checked():
    law = GaussianMixture.isotropic([1.0], [[0.0] * 4], [1.0])
    with pytest.raises(ValueError, match="law: quadrature needs dimension <= 3"):
        evar.gaussian_score_fraction(law, 1.0, 1.0, method="quadrature")
    with pytest.raises(ValueError, match="sigma: must be > 0"):
        evar.gaussian_score_fraction(law, 1.0, 0.0)
    with pytest.raises(ValueError, match="method: must be"):
        evar.gaussian_score_fraction(law, 1.0, 1.0, method="exact")
    with pytest.raises(ValueError, match="law: must be a GaussianMixture"):
        evar.gaussian_score_fraction("law", 1.0, 1.0)
    with pytest.raises(ValueError, match="sigmas: must be > 0"):
        evar.explained_variance_curve(law, [1.0, -1.0])
    with pytest.raises(ValueError, match="x: must have 4 columns"):
        evar.gaussian_score(law, np.zeros((2, 3)), 1.0, 1.0)
