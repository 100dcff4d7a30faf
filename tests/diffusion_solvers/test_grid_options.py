"""Every grid constructor's promised spacing and end points, under every option.

Each expected grid is written from its defining formula here (numpy linspace in the
grid's own variable, the EDM formula for Karras levels), never from the constructor's
helpers, and checked for every combination of ``final_zero``, default and explicit
ends, and schedules of each family (continuous VP linear and cosine, EDM, a discrete VP
table): the number of steps, the first point, the last positive point, the zero-noise
end, and equal steps in the promised variable.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from toytheory.diffusion import EDM, VPLinear
from toytheory.diffusion.schedules import DiscreteVP, VPCosine
from toytheory.diffusion.solvers import (default_t_end, karras_grid, quadratic_time_grid,
                                         uniform_log_snr_grid, uniform_time_grid)

SCHEDULES = {"vp_linear": VPLinear(), "vp_cosine": VPCosine(), "edm": EDM(80.0),
             "discrete": DiscreteVP.scaled_linear()}


def _ends(schedule, explicit):
    if not explicit:
        return schedule.t_max, default_t_end(schedule), {}
    lo, hi = float(schedule.t_min), float(schedule.t_max)
    t_start, t_end = lo + 0.8 * (hi - lo), lo + 0.05 * (hi - lo) + 1e-3 * (hi - lo)
    return t_start, t_end, {"t_start": t_start, "t_end": t_end}


def _variable(kind, schedule, t):
    """The variable a grid is uniform in, from the schedule's own definitions."""
    t = np.asarray(t, float)
    if kind == "uniform_time":
        return t
    if kind == "quadratic":
        return np.sqrt(t)
    alpha, sigma = schedule.marginal(t)
    return np.log(np.asarray(alpha)) - np.log(np.asarray(sigma))


CONSTRUCTORS = {"uniform_time": uniform_time_grid, "uniform_log_snr": uniform_log_snr_grid,
                "quadratic": quadratic_time_grid}


@pytest.mark.parametrize("kind, sched, final_zero, explicit, n", [
    (k, s, fz, ex, n) for k, s, fz, ex, n in itertools.product(
        CONSTRUCTORS, SCHEDULES, (False, True), (False, True), (1, 2, 7))
])
def test_time_grids_have_their_spacing_and_end_points(kind, sched, final_zero, explicit, n):
    schedule = SCHEDULES[sched]
    t_start, t_end, kw = _ends(schedule, explicit)
    grid = CONSTRUCTORS[kind](schedule, n, final_zero=final_zero, **kw)
    assert grid.n_steps == n
    assert grid.ends_at_zero is final_zero
    points = grid.t[:-1] if final_zero else grid.t       # the positive-noise points
    assert points.size == (n if final_zero else n + 1)
    assert points[0] == pytest.approx(t_start, rel=1e-12, abs=1e-12)
    if points.size > 1:
        assert points[-1] == pytest.approx(t_end, rel=1e-12, abs=1e-12)
        v = _variable(kind, schedule, points)
        span = _variable(kind, schedule, [t_end])[0] - _variable(kind, schedule, [t_start])[0]
        np.testing.assert_allclose(np.diff(v), span / (points.size - 1), rtol=1e-8, atol=1e-12)
    if final_zero:
        assert np.isnan(grid.t[-1]) and grid.sigma[-1] == 0.0 and grid.alpha[-1] == 1.0
        assert grid.log_snr[-1] == np.inf and grid.step_into_zero(n - 1)
    else:
        assert np.all(grid.sigma > 0) and np.all(np.isfinite(grid.log_snr))
    assert np.all(np.diff(grid.log_snr) > 0)


def _edm_levels(m, sigma_min, sigma_max, rho):
    i = np.arange(m)
    return (sigma_max ** (1 / rho) + i / (m - 1) * (sigma_min ** (1 / rho)
                                                  - sigma_max ** (1 / rho))) ** rho


@pytest.mark.parametrize("sched", SCHEDULES)
@pytest.mark.parametrize("final_zero", [True, False])
@pytest.mark.parametrize("explicit", [False, True])
@pytest.mark.parametrize("rho", [7.0, 3.0])
@pytest.mark.parametrize("n", [2, 9])
def test_karras_grids_have_the_edm_levels_and_end_points(sched, final_zero, explicit, rho, n):
    schedule = SCHEDULES[sched]
    full_max = float(schedule.sigma_ve(schedule.t_max))
    full_min = float(schedule.sigma_ve(default_t_end(schedule)))
    if explicit:
        s_min, s_max = full_min * 3.0, full_max / 2.0
        grid = karras_grid(schedule, n, sigma_min=s_min, sigma_max=s_max, rho=rho,
                           final_zero=final_zero)
    else:
        s_min, s_max = full_min, full_max
        grid = karras_grid(schedule, n, rho=rho, final_zero=final_zero)
    m = n if final_zero else n + 1                      # positive levels
    assert grid.n_steps == n and grid.ends_at_zero is final_zero
    levels = grid.sigma_ve[:-1] if final_zero else grid.sigma_ve
    assert levels.size == m
    np.testing.assert_allclose(levels, _edm_levels(m, s_min, s_max, rho), rtol=1e-9)
    assert levels[0] == pytest.approx(s_max, rel=1e-9)
    assert levels[-1] == pytest.approx(s_min, rel=1e-9)
    if final_zero:
        assert grid.sigma_ve[-1] == 0.0 and grid.step_into_zero(n - 1)


def test_a_one_step_final_zero_karras_grid_is_the_denoising_step_from_sigma_max():
    schedule = EDM(80.0)
    grid = karras_grid(schedule, 1, sigma_max=80.0)
    assert grid.n_steps == 1 and grid.ends_at_zero
    assert grid.sigma_ve[0] == pytest.approx(80.0, rel=1e-12) and grid.sigma_ve[1] == 0.0


def test_the_spacing_check_sees_a_planted_off_by_one_grid(monkeypatch):
    """Planted: uniform_time_grid with final_zero spaces its n points as if there were
    n + 1 (it stops one step short of t_end); the end-point check must see it.

    Power: deterministic (a fixed grid compared exactly); no random draw enters."""
    from toytheory.diffusion.solvers import grids

    def short(schedule, n, *, t_start=None, t_end=None, final_zero=False):
        schedule, t_start, t_end = grids._ends(schedule, t_start, t_end)
        times = np.linspace(t_start, t_end, n + 1)
        return grids._times_to_grid(schedule, times, final_zero, n)

    monkeypatch.setitem(CONSTRUCTORS, "uniform_time", short)
    with pytest.raises(AssertionError):
        test_time_grids_have_their_spacing_and_end_points("uniform_time", "vp_linear", True,
                                                          False, 7)
