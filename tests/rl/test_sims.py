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


# ---------------------------------------------------------------- the byte-per-step kernel

def test_first_stop_matches_a_byte_by_byte_scan(rng):
    """``_first_stop`` (SWAR) finds the first byte ``i`` with ``x_i >= stop_i`` outside
    ``never`` (8 if none), as a plain scan does: 20000 random words with bytes drawn near
    the thresholds (equal, one above, one below, 0 and 255 included)."""
    from sims.rl_rollouts import _first_stop

    for _ in range(20_000):
        stop = rng.integers(0, 256, size=8)
        x = np.clip(stop + rng.integers(-1, 2, size=8) * rng.integers(0, 3, size=8), 0, 255)
        x[rng.random(8) < 0.2] = rng.choice([0, 255])
        never = rng.random(8) < 0.3
        pack = lambda v: np.uint64(sum(int(b) << (8 * i) for i, b in enumerate(v)))  # noqa: E731
        expected = next((i for i in range(8) if not never[i] and x[i] >= stop[i]), 8)
        got = _first_stop(pack(x), pack(stop), pack(np.where(never, 0x80, 0)))
        assert got == expected, (x, stop, never)


@pytest.mark.parametrize("u", [1, 2, 5])
def test_kernel_tables_follow_the_definition(u, rng):
    """The likely path and its rewards step through ``_python_next``/``_python_q``. A byte
    ``b`` read as surely the likely action (``b ^ flip < stop``, or a ``never`` byte) is
    that action under the 53-bit comparison ``b 2**45 + K < thr`` for every ``K``; a byte
    not read so is the tie byte ``hi8`` or the other action for every ``K`` (all 256
    bytes, every state, random thresholds with ties, 0, 1/2 and 1)."""
    from sims.rl_rollouts import _linearq_tables, _python_next, _python_q, _thresholds53

    S = 3 * u + 3
    p = rng.choice([0.0, 1.0, 0.5, 2.0 ** -10, 1 - 2.0 ** -10, 3 / 256], size=S)
    p[rng.random(S) < 0.5] = rng.random()
    thr = _thresholds53(p)
    flip8, stop8, never8, path, path_r2, hi8, lo45, nxt, r2, last = _linearq_tables(u, thr)
    assert last == 3 * u + 2
    for s in range(S):
        c, tot = s, 0.0
        for i in range(9):
            assert path[9 * s + i] == c and path_r2[9 * s + i] == 2 * tot
            if i == 8:
                break
            likely = 1 if thr[c] >= 2 ** 52 else 0
            byte = lambda w: (int(w) >> (8 * i)) & 0xFF  # noqa: E731
            for b in range(256):
                sure = ((b ^ byte(flip8[s])) < byte(stop8[s])) or byte(never8[s]) == 0x80
                # the action for every K in [0, 2^45): K = 0 and K = 2^45 - 1 bound it
                acts = {int(b * 2 ** 45 + k < int(thr[c])) for k in (0, 2 ** 45 - 1)}
                if c != last:
                    assert (acts == {likely}) if sure else (
                        b == hi8[c] or acts == {1 - likely}), (s, i, b)
            nc = _python_next(u, c, likely)
            tot += _python_q(u, c, likely) - max(_python_q(u, nc, 0), _python_q(u, nc, 1))
            c = nc


TIE_P = (2.0 ** -10, 1 - 2.0 ** -10, 0.5 + 2.0 ** -9)


def tie_law_test(test_seed, n=300_000):
    """Returns of Linearq(3) under a policy whose rare actions come only from ties of the
    byte comparison, against the exact return law (chi-square at 1e-6).

    ``P(a = 1 | s)`` is ``2^-10`` on states ``0..u`` (hi8 = 0: an exit needs byte 0 and
    then 45 bits below ``2^43``), ``1 - 2^-10`` on ``u+1..2u`` (hi8 = 255: an exit needs
    byte 255 and 45 bits at or above ``3 * 2^43``), ``1/2 + 2^-9`` above (a tie at byte
    128 decides half the time). A kernel that resolved every tie to 0 (or to 1) would
    never exit early on ``0..u`` (or exit at 4x the rate): about 1170 early exits are
    expected in 300000 episodes, 0 (or 4x) under such a bug.
    """
    u = 3
    p = np.empty(3 * u + 3)
    p[: u + 1], p[u + 1: 2 * u + 1], p[2 * u + 1:] = TIE_P
    law = return_distribution(linearq(u), np.stack([1 - p, p], axis=1))
    sim = linearq_returns(u, p, n, test_seed)
    support = np.array([float(g) for g in law])
    idx = np.searchsorted(support, sim)
    assert np.all(support[np.minimum(idx, support.size - 1)] == sim)
    probs = np.array([float(v) for v in law.values()])
    return stats.chisquare_gof(np.bincount(idx, minlength=support.size), probs / probs.sum(),
                               LEVEL)


def test_tie_decided_actions_follow_the_exact_return_law(test_seed):
    assert tie_law_test(test_seed).verdict == "accept"


@pytest.mark.parametrize("resolve_to", [0, 1])
def test_planted_tie_rule_is_rejected_by_the_return_law(resolve_to, test_seed, monkeypatch):
    """Companion: ties resolved to a fixed action (``lo45`` set to 0, or to ``2^45`` so
    ``K < lo45`` always) change the exit rate on states 0..u from 2^-10 to 0 or 4 * 2^-10;
    about 1170 expected early exits in 300000 episodes against 0 or ~4700: rejected at 1e-6
    with probability above 1 - 1e-6."""
    import sims.rl_rollouts as sims

    original = sims._linearq_tables

    def planted(u, thr):
        tables = list(original(u, thr))
        tables[6] = np.full_like(tables[6], 0 if resolve_to == 0 else 2 ** 45)
        return tuple(tables)

    monkeypatch.setattr(sims, "_linearq_tables", planted)
    assert tie_law_test(test_seed).verdict == "reject"
