"""The sympy proofs of issue 17 hold, and each fails when the formula it checks is wrong."""

from __future__ import annotations

import sympy as sp

from proofs import diffusion_posterior as pp


def test_gmm_component_update_holds():
    res = pp.prove_gmm_component_update()
    assert res.holds and set(res.residuals) == {"0"}


def test_gmm_update_proof_fails_with_a_wrong_gain(monkeypatch):
    """Power: deterministic: a sympy residual, exact symbolic algebra; no random draw
    enters."""
    original = pp.component_update

    def wrong(Sigma, A, mu, s2, y):   # planted: the prior variance in place of S
        mu_p, Sig_p, S = original(Sigma, A, mu, s2, y)
        return mu + Sigma * A.T / (S - s2) * (y - (A * mu)[0, 0]), Sig_p, S

    monkeypatch.setattr(pp, "component_update", wrong)
    assert not pp.prove_gmm_component_update().holds


def test_bridge_holds():
    res = pp.prove_random_walk_bridge()
    assert res.holds and res.residuals == ("0",)


def test_bridge_proof_fails_with_the_wrong_variance(monkeypatch):
    """Power: deterministic: a sympy residual, exact symbolic algebra; no random draw
    enters."""
    monkeypatch.setattr(pp, "bridge_moments",
                        lambda a, b, t, T, q: (a + t / T * (b - a), q * t * (T - t) / (2 * T)))
    assert not pp.prove_random_walk_bridge().holds


def test_bridge_matches_the_toolkit_numerically():
    """The proved formula against toytheory's bridge_law at T = 7, q = 0.5."""
    import numpy as np

    from toytheory.diffusion.posterior.bridge import bridge_law, frame_kernel

    mu, cov = bridge_law(frame_kernel(7, "walk", v0=2.0, q=0.5), np.eye(1), [0.3], [-1.2])
    for t in range(1, 7):
        m, v = pp.bridge_moments(sp.Rational(3, 10), sp.Rational(-12, 10), t, 7,
                                 sp.Rational(1, 2))
        assert abs(float(m) - mu[t - 1]) < 1e-12 and abs(float(v) - cov[t - 1, t - 1]) < 1e-12
