"""Tabular return-conditioned supervised learning (RCSL) and behaviour cloning, exactly.

Markovian RCSL fits the empirical conditional law of the action given the state
and the return-to-go in the data,

.. math::

    \\hat\\pi(a \\mid s, g) =
        \\frac{\\#\\{(s_h, g_h, a_h) = (s, g, a)\\}}{\\#\\{(s_h, g_h) = (s, g)\\}},

and acts at test time by conditioning on a desired return ``g_0`` (by default
the best return in the data) and updating ``g_{h+1} = g_h - r_h``. Behaviour
cloning fits ``pi(a | s)`` the same way without the return. On a
deterministic MDP both are evaluated exactly: the distribution over the
augmented state ``(s, g)`` is propagated with rational probabilities.

A pair ``(s, g)`` that the data never shows is answered from the nearest
return-to-go seen at ``s`` (ties: the larger one), and an unseen state by the
uniform law; :attr:`TabularRCSL.fallbacks` counts how often that happened.

Paper: "Free from Bellman Completeness: Trajectory Stitching via Model-based
Return-conditioned Supervised Learning", section 2 (RCSL) and section 3.2 (RCSL
cannot stitch).
"""

from __future__ import annotations

from collections import defaultdict
from fractions import Fraction

import numpy as np

from .._validation import check_int
from .datasets import TrajectoryDataset
from .exact import DeterministicMDP, as_fraction, exact_policy_value

__all__ = ["TabularRCSL", "fit_tabular_rcsl", "BehaviourCloning", "fit_behaviour_cloning"]


def _check_dataset(dataset) -> TrajectoryDataset:
    if not isinstance(dataset, TrajectoryDataset):
        raise ValueError(f"dataset: must be a TrajectoryDataset (got {type(dataset).__name__})")
    if dataset.n == 0:
        raise ValueError("dataset: must hold at least one trajectory")
    if dataset.H == 0:
        raise ValueError("dataset: must have horizon H >= 1 (got trajectories of length 0)")
    return dataset


def _probabilities(counts: np.ndarray) -> dict[int, Fraction]:
    total = int(counts.sum())
    return {a: Fraction(int(c), total) for a, c in enumerate(counts) if c > 0}


class TabularRCSL:
    """Empirical ``pi(a | context, s, g)`` from a dataset (see the module docstring).

    Parameters
    ----------
    dataset : TrajectoryDataset
    n_actions : int
    context_length : int
        1 for Markovian RCSL (condition on ``(s_h, g_h)``); ``K > 1`` also
        conditions on the previous ``K - 1`` triples ``(s, g, a)`` of the
        trajectory (a tabular decision transformer with context ``K``, trained
        by maximum likelihood, i.e. cross-entropy). An unseen context is
        shortened from its oldest end until it is seen.
    """

    def __init__(self, dataset: TrajectoryDataset, n_actions: int, context_length: int = 1):
        dataset = _check_dataset(dataset)
        self.n_actions = check_int("n_actions", n_actions, low=1)
        self.context_length = check_int("context_length", context_length, low=1)
        if dataset.actions.max() >= self.n_actions:
            raise ValueError(f"dataset: actions must lie in 0..n_actions-1 = "
                             f"0..{self.n_actions - 1} (got {dataset.actions.max()})")
        rtg = dataset.returns_to_go()
        table: dict[int, dict[Fraction, np.ndarray]] = defaultdict(dict)
        contexts: dict[tuple, np.ndarray] = {}
        keep = self.context_length - 1
        for states, gs, actions in zip(dataset.states[:, :-1], rtg, dataset.actions):
            history: tuple = ()
            for s, g, a in zip(states.tolist(), gs.tolist(), actions.tolist()):
                g = Fraction(g)
                row = table[s].setdefault(g, np.zeros(self.n_actions, dtype=np.int64))
                row[a] += 1
                for cut in range(len(history)):
                    key = (history[cut:], s, g)
                    contexts.setdefault(key, np.zeros(self.n_actions, dtype=np.int64))[a] += 1
                if keep:
                    history = (history + ((s, g, a),))[-keep:]
        self.table = dict(table)
        self.contexts = contexts
        self.best_start_return = Fraction(float(dataset.returns().max()))
        self.fallbacks = 0

    def action_probabilities(self, s: int, g, history: tuple = ()) -> dict[int, Fraction]:
        """``pi(. | history, s, g)`` as ``{action: probability}`` (exact).

        ``history`` holds the previous ``(s, g, a)`` triples, oldest first (only
        the last ``context_length - 1`` are used).
        """
        g = as_fraction("g", g)
        s = int(s)
        keep = self.context_length - 1
        history = tuple(history)[-keep:] if keep else ()
        for cut in range(len(history)):
            counts = self.contexts.get((history[cut:], s, g))
            if counts is not None:
                return _probabilities(counts)
        rows = self.table.get(s)
        if not rows:
            self.fallbacks += 1
            return {a: Fraction(1, self.n_actions) for a in range(self.n_actions)}
        if g not in rows:
            self.fallbacks += 1
            g = min(rows, key=lambda x: (abs(x - g), -x))
        return _probabilities(rows[g])

    def greedy_action(self, s: int, g, history: tuple = ()) -> int:
        """The most frequent action at ``(history, s, g)`` (ties: the lowest action)."""
        probs = self.action_probabilities(s, g, history)
        best = max(probs.values())
        return min(a for a, p in probs.items() if p == best)

    def expected_return(self, mdp: DeterministicMDP, target_return=None, *,
                        greedy: bool = False) -> Fraction:
        """Exact expected return in ``mdp`` when conditioning on ``target_return``.

        Parameters
        ----------
        mdp : DeterministicMDP
        target_return : rational, optional
            ``g_0``; default the best return in the dataset.
        greedy : bool
            Act by :meth:`greedy_action` instead of sampling from ``pi``.
        """
        if not isinstance(mdp, DeterministicMDP):
            raise ValueError(f"mdp: must be a DeterministicMDP (got {type(mdp).__name__})")
        g0 = self.best_start_return if target_return is None else as_fraction(
            "target_return", target_return)
        keep = self.context_length - 1
        dist = {((), mdp.start, g0): Fraction(1)}
        total = Fraction(0)
        for _ in range(mdp.H):
            nxt: dict[tuple, Fraction] = defaultdict(Fraction)
            for (history, s, g), p in dist.items():
                probs = ({self.greedy_action(s, g, history): Fraction(1)} if greedy
                         else self.action_probabilities(s, g, history))
                for a, q in probs.items():
                    r = mdp.r[s, a]
                    total += p * q * r
                    new_history = (history + ((s, g, a),))[-keep:] if keep else ()
                    nxt[(new_history, int(mdp.next_state[s, a]), g - r)] += p * q
            dist = nxt
        return total


def fit_tabular_rcsl(dataset: TrajectoryDataset, n_actions: int,
                     context_length: int = 1) -> TabularRCSL:
    """Fit tabular RCSL (Markovian, or with a context of ``context_length`` steps)."""
    return TabularRCSL(dataset, n_actions, context_length)


class BehaviourCloning:
    """Empirical ``pi(a | s)`` from a dataset; unseen states act uniformly.

    Parameters
    ----------
    dataset : TrajectoryDataset
    n_actions : int
    """

    def __init__(self, dataset: TrajectoryDataset, n_actions: int):
        dataset = _check_dataset(dataset)
        self.n_actions = check_int("n_actions", n_actions, low=1)
        if dataset.actions.max() >= self.n_actions:
            raise ValueError(f"dataset: actions must lie in 0..n_actions-1 = "
                             f"0..{self.n_actions - 1} (got {dataset.actions.max()})")
        counts: dict[int, np.ndarray] = {}
        for s, a in zip(dataset.states[:, :-1].ravel(), dataset.actions.ravel()):
            counts.setdefault(int(s), np.zeros(self.n_actions, dtype=np.int64))[a] += 1
        self.counts = counts

    def action_probabilities(self, s: int) -> dict[int, Fraction]:
        row = self.counts.get(int(s))
        if row is None:
            return {a: Fraction(1, self.n_actions) for a in range(self.n_actions)}
        return _probabilities(row)

    def greedy_action(self, s: int) -> int:
        probs = self.action_probabilities(s)
        best = max(probs.values())
        return min(a for a, p in probs.items() if p == best)

    def expected_return(self, mdp: DeterministicMDP, *, greedy: bool = False) -> Fraction:
        """Exact expected return of the cloned policy (stochastic, or its argmax)."""
        if greedy:
            return exact_policy_value(mdp, lambda h, s: {self.greedy_action(s): Fraction(1)})
        return exact_policy_value(mdp, lambda h, s: self.action_probabilities(s))


def fit_behaviour_cloning(dataset: TrajectoryDataset, n_actions: int) -> BehaviourCloning:
    """Fit tabular behaviour cloning (see :class:`BehaviourCloning`).

    Parameters
    ----------
    dataset : TrajectoryDataset
        At least one trajectory of horizon ``H >= 1``.
    n_actions : int
        ``>= 1``; every action of the data lies in ``0..n_actions-1``.

    Returns
    -------
    BehaviourCloning

    Raises
    ------
    ValueError
        Naming ``dataset`` (empty, or an action ``>= n_actions``) or ``n_actions``.
    """
    return BehaviourCloning(dataset, n_actions)
