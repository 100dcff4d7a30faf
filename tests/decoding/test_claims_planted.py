"""Every decoding claim's check catches the failure it is there to catch.

Planted toolkit bugs (a wrong oracle, a wrong simulator) must come out ``fails``; a
planted false statement (an algorithm that does not do what the paper says, implemented
consistently everywhere) must come out ``refuted``. The exact checks catch their plants
with certainty; the statistical ones are sized in each docstring.
"""

from __future__ import annotations


import numpy as np
import pytest

from toytheory.claims import execute_claim, load_catalog

REGISTRY = load_catalog()


def run(claim_id, seed, **overrides):
    claim = REGISTRY[claim_id]
    if overrides:
        claim = claim.with_params("quick", **overrides)
    return execute_claim(claim, "quick", seed)


def test_unplanted_claims_hold(test_seed):
    """Unplanted control (no planted bug): both claims hold; exact LP/min-cut numbers."""
    for cid in ("decoding.spectr.kseq_within_one_minus_one_over_e_of_optimal",
                "decoding.spectr.more_candidates_raise_optimal_acceptance"):
        assert run(cid, test_seed)["verdict"] == "holds"


# ----------------------------------------------------------------- K-SEQ preserves the law

def test_a_rho_that_does_not_solve_its_equation_fails(monkeypatch, test_seed):
    """Exact: rho = 1 leaves the equation's gap at TV - TV^k > 1e-3 on the fixed toy.
    Power: deterministic — gap 0.385 (worst instance) against the rounding tolerance; no
    random draw decides it."""
    import toytheory.decoding as decoding

    monkeypatch.setattr(decoding, "kseq_rho", lambda target, draft, k: 1.0)
    result = run("decoding.spectr.kseq_output_follows_target", test_seed, n_sim=20_000)
    assert result["verdict"] == "fails", result["message"]


def test_a_simulator_that_returns_the_draft_fails(monkeypatch, test_seed):
    """Power: instance 0 has TV(target, draft) > 0.2; 2e4 draws from the draft law give a
    chi-square noncentrality n * sum(d^2 / p) > 400 against a 1e-6/12 critical value
    below 60 (2 cells of freedom at most 4): missed with probability < 1e-12."""
    import sims.decoding_speculative as sim

    def draft_only(target, draft, k, rho, n, seed):
        rng = np.random.default_rng(seed)
        return rng.multinomial(n, np.asarray(draft)), n

    monkeypatch.setattr(sim, "kseq_counts", draft_only)
    result = run("decoding.spectr.kseq_output_follows_target", test_seed, n_sim=20_000)
    assert result["verdict"] == "fails", result["message"]


def test_an_algorithm_that_resamples_the_target_after_rejection_is_refuted(monkeypatch,
                                                                            test_seed):
    """A false statement, planted consistently (exact law, closed form and simulator all
    resample from the target after a rejection): witnesses agree, the law is not the
    target. Power: >= 1 - 1e-6 — the statement is exact (0.248 from the target against the
    rounding tolerance); the only draw is the simulated witness, which must accept a true
    law and falsely rejects with probability <= 1e-6 (Holm at 1e-6)."""
    import sims.decoding_speculative as sim
    import toytheory.decoding.kseq as kseq

    monkeypatch.setattr(kseq, "kseq_residual", lambda target, draft, rho: np.asarray(target))
    monkeypatch.setattr(sim, "residual_law", lambda target, draft, rho: target)
    result = run("decoding.spectr.kseq_output_follows_target", test_seed, n_sim=20_000)
    assert result["verdict"] == "refuted", result["message"]


# ----------------------------------------------------------------- (1 - 1/e)-optimality

def test_a_wrong_lp_fails(monkeypatch, test_seed):
    """Planted: the LP optimum 1% low. Power: deterministic — LP vs min-cut gap 0.01 (and
    K-SEQ above the optimum by 0.0056) against 1e-9; the LP and formula involve no draw."""
    import toytheory.decoding as decoding

    original = decoding.optimal_acceptance_lp
    monkeypatch.setattr(decoding, "optimal_acceptance_lp",
                        lambda t, d, k: original(t, d, k) * 0.99)
    result = run("decoding.spectr.kseq_within_one_minus_one_over_e_of_optimal", test_seed,
                 grid=((2, 2),), starts=1)
    assert result["verdict"] == "fails", result["message"]


def test_an_acceptance_above_the_optimum_fails(monkeypatch, test_seed):
    """k beta(rho) exceeds the optimum on the fixed toy (exact). Power: deterministic —
    excess 0.185 against 1e-9."""
    import toytheory.decoding as decoding

    def too_good(t, d, k):
        return min(1.0, k * decoding.kseq_beta(t, d, decoding.kseq_rho(t, d, k)))

    monkeypatch.setattr(decoding, "kseq_acceptance", too_good)
    result = run("decoding.spectr.kseq_within_one_minus_one_over_e_of_optimal", test_seed,
                 grid=((2, 2),), starts=1)
    assert result["verdict"] == "fails", result["message"]


def test_a_selection_at_half_the_acceptance_is_refuted(monkeypatch, test_seed):
    """Half of K-SEQ's acceptance is at most 1/2 < 1 - 1/e of the optimum: exact. Power:
    deterministic — ratio 0.444 against 0.632."""
    import toytheory.decoding as decoding

    original = decoding.kseq_acceptance
    monkeypatch.setattr(decoding, "kseq_acceptance", lambda t, d, k: 0.5 * original(t, d, k))
    result = run("decoding.spectr.kseq_within_one_minus_one_over_e_of_optimal", test_seed,
                 grid=((2, 2),), starts=1)
    assert result["verdict"] == "refuted", result["message"]


# ----------------------------------------------------------------- more candidates

def test_a_min_cut_with_the_wrong_power_fails(monkeypatch, test_seed):
    """Planted: the min-cut formula evaluated at k + 1. Power: deterministic — LP vs
    min-cut gap 0.23 against 1e-9."""
    import toytheory.decoding as decoding

    original = decoding.optimal_acceptance_min_cut
    monkeypatch.setattr(decoding, "optimal_acceptance_min_cut",
                        lambda t, d, k: original(t, d, k + 1))
    result = run("decoding.spectr.more_candidates_raise_optimal_acceptance", test_seed)
    assert result["verdict"] == "fails", result["message"]


def test_an_optimum_that_ignores_k_is_refuted(monkeypatch, test_seed):
    """Planted false statement: the optimum at k = 1 for every k. Power: deterministic —
    the least gain from k = 1 to 2 is exactly 0 against the required 1e-9."""
    import toytheory.decoding as decoding

    lp, cut = decoding.optimal_acceptance_lp, decoding.optimal_acceptance_min_cut
    monkeypatch.setattr(decoding, "optimal_acceptance_lp", lambda t, d, k: lp(t, d, 1))
    monkeypatch.setattr(decoding, "optimal_acceptance_min_cut", lambda t, d, k: cut(t, d, 1))
    result = run("decoding.spectr.more_candidates_raise_optimal_acceptance", test_seed)
    assert result["verdict"] == "refuted", result["message"]


# ----------------------------------------------------------------- pass@k

def test_a_plug_in_estimator_in_the_simulation_fails(monkeypatch, test_seed):
    """At n = 10, k = 3, p = 1/3 the plug-in's bias is 19/27 - E[plug-in] > 0.03, while the
    Hoeffding half-width at 2e5 draws and 1e-6 is 0.0082; missed with probability below
    2 exp(-2 * 2e5 * 0.022^2) < 1e-80."""
    import toytheory.decoding as decoding

    monkeypatch.setattr(decoding, "pass_at_k_unbiased", decoding.pass_at_k_plugin)
    result = run("decoding.monkeys.pass_at_k_estimator_unbiased", test_seed)
    assert result["verdict"] == "fails", result["message"]


def test_an_estimator_that_is_biased_everywhere_is_refuted(monkeypatch, test_seed):
    """Planted false statement: the plug-in as 'unbiased', exact means included. Power:
    deterministic — 3 cases biased in exact rationals against 0 allowed."""
    import toytheory.decoding as decoding

    exact = decoding.expected_pass_at_k_exact
    monkeypatch.setattr(decoding, "pass_at_k_unbiased", decoding.pass_at_k_plugin)
    monkeypatch.setattr(decoding, "expected_pass_at_k_exact",
                        lambda n, k, p, estimator="unbiased": exact(n, k, p, "plugin"))
    result = run("decoding.monkeys.pass_at_k_estimator_unbiased", test_seed)
    assert result["verdict"] == "refuted", result["message"]


# ----------------------------------------------------------------- Beta coverage

def test_a_coverage_off_by_one_attempt_fails(monkeypatch, test_seed):
    """C(k-1) for C(k): at k = 1 the coverage is 0 against a/(a+b) >= 0.0476 with 2e5
    problems: a binomial test at 1e-6 rejects with certainty (no success can be counted
    when the claimed rate is 0 and the simulated rate is not). Power: a miss needs no
    success at k = 1 among 2e5 problems of rate >= 0.0476: probability <= 0.9524^200000
    < 1e-4000."""
    import toytheory.decoding as decoding

    original = decoding.beta_coverage

    def off_by_one(k, a, b):
        k = np.asarray(k)
        return np.where(k > 1, original(np.maximum(k - 1, 1), a, b), 1e-300)

    monkeypatch.setattr(decoding, "beta_coverage", off_by_one)
    result = run("decoding.monkeys.beta_coverage_power_law_tail", test_seed)
    assert result["verdict"] == "fails", result["message"]


# ----------------------------------------------------------------- masked diffusion

MDM = "decoding.masked_diffusion.first_hitting_sampler_matches_original_process"


def _plain_marginals(p, partial):
    V, L = p.shape[0], p.ndim
    out = np.zeros((L, V))
    for i in range(L):
        out[i] = p.sum(axis=tuple(a for a in range(L) if a != i))
    for i, v in enumerate(partial):
        if v >= 0:
            out[i] = 0.0
            out[i, v] = 1.0
    return out


def test_an_exact_law_with_an_unconditioned_denoiser_fails(monkeypatch, test_seed):
    """The exact FHS law from per-position marginals differs from the simulated FHS (which
    conditions) by TV > 0.1 on the Markov toy; with 1e5 draws over 81 cells the chi-square
    noncentrality exceeds 1e3 against a 1e-6/4 critical value below 170: missed with
    probability < 1e-12."""
    import toytheory.decoding.masked_diffusion as md

    monkeypatch.setattr(md, "_marginals", _plain_marginals)
    result = run(MDM, test_seed, steps=(1, 2, 4))
    assert result["verdict"] == "fails", result["message"]


def test_a_step_sampler_with_the_wrong_unmasking_rate_fails(monkeypatch, test_seed):
    """An exact step law that unmasks every token at the first step (a wrong rate) is the
    product of marginals, TV > 0.1 from what the simulator (right rate) draws: caught as
    above. Power: the same chi-square bound as above (TV > 0.1, noncentrality > 1e3 against
    a critical value below 170): missed with probability < 1e-12."""
    import toytheory.decoding.masked_diffusion as md

    original = md.step_sampler_law
    monkeypatch.setattr(md, "step_sampler_law",
                        lambda joint, alphas: original(joint, md.linear_schedule(1)))
    result = run(MDM, test_seed)
    assert result["verdict"] == "fails", result["message"]


def test_a_first_hitting_sampler_that_ignores_the_context_is_refuted(monkeypatch, test_seed):
    """Planted consistently (exact law and simulated draws both from the unconditioned
    denoiser): witnesses agree and the FHS law is not the data law (exact). Power:
    >= 1 - 1e-6 — the statement is exact (0.162 from the data law); the simulated witnesses
    test a true law and falsely reject with probability <= 1e-6 (Holm at 1e-6)."""
    import sims.decoding_masked as sim
    import toytheory.decoding.masked_diffusion as md

    monkeypatch.setattr(md, "_marginals", _plain_marginals)

    def planted_counts(joint, n, seed):
        law = md.first_hitting_sampler_law(joint).ravel()
        return np.random.default_rng(seed).multinomial(n, law / law.sum())

    def planted_step_counts(joint, alphas, n, seed):
        law = md.step_sampler_law(joint, alphas).ravel()
        return np.random.default_rng(seed).multinomial(n, law / law.sum())

    monkeypatch.setattr(sim, "first_hitting_counts", planted_counts)
    monkeypatch.setattr(sim, "step_sampler_counts", planted_step_counts)
    result = run(MDM, test_seed, steps=(1, 2, 4))
    assert result["verdict"] == "refuted", result["message"]
