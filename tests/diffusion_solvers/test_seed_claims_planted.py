"""Every diffusion.solvers.seed / .guided claim of solvers-b catches its planted failure.

Each test plants the failure the claim exists to catch (a toolkit bug -> ``fails``, a false
statement -> ``refuted``) and runs the claim's own check on the quick tier under the suite
seed. Power: the exact claims (momentum, DC-Solver's Gaussian part, v3, DualFast, guided)
have no randomness, so the planted failure is caught with probability 1; the statistical
ones state their power in the test.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from toytheory.claims import execute_claim, load_catalog

REGISTRY = load_catalog()


def run_quick(claim_id, seed, **overrides):
    claim = REGISTRY[claim_id]
    if overrides:
        claim = claim.with_params("quick", **overrides)
    return execute_claim(claim, "quick", seed)


def test_momentum_without_momentum_is_refuted(monkeypatch, test_seed):
    """HB replaced by plain PLMS keeps PLMS-4's overshoot: the halving statement is false
    (exact laws, power 1)."""
    from toytheory.diffusion import solvers as S

    plms = S.sample_plms
    monkeypatch.setattr(S, "sample_hb", lambda model, x, grid, order, beta: plms(
        model, x, grid, order=order))
    result = run_quick("diffusion.solvers.seed.momentum_suppresses_divergence", test_seed)
    assert result["verdict"] == "refuted"


def test_time_shift_with_a_wrong_marginal_variance_fails(monkeypatch, test_seed):
    """A 10% error in the exact per-sample variance v(t) is a toolkit bug: the t-test of 400
    draws against v(500) rejects it (effect ~ 10 standard errors per coordinate-average;
    rejection at level 1e-6 with probability > 1 - 1e-6)."""
    import toytheory.diffusion.solvers as S

    original = S.expected_sample_variance

    def wrong(law, schedule):
        v = original(law, schedule)

        def w(tau):
            return 1.1 * v(tau)
        w.c0 = v.c0
        return w

    monkeypatch.setattr(S, "expected_sample_variance", wrong)
    for cid in ("diffusion.solvers.seed.time_shift_lowers_exposure_bias",
                "diffusion.solvers.seed.time_shift_eps_scale_variant"):
        result = run_quick(cid, test_seed, batches=1, n=50)
        assert result["verdict"] == "fails", cid


def test_time_shift_variant_with_no_effect_is_refuted(monkeypatch, test_seed):
    """If TS-DDIM were plain DDIM shifted by 0.3 per coordinate, it would lose every paired
    batch at kappa = +0.1: 0 wins of 24 gives a Clopper-Pearson upper end 0.45 < 1/2 (refuted with
    probability 1: the planted sampler loses deterministically)."""
    import toytheory.diffusion.solvers.time_shift as ts
    from toytheory.diffusion import solvers as S

    def worse(model, x_T, grid, **kw):
        return S.sample_ddim(model, x_T, grid) + 0.3

    monkeypatch.setattr(ts, "sample_ddim_time_shift", worse)
    result = run_quick("diffusion.solvers.seed.time_shift_eps_scale_variant", test_seed)
    assert result["verdict"] == "refuted"


def test_dc_solver_with_bad_ratios_is_refuted(monkeypatch, test_seed):
    """Compensation ratios fixed at 2 instead of fitted make DC-Solver worse than UniPC on the
    exact Gaussian (power 1)."""
    from toytheory.diffusion import solvers as S

    fit = S.fit_dc_ratios
    monkeypatch.setattr(S, "fit_dc_ratios",
                        lambda *a, **k: np.full_like(np.asarray(fit(*a, **k)), 2.0))
    result = run_quick("diffusion.solvers.seed.dc_solver_beats_unipc_at_nfe5", test_seed)
    assert result["verdict"] == "refuted"


def test_dc_solver_no_better_on_the_mixture_is_refuted(monkeypatch, test_seed):
    """The mixture statement alone: with the fitted mixture ratios replaced by 2 (the exact
    Gaussian part left as fitted), DC-Solver is worse than UniPC at most held-out points, so
    the exact sign test's interval at level 1e-6 lies below 1/2 (the sign test is exact:
    refuted with probability > 1 - 1e-6 whenever the true win rate is below 0.445 at 2000
    points; measured well below)."""
    from toytheory.diffusion import solvers as S

    fit = S.fit_dc_ratios
    calls = []

    def planted(*a, **k):
        calls.append(1)
        ratios = np.asarray(fit(*a, **k))
        return ratios if len(calls) == 1 else np.full_like(ratios, 2.0)

    monkeypatch.setattr(S, "fit_dc_ratios", planted)
    result = run_quick("diffusion.solvers.seed.dc_solver_beats_unipc_at_nfe5", test_seed)
    assert result["verdict"] == "refuted"
    sign = [x for x in result["numbers"] if "sign test" in x["name"]]
    assert len(sign) == 1 and sign[0]["interval"][1] < 0.5
    gaussian = [x for x in result["numbers"] if x["name"].startswith("Gaussian: exact RMS")]
    assert gaussian[0]["passed"]


def test_v3_with_wrong_statistics_fails(monkeypatch, test_seed):
    """Model statistics l off by 1% are a toolkit bug: the closed-form witness sees it
    (power 1)."""
    from toytheory.diffusion import solvers as S

    original = S.exact_model_statistics
    monkeypatch.setattr(S, "exact_model_statistics",
                        lambda *a, **k: replace(original(*a, **k), l=original(*a, **k).l * 1.01))
    result = run_quick("diffusion.solvers.seed.v3_first_order_exact_on_diagonal_gaussians",
                       test_seed)
    assert result["verdict"] == "fails"


def test_step_search_that_returns_a_bad_grid_is_refuted(monkeypatch, test_seed):
    """A 'search' that returns a degenerate grid (almost the whole log-SNR range in the first
    step) is worse than the uniform grids at almost every held-out point: the exact sign
    test's Clopper-Pearson interval at level 1e-6 lies below 1/2 at NFE 4 (refuted with
    probability > 1 - 1e-6 whenever the true win rate is below the detectable 0.39 at 512
    points; measured here near 0)."""
    import scipy.optimize

    class Result:
        def __init__(self, x):
            self.x = np.asarray(x, float)

    monkeypatch.setattr(scipy.optimize, "minimize",
                        lambda f, x0, **k: Result(np.r_[8.0, np.zeros(len(x0) - 1)]))
    result = run_quick("diffusion.solvers.seed.step_search_beats_hand_grids", test_seed,
                       nfes=(4,))
    assert result["verdict"] == "refuted"


def test_dualfast_with_a_perfect_model_is_refuted(monkeypatch, test_seed):
    """With the planted error removed, the approximation error is 0 and cannot be a third of
    the total (exact, power 1)."""
    import toytheory.diffusion.solvers.models as models

    class Perfect(models.PerturbedModel):
        def __init__(self, model, schedule, **kw):
            super().__init__(model, schedule)

    monkeypatch.setattr(models, "PerturbedModel", Perfect)
    result = run_quick("diffusion.solvers.seed.dualfast_error_split", test_seed)
    assert result["verdict"] == "refuted"


def test_guided_model_with_wrong_combination_fails(monkeypatch, test_seed):
    """A guided data prediction (1 + w) x0_c - (w - 0.1) x0_u is a toolkit bug: at w = 0 it
    differs from the conditional model (power 1)."""
    from toytheory.diffusion.guidance import GuidedMixtureModel

    def wrong(self, y, sig):
        return ((1.0 + self.w) * self.cond.denoise(y, 1.0, sig)
                - (self.w - 0.1) * self.uncond.denoise(y, 1.0, sig))

    monkeypatch.setattr(GuidedMixtureModel, "_x0_ve", wrong)
    result = run_quick("diffusion.solvers.guided.dpmpp_2m_stable_at_large_guidance", test_seed,
                       nfes=(10,))
    assert result["verdict"] == "fails"


def test_guided_claim_with_a_stable_dpm_solver_2_is_refuted(monkeypatch, test_seed):
    """If single-step DPM-Solver-2 were as good as DPM-Solver++(2M), 'slower than DDIM' would
    be false at NFE 10 (exact quadrature, power 1)."""
    from toytheory.diffusion import solvers as S

    def as_2m(model, x, grid, **kw):
        return S.sample_dpm_solver_multistep(model, x, grid, order=2, algorithm="dpmsolver")

    monkeypatch.setattr(S, "sample_dpm_solver_singlestep", as_2m)
    result = run_quick("diffusion.solvers.guided.dpmpp_2m_stable_at_large_guidance", test_seed,
                       nfes=(10,))
    assert result["verdict"] == "refuted"
