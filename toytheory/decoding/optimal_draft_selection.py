"""The optimal draft selection for k candidate tokens: an optimal transport problem.

"SpecTr: Fast Speculative Decoding via Optimal Transport" (Sun et al., NeurIPS 2023),
Section 3: a draft selection is a coupling :math:`\\pi` of the k i.i.d. drafts
:math:`X = (x_1, \\dots, x_k) \\sim p_d^{\\otimes k}` with an output :math:`Y \\sim p_t`;
its acceptance is :math:`P(Y \\in X)`. The best acceptance is the transport LP

.. math::

    \\max_{\\pi \\ge 0} \\sum_{X, y:\\, y \\in X} \\pi(X, y) \\quad
    \\text{s.t.} \\quad \\sum_y \\pi(X, y) = p_d^{\\otimes k}(X),\\ \\sum_X \\pi(X, y) = p_t(y),

(membership cost :math:`1[y \\notin X]`), with :math:`V^k \\cdot V` variables: exponential
in k, as the paper says. Two independent ways to its value are given here:

* :func:`optimal_acceptance_lp` solves the LP with scipy's HiGHS;
* :func:`optimal_acceptance_min_cut` uses max-flow/min-cut on the bipartite graph
  (derived here, not in the paper): the most mass that can travel along the allowed
  pairs :math:`y \\in X` is

  .. math::

      \\min_{S \\subseteq [V]} \\; p_t(S^c) + P(X \\cap S \\neq \\emptyset)
      = \\min_S \\; 1 - p_t(S) + 1 - (1 - p_d(S))^k,

  a walk over the :math:`2^V` subsets. At k = 1 it is :math:`1 - \\mathrm{TV}(p_d, p_t)`.
"""

from __future__ import annotations

import itertools

import numpy as np

from toytheory._validation import check_int

from .speculative import check_pair

__all__ = ["LP_VARIABLE_LIMIT", "SUBSET_LIMIT", "optimal_acceptance_lp",
           "optimal_acceptance_min_cut"]

LP_VARIABLE_LIMIT = 400_000
"""The most LP variables (``V**(k+1)``) :func:`optimal_acceptance_lp` builds."""
SUBSET_LIMIT = 22
"""The largest vocabulary :func:`optimal_acceptance_min_cut` walks (``2**V`` subsets)."""


def optimal_acceptance_lp(target, draft, k: int) -> float:
    """The optimal k-draft acceptance, by the transport LP (scipy ``linprog``, HiGHS).

    Parameters
    ----------
    target, draft : array_like, shape (V,)
    k : int, >= 1

    Raises
    ------
    ValueError
        Bad laws, ``k < 1``, or ``V**(k+1)`` above :data:`LP_VARIABLE_LIMIT` (use
        :func:`optimal_acceptance_min_cut`).
    """
    from scipy.optimize import linprog
    from scipy.sparse import coo_matrix

    p_t, p_d = check_pair(target, draft)
    k = check_int("k", k, low=1)
    V = p_t.size
    if V ** (k + 1) > LP_VARIABLE_LIMIT:
        raise ValueError(f"k: the LP has V**(k+1) = {V ** (k + 1)} variables, above "
                         f"{LP_VARIABLE_LIMIT}; use optimal_acceptance_min_cut instead")
    tuples = list(itertools.product(range(V), repeat=k))
    n_x = len(tuples)
    mass = np.array([np.prod(p_d[list(t)]) for t in tuples])
    member = np.zeros((n_x, V))
    for i, t in enumerate(tuples):
        member[i, list(set(t))] = 1.0
    # variable (i, y) at index i * V + y
    rows, cols = [], []
    for i in range(n_x):
        rows.extend([i] * V)
        cols.extend(range(i * V, i * V + V))
    for y in range(V):
        rows.extend([n_x + y] * n_x)
        cols.extend(range(y, n_x * V, V))
    A = coo_matrix((np.ones(len(rows)), (rows, cols)), shape=(n_x + V, n_x * V)).tocsr()
    b = np.concatenate([mass, p_t])
    # the two marginals both sum to one, so one row is redundant; dropping it keeps the
    # LP feasible when the two sums differ in the last bit
    res = linprog(-member.ravel(), A_eq=A[:-1], b_eq=b[:-1], bounds=(0, None),
                  method="highs")
    if res.status != 0:  # pragma: no cover - a feasible bounded LP always solves
        raise RuntimeError(f"HiGHS did not solve the draft-selection LP: {res.message}")
    return float(-res.fun)


def optimal_acceptance_min_cut(target, draft, k: int) -> float:
    """The optimal k-draft acceptance, by min-cut over the :math:`2^V` token subsets.

    .. math:: \\mathrm{OPT}_k = \\min_{S \\subseteq [V]} 2 - p_t(S) - (1 - p_d(S))^k.

    Raises
    ------
    ValueError
        Bad laws, ``k < 1``, or ``V`` above :data:`SUBSET_LIMIT`.
    """
    p_t, p_d = check_pair(target, draft)
    k = check_int("k", k, low=1)
    V = p_t.size
    if V > SUBSET_LIMIT:
        raise ValueError(f"target: a vocabulary of {V} tokens has 2**{V} subsets, above "
                         f"the limit 2**{SUBSET_LIMIT}")
    masks = (np.arange(2 ** V)[:, None] >> np.arange(V)[None, :]) & 1
    q_s = masks @ p_t
    p_s = masks @ p_d
    return float(np.min(2.0 - q_s - (1.0 - p_s) ** k).clip(0.0, 1.0))
