r"""Volume sampling of ``k >= d`` rows and the least-squares identities it satisfies.

Volume sampling of size ``k`` from a full-rank ``(n, d)`` matrix ``X``:

.. math::

    P(S) = \frac{\det(X_S^\top X_S)}{\binom{n-d}{k-d}\det(X^\top X)}, \qquad |S| = k \ge d .

Identities (Dereziński and Warmuth), checked here by enumeration:
:math:`\mathbb E[w_S] = w^*` for the least-squares solution on the subset, and
for ``k = d``, :math:`\mathbb E\, L(w_S) = (d + 1) L(w^*)` with
:math:`L(w) = \|Xw - y\|^2`.

Two exact samplers:

``"dpp_plus_uniform"``
    draw ``d`` rows from the projection DPP with kernel
    :math:`X(X^\top X)^{-1}X^\top`, then ``k - d`` of the others uniformly.
    By Cauchy–Binet, :math:`\det(X_S^\top X_S) = \sum_{T \subset S, |T| = d}
    \det(X_T)^2`, which is the law of this two-stage draw up to the constant.
``"reverse_iterative"``
    start from all ``n`` rows and remove row ``i`` of the current set ``S``
    with probability :math:`(1 - x_i^\top (X_S^\top X_S)^{-1} x_i)/(|S| - d)`
    until ``k`` remain (the "reverse iterative" algorithm of Dereziński and
    Warmuth); :math:`\det(X_{S\setminus i}^\top X_{S \setminus i}) =
    \det(X_S^\top X_S)(1 - h_i)` makes each step a valid Markov transition
    between volume-sampling laws.

References
----------
Nouy and Michel, "Weighted least-squares approximation with determinantal
point processes and generalized volume sampling" (2023), the section on
volume sampling (its generalised, volume-rescaled version is the continuous
analogue of ``"dpp_plus_uniform"``).
"""

from __future__ import annotations

import itertools
import math

import numpy as np

from .._random import as_generator
from .._validation import as_float_array, check_int
from ._checks import check_design, numerical_rank
from .dpp import sample_projection_dpp

__all__ = [
    "volume_sampling_law",
    "sample_volume",
    "subset_least_squares",
    "least_squares_loss",
    "expected_subset_solution",
    "expected_subset_loss",
]


def _check_k(k, n, d):
    return check_int("k", k, low=d, high=n)


def volume_sampling_law(x, k: int):
    r"""The exact law of size-``k`` volume sampling, by enumeration.

    .. math:: P(S) = \det(X_S^\top X_S) / (\binom{n-d}{k-d} \det X^\top X)

    Parameters
    ----------
    x : (n, d) array, full column rank
    k : int, ``d <= k <= n``; ``C(n, k)`` at most one million.

    Returns
    -------
    subsets : list of tuple
    probabilities : (len(subsets),) array
    """
    x = check_design("x", x)
    n, d = x.shape
    k = _check_k(k, n, d)
    if math.comb(n, k) > 1_000_000:
        raise ValueError(f"k: C(n, k) = C({n}, {k}) subsets is too many to enumerate")
    subsets = list(itertools.combinations(range(n), k))
    idx = np.array(subsets, dtype=np.int64)
    xs = x[idx]  # (m, k, d)
    dets = np.linalg.det(np.einsum("mkd,mke->mde", xs, xs))
    probs = np.clip(dets, 0.0, None) / (math.comb(n - d, k - d) * np.linalg.det(x.T @ x))
    return subsets, probs


def _reverse_iterative(x, k, gen):
    n, d = x.shape
    alive = np.ones(n, dtype=bool)
    inv = np.linalg.inv(x.T @ x)
    size = n
    while size > k:
        idx = np.flatnonzero(alive)
        xs = x[idx]
        h = np.einsum("ij,jk,ik->i", xs, inv, xs)
        weights = np.clip(1.0 - h, 0.0, None)
        cdf = np.cumsum(weights)
        u = gen.random()
        j = min(int(np.searchsorted(cdf, u * cdf[-1], side="right")), idx.size - 1)
        i = idx[j]
        # Sherman-Morrison downdate of (X_S^T X_S)^{-1} after removing row i
        vi = inv @ x[i]
        inv = inv + np.outer(vi, vi) / (1.0 - h[j])
        alive[i] = False
        size -= 1
    return np.flatnonzero(alive)


def sample_volume(x, k: int, *, rng=None, method: str = "dpp_plus_uniform") -> np.ndarray:
    """One exact size-``k`` volume sample of the rows of ``x`` (sorted indices).

    Parameters
    ----------
    x : (n, d) array, full column rank
    k : int, ``d <= k <= n``
    rng : Generator, int or None
    method : {"dpp_plus_uniform", "reverse_iterative"}
        Both exact (module docstring).

    Returns
    -------
    (k,) int array
    """
    x = check_design("x", x)
    n, d = x.shape
    k = _check_k(k, n, d)
    gen = as_generator(rng)
    if method == "dpp_plus_uniform":
        q, _ = np.linalg.qr(x)
        core = sample_projection_dpp(q, rng=gen, method="chain")
        rest = np.setdiff1d(np.arange(n), core)
        extra = gen.choice(rest, size=k - d, replace=False)
        return np.sort(np.concatenate([core, extra]))
    if method == "reverse_iterative":
        return _reverse_iterative(x, k, gen)
    raise ValueError(f"method: must be 'dpp_plus_uniform' or 'reverse_iterative' (got {method!r})")


def _solve_on(x, y, s):
    """Least squares on the rows ``s`` (no checks; for the enumerations below)."""
    w, *_ = np.linalg.lstsq(x[s], y[s], rcond=None)
    return w


def _check_xy(x, y):
    x = as_float_array("x", x, ndim=2)
    y = as_float_array("y", y, ndim=1)
    if y.shape[0] != x.shape[0]:
        raise ValueError(f"y: must have one entry per row of x, {x.shape[0]} (got {y.shape[0]})")
    return x, y


def subset_least_squares(x, y, subset) -> np.ndarray:
    """The least-squares solution ``w_S`` on the rows in ``subset`` (shape ``(d,)``).

    Parameters
    ----------
    x : (n, d) array
    y : (n,) array
    subset : (k,) int array
        Distinct row indices in ``[0, n)`` (negative indices are refused, not
        wrapped) with ``X_S`` of full column rank ``d`` (so ``k >= d``):
        otherwise ``w_S`` is not unique and a minimum-norm choice would be
        returned silently.

    Returns
    -------
    (d,) array

    Raises
    ------
    ValueError
        ``x``, ``y`` or ``subset`` malformed, or ``X_S`` rank-deficient.
    """
    x, y = _check_xy(x, y)
    n, d = x.shape
    s = np.asarray(subset)
    if s.ndim != 1 or (s.size and not np.issubdtype(s.dtype, np.integer)):
        raise ValueError(f"subset: must be a 1-D array of integer row indices (got {subset!r})")
    s = s.astype(np.int64)
    if s.size and (s.min() < 0 or s.max() >= n):
        raise ValueError(f"subset: must have row indices in [0, {n}) (got {s.tolist()})")
    if np.unique(s).size != s.size:
        raise ValueError(f"subset: must not repeat a row (got {s.tolist()})")
    if s.size < d:
        raise ValueError(f"subset: must have at least d = {d} rows for a unique solution "
                         f"(got {s.size})")
    rank = numerical_rank(x[s])
    if rank < d:
        raise ValueError(f"subset: the rows x_S must have full column rank d = {d} for a unique "
                         f"solution (got numerical rank {rank})")
    return _solve_on(x, y, s)


def least_squares_loss(x, y, w) -> float:
    """``L(w) = ||X w - y||^2`` over all rows.

    Parameters
    ----------
    x : (n, d) array
    y : (n,) array
    w : (d,) array

    Raises
    ------
    ValueError
        ``y`` or ``w`` of the wrong length (or any argument malformed).
    """
    x, y = _check_xy(x, y)
    w = as_float_array("w", w, ndim=1)
    if w.shape[0] != x.shape[1]:
        raise ValueError(f"w: must have one entry per column of x, {x.shape[1]} "
                         f"(got {w.shape[0]})")
    r = x @ w - y
    return float(r @ r)


def expected_subset_solution(x, y, k: int) -> np.ndarray:
    r""":math:`\mathbb E[w_S]` under size-``k`` volume sampling, exactly (enumeration).

    Subsets of probability zero (``X_S`` singular) do not contribute.
    """
    x, y = _check_xy(x, y)
    subsets, probs = volume_sampling_law(x, k)
    return sum(pr * _solve_on(x, y, list(s)) for s, pr in zip(subsets, probs) if pr > 0)


def expected_subset_loss(x, y, k: int) -> float:
    r""":math:`\mathbb E\,L(w_S)` under size-``k`` volume sampling, exactly (enumeration).

    Subsets of probability zero (``X_S`` singular) do not contribute.
    """
    x, y = _check_xy(x, y)
    subsets, probs = volume_sampling_law(x, k)
    total = 0.0
    for s, pr in zip(subsets, probs):
        if pr > 0:
            r = x @ _solve_on(x, y, list(s)) - y
            total += pr * float(r @ r)
    return float(total)
