"""The exact imperfect-denoiser claims (skip-tuning, region caching) catch planted bugs and
planted false statements."""

from __future__ import annotations

import numpy as np
import pytest

from toytheory.claims import execute_claim, load_catalog

REGISTRY = load_catalog()


def run_quick(claim_id, seed, **overrides):
    claim = REGISTRY[claim_id]
    if overrides:
        claim = claim.with_params("quick", **overrides)
    return execute_claim(claim, "quick", seed)


def test_skip_tuning_closed_form_with_euler_steps_fails(monkeypatch, test_seed):
    """Planted: the closed-form sampler gain takes Euler steps where the claim says Heun. The
    rotated full-matrix Heun sampler differs from it by far more than 1e-6 (relative) at 10
    and 20 steps: ``fails`` with probability 1 (exact, no sampling)."""
    import toytheory.diffusion.skip_tuning as sk

    original = sk.sampler_gains
    monkeypatch.setattr(sk, "sampler_gains",
                        lambda lam, rho, n, **kw: original(lam, rho, n, method="euler"))
    assert run_quick("diffusion.imperfect.skip_tuning_gaussian", test_seed)["verdict"] == "fails"


def test_skip_tuning_at_many_steps_is_refuted(test_seed):
    """Planted false statement: at 40 and 60 Heun steps the ODE error is negligible, the best
    rho is 1 and the improvement ratio is 1 < 2: ``refuted`` with probability 1."""
    r = run_quick("diffusion.imperfect.skip_tuning_gaussian", test_seed, steps=(40, 60))
    assert r["verdict"] == "refuted"


def test_region_caching_with_a_wrong_ddim_step_fails(monkeypatch, test_seed):
    """Planted: the reference DDIM re-noises with the current sigma instead of the next one.
    RAS at fraction 1 (the correct step) then differs from it by O(1) (tolerance 1e-12):
    ``fails`` with probability 1."""
    import toytheory.diffusion.region_caching as rc

    def wrong(prob, x_T, n_steps):
        alpha, sigma = rc._grid(n_steps)
        x = np.array(x_T, float)
        for i in range(n_steps):
            e = rc._eps(prob, x, alpha[i], sigma[i])
            x = alpha[i + 1] * (x - sigma[i] * e) / alpha[i] + sigma[i] * e
        return x

    monkeypatch.setattr(rc, "ddim_sample", wrong)
    r = run_quick("diffusion.imperfect.region_adaptive_caching", test_seed, n=100)
    assert r["verdict"] == "fails"


def test_region_caching_when_most_coordinates_move_is_refuted(test_seed):
    """Planted false statement: 90% of the coordinates structured, so at f = 0.4 RAS must
    cache predictions that are still moving. It then loses to uniform steps on every x_T
    (measured: all 400 under seeds 0..9; the Clopper-Pearson upper end at 1e-6 for 0/400 is
    0.036 < 1/2): ``refuted`` with probability >= 1 - 1e-6."""
    r = run_quick("diffusion.imperfect.region_adaptive_caching", test_seed, share=0.9)
    assert r["verdict"] == "refuted"


def test_quantisation_with_a_wrong_affine_law_fails(monkeypatch, test_seed):
    """Planted: the exact full-precision law's offset shifted by 0.01. The quadrature of the
    sampler itself then disagrees with it by 0.01 > 1e-6: ``fails`` with probability 1."""
    import toytheory.diffusion.quantisation as qz

    original = qz._fp_affine
    monkeypatch.setattr(qz, "_fp_affine",
                        lambda prob: [(g, h + 0.01) for g, h in original(prob)])
    r = run_quick("diffusion.imperfect.ptq_eight_bit_time_aware", test_seed, n_mc=200,
                  context_bits=())
    assert r["verdict"] == "fails"


def test_quantisation_to_five_bits_is_refuted(test_seed):
    """Planted false statement: 5 bits instead of 8. The activation step is then 16 times
    coarser and the best time-aware Fréchet^2 is many times full precision (exact, no
    sampling in the statement): ``refuted`` with probability 1."""
    r = run_quick("diffusion.imperfect.ptq_eight_bit_time_aware", test_seed, bits=5,
                  n_mc=2000, context_bits=())
    assert r["verdict"] == "refuted"


def test_score_error_formula_off_by_one_fails(monkeypatch, test_seed):
    """Planted: (m - d - 2) for (m - d - 3) in the inverse-Wishart square. The d = 1 sympy
    integrals (m = 8, 12, 30) then disagree exactly: ``fails`` with probability 1."""
    import toytheory.diffusion.score_rates as sr

    def wrong(n, cov):
        cov = np.atleast_2d(cov)
        d, m = cov.shape[0], n - 1
        tr = float(np.trace(np.linalg.inv(cov)))
        return tr * ((1 + 1 / n) * m * m * (m - 1) / ((m - d) * (m - d - 1) * (m - d - 2))
                     - 2 * m / (m - d - 1) + 1)

    monkeypatch.setattr(sr, "expected_score_error_plugin", wrong)
    r = run_quick("diffusion.imperfect.plugin_score_error_exact", test_seed, reps=200)
    assert r["verdict"] == "fails"


def test_kl_formula_without_the_mean_term_fails(monkeypatch, test_seed):
    """Planted: the expected KL without the sample mean's term (about 0.036 at n = 60,
    d = 4). The KL's definition with the Bartlett route's exact moments differs by that
    (tolerance 1e-10 relative): ``fails`` with probability 1."""
    import toytheory.diffusion.score_rates as sr

    original = sr.expected_kl_plugin

    def wrong(n, d):
        m = n - 1
        return original(n, d) - 0.5 * m * d / (n * (m - d - 1))

    monkeypatch.setattr(sr, "expected_kl_plugin", wrong)
    r = run_quick("diffusion.imperfect.plugin_sampler_consistent", test_seed)
    assert r["verdict"] == "fails"


def test_an_ode_that_stops_short_of_zero_noise_is_refuted(monkeypatch, test_seed):
    """Planted false statement: the sampler's output left at noise 1e-3 (no final step):
    samples sit about 1e-3 from training points, above 1e-8 of the closest pair's
    distance: ``refuted`` with probability 1 - (chance of a zero normal draw)."""
    import toytheory.diffusion.score_rates as sr

    original = sr.pf_ode_empirical

    def short(points, x_T, **kw):
        out = original(points, x_T, **kw)
        return out + 1e-3 * np.random.default_rng(test_seed).standard_normal(out.shape)

    monkeypatch.setattr(sr, "pf_ode_empirical", short)
    r = run_quick("diffusion.imperfect.empirical_score_memorises", test_seed)
    assert r["verdict"] == "refuted"


def test_score_error_formula_wrong_only_above_d_one_fails(monkeypatch, test_seed):
    """Planted: (m - 2d - 2) for (m - d - 3), which agrees at d = 1 (the sympy chi-square
    witness cannot see it) and differs from d = 2 on. The Bartlett-decomposition moments
    (exact rationals, d = 2, 3) then disagree by far more than 1e-10: ``fails`` with
    probability 1."""
    import toytheory.diffusion.score_rates as sr

    def wrong(n, cov):
        cov = np.atleast_2d(cov)
        d, m = cov.shape[0], n - 1
        tr = float(np.trace(np.linalg.inv(cov)))
        return tr * ((1 + 1 / n) * m * m * (m - 1) / ((m - d) * (m - d - 1) * (m - 2 * d - 2))
                     - 2 * m / (m - d - 1) + 1)

    monkeypatch.setattr(sr, "expected_score_error_plugin", wrong)
    r = run_quick("diffusion.imperfect.plugin_score_error_exact", test_seed, reps=200)
    assert r["verdict"] == "fails"


def test_plugin_covariance_with_divisor_n_fails(monkeypatch, test_seed):
    """Planted: plugin_estimate with divisor n (np.cov(bias=True)) instead of n - 1. The
    simulation's covariance (divisor n - 1) then differs by a factor 59/60 (far above
    1e-12): ``fails`` with probability 1."""
    import toytheory.diffusion.score_rates as sr

    def biased(x):
        x = np.asarray(x, float)
        return x.mean(0), np.cov(x, rowvar=False, bias=True).reshape(x.shape[1], x.shape[1])

    monkeypatch.setattr(sr, "plugin_estimate", biased)
    r = run_quick("diffusion.imperfect.plugin_sampler_consistent", test_seed, reps=200)
    assert r["verdict"] == "fails"


def test_quantised_quadrature_mean_off_by_half_a_deviation_fails(monkeypatch, test_seed):
    """Planted: the quantised sampler's quadrature mean moved by half an output standard
    deviation (full precision left exact). The empirical-Bernstein intervals of 20,000
    clipped simulated outputs are at most about 0.1 sd wide each side, and the simulated
    mean lies within 0.04 sd of the truth with probability >= 1 - 1e-7 per coordinate, so
    every coordinate rejects: ``fails`` with probability >= 1 - 1e-6."""
    import toytheory.diffusion.quantisation as qz

    original = qz.output_moments

    def shifted(prob, bits=None, act_range=None, n_grid=200_001, zmax=9.0):
        m, v = original(prob, bits, act_range, n_grid, zmax)
        return (m if bits is None else m + 0.5 * np.sqrt(v)), v

    monkeypatch.setattr(qz, "output_moments", shifted)
    r = run_quick("diffusion.imperfect.ptq_eight_bit_time_aware", test_seed, context_bits=())
    assert r["verdict"] == "fails"
    bad = [t for t in r["tests"] if "simulated output means" in t["name"]]
    assert bad and bad[0]["verdict"] == "reject"


def test_mlp_ptq_with_relu_in_the_numpy_network_fails(monkeypatch, test_seed):
    """Planted toolkit bug: the float64 re-implementation of the trained MLP uses ReLU for
    SiLU. Its eps then differs from the torch model's by far more than 1e-4 on the probe
    points (SiLU(-1) = -0.27 vs 0): ``fails`` with probability 1 (the first witness,
    before any sampling)."""
    pytest.importorskip("torch")
    import toytheory.diffusion.quantisation_mlp as qm

    monkeypatch.setattr(qm.NumpyEpsMLP, "activation", staticmethod(lambda h: np.maximum(h, 0.0)))
    r = run_quick("diffusion.imperfect.ptq_mlp_simulated", test_seed, n=100, n_cal=50)
    assert r["verdict"] == "fails"


def test_mlp_ptq_at_sixteen_bits_does_not_hold(test_seed):
    """Planted false statement: 16 bits. The quantised network is then within about 1e-3 of
    full precision, so D(16-bit) - D(full) is near 0 (true value below 0.005) and the DKW
    intervals (valid at 1e-6 for any law) cover it, so they cannot lie wholly above 0.01:
    the loss statement cannot hold, and the claim is ``refuted`` or ``inconclusive`` with
    probability >= 1 - 1e-6."""
    pytest.importorskip("torch")
    r = run_quick("diffusion.imperfect.ptq_mlp_simulated", test_seed, bits=16, n=4000)
    assert r["verdict"] in ("refuted", "inconclusive")
