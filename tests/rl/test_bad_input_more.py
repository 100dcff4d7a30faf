"""Bad input at the rl public boundary: a ValueError naming the argument and the condition.

Cases found by an audit: the Numba kernels and the numpy baselines checked
almost nothing (rows of ``P`` summing to 0.6 ran, NaN rewards gave NaN
returns, an out-of-range start read uninitialised memory), and several rl
functions raised IndexError, TypeError or an unnamed numpy message.
"""

from __future__ import annotations

import numpy as np
import pytest

from sims.rl_rollouts import (linearq_returns, linearq_returns_numpy_vectorized,
                              linearq_returns_python_loop, tabular_returns)
from toytheory.rl.datasets import TrajectoryDataset
from toytheory.rl.piecewise import PiecewiseLinear
from toytheory.rl.pointmaze import (behaviour_table, fit_tabular_model, mbrcsl, point_maze,
                                    point_maze_dataset)
from toytheory.rl.rcsl import fit_behaviour_cloning, fit_tabular_rcsl
from tests._seeds import reseed

# a valid 2-state, 2-action MDP and a horizon-3 uniform policy
P_OK = np.array([[[0.5, 0.5], [1.0, 0.0]], [[0.0, 1.0], [0.25, 0.75]]])
R_OK = np.array([[1.0, 0.0], [0.5, -1.0]])
PI_OK = np.full((3, 2, 2), 0.5)


def tabular_call(P=P_OK, r=R_OK, start=0, policy=PI_OK, n=10, seed=reseed(0)):
    return tabular_returns(P, r, start, policy, n, seed)


def _rows_sum_to(total):
    P = P_OK.copy()
    P[0, 0] = [total / 2, total / 2]
    return P


def _negative_P():
    P = P_OK.copy()
    P[1, 1] = [-0.25, 1.25]
    return P


def _nan(array, index):
    out = np.array(array, dtype=float)
    out[index] = np.nan
    return out


TABULAR_CASES = {
    "P rows sum to 0.6": (dict(P=_rows_sum_to(0.6)), r"^P: every row must sum to one"),
    "P rows sum to 1 + 1e-9": (dict(P=_rows_sum_to(1 + 1e-9)), r"^P: every row must sum to one"),
    "P negative entry": (dict(P=_negative_P()), r"^P: must be non-negative"),
    "P NaN": (dict(P=_nan(P_OK, (0, 0, 0))), r"^P: must contain only finite values"),
    "P not square": (dict(P=np.full((2, 2, 3), 1 / 3)), r"^P: must have shape \(S, A, S\)"),
    "P 2-D": (dict(P=np.eye(2)), r"^P: must have 3 dimension"),
    "r NaN": (dict(r=_nan(R_OK, (1, 0))), r"^r: must contain only finite values"),
    "r inf": (dict(r=np.array([[1.0, np.inf], [0.0, 0.0]])), r"^r: must contain only finite"),
    "r wrong shape": (dict(r=np.zeros((2, 3))), r"^r: must have shape \(S, A\)"),
    "start beyond S": (dict(start=5), r"^start: must be <= 1"),
    "start negative": (dict(start=-1), r"^start: must be >= 0"),
    "start float": (dict(start=0.5), r"^start: must be an integer"),
    "empty horizon": (dict(policy=np.zeros((0, 2, 2))), r"^policy: must cover a horizon H >= 1"),
    "policy rows sum to 0.8": (dict(policy=np.full((3, 2, 2), 0.4)),
                               r"^policy: every row must sum to one"),
    "policy negative": (dict(policy=np.stack([np.array([[1.5, -0.5], [0.5, 0.5]])] * 3)),
                        r"^policy: must be non-negative"),
    "policy wrong shape": (dict(policy=np.full((3, 3, 2), 0.5)), r"^policy: must have shape"),
    "policy NaN": (dict(policy=_nan(PI_OK, (0, 0, 0))), r"^policy: must contain only finite"),
    "n zero": (dict(n=0), r"^n: must be >= 1"),
    "n negative": (dict(n=-1), r"^n: must be >= 1"),
    "n float": (dict(n=10.0), r"^n: must be an integer"),
    "seed float": (dict(seed=1.5), r"^seed: must be an integer"),
}


@pytest.mark.parametrize("case", TABULAR_CASES, ids=list(TABULAR_CASES))
def test_tabular_returns_refuses(case):
    kwargs, message = TABULAR_CASES[case]
    with pytest.raises(ValueError, match=message):
        tabular_call(**kwargs)


def test_tabular_returns_still_runs_on_valid_input():
    out = tabular_call(n=50)
    assert out.shape == (50,) and np.all(np.isfinite(out))


U = 3
P_ONE = np.full(3 * U + 3, 0.3)

LINEARQ_CASES = {
    "u zero": (dict(u=0), r"^u: must be >= 1"),
    "u negative": (dict(u=-1), r"^u: must be >= 1"),
    "u float": (dict(u=2.0), r"^u: must be an integer"),
    "prob_one NaN": (dict(prob_one=_nan(P_ONE, 2)), r"^prob_one: must contain only finite"),
    "prob_one 2.0": (dict(prob_one=np.where(np.arange(P_ONE.size) == 1, 2.0, P_ONE)),
                     r"^prob_one: must lie in \[0, 1\]"),
    "prob_one negative": (dict(prob_one=np.where(np.arange(P_ONE.size) == 0, -0.1, P_ONE)),
                          r"^prob_one: must lie in \[0, 1\]"),
    "prob_one wrong shape": (dict(prob_one=np.zeros(5)), r"^prob_one: must have shape"),
    "n negative": (dict(n=-1), r"^n: must be >= 1"),
    "n zero": (dict(n=0), r"^n: must be >= 1"),
}


def _numba(u=U, prob_one=P_ONE, n=10):
    return linearq_returns(u, prob_one, n, 0)


def _loop(u=U, prob_one=P_ONE, n=10):
    return linearq_returns_python_loop(u, prob_one, n, np.random.default_rng(reseed(0)))


def _vectorized(u=U, prob_one=P_ONE, n=10):
    return linearq_returns_numpy_vectorized(u, prob_one, n, np.random.default_rng(reseed(0)))


def _torch_cpu(u=U, prob_one=P_ONE, n=10):
    pytest.importorskip("torch")
    from sims.rl_rollouts import linearq_returns_torch

    return linearq_returns_torch(u, prob_one, n, 0, "cpu")


ROLLOUTS = {"numba": _numba, "python loop": _loop, "numpy vectorized": _vectorized,
            "torch cpu": _torch_cpu}


@pytest.mark.parametrize("rollout", ROLLOUTS, ids=list(ROLLOUTS))
@pytest.mark.parametrize("case", LINEARQ_CASES, ids=list(LINEARQ_CASES))
def test_linearq_rollouts_and_baselines_refuse(rollout, case):
    kwargs, message = LINEARQ_CASES[case]
    with pytest.raises(ValueError, match=message):
        ROLLOUTS[rollout](**kwargs)


@pytest.mark.parametrize("baseline", [linearq_returns_python_loop,
                                      linearq_returns_numpy_vectorized])
def test_numpy_baselines_refuse_a_seed_in_place_of_a_generator(baseline):
    with pytest.raises(ValueError, match=r"^rng: must be a numpy.random.Generator"):
        baseline(U, P_ONE, 10, 0)


def test_linearq_seed_must_be_an_integer():
    with pytest.raises(ValueError, match=r"^seed: must be an integer"):
        linearq_returns(U, P_ONE, 10, 0.5)


# ---- toytheory.rl -----------------------------------------------------------------------

def _dataset(states, actions, rewards=None):
    actions = np.asarray(actions)
    rewards = np.zeros(actions.shape) if rewards is None else rewards
    return TrajectoryDataset(np.asarray(states), actions, rewards)


DATASET_CASES = {
    "negative state": (([[0, -1, 1]], [[0, 1]]), r"^states: must be non-negative"),
    "negative action": (([[0, 1, 1]], [[0, -2]]), r"^actions: must be non-negative"),
    "fractional state": (([[0, 1.5, 1]], [[0, 1]]), r"^states: must be integer indices"),
    "fractional action": (([[0, 1, 1]], [[0, 0.5]]), r"^actions: must be integer indices"),
    "boolean actions": (([[0, 1, 1]], [[True, False]]), r"^actions: must be integer indices"),
}


@pytest.mark.parametrize("case", DATASET_CASES, ids=list(DATASET_CASES))
def test_trajectory_dataset_refuses(case):
    (states, actions), message = DATASET_CASES[case]
    with pytest.raises(ValueError, match=message):
        _dataset(states, actions)


def test_trajectory_dataset_accepts_integer_valued_floats():
    data = _dataset(np.array([[0.0, 1.0, 2.0]]), np.array([[1.0, 0.0]]))
    assert data.states.dtype == np.int64 and data.states.tolist() == [[0, 1, 2]]


def _fit_model_state_too_large():
    fit_tabular_model(_dataset([[0, 1, 3]], [[0, 1]]), n_states=3, n_actions=2)


def _fit_model_action_too_large():
    fit_tabular_model(_dataset([[0, 1, 2]], [[0, 2]]), n_states=3, n_actions=2)


def _bc_action_too_large():
    fit_behaviour_cloning(_dataset([[0, 1, 2]], [[0, 4]]), n_actions=2)


def _rcsl_action_too_large():
    fit_tabular_rcsl(_dataset([[0, 1, 2]], [[0, 4]]), n_actions=2)


def _rcsl_empty_horizon():
    fit_tabular_rcsl(TrajectoryDataset(np.zeros((1, 1)), np.zeros((1, 0)), np.zeros((1, 0))), 2)


def _behaviour_table(n_states):
    bc = fit_behaviour_cloning(_dataset([[0, 1, 2]], [[0, 1]]), n_actions=2)
    return behaviour_table(bc, n_states)


def _mbrcsl(n_rollouts):
    maze = point_maze(10)
    data = point_maze_dataset(maze, 20, 0.1, 0)
    return mbrcsl(maze, data, n_rollouts, 0)


RL_CASES = {
    "fit_tabular_model: state >= n_states": (
        _fit_model_state_too_large, r"^dataset: states must lie in 0..n_states-1"),
    "fit_tabular_model: action >= n_actions": (
        _fit_model_action_too_large, r"^dataset: actions must lie in 0..n_actions-1"),
    "fit_behaviour_cloning: action >= n_actions": (
        _bc_action_too_large, r"^dataset: actions must lie in 0..n_actions-1"),
    "fit_tabular_rcsl: action >= n_actions": (
        _rcsl_action_too_large, r"^dataset: actions must lie in 0..n_actions-1"),
    "fit_tabular_rcsl: empty horizon": (_rcsl_empty_horizon, r"^dataset: must have horizon"),
    "mbrcsl: n_rollouts = 0": (lambda: _mbrcsl(0), r"^n_rollouts: must be >= 1"),
    "mbrcsl: n_rollouts = -3": (lambda: _mbrcsl(-3), r"^n_rollouts: must be >= 1"),
    "behaviour_table: n_states = 0": (lambda: _behaviour_table(0), r"^n_states: must be >= 1"),
    "behaviour_table: n_states = 2.0": (lambda: _behaviour_table(2.0),
                                        r"^n_states: must be an integer"),
    "behaviour_table: not a BehaviourCloning": (lambda: behaviour_table(np.ones((3, 2)), 3),
                                                r"^behaviour: must be a BehaviourCloning"),
    "values_on_grid(2.5)": (lambda: PiecewiseLinear(0, 1).values_on_grid(2.5),
                            r"^n: must be an integer"),
    "values_on_grid(0)": (lambda: PiecewiseLinear(0, 1).values_on_grid(0), r"^n: must be >= 1"),
}


@pytest.mark.parametrize("case", RL_CASES, ids=list(RL_CASES))
def test_rl_functions_refuse(case):
    call, message = RL_CASES[case]
    with pytest.raises(ValueError, match=message):
        call()


def test_values_on_grid_still_accepts_numpy_integers():
    assert PiecewiseLinear(0, 1).values_on_grid(np.int64(3)) == [0, 1, 2]


LEARNER_CASES = {
    "widths empty": (dict(widths=[]), r"^widths: must be non-empty"),
    "seeds empty": (dict(seeds=[]), r"^seeds: must be non-empty"),
    "seeds repeated": (dict(seeds=[0, 0]), r"^seeds: must be distinct"),
    "widths repeated": (dict(widths=[2, 2]), r"^widths: must be distinct"),
    "widths an integer": (dict(widths=2), r"^widths: must be a sequence of integers"),
    "seeds negative": (dict(seeds=[-1]), r"^seeds: must be >= 0"),
}


@pytest.mark.parametrize("learner", ["fit_q_iteration", "fit_rcsl_mlp"])
@pytest.mark.parametrize("case", LEARNER_CASES, ids=list(LEARNER_CASES))
def test_learners_refuse(learner, case):
    pytest.importorskip("torch")
    import toytheory.rl.learners as learners

    kwargs, message = LEARNER_CASES[case]
    args = {"widths": [2], "seeds": [0], **kwargs}
    with pytest.raises(ValueError, match=message):
        getattr(learners, learner)(1, args["widths"], args["seeds"], steps=1)
