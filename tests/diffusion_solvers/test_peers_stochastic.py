"""The stochastic solver options against a peer library, with shared noise.

SDE-DPM-Solver++ (orders 1 and 2, midpoint and heun) against diffusers'
DPMSolverMultistepScheduler(algorithm_type="sde-dpmsolver++"), and DDIM with eta > 0
against diffusers' DDIMScheduler.step(eta=..., variance_noise=...): the same standard normal
draw enters both sides at every step, so the stochastic update (its noise scale and its
drift) is compared formula against an independent implementation, step by step. (The
numpy/torch agreement in test_backends.py compares toytheory with itself.)
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from toytheory.diffusion import ExactModel
from toytheory.diffusion import solvers as S

from .peers import diffusers_grid, diffusers_schedule, max_relative

pytestmark = pytest.mark.peer
diffusers = pytest.importorskip("diffusers", reason="diffusers is a test extra (peers)")
torch = pytest.importorskip("torch")

TOL = 1e-5   # diffusers computes in float32


def _scheduler(name, **config):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return getattr(diffusers, name)(num_train_timesteps=1000, beta_schedule="scaled_linear",
                                        beta_start=0.00085, beta_end=0.012, **config)


def _states(fn, model, x, grid, **kw):
    states = []
    fn(model, x, grid, callback=lambda info: states.append(info["x_next"]), **kw)
    return states


@pytest.mark.parametrize("n", [6, 12])
@pytest.mark.parametrize("order, solver_type", [(1, "midpoint"), (2, "midpoint"), (2, "heun")])
def test_sde_dpmpp_matches_diffusers_with_shared_noise(n, order, solver_type, gmm_law, rng):
    sch = _scheduler("DPMSolverMultistepScheduler", solver_order=order, solver_type=solver_type,
                     algorithm_type="sde-dpmsolver++", final_sigmas_type="zero")
    sch.set_timesteps(n)
    schedule = diffusers_schedule(sch)
    grid = diffusers_grid(sch, schedule)
    model = ExactModel(gmm_law, schedule, prediction="eps")
    x0 = rng.standard_normal((5, 2))
    z = rng.standard_normal((grid.n_steps, 5, 2))
    ours = _states(S.sample_sde_dpmpp, model, x0, grid, order=order, noise=z[:grid.n_steps - 1],
                   lower_order_final=n < 15, solver_type=solver_type)
    x = torch.tensor(x0, dtype=torch.float32)
    lib = []
    for i, t in enumerate(sch.timesteps):
        eps = model(x.double().numpy(), float(grid.t[i]))
        x = sch.step(torch.tensor(eps, dtype=torch.float32), t, x,
                     variance_noise=torch.tensor(z[i], dtype=torch.float32)).prev_sample
        lib.append(x.double().numpy())
    assert len(ours) == len(lib) == grid.n_steps
    assert max(max_relative(a, b) for a, b in zip(ours, lib)) <= TOL


def test_the_sde_peer_check_sees_a_planted_noise_scale_bug(gmm_law, rng):
    """Planted: the noise enters with sqrt(1 - e^-2h) replaced by (1 - e^-2h); the same
    comparison must disagree (deterministic given the draws: a scale change of the noise
    term moves every noisy step by a nonzero multiple of z, far above 1e-5).

    Power: deterministic given the draws (stated above); it fails only if every z entry were
    0."""
    sch = _scheduler("DPMSolverMultistepScheduler", solver_order=2,
                     algorithm_type="sde-dpmsolver++", final_sigmas_type="zero")
    sch.set_timesteps(8)
    schedule = diffusers_schedule(sch)
    grid = diffusers_grid(sch, schedule)
    model = ExactModel(gmm_law, schedule, prediction="eps")
    x0 = rng.standard_normal((5, 2))
    z = rng.standard_normal((grid.n_steps, 5, 2))
    planted = z[:grid.n_steps - 1] * np.sqrt(-np.expm1(-2.0 * grid.h[:grid.n_steps - 1]))[:, None,
                                                                                         None]
    ours = _states(S.sample_sde_dpmpp, model, x0, grid, order=2, noise=planted,
                   lower_order_final=True)
    x = torch.tensor(x0, dtype=torch.float32)
    lib = []
    for i, t in enumerate(sch.timesteps):
        eps = model(x.double().numpy(), float(grid.t[i]))
        x = sch.step(torch.tensor(eps, dtype=torch.float32), t, x,
                     variance_noise=torch.tensor(z[i], dtype=torch.float32)).prev_sample
        lib.append(x.double().numpy())
    assert max(max_relative(a, b) for a, b in zip(ours, lib)) > 100 * TOL


@pytest.mark.parametrize("eta", [0.3, 1.0])
@pytest.mark.parametrize("spacing", ["leading", "trailing"])
def test_ddim_with_eta_matches_diffusers_with_shared_noise(eta, spacing, gmm_law, rng):
    sch = _scheduler("DDIMScheduler", clip_sample=False, timestep_spacing=spacing,
                     set_alpha_to_one=True)
    sch.set_timesteps(10)
    schedule = diffusers_schedule(sch)
    times = sch.timesteps.numpy().astype(float)
    grid = S.TimeGrid.from_times(schedule, times, final_zero=True)
    model = ExactModel(gmm_law, schedule, prediction="eps")
    x0 = rng.standard_normal((5, 2))
    z = rng.standard_normal((grid.n_steps, 5, 2))
    ours = _states(S.sample_ddim, model, x0, grid, eta=eta, noise=z)
    x = torch.tensor(x0, dtype=torch.float32)
    lib = []
    for i, t in enumerate(sch.timesteps):
        eps = model(x.double().numpy(), float(times[i]))
        x = sch.step(torch.tensor(eps, dtype=torch.float32), t, x, eta=eta,
                     variance_noise=torch.tensor(z[i], dtype=torch.float32)).prev_sample
        lib.append(x.double().numpy())
    assert max(max_relative(a, b) for a, b in zip(ours, lib)) <= TOL
