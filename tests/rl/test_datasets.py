"""Trajectory datasets: sampling law, the paper's Linearq dataset, coverage controls."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings

from toytheory import stats
from toytheory.rl.datasets import (epsilon_mixture, linearq_dataset, sample_trajectories,
                                   state_action_counts)
from toytheory.rl.exact import exact_trajectory
from toytheory.rl.linearq_mdp import linearq, linearq_optimal_actions
from toytheory.testing.rl import deterministic_mdps, deterministic_policies
from tests._seeds import reseed

LEVEL = 1e-6


@settings(max_examples=25)
@given(deterministic_mdps().flatmap(
    lambda m: deterministic_policies(m.H, m.n_states, m.n_actions).map(lambda p: (m, p))))
def test_sampled_trajectory_of_a_deterministic_policy_is_the_exact_trajectory(case):
    mdp, policy = case
    states, actions, rewards = exact_trajectory(mdp, policy)
    data = sample_trajectories(mdp.to_tabular(), policy, 3, rng=reseed(0))
    assert np.all(data.states == np.array(states)[None])
    assert np.all(data.actions == np.array(actions)[None])
    np.testing.assert_array_equal(data.rewards[0], [float(x) for x in rewards])


def first_action_test(policy_used, policy_claimed, n=20_000, seed=reseed(3)):
    mdp = linearq(2).to_tabular()
    data = sample_trajectories(mdp, policy_used, n, rng=seed)
    counts = np.bincount(data.actions[:, 0], minlength=2)
    return stats.chisquare_gof(counts, policy_claimed[mdp.start], LEVEL)


def test_first_actions_follow_the_behaviour_policy():
    pol = epsilon_mixture(linearq_optimal_actions(2), 2, 0.3)
    assert first_action_test(pol, pol).verdict == "accept"


def test_planted_wrong_behaviour_policy_is_rejected():
    """Planted: first actions drawn at eps = 0.24 (P = 0.12 / 0.88) against the claimed 0.3
    (0.15 / 0.85), 20,000 episodes. Power: with two cells X^2 = z^2, so the test rejects
    unless the count is within 4.89 null sd (50.5) of 3000, i.e. 353 of its mean 2400 off;
    by Bernstein (variance 0.106) a miss has probability <= 2 exp(-20000 * 0.0177^2 /
    (2 * 0.106 + 2 * 0.0177 / 3)) < 1e-11."""
    pol = epsilon_mixture(linearq_optimal_actions(2), 2, 0.3)
    wrong = epsilon_mixture(linearq_optimal_actions(2), 2, 0.24)
    assert first_action_test(wrong, pol).verdict == "reject"


@pytest.mark.parametrize("u", [1, 4, 10])
def test_linearq_dataset_has_3s_optimal_and_h_one_flip_trajectories(u):
    data = linearq_dataset(u)
    n_states = 3 * u + 3
    assert data.n == 3 * n_states + n_states and data.H == n_states
    optimal = data.actions[0]
    assert np.all(data.actions[: 3 * n_states] == optimal)
    assert data.returns()[0] == 4 * u + 2
    flips = data.actions[3 * n_states:]
    for h, row in enumerate(flips):
        assert row[h] != optimal[h]
        assert np.all(row[:h] == optimal[:h])
    assert np.all(data.returns() <= 4 * u + 2)
    counts = state_action_counts(data, n_states, 2)
    assert np.all(counts > 0)  # every (s, a) is covered


def test_returns_to_go_are_suffix_sums():
    data = linearq_dataset(2)
    g = data.returns_to_go()
    np.testing.assert_array_equal(g[:, 0], data.returns())
    np.testing.assert_array_equal(g[:, :-1] - g[:, 1:], data.rewards[:, :-1])


def test_epsilon_mixture_puts_eps_over_a_on_every_action():
    pol = epsilon_mixture(np.array([0, 2, 1]), 3, 0.3)
    np.testing.assert_allclose(pol.sum(axis=1), 1.0)
    np.testing.assert_allclose(pol.min(axis=1), 0.1)
    np.testing.assert_allclose(pol[[0, 1, 2], [0, 2, 1]], 0.8)


def test_bad_input_names_the_argument():
    mdp = linearq(1).to_tabular()
    with pytest.raises(ValueError, match=r"^n: must be >= 1"):
        sample_trajectories(mdp, np.zeros(6, dtype=np.int64), 0)
    with pytest.raises(ValueError, match=r"^epsilon: "):
        epsilon_mixture(np.zeros(3, dtype=np.int64), 2, 1.5)
    with pytest.raises(ValueError, match=r"^n_optimal: "):
        linearq_dataset(2, -1)
