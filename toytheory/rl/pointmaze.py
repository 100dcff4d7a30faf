"""A grid Point Maze and MBRCSL on it, exactly evaluated.

The maze of the paper's code (``maze_default.json``): free cells
``(1,1), (1,2), (2,1), (2,2), (2,3), (2,4)``, start ``(1,2)``, goal ``(2,4)``.
Actions: stay, up, down, left, right; a move into a wall stays. The reward is
``1`` for every step that ends at the goal, so a path that reaches the goal
after ``k`` moves earns ``H - k + 1``.

The data, as in the paper: half the trajectories go from the start to
``(2,2)`` and stop there; half detour ``(1,1) -> (2,1) -> (2,4)``. Each step of a
behaviour trajectory pauses (stays) with probability ``pause``, so the data is
random but never holds the shortest path ``(1,2) -> (2,2) -> (2,3) -> (2,4)``,
which is the stitch of the first family's first move and the second family's
tail.

MBRCSL ("Free from Bellman Completeness: Trajectory Stitching via Model-based
Return-conditioned Supervised Learning", Algorithm 1): learn the dynamics
(tabular counts), learn a behaviour policy (tabular behaviour cloning), roll
the behaviour policy out in the learned model, keep the rollouts whose return
beats the best return in the data, and train RCSL on them.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from .._random import as_generator
from .._validation import check_int, check_real
from .datasets import TrajectoryDataset, sample_trajectories
from .exact import DeterministicMDP, exact_value_iteration
from .mdp import TabularMDP
from .rcsl import BehaviourCloning, fit_behaviour_cloning, fit_tabular_rcsl

__all__ = ["MAZE_MAP", "START", "GOAL", "ACTIONS", "PointMaze", "point_maze",
           "point_maze_dataset", "LearnedModel", "fit_tabular_model", "behaviour_table",
           "model_rollouts",
           "MBRCSLResult", "mbrcsl", "STOP_PATH", "DETOUR_WAYPOINTS"]

MAZE_MAP = ((1, 1, 1, 1, 1, 1),
            (1, 0, 0, 1, 1, 1),
            (1, 0, 0, 0, 0, 1),
            (1, 1, 1, 1, 1, 1))
START = (1, 2)
GOAL = (2, 4)
ACTIONS = {0: (0, 0), 1: (-1, 0), 2: (1, 0), 3: (0, -1), 4: (0, 1)}  # stay up down left right
ACTION_NAMES = ("stay", "up", "down", "left", "right")
STOP_PATH = ((1, 2), (2, 2))
DETOUR_WAYPOINTS = ((1, 2), (1, 1), (2, 1), (2, 2), (2, 3), (2, 4))


@dataclass(frozen=True)
class PointMaze:
    """The grid maze as a deterministic MDP, with its cells.

    Attributes
    ----------
    mdp : DeterministicMDP
    cells : tuple of (row, col)
        ``cells[s]`` is the grid cell of state ``s``.
    """

    mdp: DeterministicMDP
    cells: tuple

    def state_of(self, cell) -> int:
        return self.cells.index(tuple(cell))

    @property
    def optimal_return(self) -> Fraction:
        return exact_value_iteration(self.mdp).v(0, self.mdp.start)


def point_maze(H: int = 10) -> PointMaze:
    """The grid Point Maze with horizon ``H`` (``H >= 4`` so that the goal is reachable)."""
    H = check_int("H", H, low=4)
    cells = tuple((i, j) for i, row in enumerate(MAZE_MAP) for j, x in enumerate(row) if x == 0)
    index = {c: k for k, c in enumerate(cells)}
    nxt = np.empty((len(cells), len(ACTIONS)), dtype=np.int64)
    r = np.zeros((len(cells), len(ACTIONS)), dtype=np.int64)
    for k, (i, j) in enumerate(cells):
        for a, (di, dj) in ACTIONS.items():
            target = (i + di, j + dj)
            nxt[k, a] = index.get(target, k)
            r[k, a] = int(cells[nxt[k, a]] == GOAL)
    return PointMaze(DeterministicMDP(nxt, r, H=H, start=index[START]), cells)


def _step_towards(cell, waypoint) -> int:
    """The move along a Manhattan path, rows first, from ``cell`` to ``waypoint`` (0: there)."""
    (i, j), (wi, wj) = cell, waypoint
    if i != wi:
        return 2 if wi > i else 1
    if j != wj:
        return 4 if wj > j else 3
    return 0


def _follow(maze: PointMaze, waypoints, pause: float, rng) -> tuple[list, list, list]:
    mdp = maze.mdp
    s = mdp.start
    states, actions, rewards = [s], [], []
    wp = 1
    for _ in range(mdp.H):
        cell = maze.cells[s]
        while wp < len(waypoints) and cell == waypoints[wp]:
            wp += 1
        a = 0 if wp == len(waypoints) else _step_towards(cell, waypoints[wp])
        if a != 0 and rng.random() < pause:
            a = 0
        actions.append(a)
        rewards.append(float(mdp.r[s, a]))
        s = int(mdp.next_state[s, a])
        states.append(s)
    return states, actions, rewards


def point_maze_dataset(maze: PointMaze, n: int = 1000, pause: float = 0.1,
                       rng=None) -> TrajectoryDataset:
    """``n // 2`` "stop at (2,2)" trajectories and ``n - n // 2`` detours, with random pauses.

    Parameters
    ----------
    maze : PointMaze
    n : int
        Number of trajectories (``>= 2``).
    pause : float in [0, 1)
        Probability that a behaviour step stays instead of moving.
    rng : Generator, int or None
    """
    if not isinstance(maze, PointMaze):
        raise ValueError(f"maze: must be a PointMaze (got {type(maze).__name__})")
    n = check_int("n", n, low=2)
    pause = check_real("pause", pause, low=0.0, high=1.0, high_open=True)
    rng = as_generator(rng)
    rows = [_follow(maze, STOP_PATH if i < n // 2 else DETOUR_WAYPOINTS, pause, rng)
            for i in range(n)]
    return TrajectoryDataset(np.array([x[0] for x in rows]), np.array([x[1] for x in rows]),
                             np.array([x[2] for x in rows]))


@dataclass(frozen=True)
class LearnedModel:
    """Tabular dynamics and reward model fitted by counting.

    Attributes
    ----------
    P : (S, A, S) array
        Empirical successor law of every ``(s, a)`` seen in the data; an unseen
        pair stays where it is (it is never chosen by a behaviour policy fitted
        on the same data, except at states seen only as final states).
    r : (S, A) array
        Mean observed reward (0 for unseen pairs).
    seen : (S, A) bool array
    """

    P: np.ndarray
    r: np.ndarray
    seen: np.ndarray

    def as_mdp(self, H: int, start: int) -> TabularMDP:
        return TabularMDP(self.P, self.r, H, start)


def fit_tabular_model(dataset: TrajectoryDataset, n_states: int, n_actions: int) -> LearnedModel:
    """Count transitions and average rewards of every ``(s, a)`` seen in the data.

    .. math::

        \\hat P(s' \\mid s, a) = \\frac{N(s, a, s')}{N(s, a)}, \\qquad
        \\hat r(s, a) = \\frac{1}{N(s, a)} \\sum_{(s_h, a_h) = (s, a)} r_h.

    Parameters
    ----------
    dataset : TrajectoryDataset
    n_states, n_actions : int
        ``>= 1``; every state of the data lies in ``0..n_states-1`` and every
        action in ``0..n_actions-1``.

    Returns
    -------
    LearnedModel

    Raises
    ------
    ValueError
        Naming ``dataset`` (not a dataset, or a state or action out of range),
        ``n_states`` or ``n_actions``.
    """
    if not isinstance(dataset, TrajectoryDataset):
        raise ValueError(f"dataset: must be a TrajectoryDataset (got {type(dataset).__name__})")
    S = check_int("n_states", n_states, low=1)
    A = check_int("n_actions", n_actions, low=1)
    if dataset.states.size and dataset.states.max() >= S:
        raise ValueError(f"dataset: states must lie in 0..n_states-1 = 0..{S - 1} "
                         f"(got {dataset.states.max()})")
    if dataset.actions.size and dataset.actions.max() >= A:
        raise ValueError(f"dataset: actions must lie in 0..n_actions-1 = 0..{A - 1} "
                         f"(got {dataset.actions.max()})")
    s, a = dataset.states[:, :-1].ravel(), dataset.actions.ravel()
    s2, r = dataset.states[:, 1:].ravel(), dataset.rewards.ravel()
    counts = np.zeros((S, A, S))
    np.add.at(counts, (s, a, s2), 1.0)
    reward_sum = np.zeros((S, A))
    np.add.at(reward_sum, (s, a), r)
    n_sa = counts.sum(axis=2)
    seen = n_sa > 0
    P = np.where(seen[..., None], counts / np.maximum(n_sa, 1)[..., None], 0.0)
    idx = np.argwhere(~seen)
    P[idx[:, 0], idx[:, 1], idx[:, 0]] = 1.0
    return LearnedModel(P, np.where(seen, reward_sum / np.maximum(n_sa, 1), 0.0), seen)


def behaviour_table(behaviour, n_states: int) -> np.ndarray:
    """The cloned behaviour law ``pi(a | s)`` as an ``(S, A)`` float array.

    Parameters
    ----------
    behaviour : BehaviourCloning
    n_states : int
        ``S >= 1``; states the data never shows act uniformly.

    Returns
    -------
    (S, A) float array whose rows sum to one.

    Raises
    ------
    ValueError
        Naming ``behaviour`` (not a :class:`~toytheory.rl.rcsl.BehaviourCloning`)
        or ``n_states`` (not an integer ``>= 1``).
    """
    if not isinstance(behaviour, BehaviourCloning):
        raise ValueError(f"behaviour: must be a BehaviourCloning (got {type(behaviour).__name__})")
    n_states = check_int("n_states", n_states, low=1)
    table = np.zeros((n_states, behaviour.n_actions))
    for s in range(n_states):
        for a, p in behaviour.action_probabilities(s).items():
            table[s, a] = float(p)
    return table


def model_rollouts(model: LearnedModel, behaviour, start: int, H: int, n: int,
                   rng=None) -> TrajectoryDataset:
    """``n`` rollouts of the behaviour policy in the learned model, from ``start``.

    Parameters
    ----------
    model : LearnedModel
    behaviour : BehaviourCloning
    start, H, n : int
    rng : Generator, int or None

    Raises
    ------
    ValueError
        Naming ``model``, ``behaviour``, ``start``, ``H`` or ``n``.
    """
    if not isinstance(model, LearnedModel):
        raise ValueError(f"model: must be a LearnedModel (got {type(model).__name__})")
    S = model.P.shape[0]
    return sample_trajectories(model.as_mdp(H, start), behaviour_table(behaviour, S), n, rng)


@dataclass(frozen=True)
class MBRCSLResult:
    """Returns (exact, in the true maze) of MBRCSL, RCSL and behaviour cloning on one dataset."""

    optimal: Fraction
    dataset_best: Fraction
    n_kept: int
    best_kept: Fraction | None
    mbrcsl: Fraction
    rcsl: Fraction
    bc: Fraction
    bc_greedy: Fraction
    kept: TrajectoryDataset | None


def mbrcsl(maze: PointMaze, dataset: TrajectoryDataset, n_rollouts: int = 1000,
           rng=None) -> MBRCSLResult:
    """Run MBRCSL, RCSL and behaviour cloning on ``dataset`` and evaluate them exactly.

    RCSL policies condition on the best return of the data they were fit on and
    act by their most frequent action (ties: lowest); behaviour cloning is
    evaluated both as the stochastic empirical policy and by its most frequent
    action.

    Parameters
    ----------
    maze : PointMaze
    dataset : TrajectoryDataset
        Trajectories of ``maze`` (states and actions in range).
    n_rollouts : int
        Model rollouts of the behaviour policy, ``>= 1``.
    rng : Generator, int or None

    Returns
    -------
    MBRCSLResult

    Raises
    ------
    ValueError
        Naming ``maze``, ``dataset`` or ``n_rollouts``.
    """
    if not isinstance(maze, PointMaze):
        raise ValueError(f"maze: must be a PointMaze (got {type(maze).__name__})")
    n_rollouts = check_int("n_rollouts", n_rollouts, low=1)
    mdp = maze.mdp
    n_actions = mdp.n_actions
    model = fit_tabular_model(dataset, mdp.n_states, n_actions)
    behaviour = fit_behaviour_cloning(dataset, n_actions)
    rollouts = model_rollouts(model, behaviour, mdp.start, mdp.H, n_rollouts, rng)
    best = float(dataset.returns().max())
    keep = rollouts.returns() > best
    rcsl_data = fit_tabular_rcsl(dataset, n_actions)
    rcsl_return = rcsl_data.expected_return(mdp, greedy=True)
    if keep.any():
        kept = TrajectoryDataset(rollouts.states[keep], rollouts.actions[keep],
                                 rollouts.rewards[keep])
        policy = fit_tabular_rcsl(kept, n_actions)
        mb_return = policy.expected_return(mdp, greedy=True)
        best_kept = policy.best_start_return
    else:
        kept, mb_return, best_kept = None, rcsl_return, None
    return MBRCSLResult(
        optimal=maze.optimal_return, dataset_best=Fraction(best), n_kept=int(keep.sum()),
        best_kept=best_kept, mbrcsl=mb_return, rcsl=rcsl_return,
        bc=behaviour.expected_return(mdp), bc_greedy=behaviour.expected_return(mdp, greedy=True),
        kept=kept)
