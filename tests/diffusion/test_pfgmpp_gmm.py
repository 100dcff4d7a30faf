"""PFGM++ on GMM data: the scale-mixture field against its limits and by hand; bad input;
planted failures of ``diffusion.pfgmpp.large_d_gmm_denoiser``."""

from __future__ import annotations

import numpy as np
import pytest

from toytheory.claims import execute_claim, load_catalog
from toytheory.diffusion import pfgmpp_gmm as G
from toytheory.diffusion.laws import GaussianMixture

REGISTRY = load_catalog()
CLAIM = "diffusion.pfgmpp.large_d_gmm_denoiser"


def _gmm(rng, N):
    a = 0.5 * rng.standard_normal((3, N, N))
    return GaussianMixture(np.array([0.2, 0.3, 0.5]), 2 * rng.standard_normal((3, N)),
                           a @ a.transpose(0, 2, 1) + 0.1 * np.eye(N))


def test_one_gaussian_component_in_1d_by_quadrature(rng):
    """N = 1, one component N(m, v): E[y | x] by scipy quad over y against the formula."""
    from scipy.integrate import quad

    m, v, r, D = 0.4, 0.7, 1.1, 3
    g = GaussianMixture(np.ones(1), np.array([[m]]), np.array([[[v]]]))
    x = rng.uniform(-3, 3, 4)

    def moment(k, xq):
        return quad(lambda y: y ** k * np.exp(-(y - m) ** 2 / (2 * v))
                    * ((xq - y) ** 2 + r * r) ** (-(1 + D) / 2), -np.inf, np.inf,
                    epsabs=0, epsrel=1e-12)[0]

    by_quad = np.array([moment(1, xq) / moment(0, xq) for xq in x])
    np.testing.assert_allclose(G.gmm_posterior_mean(x[:, None], g, r, D)[:, 0], by_quad,
                               atol=1e-10)


def test_infinite_d_is_the_edm_denoiser_and_density(rng):
    g = _gmm(rng, 2)
    x = rng.standard_normal((6, 2))
    np.testing.assert_allclose(G.gmm_posterior_mean(x, g, 0.9, np.inf), g.denoise(x, 1.0, 0.9),
                               atol=1e-14)
    np.testing.assert_allclose(G.gmm_log_density(x, g, 0.9, np.inf), g.log_prob(x, 1.0, 0.9),
                               atol=1e-14)


def test_scale_nodes_reproduce_chi2_moments():
    for D in (1, 2, 7, 100):
        v, lw = G.scale_nodes(D)
        w = np.exp(lw)
        assert abs(w @ v - D) < 1e-9 * D
        assert abs(w @ v ** 2 - D * (D + 2)) < 1e-9 * D * (D + 2)


def test_density_integrates_to_one_in_1d(rng):
    g = _gmm(rng, 1)
    x = np.linspace(-400, 400, 20_001)[:, None]
    total = np.trapezoid(np.exp(G.gmm_log_density(x, g, 1.0, 2)), x[:, 0])
    assert abs(total - 1) < 5e-3       # the t_2 tail beyond 400 carries about 3e-3 / 2


def test_velocity_is_x_minus_mean_over_r(rng):
    g = _gmm(rng, 2)
    x = rng.standard_normal((3, 2))
    np.testing.assert_allclose(G.gmm_ode_velocity(x, g, 2.0, 5),
                               (x - G.gmm_posterior_mean(x, g, 2.0, 5)) / 2.0, atol=1e-15)


@pytest.mark.parametrize("call, match", [
    (lambda g: G.gmm_posterior_mean(np.zeros((2, 2)), g, 1.0, 0), "D: "),
    (lambda g: G.gmm_posterior_mean(np.zeros((2, 2)), g, 0.0, 2), "r: "),
    (lambda g: G.gmm_posterior_mean(np.zeros((2, 3)), g, 1.0, 2), "x: "),
    (lambda g: G.gmm_posterior_mean(np.zeros((2, 2)), "gmm", 1.0, 2), "gmm: "),
    (lambda g: G.gmm_log_density(np.zeros((2, 2)), g, -1.0, 2), "r: "),
    (lambda g: G.scale_nodes(2, n_nodes=3), "n_nodes: "),
    (lambda g: G.gmm_posterior_mean_direct(np.zeros((2, 2)), g, 1.0, 2, n_nodes=2), "n_nodes"),
])
def test_bad_input(rng, call, match):
    with pytest.raises(ValueError, match=match):
        call(_gmm(rng, 2))


def test_direct_quadrature_refuses_three_dimensions(rng):
    with pytest.raises(ValueError, match="x: direct quadrature"):
        G.gmm_posterior_mean_direct(np.zeros((1, 3)), _gmm(rng, 3), 1.0, 2)


def test_a_wrong_scale_law_fails(monkeypatch, test_seed):
    """Planted toolkit bug: nodes of chi^2_{D+1} for chi^2_D. At D = 1 the posterior mean
    moves by ~1e-2, far above the 1e-7 quadrature witness (deterministic, any seed)."""
    original = G.scale_nodes
    monkeypatch.setattr(G, "scale_nodes", lambda D, n_nodes=400: original(D + 1, n_nodes))
    assert execute_claim(REGISTRY[CLAIM], "quick", test_seed)["verdict"] == "fails"


def test_a_misaligned_r_is_refuted(monkeypatch, test_seed):
    """Planted false statement: the claim's r = sigma sqrt(D) replaced by 1.1 sigma sqrt(D)
    in the statement's denoiser (the witnesses use the true one); the gap then tends to the
    EDM gap between sigma and 1.1 sigma, so D x gap grows ~4x per step (exact, any seed)."""
    import toytheory.claims.catalog.diffusion_pfgmpp as cat

    calls = {"n": 0}
    original = G.gmm_posterior_mean

    def misaligned(x, gmm, r, D, n_nodes=400):
        calls["n"] += 1
        big = D in (64, 256, 1024, 4096) and n_nodes == 400
        return original(x, gmm, 1.1 * r if big else r, D, n_nodes)

    monkeypatch.setattr(G, "gmm_posterior_mean", misaligned)
    res = execute_claim(REGISTRY[CLAIM], "quick", test_seed)
    assert calls["n"] > 0 and res["verdict"] == "refuted"


def test_the_unplanted_claim_holds(test_seed):
    assert execute_claim(REGISTRY[CLAIM], "quick", test_seed)["verdict"] == "holds"
