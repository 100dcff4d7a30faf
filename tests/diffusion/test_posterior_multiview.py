"""VideoMV's 3D-aware sampling on a Gaussian toy (issue 17, item 7): laws, bad input,
planted failures."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from toytheory.claims import execute_claim, load_catalog
from toytheory.diffusion.posterior import linear, multiview

REGISTRY = load_catalog()
CONS = "diffusion.posterior.videomv_reconstruction_consistent"
NOTPOST = "diffusion.posterior.videomv_not_posterior"


def _run(claim_id, seed, **overrides):
    claim = REGISTRY[claim_id]
    quick = {**claim.tiers["quick"], **overrides}
    return execute_claim(replace(claim, tiers={**claim.tiers, "quick": quick}), "quick", seed)


def test_consistency_error_of_a_rendered_object_is_zero(rng):
    R = multiview.renderers(3, 3, 2)
    z = rng.standard_normal(3)
    v = R @ z
    assert multiview.consistency_error(R, 2, v[:2], v[2:], np.zeros((4, 4))) < 1e-20


def test_conditional_law_by_monte_carlo(rng):
    """Conditional mean of V_{2:K} | v_1 vs regression on 2e5 draws (sd ~ 3e-3 per entry)."""
    R = multiview.renderers(3, 3, 1)
    m, c = multiview.multiview_law(R, 0.3)
    x = rng.standard_normal((200_000, 3)) @ np.linalg.cholesky(c).T
    beta = (x[:, 1:] * x[:, :1]).mean(0) / (x[:, 0] ** 2).mean()
    mu, _ = multiview.conditional_law(R, 0.3, 1, [1.0])
    assert np.abs(mu - beta).max() < 0.03


@pytest.mark.parametrize("call", [
    lambda: multiview.renderers(3, 1, 2),
    lambda: multiview.multiview_law(np.ones((4, 2)), 0.0),
    lambda: multiview.conditional_law(np.ones((5, 2)), 0.1, 2, [0.0, 0.0]),
    lambda: multiview.conditional_law(np.ones((4, 2)), 0.1, 2, [0.0]),
    lambda: multiview.sampler_steps("video", np.ones((4, 2)), 0.1, 2, [0.0, 0.0], [2., 1.]),
])
def test_bad_input(call):
    with pytest.raises(ValueError, match=r"^(K|nu|q|v1|name):"):
        call()


def test_a_wrong_rendering_map_fails(monkeypatch, test_seed):
    """B scaled by 0.9: rendering an object no longer reproduces its views (deterministic)."""
    original = multiview.reconstruction_map
    monkeypatch.setattr(multiview, "reconstruction_map",
                        lambda R, q: (0.9 * original(R, q)[0], original(R, q)[1]))
    assert _run(CONS, test_seed, n_sim=500)["verdict"] == "fails"


def test_noiseless_closed_form_fails_the_simulation(monkeypatch, test_seed):
    """Closed-form steps without their noise while the torch simulation keeps it: the joint
    sampler's exact law collapses to a point mass, P(v.x > mu + sd/2) can't be matched
    (binomial test at 5e-7 / 6 with n = 6000 rejects with power ~1)."""
    original = multiview.ve_step

    def quiet(*a):
        st = original(*a)
        return linear.AffineStep(st.M, st.b, 1e-6 * st.Q)

    monkeypatch.setattr(multiview, "ve_step", quiet)
    assert _run(CONS, test_seed)["verdict"] == "fails"


def test_a_reconstruction_that_fuses_nothing_is_refuted(monkeypatch, test_seed):
    """Render map = identity, no given-view term: the 3D-aware sampler is the independent
    one, ratio 1 > 0.1 (deterministic; the simulator uses the same map)."""
    monkeypatch.setattr(multiview, "reconstruction_map",
                        lambda R, q: (np.eye(R.shape[0] - q), np.zeros((R.shape[0] - q, q))))
    assert _run(CONS, test_seed, n_sim=2000)["verdict"] == "refuted"


def test_joint_per_view_denoisers_refute_not_posterior(monkeypatch, test_seed):
    """'Independent' denoisers that are the joint one: the 3D-aware sampler then reaches the
    exact conditional's neighbourhood (W2 < 0.2; deterministic)."""
    monkeypatch.setattr(multiview, "independent_law", multiview.conditional_law)
    assert _run(NOTPOST, test_seed)["verdict"] == "refuted"


def test_noiseless_steps_fail_the_floor(monkeypatch, test_seed):
    """Planted: the VE steps without their noise. Power: deterministic (Bures-
    Wasserstein between exact Gaussian laws): the joint sampler's W2 is 1.45 against the
    floor 0.05."""
    original = multiview.ve_step
    monkeypatch.setattr(multiview, "ve_step", lambda *a: linear.AffineStep(
        original(*a).M, original(*a).b, 0.0 * original(*a).Q))
    assert _run(NOTPOST, test_seed)["verdict"] == "fails"
