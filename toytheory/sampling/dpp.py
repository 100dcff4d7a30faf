r"""Projection determinantal point processes on a finite ground set: exact laws and samplers.

A projection DPP with kernel :math:`K = VV^\top` (``V`` of shape ``(N, k)``
with orthonormal columns) draws a ``k``-subset ``S`` with

.. math:: P(S) = \det K_S, \qquad P(i \in S) = K_{ii}.

Chain rule (Hough, Krishnapur, Peres and Virág, Algorithm 18): pick the
points one at a time, the next with probability proportional to the squared
distance of its feature vector :math:`v_i` (row ``i`` of ``V``) from the span
of the feature vectors already picked; the normalising constant at step
``t`` is ``k - t``. Two exact implementations:

``"chain"``
    inverse-CDF draw from the full vector of residual norms, updated by one
    Gram–Schmidt (rank-one Cholesky) step per point: :math:`O(Nk^2)`.
``"rejection"``
    each step proposes ``i`` with probability :math:`K_{ii}/k` and accepts it
    with probability :math:`\|P_\perp v_i\|^2 / K_{ii}`; the accepted
    proposal has exactly the chain-rule law, at an expected ``k/(k - t)``
    proposals per step and :math:`O(k t)` work per proposal (no pass over
    the ground set after the first).

Both draw their uniforms in a fixed order (one per step for ``"chain"``; two
per proposal for ``"rejection"``), so the Numba kernels in
:mod:`sims.sampling_dpp` given the same generator return the same subsets.

References
----------
Nouy and Michel, "Weighted least-squares approximation with determinantal
point processes and generalized volume sampling" (2023), the section on
projection DPPs and their chain-rule sampler.
"""

from __future__ import annotations

import functools
import itertools
import math

import numpy as np

from .._random import as_generator
from .._validation import as_float_array, check_int
from ..threads import bounded_threads

__all__ = [
    "check_projection_kernel",
    "orthonormal_features",
    "projection_kernel",
    "projection_dpp_law",
    "inclusion_probabilities_exact",
    "sample_projection_dpp",
    "subset_index",
    "count_subsets",
]


def check_projection_kernel(name: str, kernel, *, atol: float = 1e-8) -> np.ndarray:
    """A symmetric ``(N, N)`` orthogonal projection (``K = K^T = K^2``), returned as float64.

    Raises
    ------
    ValueError
        ``name: must be ...`` for a non-square, non-symmetric or
        non-idempotent matrix (eigenvalues not in {0, 1}).
    """
    k = as_float_array(name, kernel, ndim=2)
    if k.shape[0] != k.shape[1]:
        raise ValueError(f"{name}: must be square (got shape {k.shape})")
    if k.shape[0] == 0:
        raise ValueError(f"{name}: must be non-empty, N >= 1 (got shape {k.shape})")
    scale = max(1.0, float(np.max(np.abs(k))))
    asym = float(np.max(np.abs(k - k.T)))
    if asym > atol * scale:
        raise ValueError(f"{name}: must be symmetric (max |K - K^T| = {asym:.3g})")
    idem = float(np.max(np.abs(k @ k - k)))
    if idem > atol * scale:
        raise ValueError(f"{name}: must be an orthogonal projection, K^2 = K "
                         f"(max |K^2 - K| = {idem:.3g}; eigenvalues must be 0 or 1)")
    return 0.5 * (k + k.T)


def orthonormal_features(kernel, *, atol: float = 1e-8) -> np.ndarray:
    """``V`` of shape ``(N, k)`` with orthonormal columns and ``V V^T = K`` (``K`` a projection)."""
    k = check_projection_kernel("kernel", kernel, atol=atol)
    lam, vec = np.linalg.eigh(k)
    return vec[:, lam > 0.5]


@functools.lru_cache(maxsize=64)
def _probe(k: int) -> np.ndarray:
    """A fixed pseudo-random direction in R^k for the O(Nk) orthonormality check."""
    g = np.random.default_rng(12345).standard_normal(k)
    g.setflags(write=False)
    return g


def _check_features(v, atol=1e-8) -> np.ndarray:
    v = as_float_array("v", v, ndim=2)
    n, k = v.shape
    if k < 1 or n < k:
        raise ValueError(f"v: must have shape (N, k) with 1 <= k <= N (got {v.shape})")
    # O(Nk) check of V^T V = I along a fixed pseudo-random direction (a full check
    # costs N k^2, more than sampling itself)
    g = _probe(k)
    err = float(np.max(np.abs(v.T @ (v @ g) - g))) / float(np.max(np.abs(g)))
    if err > atol:
        raise ValueError("v: must have orthonormal columns, V^T V = I "
                         f"(max deviation {err:.3g}); orthonormalise with numpy.linalg.qr or "
                         "pass the kernel to orthonormal_features")
    return v


def projection_kernel(v) -> np.ndarray:
    """The projection kernel ``K`` onto the column space of ``v`` (full-rank ``(N, k)``).

    Parameters
    ----------
    v : (N, k) array
        ``1 <= k <= N``, full column rank ``k`` (its columns need not be
        orthonormal).

    Returns
    -------
    (N, N) array
        The orthogonal projection onto the column space of ``v``, of rank ``k``.

    Raises
    ------
    ValueError
        ``v: must ...`` for ``k > N`` (the ``k`` columns cannot be
        independent: the QR factors would silently return the identity),
        ``k = 0``, NaN/inf, or rank below ``k``.
    """
    v = as_float_array("v", v, ndim=2)
    if v.shape[1] < 1 or v.shape[0] < v.shape[1]:
        raise ValueError(f"v: must have shape (N, k) with 1 <= k <= N (got {v.shape})")
    q, r = np.linalg.qr(v)
    if np.min(np.abs(np.diag(r))) <= 1e-12 * max(1.0, np.max(np.abs(np.diag(r)))):
        raise ValueError("v: must have full column rank")
    return q @ q.T


def subset_index(subsets, n: int) -> dict:
    """Map each subset (sorted tuple) to its position in ``subsets``."""
    return {tuple(sorted(s)): i for i, s in enumerate(subsets)}


def _as_index_set(name: str, s, n: int | None = None) -> tuple:
    """A collection of distinct integer items (in ``[0, n)`` when ``n`` is given), sorted."""
    arr = np.asarray(s)
    if arr.ndim != 1 or (arr.size and not np.issubdtype(arr.dtype, np.integer)):
        raise ValueError(f"{name}: must be 1-D collections of integer items (got {s!r})")
    items = tuple(sorted(int(i) for i in arr))
    if len(set(items)) != len(items):
        raise ValueError(f"{name}: must not repeat an item (got {items})")
    if n is not None and items and (items[0] < 0 or items[-1] >= n):
        raise ValueError(f"{name}: must have items in [0, {n}) (got {items})")
    return items


def projection_dpp_law(kernel):
    r"""The exact law of a projection DPP, by enumeration.

    .. math:: P(S) = \det K_S, \quad |S| = \operatorname{rank} K

    Parameters
    ----------
    kernel : (N, N) array
        An orthogonal projection; ``C(N, rank)`` must be at most one million.

    Returns
    -------
    subsets : list of tuple
        All ``rank``-subsets in lexicographic order (for the zero kernel,
        of rank 0, the empty set with probability one).
    probabilities : (len(subsets),) array
        Summing to one (Cauchy–Binet).

    Raises
    ------
    ValueError
        ``kernel: must ...`` for an empty, non-square, non-symmetric or
        non-idempotent matrix, or too many subsets.
    """
    k = check_projection_kernel("kernel", kernel)
    n = k.shape[0]
    rank = int(round(np.trace(k)))
    if math.comb(n, rank) > 1_000_000:
        raise ValueError(f"kernel: C(N, rank) = C({n}, {rank}) subsets is too many to enumerate")
    subsets = list(itertools.combinations(range(n), rank))
    idx = np.array(subsets, dtype=np.int64).reshape(len(subsets), rank)
    probs = np.linalg.det(k[idx[:, :, None], idx[:, None, :]]) if rank else np.ones(1)
    return subsets, np.clip(probs, 0.0, None)


def inclusion_probabilities_exact(subsets, probabilities, n: int) -> np.ndarray:
    """``P(i in S)`` for every item, summed over an enumerated law.

    Parameters
    ----------
    subsets : sequence of tuple
        Subsets of distinct items in ``[0, n)``.
    probabilities : (len(subsets),) array
        Non-negative.
    n : int
        The size of the ground set, ``>= 1``.

    Returns
    -------
    (n,) array

    Raises
    ------
    ValueError
        ``n``, ``subsets`` or ``probabilities`` malformed (an item outside
        ``[0, n)``, a repeated item, a length mismatch, a negative or
        non-finite probability).
    """
    n = check_int("n", n, low=1)
    probs = as_float_array("probabilities", probabilities, ndim=1)
    subsets = [_as_index_set("subsets", s, n) for s in subsets]
    if probs.shape[0] != len(subsets):
        raise ValueError(f"probabilities: must have one entry per subset, {len(subsets)} "
                         f"(got {probs.shape[0]})")
    if np.any(probs < 0):
        raise ValueError(f"probabilities: must be non-negative (min {probs.min():.3g})")
    out = np.zeros(n)
    for s, pr in zip(subsets, probs):
        out[list(s)] += pr
    return out


def _chain_numpy(v, gen):
    n, k = v.shape
    norms2 = np.einsum("ij,ij->i", v, v)
    c = np.zeros((n, k))
    out = np.empty(k, dtype=np.int64)
    for t in range(k):
        cdf = np.cumsum(norms2)
        u = gen.random()
        i = int(np.searchsorted(cdf, u * cdf[-1], side="right"))
        i = min(i, n - 1)
        while norms2[i] <= 0.0 and i > 0:  # never land on a zero-mass item
            i -= 1
        out[t] = i
        if t == k - 1:
            break
        col = (v @ v[i] - c[:, :t] @ c[i, :t]) / math.sqrt(norms2[i])
        c[:, t] = col
        norms2 -= col * col
        norms2[i] = 0.0
        np.maximum(norms2, 0.0, out=norms2)
    return out


def _rejection_numpy(v, gen):
    """Rejection chain rule, proposals tested in batches.

    Proposal ``j`` uses the uniforms ``(u1_j, u2_j)`` (drawn row by row, so in the order
    the one-at-a-time sampler draws them): item ``i_j = F^{-1}(u1_j)`` with ``F`` the CDF of
    ``K_ii / k``, accepted when ``u2_j K_ii < |P_perp v_i|^2``. A batch's squared residuals
    are ``K_ii - |B v_i|^2`` (``B``: the orthonormal basis of the picked feature vectors, one
    matrix product for the batch); after an acceptance the batch's remaining proposals are
    downdated by the new basis vector ``q`` (``r2 -= (v_i . q)^2``) and tested in order, so
    every proposal is tested against the basis of the points picked before it, exactly as
    one at a time. Only the last batch's unused uniforms differ (drawn, not used).
    """
    n, k = v.shape
    diag = np.einsum("ij,ij->i", v, v)
    cdf = np.cumsum(diag)
    total = cdf[-1]
    basis = np.zeros((k, k))
    chosen = diag <= 0.0          # items never to accept: zero mass, or already picked
    out = np.empty(k, dtype=np.int64)
    t = 0
    idx = np.empty(0, dtype=np.int64)
    # per acceptance a dozen small numpy calls: their overhead is the cost at N = 2000,
    # k = 100, so methods rather than numpy's wrapper functions, and a proposal of a
    # chosen item gets r2 = -1 (never accepted: thresh >= 0) once, instead of masking
    # every test with ``~chosen[idx]``
    while t < k:
        if idx.size == 0:
            # about twice the expected proposals to the next acceptance, k / (k - t)
            m = max(8, (2 * k) // (k - t))
            u = gen.random((m, 2))
            idx = cdf.searchsorted(u[:, 0] * total, side="right")
            np.minimum(idx, n - 1, out=idx)
            rows = v[idx]
            r2 = diag[idx]
            thresh = u[:, 1] * r2
            if t:
                proj = rows @ basis[:t].T
                r2 -= np.einsum("ij,ij->i", proj, proj)
            r2[chosen[idx]] = -1.0
        ok = thresh < r2
        j = int(ok.argmax())
        if not ok[j]:
            idx = idx[:0]
            continue
        i = int(idx[j])
        b = basis[:t]
        resid = v[i] - (b @ v[i]) @ b
        q = resid / math.sqrt(resid @ resid)
        basis[t] = q
        out[t] = i
        chosen[i] = True
        t += 1
        idx, rows, thresh = idx[j + 1:], rows[j + 1:], thresh[j + 1:]
        r2 = r2[j + 1:] - (rows @ q) ** 2
        r2[idx == i] = -1.0       # later proposals of the item just picked
    return out


REJECTION_MIN_RATIO = 4
r"""``method="auto"`` uses rejection when ``N >= REJECTION_MIN_RATIO * k``, else the chain
rule: rejection costs about :math:`k^3 \log k` against the chain rule's :math:`N k^2`, but
its acceptance falls as :math:`k/N` grows (measured at k = 100 on two cores, proposals one
at a time: rejection 4.3 ms against the chain rule's 11.8 ms at N = 2000, 17 ms against
7 ms at N = 200; testing proposals in batches made rejection about 1.8 times faster again
in CPU time at N = 2000, on a machine loaded by other work)."""


def sample_projection_dpp(v, *, rng=None, method: str = "auto") -> np.ndarray:
    r"""One exact sample of the projection DPP with kernel :math:`K = VV^\top`.

    Parameters
    ----------
    v : (N, k) array
        Orthonormal columns (``V^T V = I``; for a kernel use
        :func:`orthonormal_features`).
    rng : Generator, int or None
    method : {"auto", "chain", "rejection"}
        See the module docstring; both are exact. ``"auto"`` (default) picks the faster
        for the size: rejection when ``N >= 4 k`` (:data:`REJECTION_MIN_RATIO`), else the
        chain rule.

    Returns
    -------
    (k,) int array
        The sampled items in the order the chain rule picked them.

    Raises
    ------
    ValueError
        If ``v`` does not have orthonormal columns, or an unknown method.
    """
    if method not in ("auto", "chain", "rejection"):
        raise ValueError(f"method: must be 'auto', 'chain' or 'rejection' (got {method!r})")
    v = _check_features(v)
    gen = as_generator(rng)
    if method == "auto":
        n, k = v.shape
        method = "rejection" if n >= REJECTION_MIN_RATIO * k else "chain"
    # a sequence of products of at most (2k, k) by (k, k): one BLAS thread, idle or busy
    # (toytheory.threads)
    with bounded_threads(small=True):
        if method == "chain":
            return _chain_numpy(v, gen)
        return _rejection_numpy(v, gen)


def count_subsets(samples, subsets) -> np.ndarray:
    """Counts of each enumerated subset among ``samples`` (an iterable of index arrays).

    Parameters
    ----------
    samples : iterable of 1-D integer arrays
        Each a set of distinct items (in any order).
    subsets : sequence of tuple
        The enumerated support (e.g. from :func:`projection_dpp_law`).

    Returns
    -------
    (len(subsets),) int array

    Raises
    ------
    ValueError
        ``samples: must ...`` for a sample that is not among ``subsets``
        (a sample outside the enumerated support is a bug in the sampler or
        the enumeration, never to be dropped), or that is malformed.
    """
    index = subset_index(subsets, 0)
    counts = np.zeros(len(subsets), dtype=np.int64)
    for s in samples:
        key = _as_index_set("samples", s)
        pos = index.get(key)
        if pos is None:
            raise ValueError(f"samples: must lie among the {len(subsets)} enumerated subsets "
                             f"(got {key})")
        counts[pos] += 1
    return counts

