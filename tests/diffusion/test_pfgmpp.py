"""The PFGM++ kernel against its definition and by hand; bad input; planted failures of
its claims."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from toytheory.claims import execute_claim, load_catalog
from toytheory.diffusion.pfgmpp import (gaussian_radial_density, kernel_tv_to_gaussian,
                                        log_ratio_variance, radial_density,
                                        radial_density_from_kernel, sample_radius)

REGISTRY = load_catalog()
LIMIT = "diffusion.pfgmpp.large_d_recovers_diffusion"
CONCENTRATION = "diffusion.pfgmpp.larger_d_concentrates_coupling"


def test_n1_d1_kernel_is_a_half_cauchy():
    """N = D = 1, r = sigma: density of |x - y| is 2 / (pi r (1 + rho^2 / r^2))."""
    rho = np.linspace(0, 7, 15)
    expected = 2 / (np.pi * 1.5 * (1 + (rho / 1.5) ** 2))
    np.testing.assert_allclose(radial_density(rho, 1, 1, 1.5), expected, atol=1e-14)
    np.testing.assert_allclose(radial_density_from_kernel(rho, 1, 1, 1.5), expected,
                               atol=1e-12)


def test_gaussian_radial_law_by_hand():
    """N = 2: Rayleigh, rho / s^2 exp(-rho^2 / (2 s^2))."""
    rho = np.linspace(0, 5, 11)
    np.testing.assert_allclose(gaussian_radial_density(rho, 2, 0.7),
                               rho / 0.49 * np.exp(-rho ** 2 / 0.98), atol=1e-15)


def test_tv_is_half_the_l1_distance_on_a_grid(rng):
    N, D = 3, 5
    x = np.linspace(0, 40, 400_001)
    l1 = np.trapezoid(np.abs(radial_density(x, N, D, 1.0) - gaussian_radial_density(x, N, 1.0)),
                      x)
    assert kernel_tv_to_gaussian(N, D) == pytest.approx(l1 / 2, abs=1e-6)


def test_log_ratio_variance_against_samples(rng):
    """Sample variance of log(R/r) from 4e5 draws of the paper's sampler; log(B/(1-B)) has
    exponential tails, so a 40-standard-error band (the fourth moment is finite) fails with
    negligible probability."""
    N, D = 4, 6
    x = np.log(sample_radius(N, D, 1.0, 400_000, rng) / np.sqrt(D))
    se = np.sqrt((np.mean((x - x.mean()) ** 4) - x.var() ** 2) / x.size)
    assert abs(x.var() - log_ratio_variance(N, D)) < 40 * se


@pytest.mark.parametrize("call, match", [
    (lambda: radial_density([1.0], 0, 1, 1.0), "N: "),
    (lambda: radial_density([1.0], 2, 0, 1.0), "D: "),
    (lambda: kernel_tv_to_gaussian(2, 3, sigma=-1.0), "sigma: "),
    (lambda: sample_radius(2, 2, 1.0, 10, rng=3), "rng: must be"),
    (lambda: log_ratio_variance(2, 0), "D: "),
])
def test_bad_input(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def _run(claim_id, seed):
    claim = REGISTRY[claim_id]
    quick = dict(claim.tiers["quick"])
    if claim_id == LIMIT:
        quick.update(n_sim=20_000)
    return execute_claim(replace(claim, tiers={**claim.tiers, "quick": quick}), "quick", seed)


def test_a_radial_law_with_swapped_beta_parameters_fails(monkeypatch, test_seed):
    """Planted: the radial law's Beta parameters swapped. Power: deterministic: the Beta
    construction leaves the kernel's definition by 2.2 against 1e-10."""
    import toytheory.diffusion.pfgmpp as pfgmpp
    from scipy.stats import betaprime

    def swapped(rho, N, D, sigma):
        rho = np.asarray(rho, dtype=float)
        r2 = sigma ** 2 * D
        return betaprime.pdf(rho ** 2 / r2, D / 2, N / 2) * 2 * rho / r2

    monkeypatch.setattr(pfgmpp, "radial_density", swapped)
    assert _run(LIMIT, test_seed)["verdict"] == "fails"


def test_a_gaussian_radial_law_of_the_wrong_dimension_fails(monkeypatch, test_seed):
    """Planted: the Gaussian radial law of the wrong dimension. Power: deterministic: it
    leaves rho^(N-1) exp(-rho^2/2) by 0.27 against 1e-12."""
    import toytheory.diffusion.pfgmpp as pfgmpp

    original = pfgmpp.gaussian_radial_density
    monkeypatch.setattr(pfgmpp, "gaussian_radial_density",
                        lambda rho, N, sigma: original(rho, N + 1, sigma))
    assert _run(LIMIT, test_seed)["verdict"] == "fails"


def test_a_misaligned_kernel_is_refuted(monkeypatch, test_seed):
    """r = 1.1 sigma sqrt(D) everywhere: the kernel tends to N(y, 1.21 sigma^2 I), so the
    TV to N(y, sigma^2 I) stalls near a positive constant (exact).

    Power: deterministic: the relative change of D TV from D = 256 to 1024 is 2.96 against
    the bound 0.02."""
    import toytheory.diffusion.pfgmpp as pfgmpp

    original = pfgmpp.kernel_tv_to_gaussian

    def misaligned(N, D, sigma=1.0):
        from scipy.integrate import quad

        return 0.5 * quad(lambda x: abs(pfgmpp.radial_density(x, N, D, 1.1 * sigma)
                                        - pfgmpp.gaussian_radial_density(x, N, sigma)),
                          0, 60, limit=400, points=[np.sqrt(N)])[0]

    assert original(2, 4) != misaligned(2, 4)
    monkeypatch.setattr(pfgmpp, "kernel_tv_to_gaussian", misaligned)
    assert _run(LIMIT, test_seed)["verdict"] == "refuted"


def test_a_wrong_trigamma_argument_fails(monkeypatch, test_seed):
    """Planted: a wrong trigamma argument in Var log(R/r). Power: deterministic: the
    trigamma form leaves quadrature by 0.82 against 1e-9."""
    import toytheory.diffusion.pfgmpp as pfgmpp
    from scipy.special import polygamma

    monkeypatch.setattr(pfgmpp, "log_ratio_variance",
                        lambda N, D: float((polygamma(1, N / 2) + polygamma(1, D)) / 4))
    assert _run(CONCENTRATION, test_seed)["verdict"] == "fails"


def test_the_unplanted_claims_hold(test_seed):
    assert _run(LIMIT, test_seed)["verdict"] == "holds"
    assert _run(CONCENTRATION, test_seed)["verdict"] == "holds"


def test_a_wrong_symbolic_normaliser_fails_the_limit_claim(monkeypatch, test_seed):
    """The sympy witness: a kernel normaliser with Gamma(D) for Gamma(D/2) leaves a non-zero
    symbolic residual, so the claim reports ``fails`` (deterministic, any seed)."""
    import sympy as sp

    from proofs import diffusion_pfgmpp_radial as radial

    monkeypatch.setattr(radial, "kernel_normaliser", lambda N, D, r: sp.gamma((N + D) / 2)
                        / (sp.pi ** (N / 2) * sp.gamma(D)) * r ** D)
    assert _run(LIMIT, test_seed)["verdict"] == "fails"
