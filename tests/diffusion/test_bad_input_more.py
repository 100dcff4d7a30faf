"""Bad input at the public boundary of the diffusion core and its simulators: a ValueError
that names the argument and the violated condition, never a NaN, a TypeError, an
AttributeError or a silently different answer (audit of issue 3)."""

from __future__ import annotations

import inspect

import numpy as np
import pytest

from toytheory.diffusion import teleportation as tp
from toytheory.diffusion.gaussian_flow import gaussian_flow_map, gaussian_pf_ode_solution
from toytheory.diffusion.laws import DeltaMixture, Gaussian, GaussianMixture
from toytheory.diffusion.process import DiffusionProcess
from toytheory.diffusion.schedules import EDM, VE, DiscreteVP, VPCosine, VPLinear

GAUSS = Gaussian([0.5, -0.5], [[1.0, 0.3], [0.3, 0.4]])
MIX = GaussianMixture([0.4, 0.6], [[-1.0, 0.0], [1.0, 0.5]], np.stack([np.eye(2)] * 2))
VP = VPLinear()
SCHEDULES = [VPLinear(), VPCosine(), DiscreteVP.ddpm_linear(), VE(), EDM()]


def _mid(schedule):
    return 0.5 * (schedule.t_min + schedule.t_max)


# ----------------------------------------------------------------------------- core

CORE_CASES = {
    "to_ve x NaN": (lambda: VP.to_ve(np.nan, 0.5), r"^x: must contain only finite values"),
    "to_ve x inf in an array": (lambda: VP.to_ve(np.array([1.0, np.inf]), 0.5),
                                r"^x: must contain only finite values"),
    "to_ve t NaN": (lambda: VP.to_ve(1.0, np.nan), r"^t: must contain only finite values"),
    "to_ve t outside": (lambda: VP.to_ve(1.0, 2.0), r"^t: must lie in \[0, 1\]"),
    "from_ve x_ve NaN": (lambda: VP.from_ve(np.nan, 0.5),
                         r"^x_ve: must contain only finite values"),
    "from_ve x_ve -inf": (lambda: VP.from_ve([[-np.inf, 0.0]], 0.5),
                          r"^x_ve: must contain only finite values"),
    "from_ve x_ve not numbers": (lambda: VP.from_ve("abc", 0.5),
                                 r"^x_ve: must be an array of real numbers"),
    "sample t array": (lambda: DiffusionProcess(GAUSS, VP).sample(3, np.array([0.3, 0.5])),
                       r"^t: must be a scalar time"),
    "sample t one-element array": (lambda: DiffusionProcess(GAUSS, VP).sample(3, [0.3]),
                                   r"^t: must be a scalar time"),
    "sample t NaN": (lambda: DiffusionProcess(GAUSS, VP).sample(3, np.nan),
                     r"^t: must contain only finite values"),
    "sample n float": (lambda: DiffusionProcess(GAUSS, VP).sample(2.5, 0.5),
                       r"^n: must be an integer"),
    "marginal t array": (lambda: DiffusionProcess(MIX, VP).marginal(np.array([0.3, 0.5])),
                         r"^t: must be a scalar time"),
    "flow map s array": (lambda: gaussian_flow_map(GAUSS, VP, np.array([0.3, 0.5]), 0.1),
                         r"^s: must be a scalar time"),
    "flow map t array": (lambda: gaussian_flow_map(GAUSS, VP, 0.9, np.array([0.3, 0.5])),
                         r"^t: must be a scalar time"),
    "flow map s NaN": (lambda: gaussian_flow_map(GAUSS, VP, np.nan, 0.1),
                       r"^s: must contain only finite values"),
    "flow map t outside": (lambda: gaussian_flow_map(GAUSS, VP, 0.9, -0.5),
                           r"^t: must lie in"),
    "pf-ode solution s array": (lambda: gaussian_pf_ode_solution(np.zeros((1, 2)), GAUSS, VP,
                                                                 [0.9, 0.8], 0.1),
                                r"^s: must be a scalar time"),
    "delta weights length": (lambda: DeltaMixture(np.zeros((3, 2)), [0.5, 0.5]),
                             r"^weights: must have 3 entries, one per point"),
    "delta no points": (lambda: DeltaMixture(np.zeros((0, 2))), r"^points: must be non-empty"),
    "delta no points with weights": (lambda: DeltaMixture(np.zeros((0, 2)), []),
                                     r"^points: must be non-empty"),
    "delta no columns": (lambda: DeltaMixture(np.zeros((2, 0))),
                         r"^points: must have at least one column"),
    "delta weights negative": (lambda: DeltaMixture(np.zeros((2, 1)), [1.5, -0.5]),
                               r"^weights: must be non-negative"),
    "delta weights sum": (lambda: DeltaMixture(np.zeros((2, 1)), [0.5, 0.6]),
                          r"^weights: must sum to one"),
    "delta points NaN": (lambda: DeltaMixture([[np.nan]]),
                         r"^points: must contain only finite values"),
    "teleport t_from array": (lambda: tp.gaussian_teleport(np.zeros((1, 2)), MIX, None,
                                                           np.array([80.0, 70.0]), 10.0),
                              r"^t_from: must be a scalar time"),
    "teleport t_to outside": (lambda: tp.gaussian_teleport(np.zeros((1, 2)), MIX, None, 80.0,
                                                           100.0),
                              r"^t_to: must lie in"),
    "teleported law t_to array": (lambda: tp.teleported_law(MIX, None, 80.0, [10.0, 5.0]),
                                  r"^t_to: must be a scalar time"),
    "teleportation kl t_from NaN": (lambda: tp.teleportation_kl(MIX, None, np.nan, 10.0),
                                    r"^t_from: must contain only finite values"),
    "teleport schedule wrong type": (lambda: tp.gaussian_teleport(np.zeros((1, 2)), MIX, "EDM"),
                                     r"^schedule: must be a NoiseSchedule"),
    "exact flow x columns": (lambda: tp.exact_flow(MIX, np.zeros((1, 3)), 1.0, 0.5),
                             r"^x: must have 2 columns"),
    "exact flow sigma_to zero": (lambda: tp.exact_flow(MIX, np.zeros((1, 2)), 1.0, 0.0),
                                 r"^sigma_to: must be > 0"),
}


@pytest.mark.parametrize("case", list(CORE_CASES))
def test_core_bad_input_names_the_argument(case):
    call, match = CORE_CASES[case]
    with pytest.raises(ValueError, match=match):
        call()


@pytest.mark.parametrize("schedule", SCHEDULES, ids=repr)
def test_ve_conversion_refuses_nan_under_every_schedule(schedule):
    t = _mid(schedule)
    with pytest.raises(ValueError, match=r"^x: must contain only finite values"):
        schedule.to_ve(np.array([[0.0, np.nan]]), t)
    with pytest.raises(ValueError, match=r"^x_ve: must contain only finite values"):
        schedule.from_ve(np.array([[np.nan, 0.0]]), t)
    # finite input still converts, with arrays of times broadcasting against points
    x_ve, s_ve = schedule.to_ve(np.ones((3, 1)), np.full((3, 1), t))
    assert x_ve.shape == (3, 1) and s_ve.shape == (3, 1) and np.all(np.isfinite(x_ve))


def test_scalar_times_still_accepted_as_numpy_scalars_and_zero_d_arrays():
    proc = DiffusionProcess(GAUSS, VP)
    a = proc.sample(4, np.float64(0.5), rng=0)
    b = proc.sample(4, np.array(0.5), rng=0)
    np.testing.assert_array_equal(a, b)
    m1, c1 = gaussian_flow_map(GAUSS, VP, np.float32(0.75), np.array(0.25))
    m2, c2 = gaussian_flow_map(GAUSS, VP, 0.75, 0.25)
    np.testing.assert_allclose(m1, m2, rtol=1e-6)
    np.testing.assert_allclose(c1, c2, rtol=1e-6, atol=1e-12)


def test_delta_mixture_with_matching_weights_is_still_built():
    law = DeltaMixture(np.array([[0.0], [1.0], [3.0]]), [0.2, 0.3, 0.5])
    np.testing.assert_array_equal(law.weights, [0.2, 0.3, 0.5])
    np.testing.assert_allclose(DeltaMixture(np.zeros((4, 2))).weights, 0.25)


def test_exact_flow_has_no_schedule_parameter_to_ignore():
    # the parameter was accepted and silently ignored; the flow is the VE/EDM one
    assert "schedule" not in inspect.signature(tp.exact_flow).parameters
    with pytest.raises(TypeError):
        tp.exact_flow(MIX, np.zeros((1, 2)), 1.0, 0.5, schedule=VP)


# ----------------------------------------------------------------------------- Numba

X = np.zeros((2, 2))
GRID = [1.0, 0.5]


def _sde(dn, **kw):
    args = dict(law=MIX, schedule=VP, x=X, t_grid=GRID)
    args.update(kw)
    return dn.reverse_sde_euler_maruyama(**args)


def _ode(dn, **kw):
    args = dict(law=MIX, schedule=VP, x=X, t_grid=GRID)
    args.update(kw)
    return dn.pf_ode_rk4(**args)


NUMBA_CASES = {
    "sde seed float": (lambda dn: _sde(dn, seed=1.5), r"^seed: must be an integer"),
    "sde seed integral float": (lambda dn: _sde(dn, seed=2.0), r"^seed: must be an integer"),
    "sde seed negative": (lambda dn: _sde(dn, seed=-1), r"^seed: must be >= 0"),
    "sde seed bool": (lambda dn: _sde(dn, seed=True), r"^seed: must be an integer"),
    "sde seed too large": (lambda dn: _sde(dn, seed=2**64),
                           r"^seed: must be <= 18446744073709551615"),
    "sde seed string": (lambda dn: _sde(dn, seed="0"), r"^seed: must be an integer"),
    "normals seed float": (lambda dn: dn.standard_normals(2, 3, 0.5),
                           r"^seed: must be an integer"),
    "normals seed negative": (lambda dn: dn.standard_normals(2, 3, -7), r"^seed: must be >= 0"),
    "normals n float": (lambda dn: dn.standard_normals(2.5, 3, 0), r"^n: must be an integer"),
    "normals n negative": (lambda dn: dn.standard_normals(-1, 3, 0), r"^n: must be >= 0"),
    "normals m float": (lambda dn: dn.standard_normals(2, 3.0, 0), r"^m: must be an integer"),
    "sde law string": (lambda dn: _sde(dn, law="law"), r"^law: must be a GaussianMixture"),
    "ode law None": (lambda dn: _ode(dn, law=None), r"^law: must be a GaussianMixture"),
    "ode law array": (lambda dn: _ode(dn, law=np.zeros((2, 2))),
                      r"^law: must be a GaussianMixture"),
    "sde schedule string": (lambda dn: _sde(dn, schedule="vp"),
                            r"^schedule: must be a NoiseSchedule"),
    "ode schedule None": (lambda dn: _ode(dn, schedule=None),
                          r"^schedule: must be a NoiseSchedule"),
    "ode schedule class": (lambda dn: _ode(dn, schedule=VPLinear),
                           r"^schedule: must be a NoiseSchedule instance"),
    "ode law class": (lambda dn: _ode(dn, law=GaussianMixture),
                      r"^law: must be a GaussianMixture instance"),
    "ode x not numbers": (lambda dn: _ode(dn, x="x"), r"^x: must be an array of real numbers"),
    "sde x inf": (lambda dn: _sde(dn, x=np.full((2, 2), np.inf)),
                  r"^x: must contain only finite values"),
    "ode t_grid NaN": (lambda dn: _ode(dn, t_grid=[1.0, np.nan]),
                       r"^t_grid: must contain only finite values"),
    "ode t_grid not numbers": (lambda dn: _ode(dn, t_grid=["a", "b"]),
                               r"^t_grid: must be an array of real numbers"),
}


@pytest.mark.parametrize("case", list(NUMBA_CASES))
def test_numba_bad_input_names_the_argument(case):
    dn = pytest.importorskip("sims.diffusion_numba")
    call, match = NUMBA_CASES[case]
    with pytest.raises(ValueError, match=match):
        call(dn)


def test_numba_seeds_in_range_are_accepted_and_distinct():
    dn = pytest.importorskip("sims.diffusion_numba")
    top = dn.standard_normals(3, 4, 2**64 - 1)
    assert np.all(np.isfinite(top))
    np.testing.assert_array_equal(dn.standard_normals(3, 4, np.int64(7)),
                                  dn.standard_normals(3, 4, 7))
    # -1 used to wrap silently to 2**64 - 1: the two must not be confused
    with pytest.raises(ValueError, match="seed"):
        dn.standard_normals(3, 4, -1)


def test_numba_simulator_does_not_modify_the_callers_points():
    dn = pytest.importorskip("sims.diffusion_numba")
    x = MIX.sample(5, *(float(v) for v in VP.marginal(1.0)), rng=0)
    before = x.copy()
    out = dn.pf_ode_rk4(MIX, VP, x, np.linspace(1.0, 0.5, 5))
    np.testing.assert_array_equal(x, before)
    assert not np.array_equal(out, before)


# ----------------------------------------------------------------------------- torch

def _torch_score(y, t):
    a, s = VP.marginal(t)
    return MIX.to_torch().score(y, float(a), float(s))


def _zeros(torch, dtype=None):
    return torch.zeros((2, 2), dtype=dtype or torch.float64)


TORCH_CASES = {
    "sde x numpy": (lambda sims, torch: sims.reverse_sde_euler_maruyama(
        _torch_score, VP, np.zeros((2, 2)), GRID), r"^x: must be a torch.Tensor"),
    "ode x numpy": (lambda sims, torch: sims.pf_ode_rk4(_torch_score, VP, np.zeros((2, 2)), GRID),
                    r"^x: must be a torch.Tensor"),
    "sde x list": (lambda sims, torch: sims.reverse_sde_euler_maruyama(
        _torch_score, VP, [[0.0, 0.0]], GRID), r"^x: must be a torch.Tensor"),
    "sde x integer tensor": (lambda sims, torch: sims.reverse_sde_euler_maruyama(
        _torch_score, VP, _zeros(torch, torch.int64), GRID),
        r"^x: must have a floating-point dtype"),
    "ode x NaN": (lambda sims, torch: sims.pf_ode_rk4(
        _torch_score, VP, torch.full((2, 2), float("nan"), dtype=torch.float64), GRID),
        r"^x: must contain only finite values"),
    "ode x 0-d": (lambda sims, torch: sims.pf_ode_rk4(
        _torch_score, VP, torch.tensor(0.0, dtype=torch.float64), GRID),
        r"^x: must have a leading batch dimension"),
    "sde schedule string": (lambda sims, torch: sims.reverse_sde_euler_maruyama(
        _torch_score, "vp", _zeros(torch), GRID), r"^schedule: must be a NoiseSchedule"),
    "ode schedule None": (lambda sims, torch: sims.pf_ode_rk4(_torch_score, None, _zeros(torch),
                                                              GRID),
                          r"^schedule: must be a NoiseSchedule"),
    "ode schedule class": (lambda sims, torch: sims.pf_ode_rk4(_torch_score, VPLinear,
                                                               _zeros(torch), GRID),
                           r"^schedule: must be a NoiseSchedule instance"),
    "ode score_fn not callable": (lambda sims, torch: sims.pf_ode_rk4(MIX, VP, _zeros(torch),
                                                                      GRID),
                                  r"^score_fn: must be callable"),
    "sde generator int": (lambda sims, torch: sims.reverse_sde_euler_maruyama(
        _torch_score, VP, _zeros(torch), GRID, generator=5),
        r"^generator: must be a torch.Generator"),
    "ode callback not callable": (lambda sims, torch: sims.pf_ode_rk4(
        _torch_score, VP, _zeros(torch), GRID, callback=1), r"^callback: must be callable"),
    "sde t_grid increasing": (lambda sims, torch: sims.reverse_sde_euler_maruyama(
        _torch_score, VP, _zeros(torch), [0.5, 1.0]), r"^t_grid: must be a strictly decreasing"),
    "ode t_grid NaN": (lambda sims, torch: sims.pf_ode_rk4(_torch_score, VP, _zeros(torch),
                                                           [1.0, np.nan]),
                       r"^t_grid: must contain only finite values"),
    "ode t_grid scalar": (lambda sims, torch: sims.pf_ode_rk4(_torch_score, VP, _zeros(torch),
                                                              1.0),
                          r"^t_grid: must be a 1-D grid"),
}


@pytest.mark.parametrize("case", list(TORCH_CASES))
def test_torch_bad_input_names_the_argument(case):
    torch = pytest.importorskip("torch")
    sims = pytest.importorskip("sims.diffusion_torch")
    call, match = TORCH_CASES[case]
    with pytest.raises(ValueError, match=match):
        call(sims, torch)
