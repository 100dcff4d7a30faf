"""The reference libraries' known pitfalls, as exact tests (no library needed; the peer
versions that run diffusers itself are in test_peers.py)."""

from __future__ import annotations

import numpy as np
import pytest

from toytheory.claims.catalog import diffusion_solvers_pitfalls as P
from toytheory.diffusion import Gaussian
from toytheory.diffusion import solvers as S
from toytheory.diffusion.schedules import DiscreteVP
from tests._seeds import reseed


def test_a_repeated_final_sigma_is_refused_and_would_make_3m_nan():
    sd = DiscreteVP.scaled_linear()
    sig = P.diffusers_karras_sigma_min(sd, 20)
    with pytest.raises(ValueError, match=r"^grid: .*h = 0"):
        S.TimeGrid.from_sigmas(sd, sig)
    lam = -np.log(sig)
    x = np.ones((2, 2))
    out = P.library_third_order_update(x, x, 2 * x, 3 * x, lam[-1], lam[-2], lam[-3], lam[-4],
                                       0.99, 0.03, 0.03)
    assert np.all(np.isnan(out))


@pytest.mark.parametrize("n", [6, 8, 10])
def test_second_order_final_step_near_zero_is_worse_with_ten_steps_or_fewer(n):
    """Unit-variance data, the Stable Diffusion linspace grid ending at training step 0: the
    last step is five times longer in log-SNR than the one before (r0 ~ 0.2), and the
    second-order extrapolation there has a larger exact error than a first-order step."""
    sd = DiscreteVP.scaled_linear()
    law = Gaussian.diagonal(np.array([0.3, -0.2]), np.array([1.0, 0.5]))
    model = S.AffineGaussianModel(law, sd, "eps")
    times = np.append(np.linspace(0, 999, n + 1).round()[::-1][:-1], 0.0)
    grid = S.TimeGrid.from_times(sd, times)
    assert grid.h[-2] / grid.h[-1] < 0.3
    m0, s0 = S.start_law(law, grid)
    ex = S.gaussian_flow_to_grid_end(law, grid)
    errs = [S.pathwise_rms_error(S.solver_affine_map(
        lambda x: S.sample_dpmpp_2m(model, x, grid, lower_order_final=lof), 2), ex, (m0, s0))
        for lof in (False, True)]
    assert errs[0] > 1.4 * errs[1]


@pytest.mark.parametrize("nfe", [5, 8, 11, 14])
def test_single_step_order3_with_3n_minus_1_evaluations_is_finite(nfe, vp, gmm_law):
    from toytheory.diffusion import ExactModel

    assert not np.any(np.isfinite(P.library_singlestep_second_order_update(
        np.ones(2), np.ones(2), 2 * np.ones(2), 0.0, 0.3, 0.5)))
    orders = S.dpm_solver_fast_orders(nfe, 3, final_zero=True)
    grid = S.uniform_log_snr_grid(vp, nfe, final_zero=True)
    model = ExactModel(gmm_law, vp, prediction="eps")
    x = np.random.default_rng(reseed(0)).standard_normal((4, 2))
    out = S.sample_dpm_solver_singlestep(model, x, grid, orders=orders, algorithm="dpmsolver++")
    assert np.all(np.isfinite(out)) and model.calls == nfe
