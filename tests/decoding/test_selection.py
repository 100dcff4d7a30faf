"""Majority vote and reward-model selection against brute force, bad input, and the
Large Language Monkeys paper claims with planted failures."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from toytheory.claims import execute_claim, load_catalog
from toytheory.decoding import selection as sel

REGISTRY = load_catalog()
COVERAGE = "decoding.monkeys.coverage_scales_over_four_decades"
PLATEAU = "decoding.monkeys.selection_plateaus_below_coverage"


def run(claim_id, seed, **overrides):
    claim = REGISTRY[claim_id]
    if overrides:
        claim = claim.with_params("quick", **overrides)
    return execute_claim(claim, "quick", seed)


def _brute_majority(k, p, q):
    """Enumerate every sequence of k answers (C, A, or a fresh unique wrong answer U)."""
    total = 0.0
    for seq in itertools.product("CAU", repeat=k):
        weight = np.prod([{"C": p, "A": q, "U": 1 - p - q}[s] for s in seq])
        counts = {"C": seq.count("C"), "A": seq.count("A")}
        labels = [counts["C"], counts["A"]] + [1] * seq.count("U")
        top = max(labels)
        tied = sum(c == top for c in labels)
        if counts["C"] == top and top > 0:
            total += weight / tied
    return total


def _brute_best_of_k(k, p, r1, r0):
    levels = len(r1)
    total = 0.0
    for draws in itertools.product([(c, s) for c in (0, 1) for s in range(levels)], repeat=k):
        weight = np.prod([(p * r1[s]) if c else ((1 - p) * r0[s]) for c, s in draws])
        top = max(s for _, s in draws)
        at_top = [c for c, s in draws if s == top]
        total += weight * sum(at_top) / len(at_top)
    return total


@pytest.mark.parametrize("k", [1, 2, 3, 4, 5])
def test_majority_vote_equals_brute_force(k, rng):
    p = rng.uniform(0, 0.6, size=4)
    q = rng.uniform(0, 1, size=4) * (1 - p)
    exact = sel.majority_vote_accuracy(k, p, q, per_problem=True)
    brute = [_brute_majority(k, a, b) for a, b in zip(p, q)]
    np.testing.assert_allclose(exact, brute, atol=1e-12)


@pytest.mark.parametrize("k", [1, 2, 3])
def test_best_of_k_equals_brute_force(k, rng):
    p = rng.uniform(0, 1, size=3)
    r1, r0 = rng.dirichlet(np.ones(3)), rng.dirichlet(np.ones(3))
    exact = sel.best_of_k_accuracy(k, p, r1, r0, per_problem=True)
    np.testing.assert_allclose(exact, [_brute_best_of_k(k, a, r1, r0) for a in p],
                               atol=1e-12)


def test_limits_by_hand():
    p, q = np.array([0.5, 0.2, 0.3, 0.0]), np.array([0.3, 0.4, 0.3, 0.0])
    np.testing.assert_array_equal(sel.majority_vote_limit(p, q, per_problem=True),
                                  [1.0, 0.0, 0.5, 0.0])
    # top level 2: correct mass 0.5 * 0.5, wrong 0.5 * 0.25 -> 2/3
    lim = sel.best_of_k_limit([0.5], [0.2, 0.3, 0.5], [0.5, 0.25, 0.25])
    assert lim == pytest.approx(2 / 3, abs=1e-15)
    assert sel.population_coverage(3, [0.5]) == pytest.approx(7 / 8, abs=1e-15)


@pytest.mark.parametrize("call, name", [
    (lambda: sel.majority_vote_accuracy(0, [0.5], [0.1]), "k"),
    (lambda: sel.majority_vote_accuracy(2, [1.5], [0.1]), "p"),
    (lambda: sel.majority_vote_accuracy(2, [0.7], [0.5]), "q"),
    (lambda: sel.best_of_k_accuracy(2, [0.5], [0.5, 0.6], [0.5, 0.5]), "score_correct"),
    (lambda: sel.best_of_k_accuracy(2, [0.5], [0.5, 0.5], [1.0]), "score_wrong"),
    (lambda: sel.beta_population(0.0, 1.0, 10), "a"),
    (lambda: sel.beta_population(1.0, 1.0, 0), "problems"),
])
def test_bad_input_names_the_argument(call, name):
    with pytest.raises(ValueError, match=name):
        call()


# ----------------------------------------------------------------- paper claims, planted

def test_paper_claims_hold(test_seed):
    for cid in (COVERAGE, PLATEAU):
        assert run(cid, test_seed)["verdict"] == "holds"


def test_a_wrong_coverage_closed_form_fails(monkeypatch, test_seed):
    """Exact: a closed form 1% high is 1e-3 or more off the quadrature at k >= 10."""
    import toytheory.decoding as decoding

    original = decoding.beta_coverage
    monkeypatch.setattr(decoding, "beta_coverage",
                        lambda k, a, b: np.minimum(1.0, 1.01 * original(k, a, b)))
    assert run(COVERAGE, test_seed, problems=20_000)["verdict"] == "fails"


def test_a_population_that_saturates_is_refuted(monkeypatch, test_seed):
    """Exact: calibrated to 50% at one sample and 99.9% at 250, coverage is flat after
    k = 1e3 (its last decade gains under a point), a false 'scales over four decades'."""
    import toytheory.claims.catalog.decoding_monkeys as module

    monkeypatch.setattr(module, "SWE_ONE", 0.5)
    monkeypatch.setattr(module, "SWE_250", 0.999)
    assert run(COVERAGE, test_seed, problems=20_000)["verdict"] == "refuted"


def test_a_majority_vote_oracle_off_by_a_fifth_fails(monkeypatch, test_seed):
    """Power: problem 70's exact accuracy at k = 40 exceeds 0.5, so the plant moves it by
    more than 0.1 = 20 binomial sd at 4e4 trials; the Holm threshold (1e-6 / 12) sits near
    5.8 sd: missed with probability below 1e-20."""
    import toytheory.decoding.selection as module

    original = module.majority_vote_accuracy
    monkeypatch.setattr(module, "majority_vote_accuracy",
                        lambda k, p, q, **kw: 0.8 * original(k, p, q, **kw))
    assert run(PLATEAU, test_seed)["verdict"] == "fails"


def test_a_perfect_top_score_is_refuted(monkeypatch, test_seed):
    """A planted false statement: wrong samples never reach the top score, so best-of-k
    tends to one with coverage (exact), and 'fails to scale' is false; the simulation uses
    the same reward model, so the witnesses still agree.
    Power: >= 1 - 1e-6 — exact statement; the witnesses test true laws at 1e-6."""
    import toytheory.claims.catalog.decoding_monkeys as module

    original = module._selection_population

    def perfect(problems):
        p, q, r1, r0 = original(problems)
        r0 = r0.copy()
        r0[-1] = 0.0
        return p, q, r1, r0 / r0.sum()

    monkeypatch.setattr(module, "_selection_population", perfect)
    assert run(PLATEAU, test_seed)["verdict"] == "refuted"


CHEAP = "decoding.monkeys.cheap_model_more_samples_equal_cost"


def test_equal_cost_claim_holds(test_seed):
    assert run(CHEAP, test_seed, problems=50_000)["verdict"] == "holds"


def test_a_coverage_closed_form_off_in_its_increments_fails(monkeypatch, test_seed):
    """Exact: 1.01 C(r) moves the increments by 1% of C(r+1) - C(r) > 1e-5 at r = 1, far
    above the 1e-12 tolerance of the increments' own closed form. (The concavity statement
    is a theorem for every population, so no consistent planted world makes it false.)
    Power: deterministic — exact closed forms, no random draw."""
    import toytheory.decoding as decoding

    original = decoding.beta_coverage
    monkeypatch.setattr(decoding, "beta_coverage",
                        lambda k, a, b: np.minimum(1.0, 1.01 * original(k, a, b)))
    assert run(CHEAP, test_seed, problems=50_000)["verdict"] == "fails"
