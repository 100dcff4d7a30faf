"""Time grids: constructors, their defining formulas, strict monotonicity."""

from __future__ import annotations

import numpy as np
import pytest

from toytheory.diffusion import EDM, VE, VPLinear
from toytheory.diffusion.schedules import DiscreteVP, karras_sigmas
from toytheory.diffusion.solvers import (TimeGrid, default_t_end, karras_grid,
                                         quadratic_time_grid, uniform_log_snr_grid,
                                         uniform_time_grid)


def test_uniform_log_snr_grid_has_equal_steps_in_log_snr(vp):
    grid = uniform_log_snr_grid(vp, 17)
    assert grid.n_steps == 17
    np.testing.assert_allclose(grid.h, grid.h[0], rtol=1e-10)
    assert grid.t[0] == 1.0 and grid.t[-1] == 1e-3


def test_uniform_time_grid_is_a_linspace_in_t(vp):
    grid = uniform_time_grid(vp, 10, t_start=0.9, t_end=0.1)
    np.testing.assert_allclose(grid.t, np.linspace(0.9, 0.1, 11), rtol=0, atol=1e-15)


def test_quadratic_time_grid_is_a_linspace_in_sqrt_t(vp):
    grid = quadratic_time_grid(vp, 8)
    np.testing.assert_allclose(np.diff(np.sqrt(grid.t)), np.diff(np.sqrt(grid.t))[0], rtol=1e-10)


def test_karras_grid_matches_the_edm_formula_and_ends_at_zero():
    sch = EDM(80.0)
    grid = karras_grid(sch, 10, sigma_min=0.002, sigma_max=80.0)
    assert grid.ends_at_zero and grid.n_steps == 10
    np.testing.assert_allclose(grid.sigma_ve[:-1], karras_sigmas(10, 0.002, 80.0, 7.0,
                                                                 append_zero=False), rtol=1e-12)
    assert np.isnan(grid.t[-1]) and grid.sigma[-1] == 0.0 and grid.alpha[-1] == 1.0


def test_final_zero_grid_has_n_steps_and_infinite_last_log_snr(vp):
    grid = uniform_log_snr_grid(vp, 6, final_zero=True)
    assert grid.n_steps == 6 and grid.ends_at_zero and grid.log_snr[-1] == np.inf
    assert grid.step_into_zero(5) and not grid.step_into_zero(4)


def test_from_sigmas_round_trips_the_ve_levels_of_a_discrete_schedule():
    sch = DiscreteVP.scaled_linear()
    sig = np.array([14.0, 5.0, 1.0, 0.1, 0.0])
    grid = TimeGrid.from_sigmas(sch, sig)
    np.testing.assert_allclose(grid.sigma_ve, sig, rtol=1e-12, atol=0)
    np.testing.assert_allclose(grid.alpha[:-1] ** 2 + grid.sigma[:-1] ** 2, 1.0, rtol=1e-12)


@pytest.mark.parametrize("schedule, expected", [(VPLinear(), 1e-3), (EDM(80.0), 0.002),
                                                (VE(), 0.0)])
def test_default_t_end_documents_the_reference_defaults(schedule, expected):
    assert default_t_end(schedule) == expected


def test_a_non_monotone_grid_is_refused_naming_grid(vp):
    with pytest.raises(ValueError, match=r"^grid: .*increasing noise"):
        TimeGrid.from_times(vp, [0.9, 0.5, 0.6, 0.1])


def test_a_repeated_noise_level_is_refused_naming_grid_and_h_zero(vp):
    with pytest.raises(ValueError, match=r"^grid: .*h = 0"):
        TimeGrid.from_times(vp, [0.9, 0.5, 0.5, 0.1])
    sch = DiscreteVP.scaled_linear()
    with pytest.raises(ValueError, match=r"^grid: .*h = 0"):
        TimeGrid.from_sigmas(sch, [10.0, 1.0, 0.1, 0.1])


def test_zero_noise_inside_a_grid_is_refused(vp):
    with pytest.raises(ValueError, match=r"^grid: "):
        TimeGrid.from_times(vp, [0.9, 0.0, 0.0])
    with pytest.raises(ValueError, match=r"^grid: only the last"):
        TimeGrid.from_sigmas(EDM(80.0), [10.0, 0.0, 0.0])


def test_grid_functions_check_their_arguments(vp):
    with pytest.raises(ValueError, match=r"^n: "):
        uniform_time_grid(vp, 0)
    with pytest.raises(ValueError, match=r"^t_end: "):
        uniform_time_grid(vp, 5, t_start=0.2, t_end=0.5)
    with pytest.raises(ValueError, match=r"^t_end: "):
        uniform_log_snr_grid(vp, 5, t_end=0.0)
    with pytest.raises(ValueError, match=r"^schedule: "):
        uniform_time_grid("vp", 5)
