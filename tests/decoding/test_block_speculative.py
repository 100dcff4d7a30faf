"""SpecTr with block drafts on Markov chains: the DP against brute force, bad input, and
the claim with planted failures."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from toytheory.claims import execute_claim, load_catalog
from toytheory.decoding import block_speculative as bs

REGISTRY = load_catalog()
CLAIM = "decoding.spectr.block_drafts_tokens_per_call"


def run(seed, **overrides):
    claim = REGISTRY[CLAIM]
    if overrides:
        claim = claim.with_params("quick", **overrides)
    return execute_claim(claim, "quick", seed)


def _brute(Pt, Pd, k, gamma, start):
    """Every set of k draft blocks, then every accept/reject coin, level by level."""
    V = Pt.shape[0]
    rho = bs.rho_table(Pt, Pd, k)
    law = np.zeros(gamma + 2)
    for flat in itertools.product(range(V), repeat=k * gamma):
        blocks = np.array(flat).reshape(k, gamma)
        w = 1.0
        for b in range(k):
            s = start
            for x in blocks[b]:
                w *= Pd[s, x]
                s = x
        if w == 0:
            continue

        def walk(level, s, alive, weight):
            if level == gamma:
                law[gamma + 1] += weight
                return
            j = len(alive)
            alive_w = weight
            for b in alive:
                x = blocks[b, level]
                a = min(1.0, Pt[s, x] / (rho[s, j] * Pd[s, x]))
                walk(level + 1, x, [c for c in alive if blocks[c, level] == x], alive_w * a)
                alive_w *= 1 - a
            law[level + 1] += alive_w

        walk(0, start, list(range(k)), w)
    return law


@pytest.mark.parametrize("k, gamma", [(1, 3), (2, 2), (3, 2)])
def test_dp_equals_brute_force(k, gamma, rng):
    V = 3
    Pt = rng.dirichlet(np.ones(V), size=V)
    Pd = rng.dirichlet(np.ones(V), size=V)
    np.testing.assert_allclose(bs.tokens_per_call_law(Pt, Pd, k, gamma, 1),
                               _brute(Pt, Pd, k, gamma, 1), atol=1e-12)


def test_equal_chains_accept_every_block():
    P = np.array([[0.3, 0.7], [0.6, 0.4]])
    law = bs.tokens_per_call_law(P, P, 2, 3, 0)
    np.testing.assert_allclose(law, [0, 0, 0, 0, 1], atol=1e-12)
    assert bs.tokens_per_call_k1_closed_form(P, P, 3, 0) == pytest.approx(4.0)


@pytest.mark.parametrize("call, name", [
    (lambda: bs.tokens_per_call_law(np.eye(2), np.eye(3), 1, 2, 0), "draft"),
    (lambda: bs.tokens_per_call_law([[0.5, 0.6], [0.5, 0.5]], np.eye(2), 1, 2, 0), "target"),
    (lambda: bs.tokens_per_call_law(np.eye(2), np.eye(2), 0, 2, 0), "k"),
    (lambda: bs.tokens_per_call_law(np.eye(2), np.eye(2), 1, 0, 0), "gamma"),
    (lambda: bs.tokens_per_call_law(np.eye(2), np.eye(2), 1, 2, 2), "start"),
    (lambda: bs.tokens_per_call_law(np.full((6, 6), 1 / 6), np.full((6, 6), 1 / 6), 8, 2,
                                    0), "enumeration limit"),
])
def test_bad_input_names_the_argument(call, name):
    with pytest.raises(ValueError, match=name):
        call()


def test_the_claim_holds(test_seed):
    assert run(test_seed, n_sim=20_000)["verdict"] == "holds"


def test_a_dp_that_forgets_surviving_drafts_fails(monkeypatch, test_seed):
    """The DP keeps one draft after each kept token (a planted bug). At k = 3 on the lam =
    0.5 pair its law is more than 0.03 from the process's in total variation (asserted):
    chi-square noncentrality >= 4 n TV^2 = 360 at 1e5 draws against a critical value near
    40 (4 cells, 1e-6 / 6): missed with probability < 1e-30."""
    from toytheory.claims.catalog.decoding_spectr import markov_pairs

    original = bs.kseq_level_outcomes

    def forgetful(target_row, draft_row, j, rho):
        kept, rejected = original(target_row, draft_row, j, rho)
        merged = {}
        for (x, _), w in kept.items():
            merged[(x, 1)] = merged.get((x, 1), 0.0) + w
        return merged, rejected

    _, Pt, Pd = markov_pairs()[1]
    right = bs.tokens_per_call_law(Pt, Pd, 3, 4, 0)
    monkeypatch.setattr(bs, "kseq_level_outcomes", forgetful)
    wrong = bs.tokens_per_call_law(Pt, Pd, 3, 4, 0)
    assert 0.5 * np.abs(right - wrong).sum() > 0.03
    assert run(test_seed)["verdict"] == "fails"


def test_a_selection_that_uses_one_draft_is_refuted(monkeypatch, test_seed):
    """A planted false statement: only the first draft block is ever used (DP and simulator
    alike), so more drafts cannot help; exact.
    Power: deterministic — the statement is exact; no random draw decides it."""
    import sims.decoding_speculative as sim

    law, counts, table = bs.tokens_per_call_law, sim.block_tokens_counts, bs.rho_table
    monkeypatch.setattr(bs, "tokens_per_call_law",
                        lambda Pt, Pd, k, gamma, start: law(Pt, Pd, 1, gamma, start))
    monkeypatch.setattr(sim, "block_tokens_counts",
                        lambda Pt, Pd, rho, k, gamma, start, n, seed:
                        counts(Pt, Pd, table(Pt, Pd, 1), 1, gamma, start, n, seed))
    assert run(test_seed, n_sim=20_000)["verdict"] == "refuted"
