"""The Numba simulators (sims/diffusion_numba.py) against the exact oracle, with planted bugs."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats as sps

from toytheory import stats
from toytheory.diffusion.figures_exact import field_law
from toytheory.diffusion.gaussian_flow import gaussian_pf_ode_solution
from toytheory.diffusion.laws import Gaussian, GaussianMixture
from toytheory.diffusion.marginal_tests import projection_ks_test
from toytheory.diffusion.schedules import EDM, VPCosine, VPLinear
from toytheory.diffusion.toys import two_mode_1d

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


def _start(law, n, seed=0):
    return law.sample(n, *(float(v) for v in SCHEDULE.marginal(1.0)), rng=seed)


def _ks(out, law, t):
    a, s = (float(v) for v in SCHEDULE.marginal(t))
    return projection_ks_test(out, law, a, s, LEVEL, rng=1)


def test_kernel_normals_are_standard_normal_and_independent_of_the_batch():
    z = dn.standard_normals(4000, 5, seed=7)
    assert not stats.ks_1samp(z.ravel(), sps.norm.cdf, LEVEL).reject
    # row i depends only on (seed, i)
    np.testing.assert_array_equal(dn.standard_normals(10, 5, seed=7), z[:10])


def test_kernel_normals_ks_check_catches_a_box_muller_radius_bug():
    # planted: sqrt(-log u) instead of sqrt(-2 log u) scales every normal by 1/sqrt(2)
    z = dn.standard_normals(4000, 5, seed=7) / np.sqrt(2.0)
    assert stats.ks_1samp(z.ravel(), sps.norm.cdf, LEVEL).reject


def test_reverse_sde_paths_do_not_depend_on_the_number_of_threads():
    import numba

    law = field_law()
    x = _start(law, 64)
    grid = np.linspace(1.0, 0.5, 51)
    before = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        one = dn.reverse_sde_euler_maruyama(law, SCHEDULE, x, grid, seed=3)
        numba.set_num_threads(max(1, numba.config.NUMBA_NUM_THREADS))
        many = dn.reverse_sde_euler_maruyama(law, SCHEDULE, x, grid, seed=3)
    finally:
        numba.set_num_threads(before)
    np.testing.assert_array_equal(one, many)


@pytest.mark.parametrize("law", [two_mode_1d(), field_law()], ids=["1d", "2d"])
def test_reverse_sde_samples_follow_the_exact_marginal(law):
    out = dn.reverse_sde_euler_maruyama(law, SCHEDULE, _start(law, 5000),
                                        np.linspace(1.0, 0.05, 1001), seed=11)
    assert not _ks(out, law, 0.05).reject


@pytest.mark.parametrize("law", [two_mode_1d(), field_law()], ids=["1d", "2d"])
def test_pf_ode_samples_follow_the_exact_marginal(law):
    out = dn.pf_ode_rk4(law, SCHEDULE, _start(law, 5000), np.linspace(1.0, 0.05, 201))
    assert not _ks(out, law, 0.05).reject


def test_marginal_check_catches_a_reverse_sde_with_the_wrong_drift_sign():
    law = field_law()
    out = dn.reverse_sde_euler_maruyama(law, WrongDriftSign(SCHEDULE), _start(law, 5000),
                                        np.linspace(1.0, 0.05, 1001), seed=11)
    assert _ks(out, law, 0.05).reject


def test_marginal_check_catches_a_pf_ode_on_the_wrong_law():
    law = field_law()
    wrong = GaussianMixture(law.weights[::-1], law.means, law.covs)  # weights permuted
    out = dn.pf_ode_rk4(wrong, SCHEDULE, _start(law, 5000), np.linspace(1.0, 0.05, 201))
    assert _ks(out, law, 0.05).reject


@pytest.mark.parametrize("schedule", [VPCosine(), EDM()], ids=repr)
def test_fine_pf_ode_matches_the_gaussian_closed_form_to_1e8(schedule):
    g = Gaussian([1.0, -1.0, 0.5], [[1.0, 0.5, 0.0], [0.5, 0.4, 0.1], [0.0, 0.1, 0.2]])
    s, t = 0.9 * schedule.t_max, 0.05 * schedule.t_max
    x = g.sample(8, *(float(v) for v in schedule.marginal(s)), rng=2)
    lam = np.linspace(schedule.log_snr(s), schedule.log_snr(t), 401)
    grid = schedule.t_from_log_snr(lam)
    grid[0], grid[-1] = s, t
    out = dn.pf_ode_rk4(g, schedule, x, grid)
    exact = gaussian_pf_ode_solution(x, g, schedule, s, t)
    assert np.abs(out - exact).max() <= 1e-8 * max(1.0, np.abs(exact).max())
    # planted: a covariance entry off by 1e-4 is far outside the 1e-8 tolerance
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
    # the multivariate check of the simulator claims, at level 1e-6 (2e6 permutations)
    from toytheory.diffusion.marginal_tests import energy_test_against_law

    law = field_law()
    a, s = (float(v) for v in SCHEDULE.marginal(0.05))
    grid = np.linspace(1.0, 0.05, 1001)
    good = dn.reverse_sde_euler_maruyama(law, SCHEDULE, _start(law, 60), grid, seed=11)
    assert not energy_test_against_law(good, law, a, s, LEVEL, rng=3).reject
    shifted = GaussianMixture(law.weights, law.means + [2.0, 0.0], law.covs)  # planted
    bad = dn.reverse_sde_euler_maruyama(shifted, SCHEDULE, _start(law, 60), grid, seed=11)
    assert energy_test_against_law(bad, law, a, s, LEVEL, rng=3).reject
