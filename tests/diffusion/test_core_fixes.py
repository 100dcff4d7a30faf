"""Regression tests for the fixes made to the diffusion core during issue 3."""

from __future__ import annotations

import numpy as np
import pytest

from toytheory.diffusion.gaussian_flow import gaussian_pf_ode_solution
from toytheory.diffusion.laws import Gaussian, GaussianMixture
from toytheory.diffusion.schedules import DiscreteVP
from tests._seeds import reseed

torch = pytest.importorskip("torch")


def _full_mixture(seed=reseed(0), k=3, d=4):
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((k, d, d))
    return GaussianMixture(rng.dirichlet(np.ones(k)), rng.standard_normal((k, d)),
                           a @ a.transpose(0, 2, 1) + 0.1 * np.eye(d))


def test_diagonal_covariance_equals_the_dense_formula():
    rng = np.random.default_rng(reseed(1))
    w, mu, v = rng.dirichlet(np.ones(4)), rng.standard_normal((4, 3)), rng.random((4, 3))
    law = GaussianMixture.diagonal(w, mu, v)
    dense = GaussianMixture(w, mu, np.stack([np.diag(r) for r in v]))
    np.testing.assert_allclose(law.covariance(), dense.covariance(), rtol=1e-13, atol=1e-15)
    # K = d = 1024 no longer forms K d x d matrices (8 GB): this returns at once
    big = GaussianMixture.diagonal(np.full(1024, 1 / 1024), np.zeros((1024, 1024)),
                                   np.ones((1024, 1024)))
    np.testing.assert_allclose(np.diag(big.covariance()), 1.0)


def test_full_covariance_sampling_rotates_each_point_by_its_component():
    law = _full_mixture()
    x, labels = law.sample_data(500, rng=reseed(3), return_labels=True)
    gen = np.random.default_rng(reseed(3))
    lab = gen.choice(3, size=500, p=law.weights)
    z = gen.standard_normal((500, 4)) * np.sqrt(law.eigvals[lab])
    ref = law.means[lab] + np.einsum("nij,nj->ni", law.eigvecs[lab], z)
    np.testing.assert_array_equal(labels, lab)
    np.testing.assert_allclose(x, ref, rtol=1e-12, atol=1e-12)


def test_one_noise_level_and_one_per_point_take_different_paths_but_agree():
    law = _full_mixture(4)
    x = law.sample(40, 0.8, 0.6, rng=reseed(5))
    for name in ("log_prob", "score", "denoise", "posterior"):
        shared = getattr(law, name)(x, 0.8, 0.6)
        per_point = getattr(law, name)(x, np.full(40, 0.8), np.full(40, 0.6))
        np.testing.assert_allclose(shared, per_point, rtol=1e-11, atol=1e-12)


def test_torch_autograd_through_many_chunks_is_the_score():
    # chunks are split with torch.split: slicing made every chunk's backward materialise a
    # zero gradient of the full size (quadratic in the number of chunks)
    law = _full_mixture(6)
    tl = law.to_torch(chunk_elements=4 * law.n_components * law.dim)  # 4 points a chunk
    x = torch.as_tensor(law.sample(64, 1.0, 0.5, rng=reseed(7)), dtype=torch.float64)
    xg = x.clone().requires_grad_(True)
    tl.log_prob(xg, 1.0, 0.5).sum().backward()
    np.testing.assert_allclose(xg.grad.numpy(), law.score(x.numpy(), 1.0, 0.5), rtol=1e-10,
                               atol=1e-12)


def test_zero_points_give_empty_outputs():
    law = _full_mixture()
    assert law.score(np.zeros((0, 4)), 1.0, 0.5).shape == (0, 4)
    assert law.to_torch().log_prob(torch.zeros((0, 4), dtype=torch.float64), 1.0,
                                   0.5).shape == (0,)


def test_torch_rk4_on_the_discrete_ddpm_schedule_is_accurate_across_its_kinks():
    # the DDPM table is interpolated linearly between integer times, so f and g^2 jump
    # there; the simulator takes each step's end-point coefficients from inside the step
    from sims.diffusion_torch import pf_ode_rk4

    sch = DiscreteVP.ddpm_linear()
    g = Gaussian([0.5, -0.5], [[1.0, 0.3], [0.3, 0.4]])
    s, t = 600.0, 590.0
    grid = np.linspace(s, t, 201)  # includes every integer knot
    x = g.sample(4, *(float(v) for v in sch.marginal(s)), rng=reseed(8))
    tl = g.to_torch()

    def score(y, u):
        a, sig = sch.marginal(u)
        return tl.score(y, float(a), float(sig))

    out = pf_ode_rk4(score, sch, torch.as_tensor(x), grid).numpy()
    exact = gaussian_pf_ode_solution(x, g, sch, s, t)
    assert np.abs(out - exact).max() <= 1e-8 * max(1.0, np.abs(exact).max())
