"""Bad input raises ValueError naming the argument."""

from __future__ import annotations

import numpy as np
import pytest

from toytheory.diffusion import ExactModel
from toytheory.diffusion import solvers as S


@pytest.fixture
def setup(gmm_law, vp):
    return ExactModel(gmm_law, vp, prediction="eps"), np.zeros((3, 2)), S.uniform_time_grid(vp, 6)


def test_unknown_prediction_type_names_prediction(setup):
    model, x, grid = setup
    with pytest.raises(ValueError, match=r"^prediction: "):
        S.sample_dpmpp_2m(model, x, grid, prediction="noise")
    with pytest.raises(ValueError, match=r"^prediction: "):
        S.sample_ddim(lambda x, t: x, x, grid)


def test_too_few_steps_for_the_order_names_grid(setup, vp):
    model, x, _ = setup
    short = S.uniform_time_grid(vp, 2)
    for fn, kw in [(S.sample_dpmpp_3m, {}), (S.sample_unipc, {"order": 3}),
                   (S.sample_deis, {"order": 3}), (S.sample_plms, {"order": 4}),
                   (S.sample_sde_dpmpp, {"order": 2, "noise": np.zeros((2, 3, 2))})]:
        with pytest.raises(ValueError, match=r"^grid: order \d needs at least"):
            fn(model, x, S.uniform_time_grid(vp, 1) if fn is S.sample_sde_dpmpp else short, **kw)


def test_single_step_orders_must_fit_the_grid(setup, vp):
    model, x, grid = setup
    with pytest.raises(ValueError, match=r"^grid: single-step order 4|^order: "):
        S.sample_dpm_solver_singlestep(model, x, grid, order=4)
    with pytest.raises(ValueError, match=r"^grid: single-step order 3 needs a multiple"):
        S.sample_dpm_solver_singlestep(model, x, S.uniform_time_grid(vp, 7), order=3)
    with pytest.raises(ValueError, match=r"^orders: must sum"):
        S.sample_dpm_solver_singlestep(model, x, grid, orders=[3, 2])
    zero = S.uniform_time_grid(vp, 6, final_zero=True)
    with pytest.raises(ValueError, match=r"^orders: the last group ends at zero noise"):
        S.sample_dpm_solver_singlestep(model, x, zero, orders=[3, 3])


def test_a_grid_must_be_a_time_grid(setup):
    model, x, _ = setup
    with pytest.raises(ValueError, match=r"^grid: must be a TimeGrid"):
        S.sample_ddim(model, x, np.linspace(1, 0.1, 5))


def test_unknown_options_are_named(setup):
    model, x, grid = setup
    with pytest.raises(ValueError, match=r"^variant: "):
        S.sample_unipc(model, x, grid, variant="bh3")
    with pytest.raises(ValueError, match=r"^variant: "):
        S.sample_deis(model, x, grid, variant="ab")
    with pytest.raises(ValueError, match=r"^algorithm: "):
        S.sample_dpm_solver_multistep(model, x, grid, algorithm="dpm")
    with pytest.raises(ValueError, match=r"^solver_type: "):
        S.sample_dpmpp_2m(model, x, grid, solver_type="rk4")
    with pytest.raises(ValueError, match=r"^third_order: "):
        S.sample_dpmpp_3m(model, x, grid, third_order="exact")
    with pytest.raises(ValueError, match=r"^eta: "):
        S.sample_ddim(model, x, grid, eta=1.5)
    with pytest.raises(ValueError, match=r"^beta: "):
        S.sample_hb(model, x, grid, beta=0.0)


def test_bad_states_and_noise_are_named(setup):
    model, x, grid = setup
    with pytest.raises(ValueError, match=r"^x_T: "):
        S.sample_ddim(model, np.full((3, 2), np.nan), grid)
    with pytest.raises(ValueError, match=r"^x_T: "):
        S.sample_ddim(model, np.zeros(3), grid)
    with pytest.raises(ValueError, match=r"^noise: "):
        S.sample_sde_dpmpp(model, x, grid, noise=np.zeros((2, 3, 2)))
    with pytest.raises(ValueError, match=r"^model: "):
        S.sample_ddim(lambda x, t: np.zeros((1, 2)), x, grid, prediction="eps")
    with pytest.raises(ValueError, match=r"^model: "):
        S.sample_ddim(lambda x, t: x * np.nan, x, grid, prediction="eps")


def test_v3_statistics_must_belong_to_the_grid(gaussian_law, vp):
    model = ExactModel(gaussian_law, vp, prediction="eps")
    st = S.exact_model_statistics(gaussian_law, S.uniform_time_grid(vp, 5))
    with pytest.raises(ValueError, match=r"^statistics: "):
        S.sample_dpm_solver_v3(model, np.zeros((2, 3)), S.uniform_time_grid(vp, 6),
                               statistics=st)
    with pytest.raises(ValueError, match=r"^law: "):
        S.exact_model_statistics("gauss", S.uniform_time_grid(vp, 5))


def test_dc_ratios_must_have_one_entry_per_step(setup):
    model, x, grid = setup
    with pytest.raises(ValueError, match=r"^ratios: "):
        S.sample_dc_solver(model, x, grid, ratios=[1.0, 1.0])
