"""Linearq(u): the counterexample MDP of the paper's code, exactly.

States ``0, ..., 3u+2`` (``|S| = 3(u+1)``), actions ``{0, 1}``, horizon
``H = |S|``, start state ``0``, deterministic transitions:

- ``a = 0``: ``s <= u -> s+1``; ``s >= 2u+1 -> 3u+2``; ``s in [u+1, 2u]``:
  even ``-> 3u+2``, odd ``-> 3u+1``;
- ``a = 1``: ``3u+2`` stays; ``s in [u+1, 3u+1] -> s+1``; ``s in [0, u]``:
  even ``-> 3u+2``, odd ``-> 3u+1``.

The optimal action values are set, and the rewards follow from them:

.. math::

    Q^*(s, 0) = 2\\,\\mathrm{ReLU}(2u + 1 - s), \\qquad
    Q^*(s, 1) = \\mathrm{ReLU}(3u + \\tfrac32 - s), \\qquad
    r(s, a) = Q^*(s, a) - \\max_{a'} Q^*(\\mathrm{next}(s, a), a').

Then ``V*(0) = 4u + 2`` and the optimal policy is the threshold
``a = 1[s >= u + 1]``. Source: the Linearq environment of the code of "Free
from Bellman Completeness: Trajectory Stitching via Model-based
Return-conditioned Supervised Learning" (Zhou et al., 2023), section 3
(Theorem 1's width gap), as transcribed in REFERENCE.md section 5.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np

from .._validation import check_int
from .exact import DeterministicMDP

__all__ = ["linearq", "linearq_next_state", "linearq_q_star", "linearq_v_star_start",
           "linearq_optimal_actions", "linearq_n_states", "linearq_rewards"]

HALF = Fraction(1, 2)


def _check_u(u) -> int:
    return check_int("u", u, low=1)


def linearq_n_states(u: int) -> int:
    """``|S| = 3(u + 1)``."""
    return 3 * (_check_u(u) + 1)


def linearq_next_state(u: int) -> np.ndarray:
    """The successor table of Linearq(u), shape ``(3u+3, 2)``, from the transition rule."""
    u = _check_u(u)
    last = 3 * u + 2
    nxt = np.empty((last + 1, 2), dtype=np.int64)
    for s in range(last + 1):
        # action 0
        if s <= u:
            nxt[s, 0] = s + 1
        elif s >= 2 * u + 1:
            nxt[s, 0] = last
        else:
            nxt[s, 0] = last if s % 2 == 0 else last - 1
        # action 1
        if s == last:
            nxt[s, 1] = last
        elif s >= u + 1:
            nxt[s, 1] = s + 1
        else:
            nxt[s, 1] = last if s % 2 == 0 else last - 1
    return nxt


def linearq_q_star(u: int) -> np.ndarray:
    """The stated optimal action values, shape ``(3u+3, 2)``, as Fractions.

    .. math::

        Q^*(s, 0) = 2\\,\\mathrm{ReLU}(2u + 1 - s), \\qquad
        Q^*(s, 1) = \\mathrm{ReLU}(3u + 3/2 - s).
    """
    u = _check_u(u)
    n = 3 * u + 3
    q = np.empty((n, 2), dtype=object)
    for s in range(n):
        q[s, 0] = Fraction(2 * max(0, 2 * u + 1 - s))
        q[s, 1] = max(Fraction(0), 3 * u + Fraction(3, 2) - s)
    return q


def linearq_rewards(u: int) -> np.ndarray:
    """``r(s, a) = Q*(s, a) - max_a' Q*(next(s, a), a')``, shape ``(3u+3, 2)``, Fractions."""
    q = linearq_q_star(u)
    nxt = linearq_next_state(u)
    v = np.array([max(row) for row in q], dtype=object)
    return q - v[nxt]


def linearq(u: int) -> DeterministicMDP:
    """Linearq(u) as a :class:`~toytheory.rl.exact.DeterministicMDP` with ``H = |S|``.

    Parameters
    ----------
    u : int
        ``u >= 1``.

    Raises
    ------
    ValueError
        ``u: must be >= 1``.
    """
    u = _check_u(u)
    n = 3 * u + 3
    return DeterministicMDP(linearq_next_state(u), linearq_rewards(u), H=n, start=0)


def linearq_v_star_start(u: int) -> Fraction:
    """The stated optimal value of the start state, ``4u + 2``."""
    return Fraction(4 * _check_u(u) + 2)


def linearq_optimal_actions(u: int) -> np.ndarray:
    """The stated optimal threshold policy ``a(s) = 1[s >= u + 1]``, shape ``(3u+3,)``."""
    u = _check_u(u)
    return (np.arange(3 * u + 3) >= u + 1).astype(np.int64)
