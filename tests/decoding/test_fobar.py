"""Self-consistency and FOBAR against brute force, bad input, and the FOBAR paper claims
with planted failures."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from toytheory.claims import execute_claim, load_catalog
from toytheory.decoding import fobar

REGISTRY = load_catalog()
SATURATES = "decoding.fobar.self_consistency_saturates"
BEATS = "decoding.fobar.fobar_beats_self_consistency"


def run(claim_id, seed, **overrides):
    claim = REGISTRY[claim_id]
    if overrides:
        claim = claim.with_params("quick", **overrides)
    return execute_claim(claim, "quick", seed)


def _brute_fobar(law, n, m, b1, b0, alpha):
    """Every forward sequence and every backward outcome, chain by chain."""
    A = len(law)
    total = 0.0
    for fwd in itertools.product(range(A), repeat=n):
        wf = np.prod([law[a] for a in fwd])
        counts = [fwd.count(a) for a in range(A)]
        present = [a for a in range(A) if counts[a] > 0]
        for outcomes in itertools.product((0, 1), repeat=m * len(present)):
            wb, back = 1.0, {}
            for j, a in enumerate(present):
                chunk = outcomes[j * m:(j + 1) * m]
                b = b1 if a == 0 else b0
                wb *= np.prod([b if o else 1 - b for o in chunk])
                back[a] = sum(chunk)
            if alpha < 1 and sum(back.values()) > 0:
                score = {a: counts[a] ** alpha * back[a] ** (1 - alpha) for a in present}
            else:
                score = {a: float(counts[a]) for a in present}
            top = max(score.values())
            tied = [a for a in present if np.isclose(score[a], top, rtol=1e-12, atol=0)]
            total += wf * wb * (0 in tied) / len(tied)
    return total


@pytest.mark.parametrize("n, m", [(1, 1), (2, 2), (3, 2), (4, 1)])
def test_fobar_equals_brute_force(n, m, rng):
    law = rng.dirichlet(np.ones(3))
    b1, b0 = rng.uniform(size=2)
    for alpha in (0.5, 0.3, 1.0):
        assert fobar.fobar_accuracy(law, n, m, b1, b0, alpha) == pytest.approx(
            _brute_fobar(law, n, m, b1, b0, alpha), abs=1e-12)
    assert fobar.self_consistency_accuracy(law, n) == pytest.approx(
        _brute_fobar(law, n, m, b1, b0, 1.0), abs=1e-12)


def test_self_consistency_by_hand():
    # two chains over (0.5, 0.5): agree on the correct answer 1/4, split 1/2 (half won)
    assert fobar.self_consistency_accuracy([0.5, 0.5], 2) == pytest.approx(0.5, abs=1e-15)
    assert fobar.self_consistency_limit([0.5, 0.3, 0.2]) == 1.0
    assert fobar.self_consistency_limit([0.4, 0.4, 0.2]) == 0.5
    assert fobar.self_consistency_limit([0.3, 0.4, 0.3]) == 0.0
    # limit: 0.3 * 0.9 > 0.4 * 0.2 under alpha = 1/2 (compare products)
    assert fobar.fobar_limit([0.3, 0.4, 0.3], 0.9, 0.2) == 1.0
    assert fobar.fobar_limit([0.3, 0.4, 0.3], 0.5, 0.5) == 0.0


@pytest.mark.parametrize("call, name", [
    (lambda: fobar.self_consistency_accuracy([0.5, 0.6], 3), "answers"),
    (lambda: fobar.self_consistency_accuracy([0.5, 0.5], 0), "n"),
    (lambda: fobar.fobar_accuracy([0.5, 0.5], 3, 0, 0.5, 0.5), "m"),
    (lambda: fobar.fobar_accuracy([0.5, 0.5], 3, 2, 1.5, 0.5), "b1"),
    (lambda: fobar.fobar_accuracy([0.5, 0.5], 3, 2, 0.5, -0.1), "b0"),
    (lambda: fobar.fobar_accuracy([0.5, 0.5], 3, 2, 0.5, 0.5, alpha=2.0), "alpha"),
    (lambda: fobar.fobar_accuracy(np.full(6, 1 / 6), 200, 8, 0.5, 0.5), "enumeration limit"),
])
def test_bad_input_names_the_argument(call, name):
    with pytest.raises(ValueError, match=name):
        call()


# ----------------------------------------------------------------- paper claims, planted

def test_paper_claims_hold(test_seed):
    for cid in (SATURATES, BEATS):
        assert run(cid, test_seed)["verdict"] == "holds"


def test_a_fobar_oracle_that_ignores_the_backward_chains_fails(monkeypatch, test_seed):
    """Power: for problem 8 at (b1, b0) = (0.7, 0.3) FOBAR's exact accuracy exceeds
    self-consistency's by more than 0.1 (asserted below), 20 binomial sd at 4e4 trials,
    against a Holm threshold near 5.8 sd: missed with probability below 1e-20."""
    from toytheory.claims.catalog.decoding_fobar import fobar_laws

    law = fobar_laws()[8]
    assert (fobar.fobar_accuracy(law, 40, 8, 0.7, 0.3)
            - fobar.self_consistency_accuracy(law, 40)) > 0.1
    monkeypatch.setattr(fobar, "fobar_accuracy",
                        lambda answers, n, m, b1, b0, alpha=0.5:
                        fobar.self_consistency_accuracy(answers, n))
    assert run(BEATS, test_seed)["verdict"] == "fails"


def test_a_fobar_that_swaps_the_backward_rates_is_refuted(monkeypatch, test_seed):
    """A planted false statement: backward checks favour wrong candidates, in the oracle
    and the simulator alike (witnesses agree); FOBAR then loses to self-consistency.
    Power: >= 1 - 1e-6 — exact statement; the witnesses test true laws at 1e-6."""
    import sims.decoding_selection as sim

    original, original_sim = fobar.fobar_accuracy, sim.fobar_wins
    monkeypatch.setattr(fobar, "fobar_accuracy", lambda answers, n, m, b1, b0, alpha=0.5:
                        original(answers, n, m, b0, b1, alpha))
    monkeypatch.setattr(sim, "fobar_wins", lambda law, n, m, b1, b0, alpha, N, seed:
                        original_sim(law, n, m, b0, b1, alpha, N, seed))
    assert run(BEATS, test_seed)["verdict"] == "refuted"


def test_a_self_consistency_oracle_off_by_a_fifth_fails(monkeypatch, test_seed):
    """Power: problem 12's accuracy at 40 chains exceeds 0.5 (asserted), so the plant moves
    it by more than 0.1, 20 binomial sd at 4e4 trials: missed with probability < 1e-20."""
    from toytheory.claims.catalog.decoding_fobar import fobar_laws

    assert fobar.self_consistency_accuracy(fobar_laws()[12], 40) > 0.5
    original = fobar.self_consistency_accuracy
    monkeypatch.setattr(fobar, "self_consistency_accuracy",
                        lambda answers, n: 0.8 * original(answers, n))
    assert run(SATURATES, test_seed)["verdict"] == "fails"


def test_near_tied_problems_that_keep_improving_are_refuted(monkeypatch, test_seed):
    """A planted false statement: problems whose correct answer leads by a hair keep
    gaining accuracy far past 40 chains and reach 1 in the limit (exact).
    Power: deterministic — exact statement, no random draw."""
    import toytheory.claims.catalog.decoding_fobar as module

    def near_ties(problems=None):
        rows = [[0.05, 0.5, 0.45], [0.95, 0.03, 0.02]]
        rows += [[0.36, 0.33, 0.31]] * 14
        return np.array(rows)

    monkeypatch.setattr(module, "fobar_laws", near_ties)
    assert run(SATURATES, test_seed)["verdict"] == "refuted"
