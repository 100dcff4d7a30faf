"""Offline datasets of trajectories, the paper's Linearq dataset, and coverage.

A dataset holds ``n`` trajectories of a finite-horizon MDP, each of length
``H``: states ``(n, H+1)``, actions ``(n, H)``, rewards ``(n, H)``. Returns-to-go

.. math::

    g_h = \\sum_{t=h}^{H-1} r_t

are what return-conditioned supervised learning (RCSL) conditions on ("Free
from Bellman Completeness: Trajectory Stitching via Model-based
Return-conditioned Supervised Learning", section 2). Rewards are float64; on
the toys here they are dyadic rationals (integers and halves), so sums of them
are exact in float64.

Coverage is controlled by the behaviour policy: :func:`epsilon_mixture` mixes a
deterministic policy with the uniform one, and :func:`state_action_counts`
measures what the data covers.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._random import as_generator
from .._validation import check_int, check_real
from .exact import DeterministicMDP
from .mdp import TabularMDP, policy_table

__all__ = ["TrajectoryDataset", "sample_trajectories", "deterministic_trajectory",
           "linearq_dataset", "state_action_counts", "epsilon_mixture", "concatenate"]


@dataclass(frozen=True, eq=False)
class TrajectoryDataset:
    """``n`` trajectories of length ``H``.

    Attributes
    ----------
    states : (n, H+1) int64 array
    actions : (n, H) int64 array
    rewards : (n, H) float64 array
    """

    states: np.ndarray
    actions: np.ndarray
    rewards: np.ndarray

    def __post_init__(self):
        states = np.asarray(self.states)
        actions = np.asarray(self.actions)
        rewards = np.asarray(self.rewards, dtype=float)
        if states.ndim != 2 or actions.ndim != 2 or rewards.ndim != 2:
            raise ValueError("states, actions, rewards: must be 2-D arrays")
        n, H = actions.shape
        if states.shape != (n, H + 1):
            raise ValueError(f"states: must have shape (n, H+1) = ({n}, {H + 1}) "
                             f"(got {states.shape})")
        if rewards.shape != (n, H):
            raise ValueError(f"rewards: must have shape (n, H) = ({n}, {H}) (got {rewards.shape})")
        if not np.all(np.isfinite(rewards)):
            raise ValueError("rewards: must be finite (NaN or inf present)")
        states = _indices("states", states)
        actions = _indices("actions", actions)
        object.__setattr__(self, "states", states)
        object.__setattr__(self, "actions", actions)
        object.__setattr__(self, "rewards", rewards)

    @property
    def n(self) -> int:
        return self.actions.shape[0]

    @property
    def H(self) -> int:
        return self.actions.shape[1]

    def returns_to_go(self) -> np.ndarray:
        """``g[i, h] = sum_{t >= h} rewards[i, t]``, shape ``(n, H)``."""
        return np.cumsum(self.rewards[:, ::-1], axis=1)[:, ::-1]

    def returns(self) -> np.ndarray:
        """Total return of each trajectory, shape ``(n,)``."""
        return self.rewards.sum(axis=1)


def _indices(name: str, values: np.ndarray) -> np.ndarray:
    """Non-negative integer indices as int64 (negative ones would wrap around in counts).

    Raises
    ------
    ValueError
        ``name: must ...`` for booleans, non-integer values or negative values.
    """
    if values.dtype == bool:
        raise ValueError(f"{name}: must be integer indices (got booleans)")
    if values.dtype.kind == "f":
        if not np.all(np.isfinite(values)) or np.any(values != np.round(values)):
            raise ValueError(f"{name}: must be integer indices (got non-integer values)")
    elif values.size and values.dtype.kind not in "iu":
        raise ValueError(f"{name}: must be integer indices (got dtype {values.dtype})")
    if values.size and values.min() < 0:
        raise ValueError(f"{name}: must be non-negative (got {values.min()!r})")
    return values.astype(np.int64)


def concatenate(*datasets: TrajectoryDataset) -> TrajectoryDataset:
    """Stack datasets of equal horizon."""
    if not datasets:
        raise ValueError("datasets: need at least one")
    if len({d.H for d in datasets}) != 1:
        raise ValueError("datasets: must share the horizon H")
    return TrajectoryDataset(np.concatenate([d.states for d in datasets]),
                             np.concatenate([d.actions for d in datasets]),
                             np.concatenate([d.rewards for d in datasets]))


def sample_trajectories(mdp: TabularMDP, policy, n: int, rng=None) -> TrajectoryDataset:
    """Draw ``n`` trajectories of ``policy`` in ``mdp`` from the start state.

    Parameters
    ----------
    mdp : TabularMDP
    policy : array
        Any form accepted by :func:`toytheory.rl.mdp.policy_table`.
    n : int
    rng : Generator, int or None

    Returns
    -------
    TrajectoryDataset
    """
    if isinstance(mdp, DeterministicMDP):
        mdp = mdp.to_tabular()
    if not isinstance(mdp, TabularMDP):
        raise ValueError(f"mdp: must be a TabularMDP (got {type(mdp).__name__})")
    n = check_int("n", n, low=1)
    rng = as_generator(rng)
    H, S, A = mdp.H, mdp.n_states, mdp.n_actions
    pi = policy_table(policy, H, S, A)
    cum_pi = np.cumsum(pi, axis=2)
    cum_P = np.cumsum(mdp.P, axis=2)
    states = np.empty((n, H + 1), dtype=np.int64)
    actions = np.empty((n, H), dtype=np.int64)
    rewards = np.empty((n, H))
    s = np.full(n, mdp.start, dtype=np.int64)
    states[:, 0] = s
    for h in range(H):
        a = np.minimum((rng.random(n)[:, None] > cum_pi[h, s]).sum(axis=1), A - 1)
        s_next = np.minimum((rng.random(n)[:, None] > cum_P[s, a]).sum(axis=1), S - 1)
        actions[:, h], rewards[:, h] = a, mdp.r[s, a]
        s = s_next
        states[:, h + 1] = s
    return TrajectoryDataset(states, actions, rewards)


def deterministic_trajectory(mdp: DeterministicMDP, actions_at) -> TrajectoryDataset:
    """One trajectory of a deterministic MDP under ``actions_at(h, s) -> a``."""
    if not isinstance(mdp, DeterministicMDP):
        raise ValueError(f"mdp: must be a DeterministicMDP (got {type(mdp).__name__})")
    s = mdp.start
    states, actions, rewards = [s], [], []
    for h in range(mdp.H):
        a = int(actions_at(h, s))
        actions.append(a)
        rewards.append(float(mdp.r[s, a]))
        s = int(mdp.next_state[s, a])
        states.append(s)
    return TrajectoryDataset(np.array([states]), np.array([actions]), np.array([rewards]))


def linearq_dataset(u: int, n_optimal: int | None = None) -> TrajectoryDataset:
    """The dataset of the paper's Linearq experiment.

    ``n_optimal`` copies (default ``3|S|``) of the optimal trajectory, plus
    ``H`` trajectories that each follow the optimal policy but flip the action
    once, at step ``h = 0, ..., H-1``.

    Parameters
    ----------
    u : int
        ``u >= 1``.
    n_optimal : int, optional
        Number of optimal trajectories (default ``3 |S|``).

    Returns
    -------
    TrajectoryDataset
        ``n_optimal + H`` trajectories of length ``H = |S|``.
    """
    from .linearq_mdp import linearq, linearq_optimal_actions

    mdp = linearq(u)
    opt = linearq_optimal_actions(u)
    n_opt = 3 * mdp.n_states if n_optimal is None else check_int("n_optimal", n_optimal, low=0)
    best = deterministic_trajectory(mdp, lambda h, s: opt[s])
    parts = [TrajectoryDataset(np.repeat(best.states, n_opt, axis=0),
                               np.repeat(best.actions, n_opt, axis=0),
                               np.repeat(best.rewards, n_opt, axis=0))]
    for flip in range(mdp.H):
        parts.append(deterministic_trajectory(
            mdp, lambda h, s, flip=flip: 1 - opt[s] if h == flip else opt[s]))
    return concatenate(*parts)


def state_action_counts(dataset: TrajectoryDataset, n_states: int, n_actions: int) -> np.ndarray:
    """How often each ``(s, a)`` occurs in the dataset, shape ``(S, A)``."""
    if not isinstance(dataset, TrajectoryDataset):
        raise ValueError(f"dataset: must be a TrajectoryDataset (got {type(dataset).__name__})")
    S = check_int("n_states", n_states, low=1)
    A = check_int("n_actions", n_actions, low=1)
    s, a = dataset.states[:, :-1].ravel(), dataset.actions.ravel()
    if s.size and (s.max() >= S or a.max() >= A):
        raise ValueError("dataset: holds states or actions beyond n_states / n_actions")
    counts = np.zeros((S, A), dtype=np.int64)
    np.add.at(counts, (s, a), 1)
    return counts


def epsilon_mixture(actions, n_actions: int, epsilon: float) -> np.ndarray:
    """``(1 - eps) * delta_{actions} + eps * uniform``: a behaviour policy with full support.

    Parameters
    ----------
    actions : (S,) or (H, S) integer array
    n_actions : int
    epsilon : float in [0, 1]

    Returns
    -------
    (S, A) or (H, S, A) array of action probabilities
    """
    eps = check_real("epsilon", epsilon, low=0.0, high=1.0)
    A = check_int("n_actions", n_actions, low=1)
    acts = np.asarray(actions)
    if acts.dtype.kind not in "iu" or np.any((acts < 0) | (acts >= A)):
        raise ValueError(f"actions: must be integer actions in 0..{A - 1}")
    table = np.full(acts.shape + (A,), eps / A)
    np.put_along_axis(table, acts[..., None].astype(np.int64),
                      1.0 - eps + eps / A, axis=-1)
    return table
