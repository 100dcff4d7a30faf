"""Deterministic finite-horizon MDPs with rational rewards, solved exactly.

A deterministic MDP is a successor table ``next_state`` of shape ``(S, A)``
and rational rewards ``r`` of shape ``(S, A)``. Backward induction,

.. math::

    Q^*_h(s, a) = r(s, a) + V^*_{h+1}(\\mathrm{next}(s, a)), \\qquad
    V^*_h(s) = \\max_a Q^*_h(s, a), \\qquad V^*_H \\equiv 0,

is done in integers: every reward is multiplied by the least common
denominator ``D`` of the rewards, so that sums and maxima are exact (no
floating point anywhere). Values are read back as :class:`fractions.Fraction`.

The toy MDPs of "Free from Bellman Completeness: Trajectory Stitching via
Model-based Return-conditioned Supervised Learning" (the Linearq
counterexample, the stitching example, the grid Point Maze) are deterministic.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from .._validation import check_int
from .mdp import TabularMDP

__all__ = ["DeterministicMDP", "ExactValues", "as_fraction", "exact_value_iteration",
           "exact_return", "exact_trajectory", "exact_policy_value", "return_distribution"]


def as_fraction(name: str, value) -> Fraction:
    """``value`` as an exact Fraction (ints, Fractions, finite floats; floats are exact).

    Raises
    ------
    ValueError
        ``name: must be a finite rational number`` for NaN, inf or non-numbers.
    """
    if isinstance(value, bool):
        raise ValueError(f"{name}: must be a finite rational number (got a bool)")
    if isinstance(value, Fraction):
        return value
    if isinstance(value, numbers.Integral):
        return Fraction(int(value))
    if isinstance(value, numbers.Real):
        x = float(value)
        if not math.isfinite(x):
            raise ValueError(f"{name}: must be a finite rational number (got {x!r})")
        return Fraction(x)
    raise ValueError(f"{name}: must be a finite rational number (got {type(value).__name__})")


def _fraction_table(name: str, values, shape) -> np.ndarray:
    arr = np.asarray(values, dtype=object)
    if arr.shape != shape:
        raise ValueError(f"{name}: must have shape {shape} (got shape {arr.shape})")
    out = np.empty(shape, dtype=object)
    for idx in np.ndindex(*shape):
        out[idx] = as_fraction(f"{name}[{', '.join(map(str, idx))}]", arr[idx])
    return out


@dataclass(frozen=True, eq=False)
class DeterministicMDP:
    """A deterministic finite-horizon MDP with exact rational rewards.

    Parameters
    ----------
    next_state : (S, A) integer array
        ``next_state[s, a]`` is the successor of ``s`` under ``a``.
    r : (S, A) array of rationals
        Rewards (ints, Fractions or finite floats, stored as Fractions).
    H : int
        Horizon, ``H >= 1``.
    start : int
        Start state.

    Raises
    ------
    ValueError
        Naming ``next_state``, ``r``, ``H`` or ``start``.
    """

    next_state: np.ndarray
    r: np.ndarray
    H: int
    start: int = 0

    def __post_init__(self):
        nxt = np.asarray(self.next_state)
        if nxt.ndim != 2 or nxt.shape[0] == 0 or nxt.shape[1] == 0:
            raise ValueError(f"next_state: must have shape (S, A) with S, A >= 1 "
                             f"(got shape {nxt.shape})")
        if nxt.dtype.kind not in "iu":
            raise ValueError(f"next_state: must hold integers (got dtype {nxt.dtype})")
        S, A = nxt.shape
        if np.any((nxt < 0) | (nxt >= S)):
            raise ValueError(f"next_state: successors must lie in 0..{S - 1}")
        nxt = nxt.astype(np.int64)
        nxt.setflags(write=False)
        r = _fraction_table("r", self.r, (S, A))
        r.setflags(write=False)
        object.__setattr__(self, "next_state", nxt)
        object.__setattr__(self, "r", r)
        object.__setattr__(self, "H", check_int("H", self.H, low=1))
        object.__setattr__(self, "start", check_int("start", self.start, low=0, high=S - 1))

    @property
    def n_states(self) -> int:
        return self.next_state.shape[0]

    @property
    def n_actions(self) -> int:
        return self.next_state.shape[1]

    @property
    def reward_denominator(self) -> int:
        """The least common denominator ``D`` of the rewards."""
        return math.lcm(*(int(x.denominator) for x in self.r.ravel()))

    def scaled_rewards(self) -> np.ndarray:
        """``D * r`` as an int64 array of shape ``(S, A)``."""
        D = self.reward_denominator
        return np.array([[int(x * D) for x in row] for row in self.r], dtype=np.int64)

    def to_tabular(self) -> TabularMDP:
        """The same MDP as a float64 :class:`~toytheory.rl.mdp.TabularMDP` (one-hot ``P``)."""
        S, A = self.next_state.shape
        P = np.zeros((S, A, S))
        np.put_along_axis(P, self.next_state[..., None], 1.0, axis=2)
        r = np.array([[float(x) for x in row] for row in self.r])
        return TabularMDP(P, r, self.H, self.start)


@dataclass(frozen=True)
class ExactValues:
    """Exact finite-horizon values, stored as integers over a common denominator.

    Attributes
    ----------
    Q_scaled : (H, S, A) int64 array
        ``D * Q_h(s, a)``.
    V_scaled : (H+1, S) int64 array
        ``D * V_h(s)``.
    denominator : int
        ``D``.
    """

    Q_scaled: np.ndarray
    V_scaled: np.ndarray
    denominator: int

    def q(self, h: int, s: int, a: int) -> Fraction:
        return Fraction(int(self.Q_scaled[h, s, a]), self.denominator)

    def v(self, h: int, s: int) -> Fraction:
        return Fraction(int(self.V_scaled[h, s]), self.denominator)


def _check_mdp(mdp) -> DeterministicMDP:
    if not isinstance(mdp, DeterministicMDP):
        raise ValueError(f"mdp: must be a DeterministicMDP (got {type(mdp).__name__})")
    return mdp


def exact_value_iteration(mdp: DeterministicMDP) -> ExactValues:
    """Exact optimal values of a deterministic MDP by integer backward induction.

    .. math::

        D\\,Q^*_h(s, a) = D\\,r(s, a) + D\\,V^*_{h+1}(\\mathrm{next}(s, a)).

    Parameters
    ----------
    mdp : DeterministicMDP

    Returns
    -------
    ExactValues
    """
    mdp = _check_mdp(mdp)
    R = mdp.scaled_rewards()
    bound = int(np.abs(R).max()) * mdp.H
    if bound >= 2 ** 62:
        raise ValueError("mdp: scaled returns overflow int64; use smaller rewards or horizon")
    H, S, A = mdp.H, mdp.n_states, mdp.n_actions
    Q = np.zeros((H, S, A), dtype=np.int64)
    V = np.zeros((H + 1, S), dtype=np.int64)
    for h in range(H - 1, -1, -1):
        Q[h] = R + V[h + 1][mdp.next_state]
        V[h] = Q[h].max(axis=1)
    return ExactValues(Q, V, mdp.reward_denominator)


def _action_at(policy, h: int, s: int, n_actions: int) -> int:
    if callable(policy):
        a = policy(h, s)
    else:
        table = np.asarray(policy)
        a = table[s] if table.ndim == 1 else table[h, s]
    a = int(a)
    if not 0 <= a < n_actions:
        raise ValueError(f"policy: action {a} at (h={h}, s={s}) is not in 0..{n_actions - 1}")
    return a


def exact_trajectory(mdp: DeterministicMDP, policy) -> tuple[list[int], list[int], list[Fraction]]:
    """The states, actions and exact rewards of a deterministic policy from the start state.

    Parameters
    ----------
    mdp : DeterministicMDP
    policy : (S,) or (H, S) integer array, or callable ``policy(h, s) -> a``

    Returns
    -------
    states : list of int, length H + 1
    actions : list of int, length H
    rewards : list of Fraction, length H
    """
    mdp = _check_mdp(mdp)
    s = mdp.start
    states, actions, rewards = [s], [], []
    for h in range(mdp.H):
        a = _action_at(policy, h, s, mdp.n_actions)
        actions.append(a)
        rewards.append(mdp.r[s, a])
        s = int(mdp.next_state[s, a])
        states.append(s)
    return states, actions, rewards


def exact_return(mdp: DeterministicMDP, policy) -> Fraction:
    """The exact return ``sum_h r(s_h, a_h)`` of a deterministic policy from the start state."""
    return sum(exact_trajectory(mdp, policy)[2], Fraction(0))


def exact_policy_value(mdp: DeterministicMDP, policy_probs) -> Fraction:
    """Exact expected return of a stochastic policy with rational action probabilities.

    .. math::

        V^\\pi_h(s) = \\sum_a \\pi_h(a \\mid s)\\,
            \\bigl(r(s, a) + V^\\pi_{h+1}(\\mathrm{next}(s, a))\\bigr).

    Parameters
    ----------
    mdp : DeterministicMDP
    policy_probs : callable ``policy_probs(h, s) -> dict {action: Fraction}``
        Probabilities must be non-negative and sum to exactly one. Meant for
        small MDPs (``H * S * A`` Fraction operations).

    Returns
    -------
    Fraction
        ``V^pi_0(start)``.
    """
    mdp = _check_mdp(mdp)
    if not callable(policy_probs):
        raise ValueError("policy_probs: must be a callable (h, s) -> {action: probability}")
    V_next = [Fraction(0)] * mdp.n_states
    for h in range(mdp.H - 1, -1, -1):
        V = []
        for s in range(mdp.n_states):
            probs = policy_probs(h, s)
            total = Fraction(0)
            mass = Fraction(0)
            for a, p in probs.items():
                p = as_fraction("policy_probs", p)
                if p < 0 or not 0 <= int(a) < mdp.n_actions:
                    raise ValueError(f"policy_probs: bad entry {a}: {p} at (h={h}, s={s})")
                mass += p
                total += p * (mdp.r[s, a] + V_next[int(mdp.next_state[s, a])])
            if mass != 1:
                raise ValueError(f"policy_probs: probabilities at (h={h}, s={s}) sum to {mass}, "
                                 "not 1")
            V.append(total)
        V_next = V
    return V_next[mdp.start]


def return_distribution(mdp: DeterministicMDP, policy) -> dict[Fraction, float]:
    """The law of the return ``sum_h r(s_h, a_h)`` under a stochastic policy.

    Propagates the joint law of ``(s_h, G_h)``, ``G_h`` the reward collected so
    far, with exact returns and float64 probabilities.

    Parameters
    ----------
    mdp : DeterministicMDP
    policy : (S, A) or (H, S, A) array of action probabilities

    Returns
    -------
    dict
        ``{return: probability}``; the probabilities sum to one.
    """
    from .mdp import policy_table

    mdp = _check_mdp(mdp)
    pi = policy_table(policy, mdp.H, mdp.n_states, mdp.n_actions)
    dist: dict[tuple[int, Fraction], float] = {(mdp.start, Fraction(0)): 1.0}
    for h in range(mdp.H):
        nxt: dict[tuple[int, Fraction], float] = {}
        for (s, G), p in dist.items():
            for a in range(mdp.n_actions):
                q = pi[h, s, a]
                if q == 0.0:
                    continue
                key = (int(mdp.next_state[s, a]), G + mdp.r[s, a])
                nxt[key] = nxt.get(key, 0.0) + p * q
        dist = nxt
    law: dict[Fraction, float] = {}
    for (_, G), p in dist.items():
        law[G] = law.get(G, 0.0) + p
    return dict(sorted(law.items()))
