"""numpy float64 and batched torch run the same solvers: agreement to 1e-10 in float64."""

from __future__ import annotations

import numpy as np
import pytest

from toytheory.diffusion import ExactModel
from toytheory.diffusion import solvers as S
from tests._seeds import reseed

CASES = [
    ("ddim", S.sample_ddim, {}), ("euler", S.sample_euler, {}), ("heun", S.sample_heun, {}),
    ("dpm_solver_3", S.sample_dpm_solver, {"order": 3}), ("dpmpp_2s", S.sample_dpmpp_2s, {}),
    ("dpmpp_2m", S.sample_dpmpp_2m, {}), ("dpmpp_3m", S.sample_dpmpp_3m, {}),
    ("dpm_solver_3m", S.sample_dpm_solver_multistep, {"order": 3, "algorithm": "dpmsolver"}),
    ("unipc_3_bh1", S.sample_unipc, {"order": 3, "variant": "bh1"}),
    ("unipc_noise", S.sample_unipc, {"order": 2, "predict_x0": False}),
    ("deis_tab", S.sample_deis, {}), ("deis_logrho", S.sample_deis, {"variant": "logrho"}),
    ("hb", S.sample_hb, {}), ("ghvb", S.sample_ghvb, {}), ("plms", S.sample_plms, {}),
    ("dpmpp_2m_hb", S.sample_dpmpp_2m_hb, {}),
    ("dc", S.sample_dc_solver, {"ratios": np.linspace(0.9, 1.1, 12)}),
]


@pytest.mark.parametrize("name, fn, kw", CASES, ids=[c[0] for c in CASES])
def test_torch_float64_equals_numpy_to_1e10(name, fn, kw, gmm_law, vp, torch_device):
    import torch

    grid = S.uniform_log_snr_grid(vp, 12)
    x = np.random.default_rng(reseed(0)).standard_normal((7, 2))
    ref = fn(ExactModel(gmm_law, vp, prediction="eps"), x, grid, **kw)
    model = ExactModel(gmm_law, vp, prediction="eps", backend="torch", device=torch_device)
    out = fn(model, torch.tensor(x, device=torch_device), grid, **kw)
    assert isinstance(out, torch.Tensor) and out.device.type == torch_device
    assert np.max(np.abs(out.cpu().numpy() - ref)) <= 1e-10


def test_stochastic_solvers_agree_given_the_same_draws(gmm_law, vp, torch_device):
    import torch

    grid = S.uniform_log_snr_grid(vp, 8)
    x = np.random.default_rng(reseed(1)).standard_normal((5, 2))
    z = np.random.default_rng(reseed(2)).standard_normal((8, 5, 2))
    model_np = ExactModel(gmm_law, vp, prediction="x0")
    model_t = ExactModel(gmm_law, vp, prediction="x0", backend="torch", device=torch_device)
    for fn, kw in [(S.sample_sde_dpmpp, {"order": 2}), (S.sample_ddim, {"eta": 0.7})]:
        ref = fn(model_np, x, grid, noise=z, **kw)
        out = fn(model_t, torch.tensor(x, device=torch_device), grid,
                 noise=torch.tensor(z, device=torch_device), **kw)
        assert np.max(np.abs(out.cpu().numpy() - ref)) <= 1e-10


def test_v3_and_time_shift_agree_across_backends(gaussian_law, gmm_law, vp):
    import torch

    grid = S.uniform_log_snr_grid(vp, 9)
    st = S.exact_model_statistics(gaussian_law, grid)
    x = np.random.default_rng(reseed(3)).standard_normal((4, 3))
    ref = S.sample_dpm_solver_v3(ExactModel(gaussian_law, vp, "eps"), x, grid, statistics=st,
                                 order=3, corrector=True)
    out = S.sample_dpm_solver_v3(ExactModel(gaussian_law, vp, "eps", backend="torch"),
                                 torch.tensor(x), grid, statistics=st, order=3, corrector=True)
    assert np.max(np.abs(out.numpy() - ref)) <= 1e-10
    v = S.expected_sample_variance(gmm_law, vp)
    x2 = np.random.default_rng(reseed(4)).standard_normal((6, 2))
    ref = S.sample_ddim(S.TimeShiftModel(ExactModel(gmm_law, vp, "eps"), vp, v, window=0.05,
                                         cutoff=0.2), x2, grid)
    out = S.sample_ddim(S.TimeShiftModel(ExactModel(gmm_law, vp, "eps", backend="torch"), vp, v,
                                         window=0.05, cutoff=0.2), torch.tensor(x2), grid)
    assert np.max(np.abs(out.numpy() - ref)) <= 1e-10


def test_float32_torch_runs_and_stays_close(gaussian_law, vp, torch_device):
    import torch

    grid = S.uniform_log_snr_grid(vp, 20)
    x = np.random.default_rng(reseed(5)).standard_normal((64, 3))
    ref = S.sample_dpmpp_2m(S.AffineGaussianModel(gaussian_law, vp, "eps"), x, grid)
    out = S.sample_dpmpp_2m(S.AffineGaussianModel(gaussian_law, vp, "eps"),
                            torch.tensor(x, dtype=torch.float32, device=torch_device), grid)
    assert out.dtype == torch.float32
    assert np.max(np.abs(out.cpu().double().numpy() - ref)) <= 1e-5 * np.max(np.abs(ref))


def test_sde_output_follows_its_exact_affine_law(gaussian_law, vp):
    """Monte Carlo of SDE-DPM-Solver++(2M) with generator draws against the exact law read off
    the affine map (KS along 5 directions, Bonferroni at 1e-6)."""
    from scipy import stats as sps

    from toytheory import stats

    mean, cov = _sde_law(gaussian_law, vp)
    x = _sde_samples(gaussian_law, vp)
    assert stats.bonferroni(_ks(x, mean, cov, sps), 1e-6).verdict == "accept"


def test_the_sde_law_check_rejects_a_planted_noise_scale_bug(gaussian_law, vp, monkeypatch):
    """Companion: draws scaled by 1.3 (a planted bug in the noise source) are caught.

    Power: from the exact output laws with and without the 1.3 (solver_output_law), the KS
    distance in the worst of the 5 directions is 0.063 under suite seeds 0-9, against a
    critical value 0.020 (n = 20,000, Bonferroni at 1e-6): a miss needs sup|F_n - F| >
    0.043, probability <= 2 exp(-2 n 0.043^2) = 1.3e-32 by the DKW bound."""
    from scipy import stats as sps

    from toytheory import stats
    from toytheory.diffusion.solvers import _base

    mean, cov = _sde_law(gaussian_law, vp)
    original = _base.SolverContext.noise_source

    def scaled(self, generator=None, noise=None, n_draws=None):
        draw = original(self, generator, noise, n_draws)
        return lambda k: 1.3 * draw(k)

    monkeypatch.setattr(_base.SolverContext, "noise_source", scaled)
    x = _sde_samples(gaussian_law, vp)
    assert stats.bonferroni(_ks(x, mean, cov, sps), 1e-6).verdict == "reject"


def _sde_law(law, vp):
    grid = S.uniform_log_snr_grid(vp, 6)
    model = S.AffineGaussianModel(law, vp, "eps")
    return S.solver_output_law(lambda x, z: S.sample_sde_dpmpp(model, x, grid, noise=z), law,
                               grid, noise_dim=6 * 3)


def _sde_samples(law, vp):
    grid = S.uniform_log_snr_grid(vp, 6)
    m0, s0 = S.start_law(law, grid)
    rng = np.random.default_rng(reseed(11))
    x = rng.multivariate_normal(m0, s0, size=20_000)
    return S.sample_sde_dpmpp(S.AffineGaussianModel(law, vp, "eps"), x, grid, generator=rng)


def _ks(x, mean, cov, sps):
    from toytheory import stats

    rng = np.random.default_rng(reseed(12))
    out = []
    for _ in range(5):
        u = rng.standard_normal(x.shape[1])
        u /= np.linalg.norm(u)
        out.append(stats.ks_1samp(x @ u, sps.norm(float(u @ mean), float(np.sqrt(u @ cov @ u))).cdf,
                                  1e-6))
    return out


FUSED = [c for c in CASES if c[0] in ("dpmpp_2m", "dpmpp_3m", "unipc_3_bh1", "heun", "deis_tab",
                                      "ghvb", "dc", "dpm_solver_3")]


@pytest.mark.parametrize("name, fn, kw", FUSED, ids=[c[0] for c in FUSED])
def test_fused_elementwise_mode_equals_numpy_to_1e10(name, fn, kw, gmm_law, vp):
    """One pass per step (lazy linear combinations; Numba on CPU) changes nothing but rounding."""
    import torch

    grid = S.uniform_log_snr_grid(vp, 12)
    x = np.random.default_rng(reseed(0)).standard_normal((7, 2))
    ref = fn(ExactModel(gmm_law, vp, prediction="eps"), x, grid, **kw)
    model = ExactModel(gmm_law, vp, prediction="eps", backend="torch")
    seen = []
    with S.fused_elementwise():
        out = fn(model, torch.tensor(x), grid, callback=seen.append, **kw)
    assert isinstance(out, torch.Tensor) and isinstance(seen[-1]["x_next"], torch.Tensor)
    assert np.max(np.abs(out.numpy() - ref)) <= 1e-10


def _largest_fused_combination(fn, kw, model, x, grid):
    from toytheory.diffusion.solvers import _fused

    sizes = []
    original = _fused.evaluate

    def spy(terms, pool=None, into=None):
        sizes.append(len(terms))
        return original(terms, pool, into)

    try:
        _fused.evaluate = spy
        with S.fused_elementwise():
            fn(model, x, grid, **kw)
    finally:
        _fused.evaluate = original
    return max(sizes)


@pytest.mark.parametrize("name, fn, kw", CASES, ids=[c[0] for c in CASES])
def test_fused_combinations_do_not_grow_with_the_number_of_steps(name, fn, kw, gmm_law, vp):
    """A state carried lazily from step to step (UniPC's corrected state, a momentum
    velocity) made step i a combination of about 2i tensors: quadratic work in the steps."""
    import torch

    model = ExactModel(gmm_law, vp, prediction="eps", backend="torch")
    x = torch.tensor(np.random.default_rng(reseed(0)).standard_normal((5, 2)))

    def largest(n):
        options = {k: (np.linspace(0.9, 1.1, n) if k == "ratios" else v) for k, v in kw.items()}
        return _largest_fused_combination(fn, options, model, x, S.uniform_log_snr_grid(vp, n))

    short, long = largest(12), largest(30)
    assert long == short <= 10


def test_a_callback_costs_one_pass_per_step_for_the_denoised_state_and_nothing_else(
        gaussian_law, vp, monkeypatch):
    """The state a callback sees is kept and reused by the next step, not computed again."""
    import torch

    from toytheory.diffusion.solvers import _fused

    grid = S.uniform_log_snr_grid(vp, 8)
    model = S.AffineGaussianModel(gaussian_law, vp, "eps")
    x = torch.zeros(4, 3, dtype=torch.float64)
    counts = []
    original = _fused.evaluate
    monkeypatch.setattr(_fused, "evaluate", lambda terms, pool=None, into=None:
                        counts.append(1) or original(terms, pool, into))
    seen = []
    for callback in (None, seen.append):
        counts.clear()
        with S.fused_elementwise():
            out = S.sample_dpmpp_2m(model, x, grid, callback=callback)
        if callback is None:
            plain = len(counts)
            first = out
    assert len(counts) == plain + grid.n_steps      # + the data prediction ("denoised")
    assert torch.equal(out, first)
    assert all(a["x_next"] is b["x"] for a, b in zip(seen, seen[1:]))


def test_fused_mode_flattens_a_2m_step_into_one_combination_of_four_tensors(gaussian_law, vp):
    import torch

    from toytheory.diffusion.solvers import _fused

    calls = []
    original = _fused.evaluate

    def spy(terms, pool=None, into=None):
        calls.append(len(terms))
        return original(terms, pool, into)

    grid = S.uniform_log_snr_grid(vp, 6)
    model = S.AffineGaussianModel(gaussian_law, vp, "eps")
    try:
        _fused.evaluate = spy
        with S.fused_elementwise():
            S.sample_dpmpp_2m(model, torch.zeros(4, 3, dtype=torch.float64), grid,
                              lower_order_final=False)
    finally:
        _fused.evaluate = original
    # steps 2..6 of 2M: x_i, eps_i, x_{i-1}, eps_{i-1}
    assert max(calls) == 4 and len(calls) == grid.n_steps
