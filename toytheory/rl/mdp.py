"""Finite-horizon tabular MDPs in float64: value iteration and policy evaluation.

An MDP is data: a transition tensor ``P`` of shape ``(S, A, S)``, a reward
table ``r`` of shape ``(S, A)``, a horizon ``H`` and a start state. Values are
undiscounted sums of ``H`` rewards,

.. math::

    Q_h(s, a) = r(s, a) + \\sum_{s'} P(s' \\mid s, a) V_{h+1}(s'), \\qquad
    V_h(s) = \\max_a Q_h(s, a), \\qquad V_H \\equiv 0,

for ``h = 0, ..., H-1`` (Puterman, *Markov Decision Processes*, section 4.5;
the setting of "Free from Bellman Completeness: Trajectory Stitching via
Model-based Return-conditioned Supervised Learning", section 2).

Policies are given as tables: ``(S, A)`` or ``(H, S, A)`` action
probabilities, or ``(S,)`` or ``(H, S)`` integer actions (deterministic). The
exact rational counterpart for deterministic MDPs is :mod:`toytheory.rl.exact`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._validation import as_float_array, check_int

__all__ = ["TabularMDP", "FiniteHorizonValues", "value_iteration", "policy_evaluation",
           "greedy_policy", "policy_table", "expected_return"]

ROW_SUM_ATOL = 1e-9


@dataclass(frozen=True, eq=False)
class TabularMDP:
    """A finite-horizon tabular MDP.

    Parameters
    ----------
    P : (S, A, S) array
        ``P[s, a, s']`` is the probability of moving from ``s`` to ``s'``
        under action ``a``; every row ``P[s, a, :]`` sums to one.
    r : (S, A) array
        Finite rewards.
    H : int
        Horizon, ``H >= 1``.
    start : int
        Start state, ``0 <= start < S``.

    Raises
    ------
    ValueError
        Naming ``P``, ``r``, ``H`` or ``start`` when a row of ``P`` does not
        sum to one or has a negative entry, a reward is NaN or infinite, the
        shapes disagree, ``H <= 0`` or the start state is out of range.
    """

    P: np.ndarray
    r: np.ndarray
    H: int
    start: int = 0

    def __post_init__(self):
        P = np.array(as_float_array("P", self.P, ndim=3))  # own copy: frozen below
        S, A, S2 = P.shape
        if S == 0 or A == 0 or S != S2:
            raise ValueError(f"P: must have shape (S, A, S) with S, A >= 1 (got shape {P.shape})")
        if np.any(P < 0):
            s, a, _ = np.argwhere(P < 0)[0]
            raise ValueError(f"P: must be non-negative (got a negative entry in P[{s}, {a}, :])")
        sums = P.sum(axis=2)
        bad = np.abs(sums - 1.0) > ROW_SUM_ATOL
        if np.any(bad):
            s, a = np.argwhere(bad)[0]
            raise ValueError(f"P: every row P[s, a, :] must sum to one (within {ROW_SUM_ATOL:g}) "
                             f"(got sum {sums[s, a]!r} at s={s}, a={a})")
        r = np.array(as_float_array("r", self.r, ndim=2))
        if r.shape != (S, A):
            raise ValueError(f"r: must have shape (S, A) = ({S}, {A}) (got shape {r.shape})")
        H = check_int("H", self.H, low=1)
        start = check_int("start", self.start, low=0, high=S - 1)
        P.setflags(write=False)
        r.setflags(write=False)
        object.__setattr__(self, "P", P)
        object.__setattr__(self, "r", r)
        object.__setattr__(self, "H", H)
        object.__setattr__(self, "start", start)

    @property
    def n_states(self) -> int:
        return self.P.shape[0]

    @property
    def n_actions(self) -> int:
        return self.P.shape[1]


@dataclass(frozen=True)
class FiniteHorizonValues:
    """Action values ``Q`` of shape ``(H, S, A)`` and state values ``V`` of shape ``(H+1, S)``."""

    Q: np.ndarray
    V: np.ndarray


def policy_table(policy, H: int, S: int, A: int) -> np.ndarray:
    """Action probabilities of shape ``(H, S, A)`` from any accepted policy form.

    Parameters
    ----------
    policy : array
        ``(S,)`` or ``(H, S)`` integer actions, or ``(S, A)`` or ``(H, S, A)``
        probabilities (non-negative, each row summing to one).
    H, S, A : int

    Raises
    ------
    ValueError
        ``policy: ...`` for a wrong shape, an action out of range or rows that
        are not probability vectors.
    """
    raw = np.asarray(policy)
    if raw.dtype.kind in "iu" or (raw.dtype == bool):
        if raw.dtype == bool:
            raise ValueError("policy: integer actions must not be booleans")
        if raw.shape == (S,):
            raw = np.broadcast_to(raw, (H, S))
        if raw.shape != (H, S):
            raise ValueError(f"policy: integer actions must have shape (S,) or (H, S) = "
                             f"({H}, {S}) (got shape {raw.shape})")
        if np.any((raw < 0) | (raw >= A)):
            raise ValueError(f"policy: actions must lie in 0..{A - 1}")
        table = np.zeros((H, S, A))
        np.put_along_axis(table, raw[..., None].astype(np.int64), 1.0, axis=2)
        return table
    probs = as_float_array("policy", raw, ndim=(2, 3))
    if probs.shape == (S, A):
        probs = np.broadcast_to(probs, (H, S, A))
    if probs.shape != (H, S, A):
        raise ValueError(f"policy: probabilities must have shape (S, A) or (H, S, A) = "
                         f"({H}, {S}, {A}) (got shape {probs.shape})")
    if np.any(probs < 0):
        raise ValueError("policy: probabilities must be non-negative")
    if np.any(np.abs(probs.sum(axis=2) - 1.0) > ROW_SUM_ATOL):
        raise ValueError("policy: every row of action probabilities must sum to one")
    return np.array(probs, dtype=float)


def value_iteration(mdp: TabularMDP) -> FiniteHorizonValues:
    """Optimal finite-horizon values by backward induction.

    .. math::

        Q^*_h(s, a) = r(s, a) + \\sum_{s'} P(s' \\mid s, a) \\max_{a'} Q^*_{h+1}(s', a'),
        \\qquad Q^*_H \\equiv 0.

    Parameters
    ----------
    mdp : TabularMDP

    Returns
    -------
    FiniteHorizonValues
        ``Q`` of shape ``(H, S, A)``, ``V`` of shape ``(H+1, S)`` with ``V[H] = 0``.
    """
    if not isinstance(mdp, TabularMDP):
        raise ValueError(f"mdp: must be a TabularMDP (got {type(mdp).__name__})")
    H, S, A = mdp.H, mdp.n_states, mdp.n_actions
    Q = np.zeros((H, S, A))
    V = np.zeros((H + 1, S))
    for h in range(H - 1, -1, -1):
        Q[h] = mdp.r + mdp.P @ V[h + 1]
        V[h] = Q[h].max(axis=1)
    return FiniteHorizonValues(Q, V)


def policy_evaluation(mdp: TabularMDP, policy) -> FiniteHorizonValues:
    """Values of a (possibly time-dependent, stochastic) policy.

    .. math::

        Q^\\pi_h(s, a) = r(s, a) + \\sum_{s'} P(s' \\mid s, a) V^\\pi_{h+1}(s'), \\qquad
        V^\\pi_h(s) = \\sum_a \\pi_h(a \\mid s) Q^\\pi_h(s, a).

    Parameters
    ----------
    mdp : TabularMDP
    policy : array
        See :func:`policy_table`.

    Returns
    -------
    FiniteHorizonValues
    """
    if not isinstance(mdp, TabularMDP):
        raise ValueError(f"mdp: must be a TabularMDP (got {type(mdp).__name__})")
    H, S, A = mdp.H, mdp.n_states, mdp.n_actions
    pi = policy_table(policy, H, S, A)
    Q = np.zeros((H, S, A))
    V = np.zeros((H + 1, S))
    for h in range(H - 1, -1, -1):
        Q[h] = mdp.r + mdp.P @ V[h + 1]
        V[h] = np.sum(pi[h] * Q[h], axis=1)
    return FiniteHorizonValues(Q, V)


def greedy_policy(Q) -> np.ndarray:
    """The greedy deterministic policy ``argmax_a Q[h, s, a]`` (ties: lowest action).

    Parameters
    ----------
    Q : (H, S, A) or (S, A) array

    Returns
    -------
    (H, S) or (S,) integer array
    """
    q = as_float_array("Q", Q, ndim=(2, 3))
    return np.argmax(q, axis=-1)


def expected_return(mdp: TabularMDP, policy) -> float:
    """``V^pi_0(start)``: the expected sum of the ``H`` rewards of ``policy``."""
    return float(policy_evaluation(mdp, policy).V[0, mdp.start])
