"""The fast exact models and the perturbed model against their definitions.

The models are compared elsewhere with the core's ExactModel (another implementation of
the same formulas). Here each is held to its definition, computed independently:

- AffineGaussianModel: the Gaussian posterior mean
  :math:`E[x_0 | x] = \\mu + \\alpha\\Sigma(\\alpha^2\\Sigma + \\sigma^2 I)^{-1}(x - \\alpha\\mu)`
  by a linear solve (the model uses an eigendecomposition), and each prediction kind
  from it (:math:`\\varepsilon = (x - \\alpha\\hat x_0)/\\sigma`,
  :math:`v = \\alpha\\varepsilon - \\sigma\\hat x_0`, score :math:`-\\varepsilon/\\sigma`);
- DiagonalMixtureModel: the posterior mean as a ratio of integrals over x_0 (trapezoid on
  a fine grid; no mixture algebra);
- PerturbedModel: its three planted errors, in epsilon coordinates, for every prediction.
"""

from __future__ import annotations

import numpy as np
import pytest

from toytheory.diffusion import Gaussian, GaussianMixture, VPLinear
from toytheory.diffusion.solvers.models import (AffineGaussianModel, DiagonalMixtureModel,
                                                PerturbedModel)

KINDS = ("x0", "eps", "v", "score")


def _from_x0(kind, x, x0, a, s):
    eps = (x - a * x0) / s
    return {"x0": x0, "eps": eps, "v": a * eps - s * x0, "score": -eps / s}[kind]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("t", [0.9, 0.3, 0.02])
def test_affine_gaussian_model_is_the_gaussian_posterior_mean(kind, t, rng):
    q, _ = np.linalg.qr(rng.standard_normal((3, 3)))
    cov = (q * np.array([0.05, 0.4, 1.5])) @ q.T
    cov = 0.5 * (cov + cov.T)
    mu = rng.standard_normal(3)
    vp = VPLinear()
    a, s = (float(v) for v in vp.marginal(t))
    x = rng.standard_normal((6, 3))
    gain = np.linalg.solve(a * a * cov + s * s * np.eye(3), a * cov).T   # (a^2 S + s^2)^-1 a S
    x0 = mu + (x - a * mu) @ gain
    got = AffineGaussianModel(Gaussian(mu, cov), vp, kind)(x, t)
    np.testing.assert_allclose(got, _from_x0(kind, x, x0, a, s), rtol=1e-9, atol=1e-10)


def _posterior_mean_by_quadrature(law, x, a, s, half_width=6.0, n=1201):
    """E[x0 | x] for a 2-D law by a trapezoid over x0 on a fine grid."""
    lo = law.means.min(0) - half_width * np.sqrt(law.covs.max())
    hi = law.means.max(0) + half_width * np.sqrt(law.covs.max())
    g0, g1 = np.linspace(lo[0], hi[0], n), np.linspace(lo[1], hi[1], n)
    X0, X1 = np.meshgrid(g0, g1, indexing="ij")
    pts = np.stack([X0, X1], -1)
    dens = np.zeros(X0.shape)
    for w, m, c in zip(law.weights, law.means, law.covs):
        var = np.diag(c)
        dens += w * np.exp(-0.5 * np.sum((pts - m) ** 2 / var, -1)) / (2 * np.pi
                                                                       * np.sqrt(var.prod()))
    out = []
    for xi in x:
        like = np.exp(-0.5 * np.sum((xi - a * pts) ** 2, -1) / (s * s))
        p = dens * like
        z = np.trapezoid(np.trapezoid(p, g1, axis=1), g0)
        m0 = np.trapezoid(np.trapezoid(p * X0, g1, axis=1), g0) / z
        m1 = np.trapezoid(np.trapezoid(p * X1, g1, axis=1), g0) / z
        out.append([m0, m1])
    return np.array(out)


@pytest.mark.parametrize("t", [0.6, 0.2])
def test_diagonal_mixture_model_is_the_posterior_mean_by_quadrature(t, rng):
    law = GaussianMixture.diagonal([0.35, 0.65], [[-1.0, 0.5], [1.2, -0.3]],
                                   [[0.2, 0.05], [0.1, 0.3]])
    vp = VPLinear()
    a, s = (float(v) for v in vp.marginal(t))
    x = rng.standard_normal((4, 2)) * 0.8
    ref = _posterior_mean_by_quadrature(law, x, a, s)
    for kind in KINDS:
        got = DiagonalMixtureModel(law, vp, kind)(x, t)
        np.testing.assert_allclose(got, _from_x0(kind, x, ref, a, s), rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("kind", KINDS)
def test_perturbed_model_applies_its_planted_errors_in_epsilon(kind, rng):
    law = Gaussian.diagonal(np.array([0.3, -0.2]), np.array([0.5, 1.2]))
    vp = VPLinear()
    base = AffineGaussianModel(law, vp, kind)
    exact_eps = AffineGaussianModel(law, vp, "eps")
    x = rng.standard_normal((5, 2))
    t, kappa, delta, bias = 0.4, 0.13, 0.05, np.array([0.07, -0.02])
    a, s = (float(v) for v in vp.marginal(t))
    model = PerturbedModel(base, vp, eps_scale=kappa, time_offset=delta, eps_bias=bias)
    eps = (1.0 + kappa) * exact_eps(x, t + delta) + bias         # the definition
    x0 = (x - s * eps) / a
    expected = {"x0": x0, "eps": eps, "v": a * eps - s * x0, "score": -eps / s}[kind]
    np.testing.assert_allclose(model(x, t), expected, rtol=1e-10, atol=1e-12)
