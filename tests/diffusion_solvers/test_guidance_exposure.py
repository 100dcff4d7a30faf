"""The guided-mixture oracle, thresholding and the exposure-bias error model (solvers-b)."""

from __future__ import annotations

import numpy as np
import pytest

from toytheory.diffusion import GaussianMixture
from toytheory.diffusion.guidance import (GuidedMixtureModel, ThresholdedModel,
                                          guided_reference_solution)
from toytheory.diffusion.solvers.exposure import X0ErrorModel
from toytheory.diffusion.solvers.models import DiagonalMixtureModel


@pytest.fixture(scope="module")
def laws():
    means = np.array([[-1.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    uncond = GaussianMixture.isotropic(np.full(3, 1 / 3), means, np.full(3, 0.05))
    cond = GaussianMixture.isotropic([1.0], means[:1], [0.05])
    return cond, uncond


def test_guided_model_is_the_cfg_combination_of_exact_models(laws, vp, rng):
    cond, uncond = laws
    x = rng.standard_normal((50, 2))
    for t in (0.2, 0.7):
        ec = DiagonalMixtureModel(cond, vp, "eps")(x, t)
        eu = DiagonalMixtureModel(uncond, vp, "eps")(x, t)
        got = GuidedMixtureModel(cond, uncond, vp, 3.0, "eps")(x, t)
        np.testing.assert_allclose(got, 4.0 * ec - 3.0 * eu, rtol=1e-10, atol=1e-10)
        # one time per point gives the same rows
        per = GuidedMixtureModel(cond, uncond, vp, 3.0, "eps")(x, np.full(50, t))
        np.testing.assert_allclose(per, got, rtol=1e-12, atol=1e-12)


def test_guided_reference_at_w0_is_the_conditional_flow(laws, vp, rng):
    """At w = 0 the guided ODE is the conditional law's flow; a Gaussian's flow is known in
    closed form (y moves to mu + sqrt((v + s1^2)/(v + s0^2)) (y - mu) in VE coordinates)."""
    cond, uncond = laws
    y0 = rng.standard_normal((20, 2)) * 3.0
    lam0, lam1 = -1.0, 2.0
    got = guided_reference_solution(cond, uncond, 0.0, y0, lam0, lam1)
    mu, v = np.array([-1.0, 0.0]), 0.05
    s0, s1 = np.exp(-lam0), np.exp(-lam1)
    want = mu + np.sqrt((v + s1 ** 2) / (v + s0 ** 2)) * (y0 - mu)
    np.testing.assert_allclose(got, want, rtol=1e-8, atol=1e-8)


def test_thresholding_keeps_the_data_prediction_in_range(laws, vp, rng):
    cond, uncond = laws
    model = ThresholdedModel(GuidedMixtureModel(cond, uncond, vp, 8.0, "x0"), vp,
                             data_range=1.5)
    x0 = model(rng.standard_normal((200, 2)) * 2.0, 0.5)
    assert np.all(np.abs(x0) <= 1.5 + 1e-12)
    # inside the range, dynamic thresholding is the identity
    inner = ThresholdedModel(GuidedMixtureModel(cond, uncond, vp, 0.0, "x0"), vp,
                             data_range=100.0)
    x = rng.standard_normal((20, 2))
    np.testing.assert_allclose(inner(x, 0.5), GuidedMixtureModel(cond, uncond, vp, 0.0, "x0")(
        x, 0.5), rtol=0, atol=0)


def test_x0_error_model_adds_the_stated_error(laws, vp, rng):
    cond, _ = laws
    base = DiagonalMixtureModel(cond, vp, "eps")
    x = rng.standard_normal((20000, 2))
    assert np.array_equal(X0ErrorModel(base, vp, delta=0.0, rng=rng)(x, 0.5), base(x, 0.5))
    err_eps = X0ErrorModel(base, vp, delta=0.2, rng=rng)(x, 0.5) - base(x, 0.5)
    a, s = vp.marginal(0.5)
    # an x0 error e of std 0.2 is an eps error -a e / s
    np.testing.assert_allclose(np.std(err_eps * s / a), 0.2, rtol=0.03)


@pytest.mark.parametrize("call, match", [
    (lambda c, u, vp, rng: GuidedMixtureModel(c, u, vp, -1.0), "w"),
    (lambda c, u, vp, rng: GuidedMixtureModel(c, u, vp, 1.0, "v"), "prediction"),
    (lambda c, u, vp, rng: GuidedMixtureModel(c, "law", vp, 1.0), "uncond"),
    (lambda c, u, vp, rng: ThresholdedModel(GuidedMixtureModel(c, u, vp, 1.0), vp,
                                            data_range=0.0), "data_range"),
    (lambda c, u, vp, rng: guided_reference_solution(c, u, 1.0, np.zeros((2, 2)), 1.0, 0.0),
     "lam_end"),
    (lambda c, u, vp, rng: X0ErrorModel(DiagonalMixtureModel(c, vp, "eps"), vp, delta=-0.1,
                                        rng=rng), "delta"),
    (lambda c, u, vp, rng: X0ErrorModel(DiagonalMixtureModel(c, vp, "eps"), vp, delta=0.1,
                                        rng=0), "rng"),
])
def test_bad_input_is_refused(laws, vp, rng, call, match):
    cond, uncond = laws
    with pytest.raises(ValueError, match=match):
        call(cond, uncond, vp, rng)
