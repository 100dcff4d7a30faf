"""Analytical teleportation: the jump, the exact law of the jumped points, the exact KL of the
teleported output, the detectability threshold."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats as sps

from toytheory.diffusion import teleportation as tp
from toytheory.diffusion.gaussian_flow import gaussian_pf_ode_solution
from toytheory.diffusion.laws import Gaussian
from toytheory.diffusion.marginal_tests import projection_ks_test
from toytheory.diffusion.schedules import EDM, VPLinear, karras_sigmas
from toytheory.diffusion.toys import grid_25, structured_gmm, two_mode_1d
from tests._seeds import reseed

LEVEL = 1e-6


def test_teleporting_gaussian_data_is_exact():
    g = Gaussian([1.0, -1.0], [[2.0, 0.4], [0.4, 0.3]])
    q = tp.teleported_law(g, EDM(80.0), 80.0, 5.0)
    m, c = g.marginal_moments(1.0, 5.0)
    np.testing.assert_allclose(q.means[0], m, atol=1e-12)
    np.testing.assert_allclose(q.covs[0], c, rtol=1e-12, atol=1e-12)
    kl, _ = tp.teleportation_kl(g, EDM(80.0), 80.0, 5.0, order=8)
    assert abs(kl) < 1e-12


def test_teleported_law_is_the_law_of_the_jumped_points():
    law = grid_25()
    x = law.sample(5000, 1.0, 80.0, rng=reseed(1))
    jumped = tp.gaussian_teleport(x, law, EDM(80.0), 80.0, 3.0)
    q = tp.teleported_law(law, EDM(80.0), 80.0, 3.0)
    assert not projection_ks_test(jumped, q, 1.0, 0.0, LEVEL, rng=reseed(2)).reject


def test_teleported_law_check_catches_a_jump_that_forgets_the_mean():
    """Power: dropping the offset 2.86 shifts the law by 0.79 of its s.d. 3.64, a KS distance
    ~0.3 (p = 0 in three draws) against the critical 0.038 (level 1e-6, n = 5000): a miss
    needs sup|F_n - F| > 0.26, probability <= 2 exp(-2 n 0.26^2) = 2 e^-676 (DKW)."""
    law = two_mode_1d()
    law = type(law).isotropic([0.5, 0.5], [[1.0], [5.0]], [0.25, 0.25])  # mean 3
    x = law.sample(5000, 1.0, 80.0, rng=reseed(1))
    m, c = tp._teleport_map(law, EDM(80.0), 80.0, 3.0)
    jumped = x @ m.T  # planted: offset c dropped
    q = tp.teleported_law(law, EDM(80.0), 80.0, 3.0)
    assert projection_ks_test(jumped, q, 1.0, 0.0, LEVEL, rng=reseed(2)).reject


def test_gaussian_teleport_is_the_closed_form_flow_of_the_moment_matched_gaussian():
    law = two_mode_1d()
    g = Gaussian(law.mean(), law.covariance())
    x = np.linspace(-100, 100, 7)[:, None]
    np.testing.assert_allclose(tp.gaussian_teleport(x, law, VPLinear(), 0.9, 0.2),
                               gaussian_pf_ode_solution(x, g, VPLinear(), 0.9, 0.2), rtol=1e-13)


def test_exact_flow_matches_the_gaussian_closed_form():
    g = Gaussian([0.5, -0.5], [[1.0, 0.3], [0.3, 0.4]])
    x = g.sample(5, 1.0, 20.0, rng=reseed(3))
    out = tp.exact_flow(g, x, 20.0, 0.01, steps=400)
    np.testing.assert_allclose(out, gaussian_pf_ode_solution(x, g, EDM(80.0), 20.0, 0.01),
                               atol=1e-8)


def test_kl_by_monte_carlo_agrees_with_quadrature():
    law = grid_25()
    quad, qerr = tp.teleportation_kl(law, EDM(80.0), 80.0, 3.0, method="quadrature", order=40)
    mc, err = tp.teleportation_kl(law, EDM(80.0), 80.0, 3.0, method="monte_carlo", n=20_000,
                                  rng=reseed(5))
    z = float(sps.norm.isf(LEVEL / 2))
    assert abs(mc - quad) <= z * err + qerr


def test_kl_grows_as_the_jump_goes_deeper():
    law = grid_25()
    kls = [tp.teleportation_kl(law, EDM(80.0), 80.0, s, order=24)[0] for s in (40, 10, 3, 1)]
    assert all(b > a for a, b in zip(kls, kls[1:]))
    assert kls[0] < 1e-9 < kls[-1]


def test_detectable_kl_gives_the_likelihood_ratio_test_power_one_half():
    # Gaussian shift N(delta, 1) vs N(0, 1): KL = delta^2 / 2 and the log-likelihood ratio of
    # n samples is exactly normal, so the power of the level-alpha test is
    # Phi(sqrt(2 n KL) - z_alpha) exactly
    n = 50_000

    def lrt_power(kl):
        delta = np.sqrt(2 * kl)
        crit = sps.norm.isf(LEVEL, loc=-n * delta**2 / 2, scale=np.sqrt(n) * delta)
        return sps.norm.sf(crit, loc=n * delta**2 / 2, scale=np.sqrt(n) * delta)

    assert lrt_power(tp.detectable_kl(n, LEVEL, 0.5)) == pytest.approx(0.5, abs=1e-9)
    assert lrt_power(tp.detectable_kl(n, LEVEL, 0.9)) == pytest.approx(0.9, abs=1e-9)
    # planted: a threshold z^2 / n (factor 2 dropped) gives a power far from 1/2
    # (power: deterministic, closed-form normal powers; no draw enters this test)
    z = sps.norm.isf(LEVEL)
    assert abs(lrt_power(z**2 / n) - 0.5) > 0.4
    assert tp.detectable_kl(50_000) == pytest.approx(4.753424308822899**2 / 1e5, rel=1e-9)


def test_skip_sigmas_are_the_karras_grid():
    sig, frac = tp.skip_sigmas(18)
    np.testing.assert_array_equal(sig, karras_sigmas(18, 0.002, 80.0, 7.0))
    assert frac[3] == pytest.approx(1 / 6) and frac.size == 18


def test_critical_sigma_brackets_the_threshold():
    law = grid_25()
    thr = tp.detectable_kl(50_000)
    s_star = tp.critical_sigma(law, thr, method="quadrature", order=24, iterations=12)
    sched = EDM(80.0)
    above = tp.teleportation_kl(law, sched, 80.0, 1.05 * s_star, order=24)[0]
    below = tp.teleportation_kl(law, sched, 80.0, 0.95 * s_star, order=24)[0]
    assert above < thr < below


def test_structured_gmm_has_the_power_law_spectrum():
    law = structured_gmm(dim=16, components=8, top_std=3.0, between_rank=4)
    lam = np.sort(np.linalg.eigvalsh(law.covariance()))[::-1]
    np.testing.assert_allclose(lam, 9.0 / np.arange(1, 17), rtol=1e-10)


def test_teleportation_inputs_are_checked():
    law = grid_25()
    with pytest.raises(ValueError, match="start: must be"):
        tp.teleported_law(law, EDM(80.0), 80.0, 5.0, start="noise")
    with pytest.raises(ValueError, match="law: must be a GaussianMixture"):
        tp.gaussian_teleport(np.zeros((1, 2)), "law")
    with pytest.raises(ValueError, match="x: must have 2 columns"):
        tp.gaussian_teleport(np.zeros((1, 3)), law)
    with pytest.raises(ValueError, match="^t_from: must lie in"):  # named, not "t"
        tp.gaussian_teleport(np.zeros((1, 2)), law, EDM(80.0), 90.0, 5.0)
    with pytest.raises(ValueError, match="n_samples: must be >= 1"):
        tp.detectable_kl(0)
    with pytest.raises(ValueError, match="sigma_to: must be > 0"):
        tp.exact_flow(law, np.zeros((1, 2)), 1.0, 0.0)
    with pytest.raises(ValueError, match="schedule: must be a NoiseSchedule"):
        tp.teleported_law(law, "edm")


def test_kl_check_catches_a_monte_carlo_that_samples_the_wrong_law():
    """Power: the planted estimate sits 13.7-16.8 s.e. from the quadrature KL 0.0054 at
    n = 20,000 (4 draws), so 27-34 s.e. at the n = 80,000 used here, against the critical
    4.89 (level 1e-6): a miss needs a > 22-s.e. shortfall, probability < 1e-100 by the
    normal tail (largest term's share of the variance <= 3% at 20,000: no heavy tail)."""
    # planted: draw from p (the exact marginal) instead of q; the estimate is then
    # E_p[log q/p] = -KL(p || q), which the z-test against quadrature rejects
    law = grid_25()
    sched = EDM(80.0)
    quad, qerr = tp.teleportation_kl(law, sched, 80.0, 3.0, method="quadrature", order=40)
    q = tp.teleported_law(law, sched, 80.0, 3.0)
    x = law.sample(80_000, 1.0, 3.0, rng=reseed(5))
    r = q.log_prob(x) - law.log_prob(x, 1.0, 3.0)
    z = float(sps.norm.isf(LEVEL / 2))
    assert abs(r.mean() - quad) > z * r.std(ddof=1) / np.sqrt(r.size) + qerr
