"""The exact oracle stays finite and numpy/torch agree in the tails and at extreme sizes.

Points 50 standard deviations away, noise levels sigma/alpha from 1e-4 to 1e4, d and K
up to 1024 (diagonal, isotropic and delta mixtures; full covariances are bounded by
K d^2 <= 2**16, i.e. d = 256 for one component or d = 64 for 16: a full mixture with
K = d = 1024 would hold 2**30 eigenvector entries). numpy float64 is the reference;
torch float64 agrees with it to 1e-10, torch float32 is finite.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from toytheory.diffusion.laws import DeltaMixture, Gaussian, GaussianMixture
from toytheory.diffusion.process import ExactModel
from toytheory.testing.diffusion import (far_tail_points, gaussian_mixtures, mode_points,
                                         noise_levels, schedule_times, schedules)
from tests._seeds import reseed

torch = pytest.importorskip("torch")


@pytest.fixture(autouse=True)
def _one_torch_thread():
    """Tiny tensors: one intra-op thread (a shared 2-core machine stalls torch's pool)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


QUANTITIES = ("log_prob", "score", "denoise", "posterior")
SIZES = st.sampled_from([1, 2, 3, 16, 64, 1024])
LARGE = settings(max_examples=25, deadline=None,
                 suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def _points(law, alpha, sigma, seed):
    rng = np.random.default_rng(seed)
    bulk = law.sample(3, alpha, sigma, rng=rng)
    return np.vstack([far_tail_points(law, alpha, sigma, 3, rng),
                      mode_points(law, alpha, 2, rng), bulk])


def _all_outputs(law, x, alpha, sigma):
    out = {name: getattr(law, name)(x, alpha, sigma) for name in QUANTITIES}
    out["eps"] = law.predict(x, alpha, sigma, "eps")
    out["v"] = law.predict(x, alpha, sigma, "v")
    return out


def _check_law(law, noise, seed):
    alpha, sigma = noise
    x = _points(law, alpha, sigma, seed)
    ref = _all_outputs(law, x, alpha, sigma)
    for name, value in ref.items():
        assert np.all(np.isfinite(value)), f"numpy {name} is not finite"
    np.testing.assert_allclose(ref["posterior"].sum(axis=1), 1.0, atol=1e-12)
    tl = law.to_torch(dtype=torch.float64)
    got = _all_outputs(tl, torch.as_tensor(x), alpha, sigma)
    for name, value in got.items():
        r = ref[name]
        np.testing.assert_allclose(value.numpy(), r, rtol=1e-10,
                                   atol=1e-10 * max(1.0, float(np.abs(r).max())),
                                   err_msg=f"torch float64 {name} differs from numpy")
    t32 = law.to_torch(dtype=torch.float32)
    got32 = _all_outputs(t32, torch.as_tensor(x, dtype=torch.float32), alpha, sigma)
    for name, value in got32.items():
        assert bool(torch.isfinite(value).all()), f"torch float32 {name} is not finite"


@LARGE
@given(gaussian_mixtures(kind="diagonal", dim=SIZES, components=SIZES), noise_levels(),
       st.integers(0, 2**31))
def test_diagonal_mixture_is_finite_and_torch_agrees_at_extremes(law, noise, seed):
    _check_law(law, noise, seed)


@LARGE
@given(gaussian_mixtures(kind="isotropic", dim=SIZES, components=SIZES), noise_levels(),
       st.integers(0, 2**31))
def test_isotropic_mixture_is_finite_and_torch_agrees_at_extremes(law, noise, seed):
    _check_law(law, noise, seed)


@LARGE
@given(gaussian_mixtures(kind="delta", dim=SIZES, components=SIZES), noise_levels(),
       st.integers(0, 2**31))
def test_delta_mixture_is_finite_and_torch_agrees_at_extremes(law, noise, seed):
    _check_law(law, noise, seed)


@LARGE
@given(gaussian_mixtures(kind="full", dim=st.sampled_from([1, 2, 5, 16, 64]),
                         components=st.sampled_from([1, 3, 16])),
       noise_levels(), st.integers(0, 2**31))
def test_full_mixture_is_finite_and_torch_agrees_at_extremes(law, noise, seed):
    _check_law(law, noise, seed)


@settings(max_examples=30, deadline=None)
@given(gaussian_mixtures(max_dim=4, max_components=4), st.data())
def test_exact_model_is_finite_at_every_time_of_every_schedule(law, data):
    schedule = data.draw(schedules())
    t = data.draw(schedule_times(schedule, interior=False))
    alpha, sigma = schedule.marginal(t)
    if sigma == 0 and law.is_singular:
        with pytest.raises(ValueError, match="sigma: must be > 0"):
            ExactModel(law, schedule)(np.zeros((1, law.dim)), t)
        return
    if law.is_singular and float(sigma) ** 2 < np.finfo(np.float64).tiny:
        # 1/sigma^2 overflows: refused by name (suite seed 5 drew sigma = 4.8e-162: NaN)
        with pytest.raises(ValueError, match="sigma: must be >="):
            ExactModel(law, schedule)(np.zeros((1, law.dim)), t)
        return
    x = _points(law, float(alpha), max(float(sigma), 1e-300), 0)
    for kind in ("x0", "eps", "v", "score"):
        out = ExactModel(law, schedule, kind)(x, t)
        assert np.all(np.isfinite(out)), kind


def _mp_score(law, x, sigma):
    """The mixture score in 40-digit arithmetic (mpmath), for a reference."""
    import mpmath

    with mpmath.workdps(40):
        terms = []
        for k in range(law.n_components):
            cov = mpmath.matrix(law.covs[k].tolist()) + mpmath.eye(law.dim) * sigma**2
            r = mpmath.matrix([mpmath.mpf(float(x[j])) - mpmath.mpf(float(law.means[k, j]))
                               for j in range(law.dim)])
            y = cov**-1 * r
            logit = (mpmath.log(law.weights[k]) - (r.T * y)[0] / 2
                     - mpmath.log(mpmath.det(cov)) / 2)
            terms.append((logit, y))
        top = max(t[0] for t in terms)
        w = [mpmath.exp(t[0] - top) for t in terms]
        total = sum(w)
        return -np.array([float(v) for v in sum((wi / total) * t[1]
                                                  for wi, t in zip(w, terms))])


def test_precision_and_eigen_paths_are_both_accurate_near_far_away_modes():
    # One noise level for many points takes the precision path, one per point the
    # eigenvector path. 1e-4 from a mode 1e3 from the origin, the float64 input itself
    # carries a relative error eps |x| / |x - mu| ~ 2e-9 in x - mu; both routes stay
    # within 1e-8 of a 40-digit reference.
    rng = np.random.default_rng(reseed(0))
    a = rng.standard_normal((3, 4, 4))
    law = GaussianMixture([0.2, 0.3, 0.5], 1e3 * rng.standard_normal((3, 4)),
                          a @ a.transpose(0, 2, 1) + 1e-3 * np.eye(4))
    x = law.means[rng.integers(0, 3, 8)] + 1e-4 * rng.standard_normal((8, 4))
    for sigma in (1e-4, 1.0, 1e4):
        ref = np.stack([_mp_score(law, xi, sigma) for xi in x])
        shared = law.score(x, 1.0, sigma)
        per_point = law.score(x, np.ones(8), np.full(8, sigma))
        scale = np.abs(ref).max()
        assert np.abs(shared - ref).max() <= 1e-8 * scale
        assert np.abs(per_point - ref).max() <= 1e-8 * scale


def test_zero_weight_singular_component_does_not_poison_sigma_zero():
    # a component of weight 0 with a singular covariance has no density at sigma = 0;
    # it must take no part (it used to give NaN through 0 * inf)
    law = GaussianMixture.diagonal([1.0, 0.0], [[0.0, 0.0], [1.0, 1.0]],
                                   [[1.0, 2.0], [0.0, 0.0]])
    x = np.array([[0.5, -0.5], [1.0, 1.0]])
    ref = GaussianMixture.diagonal([1.0], [[0.0, 0.0]], [[1.0, 2.0]])
    np.testing.assert_allclose(law.score(x, 1.0, 0.0), ref.score(x, 1.0, 0.0), rtol=1e-14)
    np.testing.assert_allclose(law.log_prob(x, 1.0, 0.0), ref.log_prob(x, 1.0, 0.0),
                               rtol=1e-14)
    np.testing.assert_array_equal(law.posterior(x, 1.0, 0.0)[:, 1], 0.0)
    tl = law.to_torch()
    np.testing.assert_allclose(tl.posterior(torch.as_tensor(x), 1.0, 0.0).numpy(),
                               law.posterior(x, 1.0, 0.0), atol=1e-15)


def test_gaussian_of_dimension_1024_with_full_low_rank_covariance_is_finite():
    rng = np.random.default_rng(reseed(1))
    g = Gaussian.low_rank(rng.standard_normal(1024), rng.standard_normal((1024, 16)))
    for sigma in (1e-4, 1e4):
        x = far_tail_points(g, 1.0, sigma, 4, rng)
        ref = g.score(x, 1.0, sigma)
        assert np.all(np.isfinite(ref))
        got = g.to_torch().score(torch.as_tensor(x), 1.0, sigma).numpy()
        np.testing.assert_allclose(got, ref, rtol=1e-10, atol=1e-10 * np.abs(ref).max())


def test_delta_mixture_with_1024_points_in_1024_dimensions_is_finite_in_float32():
    rng = np.random.default_rng(reseed(2))
    law = DeltaMixture(10 * rng.standard_normal((1024, 1024)))
    x = far_tail_points(law, 1.0, 1e-4, 2, rng)
    tl = law.to_torch(dtype=torch.float32)
    for name in QUANTITIES:
        assert bool(torch.isfinite(getattr(tl, name)(torch.as_tensor(x, dtype=torch.float32),
                                                     1.0, 1e-4)).all())
