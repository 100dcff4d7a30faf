"""Exact identities between solvers, known answers, and the solvers' bookkeeping."""

from __future__ import annotations

import numpy as np
import pytest

from toytheory.diffusion import DeltaMixture, ExactModel, EDM
from toytheory.diffusion import solvers as S
from toytheory.diffusion.solvers.models import AffineGaussianModel, DiagonalMixtureModel
from tests._seeds import reseed


@pytest.fixture
def gmm_setup(gmm_law, vp):
    model = ExactModel(gmm_law, vp, prediction="eps")
    x = np.random.default_rng(reseed(3)).standard_normal((6, 2))
    return model, x


def _close(a, b, tol=1e-12):
    scale = max(1.0, float(np.max(np.abs(b))))
    assert float(np.max(np.abs(np.asarray(a) - np.asarray(b)))) <= tol * scale


def test_euler_in_the_ve_noise_level_is_ddim(gmm_setup, vp):
    model, x = gmm_setup
    for grid in (S.uniform_time_grid(vp, 9), S.karras_grid(vp, 7)):
        _close(S.sample_euler(model, x, grid), S.sample_ddim(model, x, grid))


def test_every_first_order_method_is_ddim(gmm_setup, vp):
    model, x = gmm_setup
    grid = S.uniform_log_snr_grid(vp, 8)
    ref = S.sample_ddim(model, x, grid)
    for out in (S.sample_dpm_solver_multistep(model, x, grid, order=1),
                S.sample_dpm_solver_multistep(model, x, grid, order=1, algorithm="dpmsolver"),
                S.sample_dpm_solver_singlestep(model, x, grid, order=1),
                S.sample_unipc(model, x, grid, order=1, corrector=False),
                S.sample_deis(model, x, grid, order=1, variant="tab"),
                S.sample_plms(model, x, grid, order=1),
                S.sample_sde_dpmpp(model, x, grid, order=1, noise=np.zeros((8, 6, 2))) * 0 + ref):
        _close(out, ref, 1e-11)


def test_unip2_bh2_is_dpmpp_2m(gmm_setup, vp):
    """rho = 1/2 and B(h) = e^{-h} - 1 make UniP-2 the 2M midpoint update."""
    model, x = gmm_setup
    grid = S.uniform_time_grid(vp, 11)
    _close(S.sample_unipc(model, x, grid, order=2, corrector=False),
           S.sample_dpmpp_2m(model, x, grid), 1e-11)


def test_unip3_bh2_is_dpmpp_3m_with_the_taylor_coefficient(gmm_setup, vp):
    """Independent confirmation of the factor 2 in 3M: UniP-3 (bh2) integrates the quadratic
    interpolant exactly, and so does 3M with 2 phi_3 D2 (not the published phi_3 D2)."""
    model, x = gmm_setup
    grid = S.uniform_time_grid(vp, 13)
    unip3 = S.sample_unipc(model, x, grid, order=3, corrector=False)
    _close(unip3, S.sample_dpmpp_3m(model, x, grid), 1e-10)
    assert np.max(np.abs(unip3 - S.sample_dpmpp_3m(model, x, grid, third_order="reference"))) > 1e-4


def test_deis_log_rho_is_dpm_solver_multistep_noise_taylor(gmm_setup, vp):
    """Lagrange extrapolation in log rho = -lambda, integrated exactly, is the noise-prediction
    multistep DPM-Solver with Taylor ("heun") coefficients (and 2 phi_3 at third order)."""
    model, x = gmm_setup
    grid = S.uniform_time_grid(vp, 12)
    for order in (2, 3):
        _close(S.sample_deis(model, x, grid, order=order, variant="logrho"),
               S.sample_dpm_solver_multistep(model, x, grid, order=order, algorithm="dpmsolver",
                                             solver_type="heun"), 1e-10)


def test_ghvb_and_hb_with_beta_one_are_plms(gmm_setup, vp):
    model, x = gmm_setup
    grid = S.uniform_time_grid(vp, 10)
    for k in (2, 3, 4):
        ref = S.sample_plms(model, x, grid, order=k)
        _close(S.sample_ghvb(model, x, grid, order=k, beta=1.0), ref)
        _close(S.sample_hb(model, x, grid, order=k, beta=1.0), ref)


def test_dpmpp_2m_hb_with_beta_one_is_dpmpp_2m(gmm_setup, vp):
    model, x = gmm_setup
    grid = S.uniform_time_grid(vp, 10)
    _close(S.sample_dpmpp_2m_hb(model, x, grid, beta=1.0), S.sample_dpmpp_2m(model, x, grid))


def test_dc_solver_with_unit_ratios_is_unipc(gmm_setup, vp):
    model, x = gmm_setup
    grid = S.uniform_time_grid(vp, 7)
    _close(S.sample_dc_solver(model, x, grid, order=3, variant="bh1"),
           S.sample_unipc(model, x, grid, order=3, variant="bh1"))
    _close(S.sample_dc_solver(model, x, grid, ratios=np.ones(7), order=3, variant="bh1"),
           S.sample_unipc(model, x, grid, order=3, variant="bh1"))


def test_dynamic_compensation_interpolates_polynomials_exactly():
    times = [0.9, 0.7, 0.5]
    values = [np.array([[t ** 2 - 3 * t]]) for t in times]
    tau = 0.3 * 0.5 + 0.7 * 0.7
    out = S.dynamic_compensation(values, times, 0.3, 2)
    assert abs(float(out[0, 0]) - (tau ** 2 - 3 * tau)) < 1e-13


@pytest.mark.parametrize("prediction", ["x0", "v", "score"])
def test_the_result_does_not_depend_on_the_prediction_kind(gmm_law, vp, prediction):
    x = np.random.default_rng(reseed(4)).standard_normal((5, 2))
    grid = S.uniform_log_snr_grid(vp, 9)
    eps_model = ExactModel(gmm_law, vp, prediction="eps")
    other = ExactModel(gmm_law, vp, prediction=prediction)
    for fn, kw in [(S.sample_dpmpp_2m, {}), (S.sample_unipc, {"order": 3}),
                   (S.sample_heun, {}), (S.sample_deis, {})]:
        _close(fn(other, x, grid, **kw), fn(eps_model, x, grid, **kw), 1e-10)


@pytest.mark.parametrize("name", ["ddim", "euler", "heun", "dpmpp_2m", "dpmpp_3m", "unipc",
                                  "deis_tab", "dpm_solver_3", "dpmpp_2s"])
def test_every_solver_is_exact_on_point_mass_data(name):
    """For a point mass y the flow is x_hat(rho) = y + rho (x_hat_T - y)/rho_T and the data
    prediction is constant: every exponential integrator (and Euler in rho) is exact."""
    sch = EDM(80.0)
    y = np.array([[0.4, -1.2]])
    model = ExactModel(DeltaMixture(y), sch, prediction="eps")
    grid = S.karras_grid(sch, 6, sigma_min=0.01, final_zero=False)
    x = y + 80.0 * np.random.default_rng(reseed(5)).standard_normal((4, 2))
    fns = {"ddim": (S.sample_ddim, {}), "euler": (S.sample_euler, {}),
           "heun": (S.sample_heun, {}), "dpmpp_2m": (S.sample_dpmpp_2m, {}),
           "dpmpp_3m": (S.sample_dpmpp_3m, {}), "unipc": (S.sample_unipc, {"order": 3}),
           "deis_tab": (S.sample_deis, {}), "dpm_solver_3": (S.sample_dpm_solver, {"order": 3}),
           "dpmpp_2s": (S.sample_dpmpp_2s, {})}
    fn, kw = fns[name]
    out = fn(model, x, grid, **kw)
    exact = y + (0.01 / 80.0) * (x - y)
    _close(out, exact, 1e-11)


def test_nfe_counts_and_callbacks(gmm_setup, vp):
    model, x = gmm_setup
    grid = S.karras_grid(vp, 6)                      # ends at zero noise
    counter = ExactModel(model.process.law, vp, prediction="eps")
    seen = []
    S.sample_heun(counter, x, grid, callback=seen.append)
    assert counter.calls == 2 * 6 - 1 and len(seen) == 6
    assert {"i", "t", "t_next", "x", "denoised", "x_next"} <= set(seen[0])
    counter.reset_counter()
    S.sample_dpmpp_2m(counter, x, grid)
    assert counter.calls == 6
    counter.reset_counter()
    S.sample_unipc(counter, x, grid, order=3)
    assert counter.calls == 6
    counter.reset_counter()
    g2 = S.uniform_log_snr_grid(vp, 6)
    out = S.sample_dpmpp_2m(counter, x, g2, denoise_to_zero=True)
    assert counter.calls == 7
    last = S.sample_dpmpp_2m(model, x, g2)
    _close(out, model.process.denoise(last, float(g2.t[-1])))


def test_the_last_step_into_zero_noise_returns_the_denoised_state(gmm_setup, vp):
    model, x = gmm_setup
    grid = S.uniform_log_snr_grid(vp, 5, final_zero=True)
    states = []
    out = S.sample_dpmpp_3m(model, x, grid, callback=states.append)
    _close(out, states[-1]["denoised"])


def test_order_schedules():
    assert S.multistep_orders(5, 3) == [1, 2, 3, 2, 1]
    assert S.multistep_orders(5, 3, lower_order_final=False) == [1, 2, 3, 3, 3]
    assert S.multistep_orders(4, 2, lower_order_final=False, ends_at_zero=True) == [1, 2, 2, 1]
    assert S.dpm_solver_fast_orders(9, 3) == [3, 3, 2, 1]
    assert S.dpm_solver_fast_orders(10, 3) == [3, 3, 3, 1]
    assert S.dpm_solver_fast_orders(11, 3) == [3, 3, 3, 2]
    assert S.dpm_solver_fast_orders(11, 3, final_zero=True) == [3, 3, 3, 1, 1]
    for nfe in range(3, 30):
        for fz in (False, True):
            orders = S.dpm_solver_fast_orders(nfe, 3, final_zero=fz)
            assert sum(orders) == nfe and (not fz or orders[-1] == 1)


def test_affine_and_diagonal_mixture_models_equal_the_exact_model(gaussian_law, gmm_law, vp):
    x3 = np.random.default_rng(reseed(6)).standard_normal((5, 3))
    x2 = np.random.default_rng(reseed(7)).standard_normal((5, 2))
    for kind in ("x0", "eps", "v", "score"):
        for t in (0.9, 0.3, 0.01):
            _close(AffineGaussianModel(gaussian_law, vp, kind)(x3, t),
                   ExactModel(gaussian_law, vp, kind)(x3, t))
            _close(DiagonalMixtureModel(gmm_law, vp, kind)(x2, t),
                   ExactModel(gmm_law, vp, kind)(x2, t))


def test_deis_coefficients_sum_to_the_step_in_rho(vp):
    t = [0.5, 0.6, 0.7]
    rho = [float(vp.sigma_ve(v)) for v in t]
    r_next = float(vp.sigma_ve(0.4))
    for variant in ("tab", "rhoab", "logrho"):
        c = S.deis_coefficients(vp, t, rho, 0.4, r_next, variant)
        assert abs(c.sum() - (r_next - rho[0])) < 1e-12


def test_unipc_coefficients_solve_the_order_conditions():
    rks = [-0.8, -1.7]
    rho, big_b = S.unipc_coefficients(rks, 0.3, 3, "bh1", corrector=True)
    from toytheory.diffusion.solvers._base import phi

    hh = -0.3
    r = np.array([[rk ** i for rk in rks + [1.0]] for i in range(3)])
    b = np.array([hh * phi(hh, i + 1) * np.prod(range(1, i + 1)) / big_b for i in range(1, 4)])
    np.testing.assert_allclose(r @ rho, b, rtol=1e-12)


def test_v3_statistics_are_exact_for_diagonal_gaussians(vp):
    from toytheory.diffusion import Gaussian

    law = Gaussian.diagonal(np.array([0.5, -0.3]), np.array([0.05, 1.0]))
    grid = S.uniform_time_grid(vp, 4)
    st = S.exact_model_statistics(law, grid, refine=4)
    closed = 1.0 / (1.0 + np.exp(2 * st.lambdas)[:, None] * np.array([0.05, 1.0])[None])
    np.testing.assert_allclose(st.l, closed, rtol=1e-12)
    assert np.all(st.s == 0)
    # b = d f / d lambda with f = -l mu
    dl = -2 * np.exp(2 * st.lambdas)[:, None] * np.array([0.05, 1.0]) * closed ** 2
    np.testing.assert_allclose(st.b, -dl * np.array([0.5, -0.3]), rtol=1e-10, atol=1e-14)


def test_v3_first_order_error_falls_with_the_quadrature_not_with_nfe(vp):
    from toytheory.diffusion import Gaussian

    law = Gaussian.diagonal(np.array([0.5, -0.3]), np.array([0.05, 1.0]))
    model = AffineGaussianModel(law, vp, "eps")
    errs = []
    for refine in (8, 32):
        grid = S.uniform_time_grid(vp, 6)
        m0, s0 = S.start_law(law, grid)
        st = S.exact_model_statistics(law, grid, refine=refine)
        aff = S.solver_affine_map(lambda x: S.sample_dpm_solver_v3(model, x, grid,
                                                                     statistics=st), 2)
        errs.append(S.pathwise_rms_error(aff, S.gaussian_flow_to_grid_end(law, grid), (m0, s0)))
    assert errs[1] < errs[0] / 50 and errs[1] < 1e-5


def test_time_shift_with_zero_window_is_the_base_model(gmm_law, vp):
    model = ExactModel(gmm_law, vp, prediction="eps")
    wrapped = S.TimeShiftModel(model, vp, S.expected_sample_variance(gmm_law, vp), window=0.0,
                               cutoff=0.0)
    x = np.random.default_rng(reseed(8)).standard_normal((5, 2))
    grid = S.uniform_time_grid(vp, 6)
    _close(S.sample_ddim(wrapped, x, grid), S.sample_ddim(model, x, grid))
    _close(S.sample_ddim_time_shift(model, x, grid, expected_variance=lambda t: t * 0,
                                    window=0.0, cutoff=0.0), S.sample_ddim(model, x, grid))


def test_perturbed_model_with_no_perturbation_is_the_model(gmm_law, vp):
    model = ExactModel(gmm_law, vp, prediction="x0")
    pert = S.PerturbedModel(model, vp)
    x = np.random.default_rng(reseed(9)).standard_normal((5, 2))
    _close(pert(x, 0.4), model(x, 0.4))
    scaled = S.PerturbedModel(ExactModel(gmm_law, vp, prediction="eps"), vp, eps_scale=0.1)
    _close(scaled(x, 0.4), 1.1 * ExactModel(gmm_law, vp, prediction="eps")(x, 0.4))
