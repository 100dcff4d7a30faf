"""Planted bugs: every diffusion.exact claim's witnesses catch a wrong implementation.

Each claim runs its quick tier under the suite's seed (``test_seed``). Power: every planted
bug here moves a deterministic witness far outside its tolerance (closed forms, autograd,
finite differences, probed maps: the planted error is >= 1e-6 relative against tolerances
of 1e-8 or less, whatever the seed), or moves a law by an effect far beyond what the
statistical witness detects at level 1e-6 (stated per test), so each is caught with
probability >= 1 - 1e-6 under any seed."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from toytheory.claims import execute_claim, load_catalog
from toytheory.claims.catalog import (diffusion_exact_flows, diffusion_exact_gaussian_laws,
                                      diffusion_exact_scores, diffusion_exact_simulators,
                                      diffusion_exact_teleportation)
from toytheory.diffusion import explained_variance as evar
from toytheory.diffusion import teleportation as tp

REGISTRY = load_catalog()


def _run(claim_id, seed, **quick):
    claim = REGISTRY[claim_id]
    if quick:
        claim = replace(claim, tiers={**claim.tiers, "quick": {**claim.tiers["quick"], **quick}})
    result = execute_claim(claim, "quick", seed)
    assert result["traceback"] is None, result["traceback"]
    failed = {n["name"] for n in result["numbers"] if n["passed"] is False}
    return result["verdict"], failed


def test_flow_claim_fails_when_the_closed_form_is_off_by_1e_6(monkeypatch, test_seed):
    """Power: deterministic (ODE solves from fixed starts): the planted 1e-6 relative error
    is 100x the 1e-8 tolerance of every RK4 witness; no random draw decides it."""
    real = diffusion_exact_flows.gaussian_pf_ode_solution

    def wrong(x_s, law, schedule, s, t):
        return real(x_s, law, schedule, s, t) * (1 + 1e-6)

    monkeypatch.setattr(diffusion_exact_flows, "gaussian_pf_ode_solution", wrong)
    verdict, failed = _run("diffusion.exact.gaussian_flow_solves_pf_ode", test_seed)
    assert verdict == "fails"
    assert any(name.startswith("Numba RK4 vs closed form") for name in failed)
    assert any(name.startswith("torch RK4 vs closed form") for name in failed)


def test_score_claim_fails_when_the_score_is_scaled_by_1_05(monkeypatch, test_seed):
    """Power: deterministic: the planted 1.05 leaves autograd and finite differences by a
    relative 0.048 at every probed point, against tolerances 1e-10 and 1e-6."""
    real = diffusion_exact_scores.numpy_score
    monkeypatch.setattr(diffusion_exact_scores, "numpy_score",
                        lambda law, x, a, s: 1.05 * real(law, x, a, s))
    verdict, failed = _run("diffusion.exact.gmm_score_is_gradient_of_log_density", test_seed)
    assert verdict == "fails"
    assert any("autograd" in name for name in failed)
    assert any("finite differences" in name for name in failed)


def test_denoiser_claim_fails_when_the_denoiser_uses_a_10_percent_wrong_noise_level(
        monkeypatch, test_seed):
    """Planted: the denoiser uses 1.1 sigma. Under seeds 0-5 the orthogonality t-tests'
    Bonferroni p-value was <= 2e-20 and the bounded Bayes tests' <= 2e-14, against 1e-6: the
    bias is many interval widths (the Bernstein widths are fixed by the bounds and n, not by
    the seed), so both fail with probability >= 1 - 1e-6 under any seed.

    Power: at the quick tier (n = 20,000) the t-tests' Bonferroni p reached 7e-22 (suite
    seeds 0-6): a largest |t| of 9.6-12.4 against 5.9 (134 tests at 1e-6), only ~4 spreads
    of margin. This runs 3x the draws (n = 60,000, bayes_n = 150,000): |t| >= 16.6, a miss
    needs a 10-s.e. shortfall (< 1e-20, normal tail). Measured under suite seeds 0-9: t-test
    p <= 2e-61 (|t| >= 16.5), Bernstein p <= 1e-66 (<= 9e-24 at the quick size)."""
    monkeypatch.setattr(diffusion_exact_scores, "denoise",
                        lambda law, x, a, s: law.denoise(x, a, 1.1 * s))
    verdict, failed = _run("diffusion.exact.denoiser_is_posterior_mean", test_seed,
                           n=60_000, bayes_n=150_000)
    assert verdict == "fails"
    assert any(name.startswith("E[(x0 - D(x_t)) g(x_t)] = 0") for name in failed)
    assert any(name.startswith("Bayes") for name in failed)


class _WrongDriftSign:
    def __init__(self, base):
        self.base = base

    def __getattr__(self, name):
        return getattr(self.base, name)

    def drift(self, t):
        return -self.base.drift(t)


def test_numba_simulator_claim_fails_when_the_sde_drift_has_the_wrong_sign(monkeypatch, test_seed):
    """Power: the wrong drift moves the 1-D output's KS distance to ~0.3 (p <= 1e-271 under
    suite seeds 0-9 at the quick tier's n = 3000) against a critical value 0.049 (level
    1e-6): a miss needs sup|F_n - F| > 0.25, probability <= 2 exp(-2 n 0.25^2) = 2 e^-375
    (DKW)."""
    real = diffusion_exact_simulators.numba_sde
    monkeypatch.setattr(diffusion_exact_simulators, "numba_sde",
                        lambda law, sch, x, grid, seed: real(law, _WrongDriftSign(sch), x, grid,
                                                             seed))
    verdict, failed = _run("diffusion.exact.numba_simulators_match_exact_marginals", test_seed)
    assert verdict == "fails"
    assert any(name.startswith("Numba reverse SDE") and "KS" in name for name in failed)


def test_torch_simulator_claim_fails_when_the_score_is_scaled_by_1_05(monkeypatch, test_seed):
    """Power: at the quick tier's n = 3000 the PF-ODE KS p-values were 1e-12..8e-8 (too close
    to 1e-6 to bound), so this runs n = 12,000: 1-D p <= 2.4e-29 under suite seeds 0-9,
    sqrt(2n) D >= 8.1 against 3.8 at the critical value; a miss needs sqrt(2n) sup|F_n - F|
    > 4.3, probability <= 2 e^-18.6 = 2e-8 by the DKW bound (and the 2-D witness, p <= 5e-37,
    must miss too)."""
    real = diffusion_exact_simulators._torch_score

    def scaled(law, schedule, device):
        score = real(law, schedule, device)
        return lambda y, t: 1.05 * score(y, t)

    monkeypatch.setattr(diffusion_exact_simulators, "_torch_score", scaled)
    verdict, failed = _run("diffusion.exact.torch_simulators_match_exact_marginals", test_seed,
                           n=12_000)
    assert verdict == "fails"
    assert any(name.startswith("torch PF-ODE") for name in failed)


def test_explained_variance_claim_fails_with_a_gaussian_approximation_missing_the_means(
        monkeypatch, test_seed):
    """Power: deterministic witnesses decide ``fails`` (quadrature E|s - s_G|^2 vs
    E|s|^2 - tr A: 15.8 against -0.002, tolerance 1e-3); the Stein t-test asserted below has
    p ~1e-67 at seed 0 (its t is > 17 s.e., a miss < 1e-40 by the normal tail)."""
    real = evar._gaussian_parts

    def within_only(law, alpha, sigma):  # planted: the spread of the means is dropped
        centre, _ = real(law, alpha, sigma)
        within = np.einsum("k,kij->ij", law.weights, law.covs)
        lam, vecs = np.linalg.eigh(within)
        return centre, (vecs / (alpha**2 * lam + sigma**2)) @ vecs.T

    monkeypatch.setattr(evar, "_gaussian_parts", within_only)
    verdict, failed = _run("diffusion.exact.gaussian_score_dominates_at_high_noise", test_seed)
    assert verdict == "fails"
    assert any(name.startswith("Stein identity") for name in failed)


def test_teleportation_claim_fails_when_the_jump_drops_its_offset(monkeypatch, test_seed):
    """Power: at the quick tier's n_sim = 4000 the jumped samples' KS p-value ranged over
    2e-22 .. 9e-43 (suite seeds 0-6): sqrt(2n) D = 7.2-9.9 against 4.0 at the Bonferroni
    critical value (5 directions), a DKW miss bound of only 6e-5 at the worst seed. So this
    runs n_sim = 16,000: p <= 1e-87 under suite seeds 0-9, sqrt(2n) D >= 14.2, and a miss
    needs sqrt(2n) sup|F_n - F| > 10.2, probability <= 2 e^-104 (DKW)."""
    def no_offset(x, law, schedule=None, t_from=80.0, t_to=10.0):
        m, _ = tp._teleport_map(law, schedule, t_from, t_to)
        return x @ m.T

    shifted = diffusion_exact_teleportation.grid_25
    monkeypatch.setattr(diffusion_exact_teleportation, "grid_25",
                        lambda: type(shifted()).isotropic(shifted().weights,
                                                          shifted().means + 3.0,
                                                          shifted().eigvals[:, 0]))
    monkeypatch.setattr(tp, "gaussian_teleport", no_offset)
    verdict, failed = _run("diffusion.exact.teleportation_skip_fraction", test_seed,
                           n_sim=16_000)
    assert verdict == "fails"
    assert any(name.startswith("2-D 5x5 grid: jumped samples") for name in failed)


# ----------------------------------------------------------------------------- Gaussian laws

KL_CLAIM = "diffusion.exact.gaussian_kl_closed_form"
AFFINE_CLAIM = "diffusion.exact.affine_sampler_law"


def test_kl_claim_holds_with_the_real_closed_form(test_seed):
    verdict, failed = _run(KL_CLAIM, test_seed)
    assert verdict == "holds" and not failed


def test_kl_claim_fails_when_the_closed_form_is_5_percent_too_large(monkeypatch, test_seed):
    """Power: the quadrature and eigenvalue witnesses are deterministic (5% against
    tolerances of 1e-8 relative); the Monte Carlo witness sees 5% of a KL at p ~1e-214,
    a t statistic > 30 against 5: a miss < 1e-100 by the normal tail."""
    real = diffusion_exact_gaussian_laws.kl_divergence_gaussians
    monkeypatch.setattr(diffusion_exact_gaussian_laws, "kl_divergence_gaussians",
                        lambda m1, s1, m2, s2: 1.05 * real(m1, s1, m2, s2))
    verdict, failed = _run(KL_CLAIM, test_seed)
    assert verdict == "fails"
    assert any(name.startswith("1-D, near") and "quadrature" in name for name in failed)
    assert any(name.startswith("2-D pair") for name in failed)
    assert any("generalised-eigenvalue" in name for name in failed)
    assert any("Monte Carlo" in name for name in failed)


def test_kl_claim_fails_when_the_arguments_are_swapped(monkeypatch, test_seed):
    """Power: deterministic quadrature witnesses (20.9 vs 2.65, tolerance 3e-8) and a Monte
    Carlo witness at p = 0 (a t statistic far beyond 40): miss probability < 1e-100."""
    # planted: KL(q || p) for KL(p || q); every witness sees the asymmetry
    real = diffusion_exact_gaussian_laws.kl_divergence_gaussians
    monkeypatch.setattr(diffusion_exact_gaussian_laws, "kl_divergence_gaussians",
                        lambda m1, s1, m2, s2: real(m2, s2, m1, s1))
    verdict, failed = _run(KL_CLAIM, test_seed)
    assert verdict == "fails"
    assert any("Monte Carlo" in name for name in failed)
    assert sum("quadrature" in name for name in failed) == 5


def test_affine_sampler_claim_holds_with_the_real_machinery(test_seed):
    verdict, failed = _run(AFFINE_CLAIM, test_seed)
    assert verdict == "holds" and not failed


def _pushforward_without_noise(affine, mean, cov):
    """Planted: the injected noise N N^T is left out of the output covariance."""
    from toytheory.diffusion.affine import AffineMap, gaussian_pushforward

    silent = AffineMap(affine.matrix, np.zeros((affine.matrix.shape[0], 0)), affine.offset,
                       affine.residual)
    return gaussian_pushforward(silent, mean, cov)


def test_affine_sampler_claim_fails_when_the_pushforward_drops_the_noise(monkeypatch, test_seed):
    """Power: the eta = 1 outputs against a law without N N^T give KS p = 0 at n = 100,000
    (miss < 1e-100 by DKW); the unplanted eta = 0 witness false-alarms with probability
    <= 1e-6 (its level), the only way this test can fail."""
    monkeypatch.setattr(diffusion_exact_gaussian_laws, "gaussian_pushforward",
                        _pushforward_without_noise)
    verdict, failed = _run(AFFINE_CLAIM, test_seed)
    assert verdict == "fails"
    assert any(name.startswith("DDIM eta=1") and "simulated outputs" in name
               for name in failed)
    assert not any(name.startswith("DDIM eta=0") for name in failed)  # no noise to drop


def test_affine_sampler_claim_fails_when_the_output_covariance_is_5_percent_too_large(
        monkeypatch, test_seed):
    """Power: each of the two simulated-output witnesses rejects at p <= 5e-41 under suite
    seeds 0-9 (n = 100,000, 7 tests): sqrt(2n) D >= 9.8 against 4.1 at the Bonferroni
    critical value, so a miss needs sqrt(2n) sup|F_n - F| > 5.7: probability <= 2 e^-32
    each (DKW)."""
    from toytheory.diffusion.affine import gaussian_pushforward

    def inflated(affine, mean, cov):
        m, c = gaussian_pushforward(affine, mean, cov)
        return m, 1.05 * c

    monkeypatch.setattr(diffusion_exact_gaussian_laws, "gaussian_pushforward", inflated)
    verdict, failed = _run(AFFINE_CLAIM, test_seed)
    assert verdict == "fails"
    assert any(name.startswith("DDIM eta=0") and "simulated outputs" in name for name in failed)
    assert any(name.startswith("DDIM eta=1") and "simulated outputs" in name for name in failed)


def test_affine_sampler_claim_fails_when_the_probed_matrix_is_1_percent_off(monkeypatch, test_seed):
    """Power: deterministic: both probed-map witnesses see 7.5e-3 and 6.6e-5 against their
    1e-9 tolerance; no random draw decides them."""
    from toytheory.diffusion.affine import AffineMap, affine_map_of

    def off(fn, d, **kw):
        a = affine_map_of(fn, d, **kw)
        return AffineMap(1.01 * a.matrix, a.noise_matrix, a.offset, a.residual)

    monkeypatch.setattr(diffusion_exact_gaussian_laws, "affine_map_of", off)
    verdict, failed = _run(AFFINE_CLAIM, test_seed)
    assert verdict == "fails"
    assert sum("probed map vs map composed" in name for name in failed) == 2
