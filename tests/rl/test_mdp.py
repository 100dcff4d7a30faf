"""Finite-horizon value iteration and policy evaluation (float64 and exact)."""

from __future__ import annotations

import itertools
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from toytheory.rl.exact import (DeterministicMDP, exact_policy_value, exact_return,
                                exact_value_iteration, return_distribution)
from toytheory.rl.mdp import (TabularMDP, greedy_policy, policy_evaluation, policy_table,
                              value_iteration)
from toytheory.testing.rl import deterministic_mdps, stochastic_policies, tabular_mdps


def brute_force_best(mdp):
    best = -np.inf
    for flat in itertools.product(range(mdp.n_actions), repeat=mdp.H * mdp.n_states):
        pol = np.array(flat, dtype=np.int64).reshape(mdp.H, mdp.n_states)
        best = max(best, policy_evaluation(mdp, pol).V[0, mdp.start])
    return best


@settings(max_examples=25)
@given(tabular_mdps(max_states=3, max_actions=2, max_horizon=3))
def test_value_iteration_equals_the_best_deterministic_policy(mdp):
    assert value_iteration(mdp).V[0, mdp.start] == pytest.approx(brute_force_best(mdp),
                                                                 abs=1e-12)


@given(tabular_mdps())
def test_greedy_policy_of_optimal_q_attains_the_optimal_value(mdp):
    values = value_iteration(mdp)
    greedy = policy_evaluation(mdp, greedy_policy(values.Q))
    np.testing.assert_allclose(greedy.V, values.V, atol=1e-12)


@given(st.data(), tabular_mdps())
def test_policy_value_is_at_most_the_optimal_value(data, mdp):
    pol = data.draw(stochastic_policies(mdp.H, mdp.n_states, mdp.n_actions))
    assert np.all(policy_evaluation(mdp, pol).V <= value_iteration(mdp).V + 1e-12)


@given(st.data(), tabular_mdps())
def test_policy_evaluation_is_the_one_step_bellman_recursion(data, mdp):
    pol = data.draw(stochastic_policies(mdp.H, mdp.n_states, mdp.n_actions))
    v = policy_evaluation(mdp, pol)
    h = mdp.H - 1
    np.testing.assert_allclose(v.V[h], np.sum(pol[h] * mdp.r, axis=1), atol=1e-12)
    for h in range(mdp.H - 1):
        expected = np.sum(pol[h] * (mdp.r + mdp.P @ v.V[h + 1]), axis=1)
        np.testing.assert_allclose(v.V[h], expected, atol=1e-12)


@given(deterministic_mdps())
def test_exact_value_iteration_agrees_with_float_value_iteration(mdp):
    exact = exact_value_iteration(mdp)
    floats = value_iteration(mdp.to_tabular())
    np.testing.assert_allclose(exact.V_scaled / exact.denominator, floats.V, atol=1e-9)


@given(deterministic_mdps())
def test_exact_greedy_return_equals_exact_optimal_value(mdp):
    exact = exact_value_iteration(mdp)
    greedy = np.argmax(exact.Q_scaled, axis=2)
    assert exact_return(mdp, greedy) == exact.v(0, mdp.start)


@given(st.data(), deterministic_mdps(max_states=4, max_horizon=4))
def test_return_distribution_mean_equals_policy_evaluation(data, mdp):
    pol = data.draw(stochastic_policies(mdp.H, mdp.n_states, mdp.n_actions))
    law = return_distribution(mdp, pol)
    assert sum(law.values()) == pytest.approx(1.0, abs=1e-12)
    mean = sum(float(g) * p for g, p in law.items())
    assert mean == pytest.approx(policy_evaluation(mdp.to_tabular(), pol).V[0, mdp.start],
                                 abs=1e-9)


def test_exact_policy_value_of_a_uniform_policy_on_a_two_state_chain():
    # s0 -a0-> s1 (r = 1), s0 -a1-> s0 (r = 0); s1 absorbs with r = 1/3 under both actions.
    mdp = DeterministicMDP(np.array([[1, 0], [1, 1]]),
                           np.array([[1, 0], [Fraction(1, 3), Fraction(1, 3)]], dtype=object),
                           H=2, start=0)
    half = {0: Fraction(1, 2), 1: Fraction(1, 2)}
    # step 0: 1/2 * (1 + 1/3) + 1/2 * (0 + (1/2 * 1 + 1/2 * 0)) = 2/3 + 1/4 = 11/12
    assert exact_policy_value(mdp, lambda h, s: half) == Fraction(11, 12)


# --------------------------------------------------------------------------- bad input

def good_parts():
    P = np.array([[[0.5, 0.5], [1.0, 0.0]], [[0.0, 1.0], [0.3, 0.7]]])
    return P, np.zeros((2, 2)), 3


def test_rows_of_p_that_do_not_sum_to_one_name_p():
    P, r, H = good_parts()
    P[1, 0] = [0.2, 0.7]
    with pytest.raises(ValueError, match=r"^P: .*sum to one"):
        TabularMDP(P, r, H)


def test_negative_probabilities_name_p():
    P, r, H = good_parts()
    P[0, 0] = [1.5, -0.5]
    with pytest.raises(ValueError, match=r"^P: .*non-negative"):
        TabularMDP(P, r, H)


def test_nan_rewards_name_r():
    P, r, H = good_parts()
    r[0, 1] = np.nan
    with pytest.raises(ValueError, match=r"^r: .*finite"):
        TabularMDP(P, r, H)


def test_nan_rewards_of_a_deterministic_mdp_name_r():
    with pytest.raises(ValueError, match=r"^r\[0, 1\]: .*finite"):
        DeterministicMDP(np.zeros((1, 2), dtype=np.int64), [[0.0, float("nan")]], H=1)


@pytest.mark.parametrize("H", [0, -3])
def test_non_positive_horizon_names_h(H):
    P, r, _ = good_parts()
    with pytest.raises(ValueError, match=r"^H: must be >= 1"):
        TabularMDP(P, r, H)
    with pytest.raises(ValueError, match=r"^H: must be >= 1"):
        DeterministicMDP(np.zeros((2, 2), dtype=np.int64), np.zeros((2, 2)), H=H)


def test_start_out_of_range_and_shape_mismatch_name_their_argument():
    P, r, H = good_parts()
    with pytest.raises(ValueError, match=r"^start: "):
        TabularMDP(P, r, H, start=2)
    with pytest.raises(ValueError, match=r"^r: must have shape"):
        TabularMDP(P, np.zeros((2, 3)), H)
    with pytest.raises(ValueError, match=r"^next_state: "):
        DeterministicMDP(np.array([[0, 5]]), np.zeros((1, 2)), H=1)


def test_bad_policies_name_policy():
    with pytest.raises(ValueError, match=r"^policy: .*sum to one"):
        policy_table(np.full((2, 2), 0.4), 1, 2, 2)
    with pytest.raises(ValueError, match=r"^policy: actions must lie"):
        policy_table(np.array([0, 2]), 1, 2, 2)
