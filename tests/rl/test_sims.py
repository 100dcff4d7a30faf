"""Numba rollouts against exact policy evaluation and exact return laws."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sims.rl_rollouts import (linearq_returns, linearq_returns_numpy_vectorized,
                              linearq_returns_python_loop, tabular_returns)
from toytheory import stats
from toytheory.rl.datasets import epsilon_mixture
from toytheory.rl.exact import return_distribution
from toytheory.rl.linearq_mdp import linearq, linearq_optimal_actions
from toytheory.rl.mdp import policy_evaluation
from toytheory.testing.rl import stochastic_policies, tabular_mdps
from tests._seeds import reseed

LEVEL = 1e-6


@settings(max_examples=10)
@given(st.data(), tabular_mdps(max_states=5, max_horizon=5, sparse=True))
def test_mean_tabular_rollout_return_equals_policy_evaluation(data, mdp):
    pol = data.draw(stochastic_policies(mdp.H, mdp.n_states, mdp.n_actions))
    sim = tabular_returns(mdp.P, mdp.r, mdp.start, pol, 20_000, seed=data.draw(st.integers(0, 99)))
    exact = policy_evaluation(mdp, pol).V[0, mdp.start]
    if np.all(sim == sim[0]):  # a constant return (e.g. H = 1, equal rewards): no test needed
        assert sim[0] == pytest.approx(exact, abs=1e-9)
    else:
        assert stats.mean_test(sim, exact, LEVEL).verdict == "accept"


def test_planted_wrong_value_is_rejected_by_the_rollout_mean():
    """Planted: rewards 0.05 too high at each of 5 steps, so the value is 0.25 off.

    Power (re-sized from 20,000 episodes, where a random MDP with return sd near 5 would
    leave only ~2 standard errors of margin): returns lie in [-10, 10] (sd <= 10), so at
    400,000 episodes the t-test's critical distance is <= 4.9 * 10 / 632 = 0.078 and a miss
    needs the mean 0.17 off; by Bernstein (variance <= 100, range 20) that has probability
    <= 2 exp(-400000 * 0.17^2 / (200 + 2 * 20 * 0.17 / 3)) < 1e-24 for any MDP drawn.
    """
    rng = np.random.default_rng(reseed(0))
    from toytheory.rl.mdp import TabularMDP

    P = rng.dirichlet(np.ones(4), size=(4, 2))
    mdp = TabularMDP(P, rng.integers(-2, 3, size=(4, 2)).astype(float), 5, 0)
    pol = rng.dirichlet(np.ones(2), size=(5, 4))
    sim = tabular_returns(mdp.P, mdp.r, mdp.start, pol, 400_000, seed=reseed(4))
    wrong = policy_evaluation(TabularMDP(P, mdp.r + 0.05, 5, 0), pol).V[0, 0]
    assert stats.mean_test(sim, wrong, LEVEL).verdict == "reject"


def law_test(u, eps_sim, eps_law, n=40_000, seed=reseed(2)):
    law = return_distribution(linearq(u), epsilon_mixture(linearq_optimal_actions(u), 2, eps_law))
    pol = epsilon_mixture(linearq_optimal_actions(u), 2, eps_sim)
    sim = linearq_returns(u, pol[:, 1], n, seed)
    support = np.array([float(g) for g in law])
    idx = np.searchsorted(support, sim)
    assert np.all(support[np.minimum(idx, support.size - 1)] == sim)
    probs = np.array(list(law.values()))
    return stats.chisquare_gof(np.bincount(idx, minlength=support.size), probs / probs.sum(),
                               LEVEL)


@pytest.mark.parametrize("u", [1, 3, 8])
def test_linearq_rollout_returns_follow_the_exact_return_law(u):
    assert law_test(u, 0.25, 0.25).verdict == "accept"


def test_planted_wrong_exploration_rate_is_rejected_by_the_return_law():
    """Planted: exploration 0.22 simulated against the law at 0.25 (u = 5, 40,000 episodes).
    Power: exact laws give a noncentrality of 577 on the 12 pooled cells against a critical
    48.9 (chi2_11 at 1e-6): by the non-central chi-square a miss has probability 4e-68
    (a 12-fold margin, so the approximation's error cannot matter at 1e-6)."""
    assert law_test(5, 0.22, 0.25).verdict == "reject"


def baselines_against_kernel(planted: str | None = None, shift: float = 0.0):
    """Two-sample chi-square tests: kernel vs numpy vectorized, kernel vs Python loop.

    Linearq(4) under the eps-greedy threshold policy, eps = 0.3 (so
    ``P(a = 1 | s)`` is 0.85 or 0.15). ``planted`` names one contender
    (``"kernel"``, ``"vectorized"`` or ``"loop"``) that instead runs with every
    ``P(a = 1 | s)`` moved ``shift`` towards 1/2, i.e. exploration rate
    ``0.3 + 2 * shift``. Returns the two test results (kernel vs vectorized,
    kernel vs loop).
    """
    u = 4
    p = epsilon_mixture(linearq_optimal_actions(u), 2, 0.3)[:, 1]
    bent = p + np.where(p > 0.5, -shift, shift)

    def law(name):
        return bent if name == planted else p

    kernel = linearq_returns(u, law("kernel"), 20_000, 9)
    vec = linearq_returns_numpy_vectorized(u, law("vectorized"), 20_000, np.random.default_rng(reseed(1)))
    loop = linearq_returns_python_loop(u, law("loop"), 5_000, np.random.default_rng(reseed(2)))
    support = np.unique(np.concatenate([kernel, vec, loop]))

    def counts(x):
        return np.bincount(np.searchsorted(support, x), minlength=support.size)

    return (stats.chisquare_two_sample(counts(kernel), counts(vec), LEVEL),
            stats.chisquare_two_sample(counts(kernel), counts(loop), LEVEL))


def test_numpy_baselines_and_the_kernel_agree_in_law():
    vec_test, loop_test = baselines_against_kernel()
    assert vec_test.verdict == "accept"
    assert loop_test.verdict == "accept"


@pytest.mark.parametrize("planted", ["kernel", "vectorized", "loop"])
def test_planted_exploration_shift_is_rejected_by_the_baseline_law_tests(planted):
    """Companion: exploration rate 0.4 instead of 0.3 in one contender, same tests, same level.

    A planted kernel differs from both baselines, so both tests must reject; a
    planted baseline must be rejected by its own test, and the other test
    (two correct contenders) still accepts.

    Power: the exact return laws at 0.3 and 0.4 are 0.075 apart in TV over 10 cells, a
    noncentrality of about 668 (20,000 a side) or 267 (20,000 vs 5,000) against a critical
    near 45 (chi2_9 at 1e-6): each planted rejection is missed with probability < 1e-30; the
    accepting test is a true null, wrong with probability <= 1e-6.
    """
    vec_test, loop_test = baselines_against_kernel(planted, shift=0.05)
    expected = {"kernel": ("reject", "reject"), "vectorized": ("reject", "accept"),
                "loop": ("accept", "reject")}[planted]
    assert (vec_test.verdict, loop_test.verdict) == expected


def test_rollouts_are_reproducible_and_thread_independent():
    import numba

    p = np.full(3 * 6 + 3, 0.4)
    a = linearq_returns(6, p, 5_000, 11)
    previous = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        b = linearq_returns(6, p, 5_000, 11)
    finally:
        numba.set_num_threads(previous)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, linearq_returns(6, p, 5_000, 12))


def test_bad_policy_shape_names_prob_one():
    with pytest.raises(ValueError, match=r"^prob_one: "):
        linearq_returns(3, np.zeros(5), 10, 0)


def test_torch_rollouts_match_numpy_for_the_deterministic_policy_and_in_law(torch_device):
    from sims.rl_rollouts import linearq_returns_torch

    u = 5
    opt = linearq_optimal_actions(u).astype(float)
    det_torch = linearq_returns_torch(u, opt, 50, 0, torch_device)
    det_numpy = linearq_returns_numpy_vectorized(u, opt, 50, np.random.default_rng(reseed(0)))
    np.testing.assert_allclose(det_torch, det_numpy, rtol=0, atol=1e-10)
    p = epsilon_mixture(linearq_optimal_actions(u), 2, 0.3)[:, 1]
    a = linearq_returns_torch(u, p, 20_000, 3, torch_device)
    b = linearq_returns(u, p, 20_000, 4)
    support = np.unique(np.concatenate([a, b]))
    ca = np.bincount(np.searchsorted(support, a), minlength=support.size)
    cb = np.bincount(np.searchsorted(support, b), minlength=support.size)
    assert stats.chisquare_two_sample(ca, cb, LEVEL).verdict == "accept"


def test_integer_thresholds_draw_exactly_the_float_comparisons_actions(rng):
    """The Linearq kernel compares the 53-bit integer k of each draw with ceil(p 2^53)
    instead of comparing k / 2^53 with p: the two agree for every k (checked at the
    boundary k = ceil(p 2^53) - 1, ceil(p 2^53), at random k, and at p = 0, 1, 1/2, 2^-53)."""
    from sims.rl_rollouts import _thresholds53

    p = np.concatenate([[0.0, 1.0, 0.5, 2.0 ** -53, 1 - 2.0 ** -53], rng.random(2000)])
    thr = _thresholds53(p)
    for k in (thr.astype(np.int64) - 1, thr.astype(np.int64),
              rng.integers(0, 2 ** 53, size=p.size)):
        k = np.clip(k, 0, 2 ** 53 - 1)
        assert np.array_equal(k.astype(np.uint64) < thr, k * 2.0 ** -53 < p)


# ---------------------------------------------------------------- the segment kernel

def segment_outcome_masses(cdf, guide_row, L):
    """How many of the 2**64 words the kernel's search sends to each outcome ``0..L`` of one
    segment: a word ``w`` in guide bucket ``b`` (``[b 2**54, (b+1) 2**54)``) goes to the
    first ``i >= guide_row[b]`` with ``w < cdf[i]`` (``cdf[L]`` read as ``2**64``), exactly
    as :func:`_linearq_kernel` searches (integers, no rounding)."""
    edges = [int(c) for c in cdf[:L]] + [2 ** 64]
    width = 2 ** (64 - 10)
    mass = [0] * (L + 1)
    for b in range(guide_row.size):
        lo, hi = b * width, (b + 1) * width
        i, below = int(guide_row[b]), lo
        while below < hi:
            top = min(hi, max(edges[i], below))
            mass[i] += top - below
            below = top
            i += 1
    return mass


def table_return_law(u, tables):
    """The law of the return that the kernel draws from the segment tables of
    :func:`_linearq_tables`: from state 0, segment ``g``'s outcome ``i`` has probability
    ``segment_outcome_masses(...)[i] / 2**64`` (the guide table and search included),
    adds ``out_reward2[o+i] / 2`` and moves to ``out_next[o+i]``; propagated until every
    mass is absorbed. Returns ``{return: probability}`` (float64)."""
    seg_of, offset, length, cdf64, guide, rew2, nxt, last = tables
    masses = {}
    dist, done = {(0, 0): 1.0}, {}
    while dist:
        step = {}
        for (s, t2), mass in dist.items():
            g = int(seg_of[s])
            o, L = int(offset[g]), int(length[g])
            if g not in masses:
                masses[g] = segment_outcome_masses(cdf64[o: o + L], guide[g], L)
            for i, m in enumerate(masses[g]):
                if m == 0:
                    continue
                key = (int(nxt[o + i]), t2 + int(rew2[o + i]))
                into = done if key[0] == last else step
                into[key] = into.get(key, 0.0) + mass * (m / 2.0 ** 64)
        dist = step
    law = {}
    for (_, t2), p in done.items():
        law[t2 / 2] = law.get(t2 / 2, 0.0) + p
    return law


def exact_return_law(u, p):
    law = return_distribution(linearq(u), np.stack([1 - p, p], axis=1))
    return {float(g): float(v) for g, v in law.items()}


def law_distance(a, b):
    """Largest difference of two ``{return: probability}`` laws over the union of supports."""
    return max(abs(a.get(g, 0.0) - b.get(g, 0.0)) for g in set(a) | set(b))


def random_policy(u, rng):
    S = 3 * u + 3
    p = rng.choice([0.0, 1.0, 0.5, 2.0 ** -10, 1 - 2.0 ** -10, 3 / 256, 0.05, 0.95], size=S)
    p[rng.random(S) < 0.5] = rng.random()
    return p


@pytest.mark.parametrize("u", [1, 2, 5, 12])
def test_segment_tables_define_the_exact_return_law(u, rng):
    """The segment shortcut against the exact law: the return law the tables define
    (:func:`table_return_law`, no sampling, the guide search included) equals
    ``return_distribution`` of Linearq(u) under the same policy to 1e-12 on every atom (the
    tables' own error is below 2**-63 per segment outcome, the thresholds' ``ceil(p 2**53)``
    below 2**-53 per state), for random policies with probabilities 0, 1, 1/2, 2**-10 and
    random ones; every outcome leads to the absorbing state or to a segment start; the
    guide entries are the first outcomes a word of their bucket can reach."""
    from sims.rl_rollouts import _linearq_tables, _thresholds53

    for _ in range(3):
        p = random_policy(u, rng)
        tables = _linearq_tables(u, _thresholds53(p))
        seg_of, offset, length, cdf64, guide, rew2, nxt, last = tables
        assert last == 3 * u + 2 and seg_of[0] == 0
        assert law_distance(table_return_law(u, tables), exact_return_law(u, p)) <= 1e-12
        assert all(t == last or seg_of[t] >= 0 for t in nxt)
        for g in range(offset.size):
            o, L = offset[g], length[g]
            assert np.all(np.diff(cdf64[o: o + L].astype(object)) >= 0)
            for b in range(guide.shape[1]):   # first outcome that a word in bucket b can be
                low = b * 2 ** (64 - 10)
                assert guide[g, b] == next((i for i in range(L) if int(cdf64[o + i]) > low), L)


def plant(kind):
    """A planted bug in the segment tables: ``"late"`` records the first unlikely action one
    step late (``cdf64`` shifted by one outcome: P(outcome <= i) read as P(outcome < i));
    ``"guide"`` starts every search one bucket too far (``guide[g, b]`` from bucket b+1)."""
    import sims.rl_rollouts as sims

    original = sims._linearq_tables

    def planted(u, thr):
        t = list(original(u, thr))
        seg_of, offset, length, cdf64, guide = t[:5]
        cdf64 = cdf64.copy()
        guide = guide.copy()
        for g in range(offset.size):
            o, L = offset[g], length[g]
            if kind == "late":
                cdf64[o + 1: o + L] = cdf64[o: o + L - 1].copy()
                cdf64[o] = 0
            else:
                guide[g, :-1] = guide[g, 1:].copy()
        t[3], t[4] = cdf64, guide
        return tuple(t)
    return planted


@pytest.mark.parametrize("kind", ["late", "guide"])
def test_planted_segment_table_bug_moves_the_table_law(kind):
    """Companion of the table-law test: each planted bug moves the tables' law off the exact
    law by far more than the 1e-12 tolerance (deterministic, power 1: the largest atom moves
    by 0.12 ("late") and 1.4e-3 ("guide") at u = 5, eps = 0.25)."""
    import sims.rl_rollouts as sims

    u = 5
    p = epsilon_mixture(linearq_optimal_actions(u), 2, 0.25)[:, 1]
    tables = plant(kind)(u, sims._thresholds53(p))
    assert law_distance(table_return_law(u, tables), exact_return_law(u, p)) > 1e-6


RARE_P = (2.0 ** -10, 1 - 2.0 ** -10, 0.5 + 2.0 ** -9)


def rare_law_test(test_seed, n=300_000):
    """Returns of Linearq(3) under a policy with rare unlikely actions, against the exact
    return law (chi-square at 1e-6).

    ``P(a = 1 | s)`` is ``2^-10`` on states ``0..u``, ``1 - 2^-10`` on ``u+1..2u`` and
    ``1/2 + 2^-9`` above: an early exit (a first segment ending on ``0..2u``) has
    probability about ``7 * 2^-10``, and the first outcome of the first segment is exactly
    the first bucket of the guide table.
    """
    u = 3
    p = np.empty(3 * u + 3)
    p[: u + 1], p[u + 1: 2 * u + 1], p[2 * u + 1:] = RARE_P
    law = return_distribution(linearq(u), np.stack([1 - p, p], axis=1))
    sim = linearq_returns(u, p, n, test_seed)
    support = np.array([float(g) for g in law])
    idx = np.searchsorted(support, sim)
    assert np.all(support[np.minimum(idx, support.size - 1)] == sim)
    probs = np.array([float(v) for v in law.values()])
    return stats.chisquare_gof(np.bincount(idx, minlength=support.size), probs / probs.sum(),
                               LEVEL)


def test_rare_actions_follow_the_exact_return_law(test_seed):
    assert rare_law_test(test_seed).verdict == "accept"


def test_planted_segment_bug_is_rejected_by_the_sampled_return_law(monkeypatch):
    """Companion of the sampled law tests (:func:`law_test`, u = 5, eps = 0.25, 40,000
    episodes, chi-square at 1e-6): the kernel run on tables that record the first unlikely
    action one step late (:func:`plant`, ``"late"``) is rejected. Power: the planted tables'
    exact law (:func:`table_return_law`) gives a noncentrality of 1.2e5 on 12 cells against
    a critical 48.9 (chi2_11 at 1e-6): a miss has probability below 1e-300. (The guide-table
    bug moves atoms by only 1.4e-3; the deterministic table-law test catches it.)"""
    import sims.rl_rollouts as sims

    monkeypatch.setattr(sims, "_linearq_tables", plant("late"))
    assert law_test(5, 0.25, 0.25).verdict == "reject"
