"""The torch simulators (sims/diffusion_torch.py) driven by the exact torch score, against
the exact marginal, with planted bugs; they run on CUDA where it exists."""

from __future__ import annotations

import numpy as np
import pytest

from toytheory.diffusion.figures_exact import field_law
from toytheory.diffusion.gaussian_flow import gaussian_pf_ode_solution
from toytheory.diffusion.laws import Gaussian
from toytheory.diffusion.marginal_tests import projection_ks_test
from toytheory.diffusion.schedules import VPLinear
from tests._seeds import reseed

torch = pytest.importorskip("torch")
sims = pytest.importorskip("sims.diffusion_torch")
LEVEL = 1e-6
SCHEDULE = VPLinear()


@pytest.fixture(autouse=True)
def _one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _score(law, device, factor=1.0, dtype=torch.float64):
    tl = law.to_torch(device=device, dtype=dtype)

    def score(y, t):
        a, s = SCHEDULE.marginal(t)
        return factor * tl.score(y, float(a), float(s))

    return score


def _run(kind, law, device, n=3000, factor=1.0, dtype=torch.float64):
    x = torch.as_tensor(law.sample(n, *(float(v) for v in SCHEDULE.marginal(1.0)), rng=reseed(0)),
                        device=device, dtype=dtype)
    if kind == "ode":
        out = sims.pf_ode_rk4(_score(law, device, factor, dtype), SCHEDULE, x,
                              np.linspace(1.0, 0.05, 101))
    else:
        gen = torch.Generator(device=device).manual_seed(reseed(5))
        out = sims.reverse_sde_euler_maruyama(_score(law, device, factor, dtype), SCHEDULE, x,
                                              np.linspace(1.0, 0.05, 1001), generator=gen)
    return out.cpu().double().numpy()


def _ks(out, law):
    a, s = (float(v) for v in SCHEDULE.marginal(0.05))
    return projection_ks_test(out, law, a, s, LEVEL, rng=reseed(1))


@pytest.mark.parametrize("kind", ["ode", "sde"])
def test_torch_simulator_samples_follow_the_exact_marginal(kind, torch_device):
    law = field_law()
    assert not _ks(_run(kind, law, torch_device), law).reject


def test_marginal_check_catches_a_pf_ode_with_the_score_scaled_by_1_05():
    law = field_law()
    assert _ks(_run("ode", law, "cpu", factor=1.05), law).reject


def test_marginal_check_catches_a_reverse_sde_with_the_score_sign_flipped():
    law = field_law()
    assert _ks(_run("sde", law, "cpu", factor=-1.0), law).reject


def test_float32_simulation_stays_finite(torch_device):
    out = _run("sde", field_law(), torch_device, n=500, dtype=torch.float32)
    assert np.all(np.isfinite(out))


def test_torch_fine_pf_ode_matches_the_gaussian_closed_form_to_1e8(torch_device):
    g = Gaussian([0.3, -0.7], [[0.8, 0.3], [0.3, 0.5]])
    x = g.sample(6, *(float(v) for v in SCHEDULE.marginal(0.9)), rng=reseed(3))
    lam = np.linspace(SCHEDULE.log_snr(0.9), SCHEDULE.log_snr(0.05), 401)
    grid = SCHEDULE.t_from_log_snr(lam)
    grid[0], grid[-1] = 0.9, 0.05
    tl = g.to_torch(device=torch_device)

    def score(y, t):
        a, s = SCHEDULE.marginal(t)
        return tl.score(y, float(a), float(s))

    out = sims.pf_ode_rk4(score, SCHEDULE, torch.as_tensor(x, device=torch_device), grid)
    exact = gaussian_pf_ode_solution(x, g, SCHEDULE, 0.9, 0.05)
    assert np.abs(out.cpu().numpy() - exact).max() <= 1e-8 * max(1.0, np.abs(exact).max())
