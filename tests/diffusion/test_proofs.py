"""The sympy proofs of issue 3 hold, and each fails when the formula it checks is wrong."""

from __future__ import annotations

import pytest
import sympy as sp

from proofs import diffusion_gaussian_flow as flow
from proofs import diffusion_gmm_score as gmm
from proofs import diffusion_tweedie as tweedie
from proofs._result import ProofResult


def test_closed_form_gaussian_flow_solves_the_pf_ode_for_a_general_schedule():
    res = flow.prove_gaussian_flow_solves_pf_ode()
    assert isinstance(res, ProofResult) and res.holds
    assert set(res.residuals) == {"0"}


def test_flow_proof_fails_without_the_square_root(monkeypatch):
    """Power: deterministic: a sympy residual, exact symbolic algebra; no random draw
    enters."""
    def wrong(lam, mu, x_s):  # planted: ratio instead of its square root
        rho_t2 = (flow.sigma(flow.t) / flow.alpha(flow.t)) ** 2
        rho_s2 = (flow.sigma(flow.s) / flow.alpha(flow.s)) ** 2
        return flow.alpha(flow.t) * mu + flow.alpha(flow.t) * (lam + rho_t2) / (
            lam + rho_s2) * (x_s / flow.alpha(flow.s) - mu)

    monkeypatch.setattr(flow, "closed_form_coordinate", wrong)
    assert not flow.prove_gaussian_flow_solves_pf_ode().holds


def test_tweedie_holds_for_any_prior_and_for_2d_gaussian_data():
    assert tweedie.prove_tweedie_general_prior().holds
    assert tweedie.prove_gaussian_posterior_mean_2d().holds


@pytest.mark.slow
def test_gaussian_posterior_mean_by_integration_is_the_denoiser():
    assert tweedie.prove_gaussian_posterior_mean_1d().holds


def test_tweedie_proof_fails_for_a_denoiser_gain_without_the_noise_term(monkeypatch):
    """Power: deterministic: a sympy residual, exact symbolic algebra; no random draw
    enters."""
    monkeypatch.setattr(tweedie, "eigen_gain", lambda a, lam, s: 1 / a)  # planted
    assert not tweedie.prove_gaussian_posterior_mean_2d().holds


def test_gmm_score_formula_is_the_gradient_of_the_log_marginal():
    assert gmm.prove_gmm_score_1d().holds
    assert gmm.prove_delta_mixture_score_1d().holds
    assert gmm.prove_gmm_score_2d().holds


def test_gmm_proof_fails_when_the_weights_forget_the_log_determinant(monkeypatch):
    """Power: deterministic: a sympy residual, exact symbolic algebra; no random draw
    enters."""
    monkeypatch.setattr(gmm, "component_logit",  # planted: no -log(D)/2
                        lambda w, c, dvar: sp.log(w) - c**2 / (2 * dvar))
    assert not gmm.prove_gmm_score_1d().holds
