"""Planted failures of the posterior-sampling claims: each claim's own check reports them.

A planted toolkit bug must give ``fails`` (a witness disagrees), a planted false statement
``refuted``; the power under any seed is stated per test.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from toytheory.claims import execute_claim, load_catalog

REGISTRY = load_catalog()
EXACT = "diffusion.posterior.exact_sampler_matches_posterior"
DPS = "diffusion.posterior.dps_drops_minor_mode"
ADS = "diffusion.posterior.ads_beats_fixed_masks"


def _run(claim_id, seed, **overrides):
    claim = REGISTRY[claim_id]
    quick = {**claim.tiers["quick"], **overrides}
    return execute_claim(replace(claim, tiers={**claim.tiers, "quick": quick}), "quick", seed)


def test_a_posterior_with_the_wrong_noise_fails_the_bayes_witness(monkeypatch, test_seed):
    """exact_gmm_posterior computed with 1.5 s: its mean leaves Bayes-on-the-grid by ~1e-2,
    far above the 1e-6 tolerance (deterministic: power 1)."""
    import toytheory.diffusion.posterior.gmm as gmm

    original = gmm.exact_gmm_posterior
    monkeypatch.setattr(gmm, "exact_gmm_posterior",
                        lambda prior, A, s, y: original(prior, A, 1.5 * s, y))
    assert _run(EXACT, test_seed, n=500, steps=16)["verdict"] == "fails"


def test_a_sampler_that_ignores_y_is_refuted(monkeypatch, test_seed):
    """The prior's score in place of the posterior's: P(x_1 > 0) ~ 0.5 against 0.952; the
    statement's interval stays above 0.912 only if p_hat >= 0.88, probability below
    exp(-2 n 0.38^2) = e^-577 at n = 2000 (power >= 1 - 1e-6)."""
    import toytheory.diffusion.posterior.samplers as samplers
    from toytheory.claims.catalog.diffusion_posterior_samplers import toy_prior

    prior = toy_prior()
    monkeypatch.setattr(samplers, "exact_posterior_score",
                        lambda post: (lambda x, s: prior.score(x, 1.0, s)))
    assert _run(EXACT, test_seed, n=2000, steps=64)["verdict"] == "refuted"


def test_a_control_sampler_missing_the_minor_mode_fails(monkeypatch, test_seed):
    """The exact-score control run on the major component only: its P(x_1 < 0) is ~1e-4,
    so its Clopper-Pearson upper end (1e-6) stays below half the exact mass 0.024 unless
    more than 40 of 3000 draws land there (probability far below 1e-6): ``fails``."""
    import toytheory.diffusion.posterior.samplers as samplers
    from toytheory.diffusion import GaussianMixture

    def major_only(post):
        k = int(np.argmax(post.weights))
        law = GaussianMixture([1.0], post.means[k:k + 1], post.covs[k:k + 1])
        return lambda x, s: law.score(x, 1.0, s)

    monkeypatch.setattr(samplers, "exact_posterior_score", major_only)
    assert _run(DPS, test_seed)["verdict"] == "fails"


def test_a_dps_that_is_exact_is_refuted(monkeypatch, test_seed):
    """'DPS' replaced by the exact posterior score: its minor mass is >= 0.048 (the grid's
    bias adds to it), and the interval's lower end exceeds 0.024 whenever p_hat > 0.033 at
    n = 12000; P(p_hat <= 0.033) <= exp(-n KL(0.033 || 0.048)) ~ e^-33 (power >= 1 - 1e-6)."""
    import toytheory.diffusion.posterior.samplers as samplers
    from toytheory.diffusion.posterior.gmm import exact_gmm_posterior

    exact_score = samplers.exact_posterior_score
    monkeypatch.setattr(samplers, "dps_score", lambda prior, A, s, y, zeta=1.0:
                        exact_score(exact_gmm_posterior(prior, A, s, y)))
    assert _run(DPS, test_seed, n=12000)["verdict"] == "refuted"


def test_a_wrong_isotropic_gain_fails_the_shortcut_witness(monkeypatch, test_seed):
    """The isotropic shortcut with gain tau^2 / (tau^2 + 2 s^2): its trace leaves
    exact_gmm_posterior's by ~1e-1 (deterministic: power 1)."""
    from toytheory.diffusion.posterior.active import IsotropicMixturePrior

    original = IsotropicMixturePrior._posterior

    def wrong(self, y_all, mask):
        w, m, within = original(self, y_all, mask)
        return w, m, within * np.where(mask, 2.0, 1.0)

    monkeypatch.setattr(IsotropicMixturePrior, "_posterior", wrong)
    assert _run(ADS, test_seed, n=300)["verdict"] == "fails"


def test_a_minimum_entropy_policy_is_refuted(monkeypatch, test_seed):
    """The policy inverted (measure the lowest-variance coordinates): its error exceeds
    random masks' by about 3.2 (b = 2) and 3.6 (b = 3), sd of a paired difference ~9.5,
    range [-108, 108]. At n = 12000 the empirical-Bernstein half-width is ~1.2, so the
    interval falls wholly above 0 unless the mean gap is under-estimated by 2; Bernstein's
    inequality bounds that by exp(-n 2^2 / (2 * 9.5^2 + 2 * 108 * 2 / 3)) ~ e^-148
    (power >= 1 - 1e-6)."""
    import toytheory.diffusion.posterior.active as active

    def min_entropy(prior, y_all, budget):
        var = np.diag(prior.law.covariance())
        mask = np.zeros(y_all.shape, bool)
        mask[:, np.argsort(var, kind="stable")[:budget]] = True
        return mask

    monkeypatch.setattr(active, "max_entropy_masks", min_entropy)
    result = _run(ADS, test_seed, n=12000)
    assert result["verdict"] == "refuted"


def test_the_dps_figure_renders(test_seed):
    from toytheory.figures import FIGURES

    fig = FIGURES["diffusion.posterior_dps_vs_exact"].make(test_seed % 1000)
    assert len(fig.axes) == 2 and all(len(ax.collections) >= 2 for ax in fig.axes)
