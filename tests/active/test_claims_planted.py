"""The active-learning claims catch planted failures."""

from __future__ import annotations

import numpy as np

from toytheory.claims import execute_claim, load_catalog

REGISTRY = load_catalog()
ROBUST = "active.thresholds.robust_policy_competes_per_class"
BRUTE = "active.thresholds.exact_minimax_matches_brute_force"


def _run(claim_id, seed, **overrides):
    claim = REGISTRY[claim_id]
    if overrides:
        claim = claim.with_params("quick", **overrides)
    return execute_claim(claim, "quick", seed)


def test_a_wrong_answer_law_fails_the_simulation_witness(monkeypatch, test_seed):
    """Planted: the exact recursion believes answers are flipped 0.1 more often than they
    are. The robust policy's exact errors then sit 0.11 to 0.18 above its true errors on
    every one of the 12 problems (the simulation draws answers from the true noise
    profiles, written in sims/). Power: at 3,000 plays no Clopper-Pearson interval at
    1e-6 / 12 reaches more than 0.0491 from its estimate (computed over every count), so a
    miss needs the simulated rate 0.06 or more from its mean on every problem, by Hoeffding
    <= 2 exp(-2 * 3000 * 0.0609^2) = 4.3e-10 for any one: caught with probability
    >= 1 - 1e-9 under any seed."""
    from toytheory.rl import active_learning as al

    original = al.ThresholdProblem.label_one_prob

    def shifted(self):
        p = original(self)
        return np.where(p > 0.5, p - 0.1, p + 0.1)

    monkeypatch.setattr(al.ThresholdProblem, "label_one_prob", shifted)
    result = _run(ROBUST, test_seed, budgets=(3,))
    assert result["verdict"] == "fails", result["message"]


def test_an_unachievable_threshold_is_refuted(test_seed):
    """Planted false statement: an excess of at most 0.001. Power: deterministic — the
    exact excesses are 0.037, 0.028, 0.019 at budgets 3, 4, 6 against 0.001; no random draw
    enters them."""
    result = _run(ROBUST, test_seed, max_excess=0.001)
    assert result["verdict"] == "refuted", result["message"]


def test_a_best_response_that_is_not_best_fails_the_certificate(monkeypatch, test_seed):
    """Planted: the learner's best response is replaced by generalised binary search. The
    double oracle's "certificate" is then computed from a policy that is not the best
    response, so it closes at a value above the brute-force minimax (0.2 vs 0.1 for one
    point and two queries). Power: deterministic — largest gap 0.6 over the claim's
    problems against the witness's 1e-9 tolerance; no random draw enters it."""
    from toytheory.rl import active_learning as al

    monkeypatch.setattr(al, "bayes_policy", lambda problem, prior: al.gbs_policy(problem))
    result = _run(BRUTE, test_seed)
    assert result["verdict"] == "fails", result["message"]


def test_the_refuted_planted_run_meets_the_result_contract(test_seed):
    """The planted false statement (excess <= 0.001) with one budget. Power: deterministic
    — exact excess 0.037 at budget 3 against 0.001; no random draw enters it."""
    from toytheory.claims.contract import result_problems

    result = _run(ROBUST, test_seed, max_excess=0.001, budgets=(3,))
    assert result["verdict"] == "refuted" and result_problems(result) == []
