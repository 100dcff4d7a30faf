"""Core of the exact diffusion oracle: schedules, mixture laws, torch agreement,
closed-form Gaussian flow, affine sampler laws."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy.integrate import solve_ivp

from toytheory.diffusion.affine import affine_map_of, gaussian_pushforward
from toytheory.diffusion.gaussian_flow import gaussian_flow_map, gaussian_pf_ode_solution
from toytheory.diffusion.laws import DeltaMixture, Gaussian, GaussianMixture
from toytheory.diffusion.process import DiffusionProcess, ExactModel
from toytheory.diffusion.schedules import (EDM, VE, DiscreteVP, VPCosine, VPLinear,
                                           karras_sigmas)
from toytheory.testing import probability_vectors, spd_matrices
from tests._seeds import reseed

SCHEDULES = [VPLinear(), VPCosine(), DiscreteVP.ddpm_linear(), DiscreteVP.scaled_linear(),
             VE(), EDM()]
IDS = [repr(s) for s in SCHEDULES]


def _mixture(seed, k=3, d=2, full=True):
    rng = np.random.default_rng(seed)
    w = rng.dirichlet(np.ones(k))
    mu = 2 * rng.standard_normal((k, d))
    if full:
        a = rng.standard_normal((k, d, d))
        return GaussianMixture(w, mu, a @ a.transpose(0, 2, 1) + 0.05 * np.eye(d))
    return GaussianMixture.diagonal(w, mu, rng.uniform(0.05, 2.0, (k, d)))


# ----------------------------------------------------------------------------- schedules

@pytest.mark.parametrize("schedule", SCHEDULES, ids=IDS)
@given(u=st.floats(0.0, 1.0))
def test_log_snr_inverse_round_trips(schedule, u):
    t = schedule.t_min + u * (schedule.t_max - schedule.t_min)
    if t == schedule.t_min and schedule.variance_preserving and schedule.t_min == 0.0 \
            and not isinstance(schedule, DiscreteVP):
        t = 1e-6 * schedule.t_max  # lambda(0) = +inf for continuous VP
    lam = schedule.log_snr(t)
    if np.isfinite(lam):
        assert schedule.t_from_log_snr(lam) == pytest.approx(t, abs=1e-9 * max(1, t))


@pytest.mark.parametrize("schedule", SCHEDULES, ids=IDS)
def test_log_snr_is_strictly_decreasing(schedule):
    t = np.linspace(schedule.t_min, schedule.t_max, 2001)[1:]
    assert np.all(np.diff(schedule.log_snr(t)) < 0)


@pytest.mark.parametrize("schedule", [s for s in SCHEDULES if s.variance_preserving], ids=repr)
def test_vp_schedules_preserve_variance(schedule):
    t = np.linspace(schedule.t_min, schedule.t_max, 501)
    a, s = schedule.marginal(t)
    np.testing.assert_allclose(a**2 + s**2, 1.0, atol=1e-14)


def test_discrete_schedule_matches_alphas_cumprod_at_integer_steps():
    sch = DiscreteVP.ddpm_linear()
    n = np.arange(1000)
    np.testing.assert_allclose(sch.alpha(n) ** 2, np.cumprod(1 - np.linspace(1e-4, 0.02, 1000)),
                               rtol=1e-12)


def test_discrete_schedule_matches_diffusers_sigma_interpolation():
    diffusers = pytest.importorskip("diffusers")
    sched = diffusers.EulerDiscreteScheduler(beta_schedule="scaled_linear",
                                             beta_start=0.00085, beta_end=0.012)
    sched.set_timesteps(17)
    ours = DiscreteVP.scaled_linear()
    t = sched.timesteps.numpy().astype(float)
    theirs = sched.sigmas.numpy()[:-1].astype(float)
    # diffusers builds betas and alphas_cumprod in float32: 1.3e-5 relative at the
    # smallest sigma. The time convention matters far more: DPM-Solver's 1-based
    # convention (index + 1) is off by more than 1e-3, so the tolerance discriminates.
    np.testing.assert_allclose(ours.sigma_ve(t), theirs, rtol=3e-5)
    shifted = ours.sigma_ve(np.minimum(t + 1, 999))
    assert np.max(np.abs(shifted / theirs - 1)) > 1e-3


@pytest.mark.parametrize("schedule", SCHEDULES, ids=IDS)
def test_sde_coefficients_match_finite_differences(schedule):
    t = np.linspace(schedule.t_min, schedule.t_max, 9)[2:-1] + 1e-3 * schedule.t_max
    h = 1e-6 * schedule.t_max
    la = lambda u: np.log(schedule.alpha(u))  # noqa: E731
    f_fd = (la(t + h) - la(t - h)) / (2 * h)
    np.testing.assert_allclose(schedule.drift(t), f_fd, rtol=1e-5, atol=1e-7)
    s2 = lambda u: schedule.sigma(u) ** 2  # noqa: E731
    g2_fd = (s2(t + h) - s2(t - h)) / (2 * h) - 2 * f_fd * s2(t)
    np.testing.assert_allclose(schedule.diffusion_sq(t), g2_fd, rtol=1e-5, atol=1e-7)


def test_time_outside_the_schedule_is_refused():
    with pytest.raises(ValueError, match=r"t: must lie in \[0, 1\]"):
        VPLinear().alpha(1.5)
    with pytest.raises(ValueError, match="t: must contain only finite values"):
        EDM().sigma(np.nan)


def test_karras_grid_matches_the_edm_formula():
    sig = karras_sigmas(5, 0.002, 80.0, 7.0)
    ramp = np.linspace(0, 1, 5)
    expected = (80 ** (1 / 7) + ramp * (0.002 ** (1 / 7) - 80 ** (1 / 7))) ** 7
    np.testing.assert_allclose(sig[:-1], expected, rtol=1e-12)
    assert sig[-1] == 0.0 and np.all(np.diff(sig) < 0)


# ----------------------------------------------------------------------------- laws

@pytest.mark.parametrize("full", [True, False])
def test_score_is_the_gradient_of_the_log_density(full):
    law = _mixture(1, full=full)
    x = np.random.default_rng(reseed(2)).standard_normal((6, 2)) * 3
    a, s = 0.8, 0.6
    h = 1e-6
    fd = np.stack([(law.log_prob(x + h * e, a, s) - law.log_prob(x - h * e, a, s)) / (2 * h)
                   for e in np.eye(2)], axis=1)
    np.testing.assert_allclose(law.score(x, a, s), fd, atol=1e-7, rtol=1e-6)


def test_log_density_integrates_to_one_in_one_dimension():
    law = GaussianMixture([0.3, 0.7], [[-1.0], [2.0]], [[[0.2]], [[0.5]]])
    grid = np.linspace(-15, 15, 200001)[:, None]
    mass = np.trapezoid(np.exp(law.log_prob(grid, 0.9, 0.4)), grid[:, 0])
    assert mass == pytest.approx(1.0, abs=1e-9)


def test_denoiser_is_tweedies_formula():
    law = _mixture(3)
    x = np.random.default_rng(reseed(4)).standard_normal((7, 2))
    a, s = 0.6, 0.8
    np.testing.assert_allclose(law.denoise(x, a, s), (x + s**2 * law.score(x, a, s)) / a,
                               atol=1e-12)


def test_predictions_are_consistent():
    law = _mixture(5)
    x = np.random.default_rng(reseed(6)).standard_normal((4, 2))
    a, s = 0.8, 0.6
    x0 = law.predict(x, a, s, "x0")
    eps = law.predict(x, a, s, "eps")
    v = law.predict(x, a, s, "v")
    np.testing.assert_allclose(a * x0 + s * eps, x, atol=1e-12)
    np.testing.assert_allclose(v, a * eps - s * x0, atol=1e-12)


def test_delta_mixture_score_is_the_softmax_formula():
    pts = np.array([[0.0, 0.0], [1.0, 2.0], [-3.0, 1.0]])
    law = DeltaMixture(pts)
    x = np.array([[0.5, 0.5], [10.0, -4.0]])
    a, s = 0.9, 0.3
    logits = -np.sum((x[:, None, :] - a * pts[None]) ** 2, axis=-1) / (2 * s**2)
    w = np.exp(logits - logits.max(1, keepdims=True))
    w /= w.sum(1, keepdims=True)
    np.testing.assert_allclose(law.score(x, a, s), (a * w @ pts - x) / s**2, rtol=1e-12)


def test_low_rank_gaussian_has_exact_zero_eigenvalues_and_refuses_sigma_zero():
    g = Gaussian.low_rank(np.zeros(3), np.array([[1.0], [2.0], [0.0]]))
    lam, _ = g.spectrum
    assert np.sum(lam == 0) == 2
    with pytest.raises(ValueError, match="sigma: must be > 0"):
        g.score(np.zeros(3), 1.0, 0.0)


@given(spd_matrices(3, condition=(1, 1e4)), probability_vectors(2, min_prob=0.05))
def test_torch_float64_agrees_with_numpy(cov, w):
    torch = pytest.importorskip("torch")
    law = GaussianMixture(w, np.array([[0.0, 1.0, -1.0], [2.0, 0.0, 0.5]]), np.stack([cov, cov]))
    x = np.random.default_rng(reseed(0)).standard_normal((9, 3)) * 4
    tl = law.to_torch()
    xt = torch.tensor(x)
    for name in ("log_prob", "score", "denoise", "posterior"):
        ref = getattr(law, name)(x, 0.7, 0.3)
        got = getattr(tl, name)(xt, 0.7, 0.3).numpy()
        np.testing.assert_allclose(got, ref, rtol=1e-10, atol=1e-10 * max(1, np.abs(ref).max()))


def test_torch_score_equals_autograd_of_torch_log_density(torch_device):
    torch = pytest.importorskip("torch")
    law = _mixture(7, k=4, d=3)
    tl = law.to_torch(device=torch_device)
    x = torch.randn(11, 3, dtype=torch.float64, device=torch_device, requires_grad=True)
    tl.log_prob(x, 0.5, 0.9).sum().backward()
    torch.testing.assert_close(tl.score(x.detach(), 0.5, 0.9), x.grad, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("bad, match", [
    (dict(weights=[0.5, 0.6]), "weights: must sum to one"),
    (dict(weights=[1.5, -0.5]), "weights: must be non-negative"),
    (dict(covs=np.stack([np.eye(2), -np.eye(2)])), "covs: must be positive semi-definite"),
    (dict(covs=np.stack([np.eye(2), [[1.0, 1.0], [0.0, 1.0]]])), "covs: must be symmetric"),
    (dict(means=np.zeros((3, 2))), "means: must have 2 rows"),
])
def test_bad_mixture_parameters_name_the_argument(bad, match):
    args = dict(weights=[0.5, 0.5], means=np.zeros((2, 2)), covs=np.stack([np.eye(2)] * 2))
    args.update(bad)
    with pytest.raises(ValueError, match=match):
        GaussianMixture(**args)


def test_nan_points_and_bad_noise_levels_are_refused():
    law = _mixture(8)
    with pytest.raises(ValueError, match="x: must contain only finite values"):
        law.score(np.array([[np.nan, 0.0]]), 1.0, 0.5)
    with pytest.raises(ValueError, match="x: must have 2 columns"):
        law.score(np.zeros((2, 3)), 1.0, 0.5)
    with pytest.raises(ValueError, match="alpha: must be > 0"):
        law.score(np.zeros((1, 2)), 0.0, 0.5)
    with pytest.raises(ValueError, match="sigma: must be >= 0"):
        law.score(np.zeros((1, 2)), 1.0, -0.5)
    with pytest.raises(ValueError, match="kind: must be one of"):
        law.predict(np.zeros((1, 2)), 1.0, 0.5, "noise")


@pytest.mark.parametrize("d", [1, 2, 4, 5, 9])
def test_precision_path_equals_the_eigenvector_path(d):
    """One noise level for all points takes the stacked-precision path (coordinate by
    coordinate up to d = 4, einsum above); per-point levels take the eigenvector path:
    two algorithms, one answer."""
    law = _mixture(20 + d, k=4, d=d)
    x = np.random.default_rng(d).standard_normal((3 * d + 5, d)) * 2
    a, s = 0.7, 0.5
    n = x.shape[0]
    for name in ("log_prob", "score", "denoise", "posterior"):
        scalar = getattr(law, name)(x, a, s)
        per_point = getattr(law, name)(x, np.full(n, a), np.full(n, s))
        np.testing.assert_allclose(scalar, per_point, rtol=1e-11,
                                   atol=1e-11 * max(1.0, np.abs(per_point).max()))


def test_per_point_noise_levels_match_scalar_evaluation():
    law = _mixture(9)
    x = np.random.default_rng(reseed(1)).standard_normal((3, 2))
    a = np.array([0.9, 0.5, 0.2])
    s = np.sqrt(1 - a**2)
    batched = law.score(x, a, s)
    single = np.stack([law.score(x[i], a[i], s[i]) for i in range(3)])
    np.testing.assert_allclose(batched, single, rtol=1e-13)


MARGINAL_GAUSSIAN = Gaussian([1.0, -2.0], [[2.0, 0.6], [0.6, 0.5]])
MARGINAL_N = 400_000


def _ks_against_marginal_moments(x, g, alpha, sigma, level=1e-6):
    """KS of ``x`` against N(alpha mu, alpha^2 Sigma + sigma^2 I) along two directions, a
    fixed one and the data covariance's least-variance eigenvector (where sigma weighs
    most), Bonferroni at ``level``."""
    from scipy import stats as sps

    from toytheory import stats

    m, c = g.marginal_moments(alpha, sigma)
    directions = [np.array([0.6, 0.8]), np.linalg.eigh(g.cov)[1][:, 0]]
    results = [stats.ks_1samp(x @ u, sps.norm(u @ m, np.sqrt(u @ c @ u)).cdf, level)
               for u in directions]
    return stats.bonferroni(results, level)


def test_marginal_sampling_matches_the_exact_marginal_moments():
    x = MARGINAL_GAUSSIAN.sample(MARGINAL_N, 0.6, 0.8, rng=reseed(3))
    assert not _ks_against_marginal_moments(x, MARGINAL_GAUSSIAN, 0.6, 0.8).reject


def test_marginal_sampling_check_rejects_a_sampler_with_sigma_5_percent_too_large():
    """Power: along the least-variance direction the KS distance is 0.0102 against a
    critical value 0.0044 (level 0.5e-6, n = 400,000); a miss needs sup|F_n - F| > 0.0058,
    probability <= 2 exp(-2 n 0.0058^2) = 2.4e-12 by the DKW bound."""
    # planted bug: the sampler adds 1.05 sigma of noise. Along the least-variance
    # direction the standard deviation is 4.3% too large, a KS distance of about
    # 0.043 * max_x x phi(x) = 0.010 against a critical value of 0.0044 at level 1e-6
    # (Bonferroni over the two directions) with 400,000 draws; 20,000 draws (critical
    # value 0.019) would not see it.
    x = MARGINAL_GAUSSIAN.sample(MARGINAL_N, 0.6, 1.05 * 0.8, rng=reseed(3))
    assert _ks_against_marginal_moments(x, MARGINAL_GAUSSIAN, 0.6, 0.8).reject


# ----------------------------------------------------------------------------- flows

@pytest.mark.parametrize("schedule", SCHEDULES, ids=IDS)
def test_closed_form_gaussian_flow_solves_the_pf_ode(schedule):
    rng = np.random.default_rng(reseed(10))
    a = rng.standard_normal((3, 3))
    g = Gaussian(rng.standard_normal(3), a @ a.T + 0.01 * np.eye(3))
    proc = DiffusionProcess(g, schedule)
    if isinstance(schedule, DiscreteVP):
        # the interpolated schedule is smooth between integer steps: integrate segment
        # by segment across a few kinks
        s, t = 600.3, 595.6
        knots = [s, *range(600, 595, -1), t]
    else:
        s, t = 0.9 * schedule.t_max, 0.2 * schedule.t_max
        knots = [s, t]
    x = x_s = proc.sample(1, s, rng=reseed(11))[0]
    for u0, u1 in zip(knots[:-1], knots[1:]):
        sol = solve_ivp(lambda u, y: proc.pf_ode_velocity(y[None], u)[0], (u0, u1), x,
                        method="DOP853", rtol=1e-12, atol=1e-12)
        x = sol.y[:, -1]
    np.testing.assert_allclose(x, gaussian_pf_ode_solution(x_s, g, schedule, s, t),
                               rtol=1e-8, atol=1e-8)


def test_gaussian_flow_pushes_the_marginal_at_s_to_the_marginal_at_t():
    g = Gaussian.low_rank(np.array([1.0, 0.0, -1.0]), np.array([[1.0, 0.2], [0.5, 1.0],
                                                                [0.0, 0.3]]))
    sch = VPCosine()
    m, c = gaussian_flow_map(g, sch, 0.8, 0.1)
    ms, cs = g.marginal_moments(*sch.marginal(0.8))
    mt, ct = g.marginal_moments(*sch.marginal(0.1))
    np.testing.assert_allclose(m @ ms + c, mt, atol=1e-12)
    np.testing.assert_allclose(m @ cs @ m.T, ct, atol=1e-12)


def test_affine_map_recovers_a_linear_sampler_and_its_gaussian_law():
    rng = np.random.default_rng(reseed(12))
    m_true, n_true, c_true = rng.standard_normal((3, 3)), rng.standard_normal((3, 2)), \
        rng.standard_normal(3)
    aff = affine_map_of(lambda x, z: x @ m_true.T + z @ n_true.T + c_true, 3, noise_dim=2)
    np.testing.assert_allclose(aff.matrix, m_true, atol=1e-12)
    np.testing.assert_allclose(aff.noise_matrix, n_true, atol=1e-12)
    mean, cov = gaussian_pushforward(aff, np.ones(3), np.eye(3))
    np.testing.assert_allclose(mean, m_true @ np.ones(3) + c_true, atol=1e-12)
    np.testing.assert_allclose(cov, m_true @ m_true.T + n_true @ n_true.T, atol=1e-12)


def test_affine_map_refuses_a_nonlinear_sampler():
    with pytest.raises(ValueError, match="fn: is not affine"):
        affine_map_of(lambda x: np.tanh(x), 2)


def test_ddim_with_the_exact_model_converges_at_first_order_to_the_exact_marginal():
    # DDIM on Gaussian data is affine; its exact output law started from the exact
    # marginal at t = 1 approaches the exact marginal at t = 1e-3 with error O(1/N)
    g = Gaussian([0.5, -0.5], [[1.0, 0.3], [0.3, 0.4]])
    sch = VPLinear()
    model = ExactModel(g, sch, "x0")
    m_start, c_start = g.marginal_moments(*sch.marginal(1.0))
    m_end, c_end = g.marginal_moments(*sch.marginal(1e-3))
    errors = []
    for steps in (200, 800):
        ts = np.linspace(1.0, 1e-3, steps + 1)

        def ddim(x):
            for t_cur, t_next in zip(ts[:-1], ts[1:]):
                a_c, s_c = sch.marginal(t_cur)
                a_n, s_n = sch.marginal(t_next)
                x0 = model(x, t_cur)
                x = a_n * x0 + s_n * (x - a_c * x0) / s_c
            return x

        mean, cov = gaussian_pushforward(affine_map_of(ddim, 2), m_start, c_start)
        errors.append(max(np.abs(mean - m_end).max(), np.abs(cov - c_end).max()))
    assert errors[1] < 1e-2
    assert 3.0 < errors[0] / errors[1] < 5.0  # first order: 4x smaller for 4x the steps
