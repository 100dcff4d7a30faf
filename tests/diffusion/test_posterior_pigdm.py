"""PiGDM and the projection method against the exact posterior (issue 17, item 1):
samplers, bad input, planted failures of their claim."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from toytheory.claims import execute_claim, load_catalog
from toytheory.diffusion import GaussianMixture
from toytheory.diffusion.posterior import samplers

REGISTRY = load_catalog()
PI = "diffusion.posterior.pigdm_projection_overweight_minor_mode"


def _run(claim_id, seed, **overrides):
    claim = REGISTRY[claim_id]
    quick = {**claim.tiers["quick"], **overrides}
    return execute_claim(replace(claim, tiers={**claim.tiers, "quick": quick}), "quick", seed)


def test_pigdm_on_a_gaussian_prior_at_large_noise_is_the_prior_score(rng):
    """With r_t^2 -> 1 and a Gaussian prior the guidance term is J^T A^T (AA^T + s^2)^-1 r,
    and J -> Sigma / sigma^2 -> 0: at sigma = 1e4 the score equals the prior's to 1e-7."""
    prior = GaussianMixture([1.0], [[0.0, 0.0]], [np.eye(2)])
    x = rng.standard_normal((5, 2))
    sc = samplers.pigdm_score(prior, [[1.0, 0.0]], 0.1, [0.5])(x, 1e4)
    assert np.abs(sc - prior.score(x, 1.0, 1e4)).max() < 1e-7


def test_projection_keeps_the_measurement(rng):
    """After the last projection A x = y + sigma_min A eps exactly (sigma_min = 1e-3)."""
    prior = GaussianMixture([1.0], [[0.0, 0.0]], [np.eye(2)])
    sig = np.geomspace(10.0, 1e-3, 30)
    x = samplers.projection_sampler(prior, [[1.0, 1.0]], [0.7],
                                    10 * rng.standard_normal((200, 2)), sig, rng)
    assert np.abs(x.sum(axis=1) - 0.7).max() < 0.02


@pytest.mark.parametrize("call, name", [
    (lambda p: samplers.pigdm_score(p, np.ones((1, 3)), 0.1, [0.0]), "A"),
    (lambda p: samplers.pigdm_score(p, np.ones((1, 2)), -0.1, [0.0]), "noise_std"),
    (lambda p: samplers.pigdm_score(p, np.ones((1, 2)), 0.1, [0.0], weight=-1.0), "weight"),
    (lambda p: samplers.projection_sampler(p, np.ones((1, 2)), [0.0], np.zeros((3, 2)),
                                           [1.0, 2.0]), "sigmas"),
    (lambda p: samplers.projection_sampler("p", np.ones((1, 2)), [0.0], np.zeros((3, 2)),
                                           [2.0, 1.0]), "prior"),
])
def test_bad_input(call, name):
    prior = GaussianMixture([1.0], [[0.0, 0.0]], [np.eye(2)])
    with pytest.raises(ValueError, match=rf"^{name}:"):
        call(prior)


def test_an_exact_sampler_that_ignores_y_fails(monkeypatch, test_seed):
    """The 'exact' sampler driven by the prior score: its P(x_1 < 0) ~ 0.5, far above the
    witness's 0.078 (n = 2000: P(interval upper <= 0.078) < e^-500)."""
    from toytheory.claims.catalog.diffusion_posterior_samplers import toy_prior

    prior = toy_prior()
    monkeypatch.setattr(samplers, "exact_posterior_score",
                        lambda post: (lambda x, s: prior.score(x, 1.0, s)))
    assert _run(PI, test_seed, n=2000, steps=64)["verdict"] == "fails"


def test_a_pigdm_that_drops_the_minor_mode_is_refuted(monkeypatch, test_seed):
    """'PiGDM' sampling only the posterior's major component: P(x_1 < 0) ~ 1e-4, so the gap's
    upper end (<= 0.002 - 0.038) is below 0 at n = 8000 unless the exact sampler's minor
    count falls under ~300 of an expected ~400 (probability < 1e-8)."""
    from toytheory.diffusion.posterior.gmm import exact_gmm_posterior

    def major_only(prior, A, s, y, weight=1.0):
        post = exact_gmm_posterior(prior, A, s, y)
        k = int(np.argmax(post.weights))
        law = GaussianMixture([1.0], post.means[k:k + 1], post.covs[k:k + 1])
        return lambda x, sigma: law.score(x, 1.0, sigma)

    monkeypatch.setattr(samplers, "pigdm_score", major_only)
    assert _run(PI, test_seed, weights=())["verdict"] == "refuted"
