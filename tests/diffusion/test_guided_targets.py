"""Exact targets (toytheory.diffusion.targets): closed forms against independent quadrature
(GridLaw on the defining unnormalised density), by-hand Gaussian cases, bad input."""

from __future__ import annotations

import numpy as np
import pytest

from toytheory.diffusion import targets as tg
from toytheory.diffusion.laws import GaussianMixture

GMM1 = GaussianMixture([0.7, 0.3], [[-1.0], [1.5]], [[[0.3]], [[0.5]]])
GMM1B = GaussianMixture([0.4, 0.6], [[0.0], [2.0]], [[[1.0]], [[0.2]]])
GMM2 = GaussianMixture([0.5, 0.5], [[-1.0, 0.0], [1.0, 0.5]],
                       [[[0.4, 0.1], [0.1, 0.3]], [[0.3, 0.0], [0.0, 0.6]]])
B1 = [(-8.0, 8.0)]
B2 = [(-6.0, 6.0), (-6.0, 6.0)]


def _moments_match(law, grid, tol):
    assert np.allclose(law.mean(), grid.mean(), atol=tol)
    assert np.allclose(law.covariance(), grid.cov(), atol=tol)


def test_gaussian_closed_forms_by_hand():
    """1-D: N(m, v)^b = N(m, v/b); product precision 1/v1 + 1/v2; CFG precision
    w/v1 + (1-w)/v2 (w = 1.5 allowed when positive)."""
    g = tg.gaussian_power([0.7], [[0.3]], 2.5)
    assert g.mean()[0] == pytest.approx(0.7) and g.covariance()[0, 0] == pytest.approx(0.12)
    p = tg.gaussian_product([1.0], [[0.5]], [-1.0], [[2.0]])
    v = 1 / (2 + 0.5)
    assert p.covariance()[0, 0] == pytest.approx(v) and p.mean()[0] == pytest.approx(v * 1.5)
    c = tg.gaussian_cfg([1.0], [[0.5]], [0.0], [[2.0]], 1.5)
    prec = 1.5 / 0.5 - 0.5 / 2.0
    assert c.covariance()[0, 0] == pytest.approx(1 / prec)
    assert c.mean()[0] == pytest.approx((1.5 * 1.0 / 0.5) / prec)
    gg = tg.gaussian_geometric([1.0], [[0.5]], [-1.0], [[2.0]], 0.25)
    prec = 0.25 / 0.5 + 0.75 / 2.0
    assert gg.mean()[0] == pytest.approx((0.25 * 2.0 - 0.75 * 0.5) / prec)


def test_gaussian_2d_against_quadrature():
    m1, c1 = [1.0, 0.0], [[1.0, 0.3], [0.3, 0.5]]
    m2, c2 = [0.0, 1.0], [[0.6, -0.2], [-0.2, 0.8]]
    e1 = GaussianMixture([1.0], [m1], [c1])
    e2 = GaussianMixture([1.0], [m2], [c2])
    for law, logd in ((tg.gaussian_product(m1, c1, m2, c2),
                       lambda x: e1.log_prob(x) + e2.log_prob(x)),
                      (tg.gaussian_geometric(m1, c1, m2, c2, 0.3),
                       lambda x: 0.3 * e1.log_prob(x) + 0.7 * e2.log_prob(x)),
                      (tg.gaussian_cfg(m1, c1, m2, c2, 1.4),
                       lambda x: 1.4 * e1.log_prob(x) - 0.4 * e2.log_prob(x))):
        _moments_match(law, tg.GridLaw(logd, [(-12.0, 12.0)] * 2, 801), 2e-4)


def test_mixture_product_against_quadrature():
    law = tg.mixture_product(GMM1, GMM1B)
    grid = tg.GridLaw(lambda x: GMM1.log_prob(x) + GMM1B.log_prob(x), B1, 8001)
    _moments_match(law, grid, 1e-7)
    x = np.linspace(-3, 4, 9)[:, None]
    assert np.allclose(law.log_prob(x), GMM1.log_prob(x) + GMM1B.log_prob(x)
                       - grid.log_normaliser, atol=1e-7)


@pytest.mark.parametrize("law,bounds,n", [(GMM1, B1, 8001), (GMM2, B2, 401)])
def test_reward_tilts_against_quadrature(law, bounds, n):
    d = law.dim
    a = np.linspace(0.8, -0.4, d)
    lin = tg.tilt_linear(law, a, 0.7)
    _moments_match(lin, tg.GridLaw(lambda x: law.log_prob(x) + x @ a / 0.7, bounds, n), 2e-4)
    Q = np.eye(d) * 1.5
    cen = np.full(d, 0.5)
    quad = tg.tilt_quadratic(law, Q, cen, 0.4)
    grid = tg.GridLaw(lambda x: law.log_prob(x) - 0.5 * np.einsum(
        "ni,ij,nj->n", x - cen, Q, x - cen) / 0.4, bounds, n)
    _moments_match(quad, grid, 2e-4)


def test_indicator_tilt_against_quadrature():
    for u in (1.0, -1.0):
        it = tg.IndicatorTilt(GMM1, [u], 0.4 * u, 0.5)
        grid = tg.GridLaw(lambda x: GMM1.log_prob(x) + 2.0 * (u * x[:, 0] >= 0.4 * u), B1,
                          16001)
        assert it.log_normaliser() == pytest.approx(grid.log_normaliser, abs=1e-3)
        xs = np.array([-2.0, -0.5, 0.3, 0.5, 1.0, 3.0])
        assert np.allclose(it.cdf(xs), grid.cdf(xs), atol=1e-3)
        mass = grid.prob(lambda x: u * x[:, 0] >= 0.4 * u)
        assert it.tilted_mass() == pytest.approx(mass, abs=1e-3)
    # the tilt raises the set's mass: e^2 P / (1 + (e^2 - 1) P) > P
    it = tg.IndicatorTilt(GMM1, [1.0], 0.4, 0.5)
    P = it.base_mass()
    assert it.tilted_mass() == pytest.approx(np.e ** 2 * P / (1 + (np.e ** 2 - 1) * P))


def test_power_and_cfg_grids():
    g = tg.mixture_power_grid(GMM1, 2.0, B1)
    # separated modes: p^2 puts mass ~ pi_k^2 / sqrt(v_k) (renormalised) on mode k
    k = GMM1.weights ** 2 / np.sqrt(np.array([0.3, 0.5]))
    assert g.prob(lambda x: x[:, 0] > 0.25) == pytest.approx(k[1] / k.sum(), abs=0.01)
    one = tg.mixture_cfg_grid(GMM1, GMM1B, 1.0, B1)
    _moments_match(GMM1, one, 1e-7)


@pytest.mark.parametrize("call,name", [
    (lambda: tg.gaussian_power([0.0], [[1.0]], 0.0), "beta"),
    (lambda: tg.gaussian_power([0.0], [[1.0]], -1.0), "beta"),
    (lambda: tg.gaussian_geometric([0.0], [[1.0]], [1.0], [[1.0]], 1.2), "gamma"),
    (lambda: tg.gaussian_geometric([0.0], [[1.0]], [1.0], [[1.0]], -0.1), "gamma"),
    (lambda: tg.gaussian_cfg([0.0], [[1.0]], [1.0], [[1.0]], -0.5), "w"),
    (lambda: tg.gaussian_cfg([0.0], [[2.0]], [1.0], [[1.0]], 3.0), "w"),
    (lambda: tg.tilt_linear(GMM1, [np.inf], 1.0), "a"),
    (lambda: tg.tilt_linear(GMM1, [1.0], 0.0), "alpha"),
    (lambda: tg.tilt_quadratic(GMM1, [[-1.0]], [0.0], 1.0), "Q"),
    (lambda: tg.IndicatorTilt(GMM1, [0.0], 0.0, 1.0), "u"),
    (lambda: tg.IndicatorTilt(GMM1, [1.0], np.nan, 1.0), "c"),
    (lambda: tg.mixture_power_grid(GMM1, 0.0, B1), "beta"),
    (lambda: tg.mixture_cfg_grid(GMM1, GMM1B, -1.0, B1), "w"),
    (lambda: tg.mixture_product(GMM1, GMM2), "law2"),
])
def test_bad_input(call, name):
    with pytest.raises(ValueError, match=name):
        call()
