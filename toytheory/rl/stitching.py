"""An MDP on which RCSL cannot stitch: deterministic transitions, uniform coverage.

A chain of ``2L`` steps: state ``t`` moves to ``t + 1`` under either action,
state ``2L`` absorbs, ``H = 2L``. Action 0 pays 1 in the first half and 0 in the
second; action 1 pays 0 in the first half and 1 in the second:

.. math::

    r(t, 0) = \\mathbf 1[t < L], \\qquad r(t, 1) = \\mathbf 1[L \\le t < 2L].

The dataset holds two families of ``n`` trajectories each: "always 0" (return
``L``) and "always 1" (return ``L``). Every ``(t, a)`` with ``t < 2L`` appears
exactly ``n`` times (uniform coverage). The optimal trajectory, 0 in the first
half then 1 (return ``2L``), is the stitch of the two families.

Markovian RCSL conditioned on the best return in the data, ``L``, follows one
family from start to end and earns exactly ``L``; conditioned on anything else
it earns no more (proved by exact evaluation in
:meth:`toytheory.rl.rcsl.TabularRCSL.expected_return`). Paper: "Free from
Bellman Completeness: Trajectory Stitching via Model-based Return-conditioned
Supervised Learning", section 3.2 (RCSL cannot perform trajectory stitching,
even with deterministic transitions and uniform coverage).
"""

from __future__ import annotations

import numpy as np

from .._validation import check_int
from .datasets import TrajectoryDataset
from .exact import DeterministicMDP

__all__ = ["stitching_mdp", "stitching_dataset", "stitching_optimal_return"]


def stitching_mdp(half_length: int = 2) -> DeterministicMDP:
    """The chain MDP above with ``L = half_length`` (``S = 2L + 1``, ``A = 2``, ``H = 2L``)."""
    L = check_int("half_length", half_length, low=1)
    S = 2 * L + 1
    nxt = np.empty((S, 2), dtype=np.int64)
    r = np.zeros((S, 2), dtype=np.int64)
    for t in range(S):
        nxt[t] = min(t + 1, 2 * L)
        if t < L:
            r[t, 0] = 1
        elif t < 2 * L:
            r[t, 1] = 1
    return DeterministicMDP(nxt, r, H=2 * L, start=0)


def stitching_optimal_return(half_length: int = 2) -> int:
    """``2L``: action 0 for ``t < L``, action 1 after."""
    return 2 * check_int("half_length", half_length, low=1)


def stitching_dataset(half_length: int = 2, n_per_family: int = 1) -> TrajectoryDataset:
    """``n`` "always 0" and ``n`` "always 1" trajectories: each ``(t, a)`` seen ``n`` times."""
    L = check_int("half_length", half_length, low=1)
    n = check_int("n_per_family", n_per_family, low=1)
    H = 2 * L
    mdp = stitching_mdp(L)
    states = np.tile(np.arange(H + 1), (2 * n, 1))
    actions = np.repeat(np.array([[0] * H, [1] * H]), n, axis=0)
    rewards = np.array([[float(mdp.r[t, a]) for t, a in enumerate(row)] for row in actions])
    return TrajectoryDataset(states, actions, rewards)
