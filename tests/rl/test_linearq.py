"""Linearq(u): the construction as REFERENCE.md section 5 states it, and its stated facts."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

from toytheory.claims.catalog.rl_linearq import linearq_value_facts
from toytheory.rl.exact import exact_return, exact_value_iteration
from toytheory.rl.linearq_mdp import (linearq, linearq_next_state, linearq_optimal_actions,
                                  linearq_q_star, linearq_rewards)
from tests._seeds import reseed


def test_linearq_u4_transitions_follow_the_stated_rule():
    # u = 4: states 0..14; 13 = 3u+1, 14 = 3u+2.
    expected_a0 = [1, 2, 3, 4, 5, 13, 14, 13, 14, 14, 14, 14, 14, 14, 14]
    expected_a1 = [14, 13, 14, 13, 14, 6, 7, 8, 9, 10, 11, 12, 13, 14, 14]
    nxt = linearq_next_state(4)
    assert nxt[:, 0].tolist() == expected_a0
    assert nxt[:, 1].tolist() == expected_a1


def test_linearq_u4_has_15_states_and_the_stated_q_values_at_the_start():
    mdp = linearq(4)
    assert mdp.n_states == 15 and mdp.H == 15 and mdp.start == 0
    values = exact_value_iteration(mdp)
    assert values.q(0, 0, 0) == 18
    assert values.q(0, 0, 1) == Fraction(27, 2)
    assert values.v(0, 0) == 18


def test_linearq_u4_rewards_by_hand():
    # r(s, a) = Q*(s, a) - V*(next): worked out by hand from the definition.
    r0 = ["2", "2", "2", "2", "3/2", "15/2", "6", "7/2", "2", "0", "0", "0", "0", "0", "0"]
    r1 = ["27/2", "12", "23/2", "10", "19/2", "1", "1", "1", "1", "1", "1", "1", "1", "1/2", "0"]
    r = linearq_rewards(4)
    assert [str(x) for x in r[:, 0]] == r0
    assert [str(x) for x in r[:, 1]] == r1


def test_stated_facts_hold_for_every_u_up_to_200():
    for u in range(1, 201):
        facts = linearq_value_facts(u)
        assert facts["v0"] == 4 * u + 2, u
        assert facts["q_matches_on_reachable"], u
        assert facts["threshold_unique_greedy"], u


@pytest.mark.parametrize("u", [1, 2, 3, 7, 50])
def test_threshold_policy_earns_4u_plus_2_and_every_other_first_action_less(u):
    mdp = linearq(u)
    opt = linearq_optimal_actions(u)
    assert exact_return(mdp, opt) == 4 * u + 2
    flipped = opt.copy()
    flipped[0] = 1
    assert exact_return(mdp, flipped) < 4 * u + 2


@pytest.mark.parametrize("u", [1, 5, 12])
def test_rewards_are_non_negative_half_integers(u):
    r = linearq_rewards(u)
    assert all(x >= 0 and (2 * x).denominator == 1 for x in r.ravel())


def test_q_star_is_two_relus():
    q = linearq_q_star(3)
    assert [int(x) for x in q[:, 0]] == [2 * max(0, 7 - s) for s in range(12)]
    assert [float(x) for x in q[:, 1]] == [max(0.0, 10.5 - s) for s in range(12)]


@pytest.mark.parametrize("u", [0, -1])
def test_u_below_one_names_u(u):
    for fn in (linearq, linearq_q_star, linearq_rewards, linearq_optimal_actions):
        with pytest.raises(ValueError, match=r"^u: must be >= 1"):
            fn(u)


def test_u_that_is_not_an_integer_names_u():
    with pytest.raises(ValueError, match=r"^u: must be an integer"):
        linearq(2.0)


def test_numba_rollouts_of_the_threshold_policy_return_exactly_4u_plus_2():
    from sims.rl_rollouts import linearq_returns

    for u in (1, 6, 33):
        returns = linearq_returns(u, linearq_optimal_actions(u).astype(float), 200, seed=reseed(1))
        assert np.all(returns == 4 * u + 2)
