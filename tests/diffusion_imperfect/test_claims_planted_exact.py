"""The exact imperfect-denoiser claims (skip-tuning, region caching) catch planted bugs and
planted false statements."""

from __future__ import annotations

import numpy as np

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
