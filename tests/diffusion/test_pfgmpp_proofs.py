"""The sympy proof of the PFGM++ radial law holds, and fails when a formula it checks is
wrong (deterministic: symbolic residuals, no randomness)."""

from __future__ import annotations

import sympy as sp

from proofs import diffusion_pfgmpp_radial as radial


def test_radial_law_and_normaliser_hold():
    res = radial.prove_radial_law()
    assert res.holds and set(res.residuals) == {"0"}


def test_radial_marginal_integrates_to_one_in_small_cases():
    assert radial.prove_normalised_by_integration(cases=((1, 1), (2, 3))).holds


def test_a_wrong_normaliser_is_caught(monkeypatch):
    """Gamma(D) for Gamma(D/2): the kernel no longer integrates to 1."""
    monkeypatch.setattr(radial, "kernel_normaliser", lambda N, D, r: sp.gamma((N + D) / 2)
                        / (sp.pi ** (N / 2) * sp.gamma(D)) * r ** D)
    res = radial.prove_radial_law()
    assert not res.holds and res.residuals[1] != "0"
    assert not radial.prove_normalised_by_integration(cases=((2, 3),)).holds


def test_swapped_beta_parameters_are_caught(monkeypatch):
    """Beta(D/2, N/2) for Beta(N/2, D/2) in toytheory's closed form."""
    def swapped(rho, N, D, r):
        beta = sp.gamma(N / 2) * sp.gamma(D / 2) / sp.gamma((N + D) / 2)
        return 2 * rho ** (D - 1) * r ** (-D) * (1 + rho ** 2 / r ** 2) ** (-(N + D) / 2) / beta

    monkeypatch.setattr(radial, "toytheory_radial_density", swapped)
    res = radial.prove_radial_law()
    assert not res.holds and res.residuals[2] != "0"


def test_a_sphere_area_of_the_wrong_dimension_is_caught(monkeypatch):
    monkeypatch.setattr(radial, "sphere_area",
                        lambda N: 2 * sp.pi ** ((N + 1) / 2) / sp.gamma((N + 1) / 2))
    assert not radial.prove_radial_law().holds
