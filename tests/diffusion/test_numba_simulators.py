"""The Numba simulators (sims/diffusion_numba.py) against the exact oracle, with planted bugs."""

from __future__ import annotations

import numpy as np
import pytest

from toytheory.diffusion.figures_exact import field_law
from toytheory.diffusion.gaussian_flow import gaussian_pf_ode_solution
from toytheory.diffusion.laws import Gaussian, GaussianMixture
from toytheory.diffusion.marginal_tests import projection_ks_test
from toytheory.diffusion.schedules import EDM, VPCosine, VPLinear
from toytheory.diffusion.toys import two_mode_1d
from tests._seeds import reseed

dn = pytest.importorskip("sims.diffusion_numba")
LEVEL = 1e-6
SCHEDULE = VPLinear()


class WrongDriftSign:
    """A schedule whose drift f(t) has the wrong sign (a planted simulator bug)."""

    def __init__(self, base):
        self.base = base

    def __getattr__(self, name):
        return getattr(self.base, name)

    def drift(self, t):
        return -self.base.drift(t)


def _start(law, n, seed=reseed(0)):
    return law.sample(n, *(float(v) for v in SCHEDULE.marginal(1.0)), rng=seed)


def _ks(out, law, t):
    a, s = (float(v) for v in SCHEDULE.marginal(t))
    return projection_ks_test(out, law, a, s, LEVEL, rng=reseed(1))


def _kernel_score(law, x, alpha, sigma, one_dim_path):
    w, means, covs = dn.mixture_parameters(law)
    minv, shift, base = dn._stage_constants(np.log(w), means, covs, np.array([alpha]),
                                            np.array([sigma]))
    return dn._score_points(np.ascontiguousarray(x, dtype=float), minv, shift, base, 0,
                            one_dim_path)


def _one_d_laws():
    return {"two modes": two_mode_1d(),
            "4 unequal components": GaussianMixture.isotropic(
                [0.1, 0.2, 0.3, 0.4], [[-3.0], [-0.5], [0.2], [4.0]], [0.01, 1.0, 0.3, 2.5])}


def _far_and_typical_points(law, alpha, sigma, n=300, seed=reseed(0)):
    """Points from p_t, 50 marginal standard deviations out, and the origin."""
    typical = law.sample(n, alpha, sigma, rng=seed)
    spread = np.sqrt(alpha**2 * np.max(np.linalg.eigvalsh(law.covs)) + sigma**2)
    far = 50 * spread * np.eye(law.dim)
    return np.vstack([typical, far, -far, np.zeros((1, law.dim))])


NOISE_LEVELS = [(0.999, 0.045), (0.6, 0.8), (0.05, 0.9987)]


@pytest.mark.parametrize("alpha, sigma", NOISE_LEVELS)
@pytest.mark.parametrize("name", ["two modes", "4 unequal components", "2-D field law",
                                  "3-D full covariances"])
def test_kernel_score_equals_the_exact_oracle_score(name, alpha, sigma):
    laws = {**_one_d_laws(), "2-D field law": field_law(),
            "3-D full covariances": GaussianMixture(
                [0.25, 0.75], [[1.0, -1.0, 0.5], [-2.0, 0.0, 1.0]],
                [[[1.0, 0.5, 0.0], [0.5, 0.4, 0.1], [0.0, 0.1, 0.2]], 0.3 * np.eye(3)])}
    law = laws[name]
    x = _far_and_typical_points(law, alpha, sigma)
    exact = law.score(x, alpha, sigma)
    unit = 1 / np.sqrt(alpha**2 * np.max(np.linalg.eigvalsh(law.covs)) + sigma**2)
    scale = np.abs(exact).max(axis=1, keepdims=True) + unit   # the origin's score is 0
    got = _kernel_score(law, x, alpha, sigma, one_dim_path=False)
    assert np.all(np.abs(got - exact) <= 1e-12 * scale)
    if law.dim == 1:   # the fused one-dimensional path agrees with the general one
        fused = _kernel_score(law, x, alpha, sigma, one_dim_path=True)
        assert np.all(np.abs(fused - got) <= 1e-13 * scale)


def test_kernel_score_check_catches_wrong_component_log_weights():
    """Power: deterministic (fixed points, exact oracle): the planted 0.7 k moves the score
    by more than 1e-3 of its scale, 1e9 times the 1e-12 tolerance of the unplanted check."""
    # planted: log pi_k off by 0.7 k in the per-time constants
    law = _one_d_laws()["4 unequal components"]
    x = _far_and_typical_points(law, 0.6, 0.8)
    w, means, covs = dn.mixture_parameters(law)
    minv, shift, base = dn._stage_constants(np.log(w), means, covs, np.array([0.6]),
                                            np.array([0.8]))
    wrong = dn._score_points(x, minv, shift, base + 0.7 * np.arange(4), 0, False)
    exact = law.score(x, 0.6, 0.8)
    assert np.max(np.abs(wrong - exact)) > 1e-3 * np.abs(exact).max()


def _numpy_euler_maruyama(law, schedule, x, grid, normals):
    """Euler-Maruyama written out with the exact oracle score and the given normals
    (steps, n, d); the coefficients f, g^2 are taken 1e-9 of a step inside it."""
    x = x.copy()
    for j, (t0, t1) in enumerate(zip(grid[:-1], grid[1:])):
        a, s = (float(v) for v in schedule.marginal(t0))
        inside = t0 + 1e-9 * (t1 - t0)
        f, g2 = float(schedule.drift(inside)), float(schedule.diffusion_sq(inside))
        dt = t0 - t1
        x = (1 - f * dt) * x + g2 * dt * law.score(x, a, s) + np.sqrt(g2 * dt) * normals[j]
    return x


@pytest.mark.parametrize("law", [two_mode_1d(), field_law()], ids=["1d", "2d"])
def test_reverse_sde_is_euler_maruyama_driven_by_the_paths_standard_normals(law):
    """Power (the planted row shift): deterministic given the paths' normals: 80 steps of
    independent O(1) noise moved to another path leave the states O(0.1-1) apart, 10x above
    the 1e-2 it must exceed, and the unshifted run agrees to 1e-9."""
    # coupling: 37 paths (a partial block) over 80 steps (across noise refills), row i of
    # standard_normals(seed) is path i's noise, step j coordinate k its entry j d + k
    n, steps, seed = 37, 80, 5
    grid = np.linspace(1.0, 0.3, steps + 1)
    x0 = _start(law, n)
    z = dn.standard_normals(n, steps * law.dim, seed).reshape(n, steps, law.dim)
    got = dn.reverse_sde_euler_maruyama(law, SCHEDULE, x0, grid, seed=seed)
    ref = _numpy_euler_maruyama(law, SCHEDULE, x0, grid, z.transpose(1, 0, 2))
    np.testing.assert_allclose(got, ref, rtol=1e-9, atol=1e-9)
    # the first paths alone are those of the batch, bit for bit
    np.testing.assert_array_equal(
        dn.reverse_sde_euler_maruyama(law, SCHEDULE, x0[:5], grid, seed=seed), got[:5])
    # planted: the noise of the next path (rows shifted by one) is far from the kernel's
    shifted = _numpy_euler_maruyama(law, SCHEDULE, x0, grid,
                                    np.roll(z, 1, axis=0).transpose(1, 0, 2))
    assert np.abs(shifted - got).max() > 1e-2


def test_reverse_sde_paths_do_not_depend_on_the_number_of_threads():
    import numba

    law = field_law()
    x = _start(law, 64)
    grid = np.linspace(1.0, 0.5, 51)
    before = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        one = dn.reverse_sde_euler_maruyama(law, SCHEDULE, x, grid, seed=reseed(3))
        numba.set_num_threads(max(1, numba.config.NUMBA_NUM_THREADS))
        many = dn.reverse_sde_euler_maruyama(law, SCHEDULE, x, grid, seed=reseed(3))
    finally:
        numba.set_num_threads(before)
    np.testing.assert_array_equal(one, many)


@pytest.mark.parametrize("law", [two_mode_1d(), field_law()], ids=["1d", "2d"])
def test_reverse_sde_samples_follow_the_exact_marginal(law):
    out = dn.reverse_sde_euler_maruyama(law, SCHEDULE, _start(law, 5000),
                                        np.linspace(1.0, 0.05, 1001), seed=reseed(11))
    assert not _ks(out, law, 0.05).reject


@pytest.mark.parametrize("law", [two_mode_1d(), field_law()], ids=["1d", "2d"])
def test_pf_ode_samples_follow_the_exact_marginal(law):
    out = dn.pf_ode_rk4(law, SCHEDULE, _start(law, 5000), np.linspace(1.0, 0.05, 201))
    assert not _ks(out, law, 0.05).reject


def test_marginal_check_catches_a_reverse_sde_with_the_wrong_drift_sign():
    """Power: on the first axis the KS distance of the wrong-drift output from the exact
    marginal is ~0.16 (p ~1e-116 in two draws) against a critical value 0.040 (5 directions,
    Bonferroni at 1e-6, n = 5000): a miss needs sup|F_n - F| > 0.12, probability
    <= 2 exp(-2 n 0.12^2) = 2 e^-144 by the DKW bound."""
    law = field_law()
    out = dn.reverse_sde_euler_maruyama(law, WrongDriftSign(SCHEDULE), _start(law, 5000),
                                        np.linspace(1.0, 0.05, 1001), seed=reseed(11))
    assert _ks(out, law, 0.05).reject


def test_marginal_check_catches_a_pf_ode_on_the_wrong_law():
    """Power: the permuted weights put the first axis's KS distance at >= 0.25 (p <= 1e-275
    in two draws) against the critical 0.040 at n = 5000: a miss needs sup|F_n - F| > 0.2,
    probability <= 2 e^-400 by the DKW bound."""
    law = field_law()
    wrong = GaussianMixture(law.weights[::-1], law.means, law.covs)  # weights permuted
    out = dn.pf_ode_rk4(wrong, SCHEDULE, _start(law, 5000), np.linspace(1.0, 0.05, 201))
    assert _ks(out, law, 0.05).reject


@pytest.mark.parametrize("schedule", [VPCosine(), EDM()], ids=repr)
def test_fine_pf_ode_matches_the_gaussian_closed_form_to_1e8(schedule):
    g = Gaussian([1.0, -1.0, 0.5], [[1.0, 0.5, 0.0], [0.5, 0.4, 0.1], [0.0, 0.1, 0.2]])
    s, t = 0.9 * schedule.t_max, 0.05 * schedule.t_max
    x = g.sample(8, *(float(v) for v in schedule.marginal(s)), rng=reseed(2))
    lam = np.linspace(schedule.log_snr(s), schedule.log_snr(t), 401)
    grid = schedule.t_from_log_snr(lam)
    grid[0], grid[-1] = s, t
    out = dn.pf_ode_rk4(g, schedule, x, grid)
    exact = gaussian_pf_ode_solution(x, g, schedule, s, t)
    assert np.abs(out - exact).max() <= 1e-8 * max(1.0, np.abs(exact).max())
    # planted: a covariance entry off by 1e-4 is far outside the 1e-8 tolerance
    # (power: deterministic, no draw decides it: the ODE from fixed starts moves > 1e-6)
    off = Gaussian(g.mean_vector, g.cov + 1e-4 * np.eye(3))
    assert np.abs(dn.pf_ode_rk4(off, schedule, x, grid) - exact).max() > 1e-6


def test_simulators_refuse_bad_input():
    law = field_law()
    with pytest.raises(ValueError, match="x: must have shape"):
        dn.pf_ode_rk4(law, SCHEDULE, np.zeros((3, 3)), [1.0, 0.5])
    with pytest.raises(ValueError, match="x: must contain only finite values"):
        dn.pf_ode_rk4(law, SCHEDULE, np.full((2, 2), np.nan), [1.0, 0.5])
    with pytest.raises(ValueError, match="t_grid: must be strictly decreasing"):
        dn.reverse_sde_euler_maruyama(law, SCHEDULE, np.zeros((2, 2)), [0.5, 1.0])
    with pytest.raises(ValueError, match="t_grid: must be strictly monotone"):
        dn.pf_ode_rk4(law, SCHEDULE, np.zeros((2, 2)), [1.0, 0.5, 0.7])
    with pytest.raises(ValueError, match="t_grid: must lie in"):
        dn.pf_ode_rk4(law, SCHEDULE, np.zeros((2, 2)), [1.5, 0.5])
    singular = Gaussian.low_rank(np.zeros(2), np.array([[1.0], [0.0]]))
    with pytest.raises(ValueError, match="t_grid: the marginal covariance"):
        dn.pf_ode_rk4(singular, EDM(), np.zeros((1, 2)), [1.0, 0.0])


@pytest.mark.slow
def test_energy_test_against_the_exact_law_catches_a_simulator_on_shifted_means():
    """Power (measured, not a closed bound): with the means shifted by 2 the energy
    statistic is 1.0-1.5 in 6 draws, 22-31 permutation s.d. above the null mean 0.07 and
    2.3x the largest of 3000 permuted values; permutations that reach it keep all but
    <= ~8 labels (random k-swaps fall below it at k = 8), a fraction < 1e-15 of the splits,
    so more than one exceedance in 2e6 permutations (a miss) has probability < 1e-6."""
    # the multivariate check of the simulator claims, at level 1e-6 (2e6 permutations)
    from toytheory.diffusion.marginal_tests import energy_test_against_law

    law = field_law()
    a, s = (float(v) for v in SCHEDULE.marginal(0.05))
    grid = np.linspace(1.0, 0.05, 1001)
    good = dn.reverse_sde_euler_maruyama(law, SCHEDULE, _start(law, 60), grid, seed=reseed(11))
    assert not energy_test_against_law(good, law, a, s, LEVEL, rng=reseed(3)).reject
    shifted = GaussianMixture(law.weights, law.means + [2.0, 0.0], law.covs)  # planted
    bad = dn.reverse_sde_euler_maruyama(shifted, SCHEDULE, _start(law, 60), grid, seed=reseed(11))
    assert energy_test_against_law(bad, law, a, s, LEVEL, rng=reseed(3)).reject
