"""Manifold laws: exact scores and Jacobians, normalisation, samples on the manifold."""

from __future__ import annotations

import numpy as np
import pytest

from toytheory.diffusion.laws import DeltaMixture
from toytheory.gauge.manifolds import FlatTorus, LinearSubspace, Sphere, SwissRoll
from tests._seeds import reseed

CASES = [Sphere(2, 5, rng=reseed(1)), Sphere(4, 7, radius=2.0, rng=reseed(2)), FlatTorus(2, 6, rng=reseed(3)),
         SwissRoll(4, n_spiral=400, rng=reseed(4)), LinearSubspace(3, 6, rng=reseed(5))]


@pytest.mark.parametrize("m", CASES, ids=lambda m: repr(m))
@pytest.mark.parametrize("noise", [(0.9, 0.05), (0.3, 0.95), (1.0, 1e-3)])
def test_score_and_jacobian_are_derivatives_of_the_log_density(m, noise):
    a, s = noise
    x = m.sample(5, a, s, np.random.default_rng(reseed(0)))
    eps = 1e-4 * s            # log p_t involves terms of size |x|^2 / sigma^2 that cancel
    fd = np.stack([(m.log_prob(x + eps * e, a, s) - m.log_prob(x - eps * e, a, s)) / (2 * eps)
                   for e in np.eye(m.dim)], axis=1)
    sc = m.score(x, a, s)
    assert np.max(np.abs(sc - fd)) < 1e-5 * np.max(np.abs(sc))
    jac = m.score_jacobian(x, a, s)
    eps = 1e-5 * s
    fdj = np.stack([(m.score(x + eps * e, a, s) - m.score(x - eps * e, a, s)) / (2 * eps)
                    for e in np.eye(m.dim)], axis=2)
    assert np.max(np.abs(jac - fdj)) < 1e-5 * np.max(np.abs(jac))
    np.testing.assert_allclose(jac, np.swapaxes(jac, 1, 2), atol=1e-9 * np.max(np.abs(jac)))
    s2, j2 = m.score_and_jacobian(x, a, s)
    np.testing.assert_allclose(s2, sc, rtol=1e-13)


def test_circle_closed_form_equals_the_equally_spaced_delta_mixture():
    circle = Sphere(1, 2, embedding=np.eye(2))
    th = np.linspace(0, 2 * np.pi, 3000, endpoint=False)
    ring = DeltaMixture(np.stack([np.cos(th), np.sin(th)], axis=1))
    x = circle.sample(30, 0.8, 0.25, np.random.default_rng(reseed(1)))
    np.testing.assert_allclose(circle.log_prob(x, 0.8, 0.25), ring.log_prob(x, 0.8, 0.25),
                               atol=1e-10)
    np.testing.assert_allclose(circle.score(x, 0.8, 0.25), ring.score(x, 0.8, 0.25), atol=1e-8)


def test_two_sphere_density_integrates_to_one_and_small_kappa_is_continuous():
    sphere = Sphere(2, 3, embedding=np.eye(3))
    g = np.linspace(-2.5, 2.5, 121)
    xx = np.stack(np.meshgrid(g, g, g, indexing="ij"), -1).reshape(-1, 3)
    mass = np.exp(sphere.log_prob(xx, 0.7, 0.4)).sum() * (g[1] - g[0]) ** 3
    assert abs(mass - 1.0) < 1e-4
    # across the series/Bessel switch at kappa = 1e-4 (|y| = 1e-4 sigma^2 / (alpha R))
    r = np.array([0.9e-4, 1.1e-4]) * 0.16 / 0.7
    pts = np.stack([r, np.zeros(2), np.zeros(2)], axis=1)
    lp = sphere.log_prob(pts, 0.7, 0.4)
    assert abs(lp[0] - lp[1]) < 1e-9


@pytest.mark.parametrize("m", CASES, ids=lambda m: repr(m))
def test_samples_lie_on_the_manifold_and_the_embedding_is_an_isometry(m):
    y = m.sample_data(50, np.random.default_rng(reseed(2))) @ m.embedding
    assert np.allclose(y[:, m.native_dim:], 0.0, atol=1e-12)
    np.testing.assert_allclose(m.embedding.T @ m.embedding, np.eye(m.dim), atol=1e-12)
    if isinstance(m, Sphere):
        np.testing.assert_allclose(np.linalg.norm(y, axis=1), m.radius, rtol=1e-12)
    if isinstance(m, FlatTorus):
        np.testing.assert_allclose(np.hypot(y[:, 0::2], y[:, 1::2])[:, :m.intrinsic_dim],
                                   m.radius, rtol=1e-12)


@pytest.mark.parametrize("make, name", [
    (lambda: LinearSubspace(3, 3), "k"),
    (lambda: Sphere(3, 3), "D"),
    (lambda: FlatTorus(2, 3), "D"),
    (lambda: SwissRoll(2), "D"),
    (lambda: Sphere(1, 2, embedding=np.ones((2, 2))), "embedding"),
    (lambda: Sphere(1, 2, radius=-1.0), "radius"),
    (lambda: SwissRoll(3, n_spiral=1), "n_spiral"),
])
def test_bad_manifolds_are_refused_naming_the_argument(make, name):
    with pytest.raises(ValueError, match=name):
        make()


def test_manifold_evaluation_refuses_bad_input():
    m = Sphere(1, 3, rng=reseed(0))
    with pytest.raises(ValueError, match="sigma"):
        m.score(np.zeros((2, 3)), 1.0, 0.0)
    with pytest.raises(ValueError, match="x"):
        m.score(np.full((2, 3), np.inf), 1.0, 0.1)
    with pytest.raises(ValueError, match="x"):
        m.score(np.zeros((2, 4)), 1.0, 0.1)
