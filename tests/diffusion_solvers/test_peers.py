"""Step-by-step agreement with diffusers schedulers and k-diffusion samplers.

The exact mixture model drives both sides on the library's own noise levels
(``scheduler.sigmas``, alpha = (1 + s^2)^-1/2, sigma = s alpha). diffusers computes in
float32 (DPMSolverMultistep upcasts the sample to float32 whatever its dtype), so the
per-step target is 1e-5 relative; DEIS's closed-form coefficients lose more in float32
(measured 1.3e-5), so it is also run in float64 (its sigmas cast to float64), where it
agrees to 1e-8. k-diffusion runs in float64 here and agrees to 1e-12.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from toytheory.diffusion import ExactModel
from toytheory.diffusion import solvers as S

from .peers import (PeerUnavailable, diffusers_grid, diffusers_schedule, k_diffusion_denoiser,
                    load_k_diffusion_sampling, max_relative, run_diffusers)
from tests._seeds import reseed

pytestmark = pytest.mark.peer
diffusers = pytest.importorskip("diffusers", reason="diffusers is a test extra (peers)")
torch = pytest.importorskip("torch")

TOL = 1e-5


def _scheduler(name, **config):
    cls = getattr(diffusers, name)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return cls(num_train_timesteps=1000, beta_schedule="scaled_linear", beta_start=0.00085,
                   beta_end=0.012, **config)


def _ours(fn, model, x, grid, **kw):
    states = []
    fn(model, x, grid, callback=lambda info: states.append(info["x_next"]), **kw)
    return states


@pytest.fixture(scope="module")
def x_start():
    return np.random.default_rng(reseed(0)).standard_normal((5, 2))


def _setup(name, n, gmm, **config):
    sch = _scheduler(name, **config)
    sch.set_timesteps(n)
    schedule = diffusers_schedule(sch)
    grid = diffusers_grid(sch, schedule)
    model = ExactModel(gmm, schedule, prediction="eps")
    return sch, grid, model


@pytest.mark.parametrize("n", [5, 10, 20])
@pytest.mark.parametrize("order", [1, 2, 3])
@pytest.mark.parametrize("algorithm", ["dpmsolver++", "dpmsolver"])
def test_dpm_solver_multistep_matches_diffusers_step_by_step(n, order, algorithm, gmm_law,
                                                             x_start):
    final = "zero" if algorithm == "dpmsolver++" else "sigma_min"
    sch, grid, model = _setup("DPMSolverMultistepScheduler", n, gmm_law, solver_order=order,
                              algorithm_type=algorithm, final_sigmas_type=final)
    lib = run_diffusers(sch, model, grid, x_start)
    ours = _ours(S.sample_dpm_solver_multistep, model, x_start, grid, order=order,
                 algorithm=algorithm, lower_order_final=n < 15, third_order="reference")
    assert max(max_relative(a, b) for a, b in zip(ours, lib)) <= TOL


def test_dpm_solver_heun_type_matches_diffusers(gmm_law, x_start):
    sch, grid, model = _setup("DPMSolverMultistepScheduler", 10, gmm_law, solver_order=2,
                              solver_type="heun")
    lib = run_diffusers(sch, model, grid, x_start)
    ours = _ours(S.sample_dpmpp_2m, model, x_start, grid, solver_type="heun")
    assert max(max_relative(a, b) for a, b in zip(ours, lib)) <= TOL


def test_diffusers_third_order_is_the_reference_form_not_the_taylor_form(gmm_law, x_start):
    """The finding behind diffusion.solvers.order.dpmpp_3m_reference, on the library itself."""
    sch, grid, model = _setup("DPMSolverMultistepScheduler", 20, gmm_law, solver_order=3)
    lib = run_diffusers(sch, model, grid, x_start)[-1]
    ref = S.sample_dpmpp_3m(model, x_start, grid, lower_order_final=False,
                            third_order="reference")
    taylor = S.sample_dpmpp_3m(model, x_start, grid, lower_order_final=False)
    assert max_relative(ref, lib) <= TOL
    assert max_relative(taylor, lib) > 100 * TOL


@pytest.mark.parametrize("n", [5, 10, 20])
@pytest.mark.parametrize("order", [1, 2, 3])
@pytest.mark.parametrize("variant", ["bh1", "bh2"])
def test_unipc_matches_diffusers_step_by_step(n, order, variant, gmm_law, x_start):
    sch, grid, model = _setup("UniPCMultistepScheduler", n, gmm_law, solver_order=order,
                              solver_type=variant)
    lib = run_diffusers(sch, model, grid, x_start)
    ours = _ours(S.sample_unipc, model, x_start, grid, order=order, variant=variant)
    assert max(max_relative(a, b) for a, b in zip(ours, lib)) <= TOL


@pytest.mark.parametrize("n", [10, 20])
@pytest.mark.parametrize("order", [1, 2, 3])
def test_deis_matches_diffusers_in_float64(n, order, gmm_law, x_start):
    sch, grid, model = _setup("DEISMultistepScheduler", n, gmm_law, solver_order=order)
    sch.sigmas = sch.sigmas.double()
    lib = run_diffusers(sch, model, grid, x_start, dtype=torch.float64)
    ours = _ours(S.sample_deis, model, x_start, grid, order=order, variant="logrho",
                 lower_order_final=n < 15)
    assert max(max_relative(a, b) for a, b in zip(ours, lib)) <= 1e-8


def test_deis_matches_diffusers_in_float32_within_its_coefficient_precision(gmm_law, x_start):
    sch, grid, model = _setup("DEISMultistepScheduler", 20, gmm_law, solver_order=3)
    lib = run_diffusers(sch, model, grid, x_start)
    ours = _ours(S.sample_deis, model, x_start, grid, order=3, variant="logrho",
                 lower_order_final=False)
    assert max(max_relative(a, b) for a, b in zip(ours, lib)) <= 5e-5


@pytest.mark.parametrize("name, fn", [("EulerDiscreteScheduler", S.sample_euler),
                                      ("HeunDiscreteScheduler", S.sample_heun)])
def test_euler_and_heun_match_diffusers(name, fn, gmm_law, x_start):
    sch = _scheduler(name)
    sch.set_timesteps(10)
    schedule = diffusers_schedule(sch)
    sig = sch.sigmas.double()
    if name == "HeunDiscreteScheduler":      # interleaved levels: keep each once
        sig = torch.cat([sig[:1], sig[1:-1:2], sig[-1:]])
    grid = diffusers_grid(sch, schedule, sigmas=sig)
    model = ExactModel(gmm_law, schedule, prediction="eps")
    lib = run_diffusers(sch, model, grid, x_start, ve_state=True)
    if name == "HeunDiscreteScheduler":      # 2N - 1 calls: keep the full-step states
        lib = lib[1::2] + [lib[-1]]
    lib = [s * float(grid.alpha[i + 1]) for i, s in enumerate(lib)]
    ours = _ours(fn, model, x_start, grid)
    assert len(ours) == len(lib) == grid.n_steps
    assert max(max_relative(a, b) for a, b in zip(ours, lib)) <= TOL


@pytest.mark.parametrize("spacing", ["leading", "trailing"])
def test_ddim_matches_diffusers(spacing, gmm_law, x_start):
    sch = _scheduler("DDIMScheduler", clip_sample=False, timestep_spacing=spacing,
                     set_alpha_to_one=True)
    sch.set_timesteps(10)
    schedule = diffusers_schedule(sch)
    times = sch.timesteps.numpy().astype(float)
    grid = S.TimeGrid.from_times(schedule, times, final_zero=True)
    model = ExactModel(gmm_law, schedule, prediction="eps")
    x = torch.tensor(x_start, dtype=torch.float32)
    lib = []
    for i, t in enumerate(sch.timesteps):
        eps = model(x.double().numpy(), float(times[i]))
        x = sch.step(torch.tensor(eps, dtype=torch.float32), t, x).prev_sample
        lib.append(x.double().numpy())
    ours = _ours(S.sample_ddim, model, x_start, grid)
    assert max(max_relative(a, b) for a, b in zip(ours, lib)) <= TOL


def test_ddim_linspace_emulation_matches_diffusers(gmm_law, x_start):
    """diffusion.solvers.pitfalls.ddim_linspace_stride emulates the library's stride rule."""
    from toytheory.claims.catalog.diffusion_solvers_pitfalls import diffusers_ddim_linspace

    sch = diffusers.DDIMScheduler(num_train_timesteps=1000, beta_schedule="linear",
                                  clip_sample=False, timestep_spacing="linspace",
                                  set_alpha_to_one=True)
    sch.set_timesteps(10)
    schedule = diffusers_schedule(sch)
    model = ExactModel(gmm_law, schedule, prediction="eps")
    x = torch.tensor(x_start, dtype=torch.float64)
    for t in sch.timesteps:
        x = sch.step(torch.tensor(model(x.numpy(), float(t))), t, x).prev_sample
    emulated = diffusers_ddim_linspace(model, x_start, schedule, 10)
    assert max_relative(emulated, x.numpy()) <= TOL
    proper = S.sample_ddim(model, x_start, S.TimeGrid.from_times(
        schedule, sch.timesteps.numpy().astype(float), final_zero=True))
    assert max_relative(proper, x.numpy()) > 1e-2


# ---------------------------------------------------------------------- pitfalls
def test_repeated_final_karras_sigma_is_nan_at_third_order_and_a_no_op_at_second(gmm_law,
                                                                                  x_start):
    sch3 = _scheduler("DPMSolverMultistepScheduler", solver_order=3, use_karras_sigmas=True,
                      final_sigmas_type="sigma_min")
    sch3.set_timesteps(20)
    assert float(sch3.sigmas[-1]) == float(sch3.sigmas[-2])
    schedule = diffusers_schedule(sch3)
    with pytest.raises(ValueError, match=r"^grid: .*h = 0"):
        diffusers_grid(sch3, schedule)
    dedup = diffusers_grid(sch3, schedule, sigmas=sch3.sigmas[:-1])
    model = ExactModel(gmm_law, schedule, prediction="eps")
    lib3 = run_diffusers(sch3, model, dedup, x_start)
    assert not np.all(np.isfinite(lib3[-1]))
    ours3 = S.sample_dpmpp_3m(model, x_start, dedup, lower_order_final=False,
                              third_order="reference")
    assert np.all(np.isfinite(ours3)) and max_relative(ours3, lib3[-2]) <= TOL
    sch2 = _scheduler("DPMSolverMultistepScheduler", solver_order=2, use_karras_sigmas=True,
                      final_sigmas_type="sigma_min")
    sch2.set_timesteps(20)
    lib2 = run_diffusers(sch2, model, dedup, x_start)
    np.testing.assert_array_equal(lib2[-1], lib2[-2])       # the h = 0 step does nothing
    ours2 = S.sample_dpmpp_2m(model, x_start, dedup, lower_order_final=False)
    assert max_relative(ours2, lib2[-1]) <= TOL


def test_singlestep_order3_with_3n_minus_1_steps_is_finite_in_diffusers_and_here(gmm_law,
                                                                                 x_start):
    sch, grid, model = _setup("DPMSolverSinglestepScheduler", 11, gmm_law, solver_order=3,
                              lower_order_final=True)
    assert sch.get_order_list(11)[-1] == 1                  # the fix of issue #9007
    lib = run_diffusers(sch, model, grid, x_start)
    assert np.all(np.isfinite(lib[-1]))
    orders = []
    for o in sch.get_order_list(11):                        # [1,2,3,...]: groups end at 3s
        if o == 1:
            orders.append(1)
        else:
            orders[-1] = o
    ours = S.sample_dpm_solver_singlestep(model, x_start, grid, orders=orders,
                                          algorithm="dpmsolver++")
    assert max_relative(ours, lib[-1]) <= TOL


# ---------------------------------------------------------------------- k-diffusion
@pytest.fixture(scope="module")
def ksampling():
    try:
        return load_k_diffusion_sampling()
    except PeerUnavailable as exc:
        pytest.skip(str(exc))


@pytest.mark.parametrize("name", ["sample_euler", "sample_heun", "sample_dpmpp_2m",
                                  "sample_dpm_2"])
def test_k_diffusion_samplers_match_in_float64(name, ksampling, gmm_law):
    from toytheory.diffusion import EDM

    sch = EDM(80.0)
    sigmas = ksampling.get_sigmas_karras(10, 0.002, 80.0).double()
    model = ExactModel(gmm_law, sch, prediction="x0")
    x0 = 80.0 * np.random.default_rng(reseed(1)).standard_normal((5, 2))
    states = []
    out = getattr(ksampling, name)(k_diffusion_denoiser(gmm_law), torch.tensor(x0), sigmas,
                                   callback=lambda d: states.append(d["x"].numpy().copy()),
                                   disable=True)
    lib = states[1:] + [out.numpy()]
    s = sigmas.numpy()
    if name == "sample_dpm_2":
        # DPM-Solver-2 whose stage sits at the geometric mean of the noise levels
        mids = np.sqrt(s[:-2] * s[1:-1])
        fine = np.concatenate([np.ravel(np.column_stack([s[:-2], mids])), s[-2:]])
        grid = S.TimeGrid.from_sigmas(sch, fine)
        ours = _ours(S.sample_dpm_solver_singlestep, model, x0, grid,
                     orders=[2] * (len(s) - 2) + [1], algorithm="dpmsolver")
    else:
        grid = S.TimeGrid.from_sigmas(sch, s)
        fn = {"sample_euler": S.sample_euler, "sample_heun": S.sample_heun,
              "sample_dpmpp_2m": S.sample_dpmpp_2m}[name]
        kw = {"lower_order_final": False} if name == "sample_dpmpp_2m" else {}
        ours = _ours(fn, model, x0, grid, **kw)
    assert len(ours) == len(lib)
    assert max(max_relative(a, b) for a, b in zip(ours, lib)) <= 1e-12
