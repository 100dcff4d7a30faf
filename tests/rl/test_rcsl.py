"""Tabular RCSL and behaviour cloning: exact returns, the stitching failure, MBRCSL on the maze."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from toytheory.rl.datasets import TrajectoryDataset, state_action_counts
from toytheory.rl.exact import exact_value_iteration
from toytheory.rl.pointmaze import (GOAL, START, fit_tabular_model, mbrcsl, point_maze,
                                    point_maze_dataset)
from toytheory.rl.rcsl import fit_behaviour_cloning, fit_tabular_rcsl
from toytheory.rl.stitching import stitching_dataset, stitching_mdp
from tests._seeds import reseed


@pytest.mark.parametrize("L", [1, 2, 3, 8])
def test_rcsl_on_the_stitching_chain_earns_exactly_half_the_optimum(L):
    mdp, data = stitching_mdp(L), stitching_dataset(L, 2)
    assert exact_value_iteration(mdp).v(0, 0) == 2 * L
    rcsl = fit_tabular_rcsl(data, 2)
    assert rcsl.best_start_return == L
    assert rcsl.expected_return(mdp) == L
    assert rcsl.expected_return(mdp, greedy=True) == L


def test_stitching_dataset_has_uniform_coverage():
    counts = state_action_counts(stitching_dataset(3, 4), 7, 2)
    assert np.all(counts[:6] == 4) and np.all(counts[6] == 0)


def test_rcsl_conditioned_out_of_data_uses_the_nearest_return_and_still_falls_short():
    mdp, data = stitching_mdp(2), stitching_dataset(2, 1)
    rcsl = fit_tabular_rcsl(data, 2)
    # at the start, 4 is unseen -> nearest is 2, both families tie: (1 + 2 + 2) / 2
    assert rcsl.expected_return(mdp, 4) == Fraction(5, 2)
    assert rcsl.fallbacks > 0


def test_rcsl_reproduces_a_dataset_made_of_the_optimal_trajectory():
    mdp = stitching_mdp(2)
    best = TrajectoryDataset(np.array([[0, 1, 2, 3, 4]]), np.array([[0, 0, 1, 1]]),
                             np.array([[1.0, 1.0, 1.0, 1.0]]))
    assert fit_tabular_rcsl(best, 2).expected_return(mdp) == 4


def test_behaviour_cloning_of_the_two_families_is_the_uniform_policy():
    mdp, data = stitching_mdp(2), stitching_dataset(2, 3)
    bc = fit_behaviour_cloning(data, 2)
    assert bc.action_probabilities(0) == {0: Fraction(1, 2), 1: Fraction(1, 2)}
    assert bc.expected_return(mdp) == 2  # every action pays 1 with probability 1/2


def test_maze_optimal_return_and_families():
    maze = point_maze(10)
    assert maze.optimal_return == 8
    data = point_maze_dataset(maze, 10, pause=0.0, rng=reseed(0))
    cells = [[maze.cells[s] for s in row] for row in data.states]
    assert cells[0][:3] == [START, (2, 2), (2, 2)]
    assert cells[-1][:6] == [START, (1, 1), (2, 1), (2, 2), (2, 3), GOAL]
    assert sorted(set(data.returns())) == [0.0, 6.0]


@settings(max_examples=10)
@given(st.integers(0, 2**32 - 1))
def test_learned_maze_model_is_the_true_dynamics_on_every_pair_it_saw(seed):
    maze = point_maze(10)
    data = point_maze_dataset(maze, 60, 0.2, seed)
    model = fit_tabular_model(data, maze.mdp.n_states, maze.mdp.n_actions)
    for s, a in np.argwhere(model.seen):
        assert model.P[s, a, maze.mdp.next_state[s, a]] == 1.0
        assert model.r[s, a] == float(maze.mdp.r[s, a])


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_mbrcsl_reaches_the_optimum_where_rcsl_and_bc_fall_short(seed):
    maze = point_maze(10)
    rng = np.random.default_rng(seed)
    data = point_maze_dataset(maze, 400, 0.1, rng)
    res = mbrcsl(maze, data, 500, rng)
    assert res.dataset_best == 6
    assert res.mbrcsl == 8
    assert res.rcsl == 6
    assert res.bc < 8 and res.bc_greedy < 8


def test_mbrcsl_without_enough_rollouts_is_just_rcsl():
    maze = point_maze(10)
    rng = np.random.default_rng(reseed(5))
    data = point_maze_dataset(maze, 200, 0.1, rng)
    res = mbrcsl(maze, data, 1, rng)
    assert res.n_kept == 0 and res.mbrcsl == res.rcsl == 6


def test_bad_input_names_the_argument():
    with pytest.raises(ValueError, match=r"^dataset: "):
        fit_tabular_rcsl("not data", 2)
    with pytest.raises(ValueError, match=r"^pause: "):
        point_maze_dataset(point_maze(), 10, pause=1.0)
    with pytest.raises(ValueError, match=r"^H: must be >= 4"):
        point_maze(3)
    with pytest.raises(ValueError, match=r"^half_length: must be >= 1"):
        stitching_mdp(0)


@pytest.mark.parametrize("K", [2, 3, 6])
def test_rcsl_with_a_longer_context_still_follows_one_family(K):
    mdp, data = stitching_mdp(3), stitching_dataset(3, 2)
    dt = fit_tabular_rcsl(data, 2, context_length=K)
    assert dt.expected_return(mdp) == 3
    assert dt.expected_return(mdp, greedy=True) == 3


def test_context_rcsl_uses_the_history_to_tell_the_families_apart():
    data = stitching_dataset(2, 1)
    dt = fit_tabular_rcsl(data, 2, context_length=2)
    # after (s=0, g=2, a=1) the history says "always 1", whatever g is asked for
    assert dt.action_probabilities(1, 2, ((0, 2, 1),)) == {1: Fraction(1)}
    assert dt.action_probabilities(1, 1, ((0, 2, 0),)) == {0: Fraction(1)}
