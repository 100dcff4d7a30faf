"""The TV prior across slices (issue 17, item 3): exact pieces, bad input, planted
failures seen by the claim's own check."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from toytheory.claims import execute_claim, load_catalog
from toytheory.diffusion.posterior import volume_tv as tv
from toytheory.diffusion.posterior.volume import (prior_precision, slice_projector,
                                                  z_difference)

REGISTRY = load_catalog()
TV = "diffusion.posterior.volume_tv_prior_coherent"


def _run(seed, **overrides):
    claim = REGISTRY[TV]
    quick = {**claim.tiers["quick"], **overrides}
    return execute_claim(replace(claim, tiers={**claim.tiers, "quick": quick}), "quick", seed)


def _small():
    return prior_precision("independent", 3, 3), slice_projector(3, 3), z_difference(3, 3)


def test_lambda_zero_map_is_the_gaussian_posterior_mean(rng):
    P, A, D = _small()
    y = rng.standard_normal(A.shape[0])
    x = tv.tv_map(P, A, D, y, 0.1, 0.0)
    assert np.allclose(x, np.linalg.solve(P + A.T @ A / 0.01, A.T @ y / 0.01), atol=1e-10)


def test_no_perturbation_lowers_the_map_objective(rng):
    """The objective is convex: ADMM's point is a minimum if no random perturbation of size
    1e-3 lowers the objective (20 directions)."""
    P, A, D = _small()
    y = rng.standard_normal(A.shape[0])
    lam = 2.0
    x = tv.tv_map(P, A, D, y, 0.1, lam, iters=3000)
    f0 = tv.tv_objective(x, P, A, D, y, 0.1, lam)
    for _ in range(20):
        assert tv.tv_objective(x + 1e-3 * rng.standard_normal(x.shape), P, A, D, y, 0.1,
                               lam) >= f0 - 1e-9


@pytest.mark.parametrize("call, name", [
    (lambda: tv.tv_map(*_small(), np.ones(5), 0.1, 1.0), "y"),
    (lambda: tv.tv_map(*_small(), np.ones(18), -0.1, 1.0), "noise_std"),
    (lambda: tv.tv_map(*_small(), np.ones(18), 0.1, -1.0), "lam"),
    (lambda: tv.tv_map(_small()[0], np.ones((18, 5)), _small()[2], np.ones(18), 0.1, 1.0), "A"),
    (lambda: tv.tv_posterior_samples(*_small(), np.ones(18), 0.1, 1.0,
                                     np.random.default_rng(0)), "y"),
])
def test_bad_input(call, name):
    with pytest.raises(ValueError, match=rf"^{name}:"):
        call()


def test_no_tv_is_refuted(test_seed):
    """lambda = 0: both samples are independent-slice posterior samples, P(cross-slice
    error <= half the other's) ~0.02; the Clopper-Pearson upper end stays below 1/2 unless
    more than ~65 of 200 volumes qualify, probability < 1e-30 (power >= 1 - 1e-6)."""
    assert _run(test_seed, lam=0.0)["verdict"] == "refuted"


def test_an_admm_with_half_the_threshold_fails(monkeypatch, test_seed):
    """ADMM's soft threshold at lam / (2 rho): it solves the problem with lam / 2, whose
    objective (at lam) exceeds the L-BFGS solution's by ~1 >> 1e-6 (deterministic)."""
    original = tv.soft_threshold
    monkeypatch.setattr(tv, "soft_threshold", lambda v, t: original(v, 0.5 * t))
    assert _run(test_seed, n_vol=40, steps=50)["verdict"] == "fails"
