"""3-D from 2-D priors (issue 17, item 3): operators, bad input, planted failures."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from toytheory.claims import execute_claim, load_catalog
from toytheory.diffusion.posterior import volume

REGISTRY = load_catalog()
COHERENT = "diffusion.posterior.volume_augmented_prior_coherent"
MMSE = "diffusion.posterior.volume_mmse_not_improved"


def _run(claim_id, seed, **overrides):
    claim = REGISTRY[claim_id]
    quick = {**claim.tiers["quick"], **overrides}
    return execute_claim(replace(claim, tiers={**claim.tiers, "quick": quick}), "quick", seed)


def test_projector_sums_rows_and_columns(rng):
    x = rng.standard_normal((2, 3, 3))
    y = volume.slice_projector(3, 2) @ x.ravel()
    ref = np.concatenate([np.concatenate([x[z].sum(1), x[z].sum(0)]) for z in range(2)])
    assert np.allclose(y, ref)


def test_slice_marginal_is_the_2d_prior():
    s3, kxy = volume.volume_prior(3, 4)
    for z in range(4):
        blk = slice(9 * z, 9 * z + 9)
        assert np.allclose(s3[blk, blk], kxy)


@pytest.mark.parametrize("call", [
    lambda: volume.volume_prior(1, 3),
    lambda: volume.volume_prior(3, 3, rho_z=1.0),
    lambda: volume.prior_precision("tv", 3, 3),
    lambda: volume.reconstruction_operator(np.eye(9), np.ones((2, 8)), 0.1),
    lambda: volume.reconstruction_operator(np.eye(9), np.ones((2, 9)), -0.1),
    lambda: volume.slice_projector(3, 3, views=3),
])
def test_bad_input(call):
    with pytest.raises(ValueError, match=r"^(n|rho_z|kind|A|noise_std|views):"):
        call()


def test_a_wrong_noise_in_the_reconstruction_fails(monkeypatch, test_seed):
    """W built with 1.5 s: its posterior mean leaves exact_gmm_posterior's by far more than
    1e-8 (deterministic)."""
    original = volume.reconstruction_operator
    monkeypatch.setattr(volume, "reconstruction_operator",
                        lambda P, A, s: original(P, A, 1.5 * s))
    assert _run(COHERENT, test_seed, n_sim=500)["verdict"] == "fails"


def test_no_augmentation_is_refuted(monkeypatch, test_seed):
    """lambda = 0: the augmented prior is the independent one, ratio 1 > 0.5
    (deterministic; the simulated witness stays consistent)."""
    import toytheory.claims.catalog.diffusion_posterior_volume as cat

    monkeypatch.setattr(cat, "LAM", 0.0)
    assert _run(COHERENT, test_seed, n_sim=1000)["verdict"] == "refuted"


def test_a_sample_error_law_without_the_posterior_spread_fails(monkeypatch, test_seed):
    """Simulated samples drawn at the posterior mean (no C_P spread) while the exact error
    law keeps C_P: the error sd drops by ~30%, so P(v.e > sd/2) moves from 0.31 to ~0.24;
    at 4000 volumes z ~ 9: the Bonferroni test at 1e-6/6 rejects (power 1 - 1e-12)."""
    original = volume.posterior_covariance
    calls = {"n": 0}

    def tiny_then_true(P, A, s):
        calls["n"] += 1
        c = original(P, A, s)
        return 1e-12 * np.eye(len(c)) if calls["n"] == 1 else c

    import toytheory.claims.catalog.diffusion_posterior_volume as cat
    orig_err = volume.error_covariance

    def err_plus_spread(W, A, s3, s):
        return orig_err(W, A, s3, s) + original(
            volume.prior_precision("augmented", 6, 6, cat.LAM, rho_z=cat.RHO_Z), A, s)

    monkeypatch.setattr(volume, "posterior_covariance", tiny_then_true)
    monkeypatch.setattr(volume, "error_covariance", err_plus_spread)
    assert _run(COHERENT, test_seed)["verdict"] == "fails"


def test_an_augmentation_that_is_the_true_prior_is_refuted(monkeypatch, test_seed):
    """'augmented' = the true 3-D prior: its MSE is below the independent one's and its KL
    to the true posterior is 0 (deterministic)."""
    original = volume.prior_precision
    monkeypatch.setattr(volume, "prior_precision", lambda kind, *a, **k: original(
        "true" if kind == "augmented" else kind, *a, **k))
    assert _run(MMSE, test_seed)["verdict"] == "refuted"


def test_an_overconfident_true_prior_fails_bayes_optimality(monkeypatch, test_seed):
    """'true' precision doubled: no longer the data's law, its MSE exceeds the independent
    prior's and the Bayes-optimality witness fails (deterministic)."""
    original = volume.prior_precision
    monkeypatch.setattr(volume, "prior_precision", lambda kind, *a, **k: (
        2.0 if kind == "true" else 1.0) * original(kind, *a, **k))
    assert _run(MMSE, test_seed)["verdict"] == "fails"


ALT = "diffusion.posterior.volume_alternating_sampler_coherent"


def test_a_wrong_error_law_of_the_alternating_sampler_fails(monkeypatch, test_seed):
    """Exact error covariance scaled by 1/4 (sd halved): P(v.e > -sd'/1) moves from 0.84 to
    0.69, z ~ 16 at 1500 volumes: the Bonferroni binomial test at 1e-6 rejects (power ~1)."""
    original = volume.alternating_error_covariance
    monkeypatch.setattr(volume, "alternating_error_covariance",
                        lambda *a, **k: 0.25 * original(*a, **k))
    assert _run(ALT, test_seed)["verdict"] == "fails"


def test_an_alternating_sampler_without_the_prior_is_refuted(monkeypatch, test_seed):
    """lambda = 0 in both runs: ratio 1 > 0.5 (deterministic)."""
    import toytheory.claims.catalog.diffusion_posterior_volume as cat

    monkeypatch.setattr(cat, "LAM", 0.0)
    assert _run(ALT, test_seed, n_sim=500)["verdict"] == "refuted"


def test_alternating_propagation_matches_simulation(rng):
    """F and Cov(eta) against 4000 simulated runs on a 4x4x3 volume, 12 steps: the voxel
    error (a mean of 48 squared Gaussians, sd ~ 0.3 / sqrt(4000 * ~5 eff.)) within 10%."""
    import sims.diffusion_posterior as sims
    from toytheory.diffusion.schedules import karras_sigmas

    sig = karras_sigmas(12, 0.002, 80.0, append_zero=False)
    s3, kxy = volume.volume_prior(4, 3)
    A = volume.slice_projector(4, 3)
    E = volume.alternating_error_covariance(4, 3, 0.1, sig, 2.0, 1.0)
    x = rng.standard_normal((4000, 48)) @ np.linalg.cholesky(s3).T
    err = sims.run_volume_alternating(x, A, 0.1, kxy, 4, 3, 2.0, 1.0, sig,
                                      int(rng.integers(1 << 30)))
    assert abs(np.mean(np.sum(err ** 2, axis=1)) / np.trace(E) - 1) < 0.1
