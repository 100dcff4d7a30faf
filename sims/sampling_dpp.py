"""Numba kernels for exact projection-DPP sampling by the chain rule.

Written from the chain rule itself (Hough, Krishnapur, Peres and Virág,
Algorithm 18), not from :mod:`toytheory.sampling.dpp`: the next point is
picked with probability proportional to the squared distance of its feature
vector from the span of those already picked. They consume the numpy
``Generator`` passed in exactly like the numpy samplers
(``toytheory.sampling.dpp.sample_projection_dpp``): one uniform per step
(``chain``), two per proposal (``rejection``), so given generators in the same
state both return the same subset (up to floating-point ties, which have
probability ~1e-16 per draw).

This module imports numba at the top; nothing in ``toytheory/`` imports it.
"""

from __future__ import annotations

import functools

import numpy as np
from numba import njit

__all__ = ["sample_projection_dpp_chain", "sample_projection_dpp_rejection",
           "sample_projection_dpp_numba"]


@njit(cache=True)
def _search_right(cdf, target):
    """First index j with cdf[j] > target (numpy.searchsorted side='right')."""
    lo, hi = 0, cdf.size
    while lo < hi:
        mid = (lo + hi) // 2
        if cdf[mid] <= target:
            lo = mid + 1
        else:
            hi = mid
    return lo


@njit(cache=True)
def _chain(v, rng):
    n, k = v.shape
    norms2 = np.empty(n)
    for i in range(n):
        acc = 0.0
        for j in range(k):
            acc += v[i, j] * v[i, j]
        norms2[i] = acc
    c = np.zeros((n, k))
    cdf = np.empty(n)
    out = np.empty(k, np.int64)
    for t in range(k):
        acc = 0.0
        for i in range(n):
            acc += norms2[i]
            cdf[i] = acc
        u = rng.random()
        i = min(_search_right(cdf, u * cdf[n - 1]), n - 1)
        while norms2[i] <= 0.0 and i > 0:
            i -= 1
        out[t] = i
        if t == k - 1:
            break
        scale = 1.0 / np.sqrt(norms2[i])
        vi = v[i]
        ci = c[i, :t].copy()
        for m in range(n):
            acc = 0.0
            for j in range(k):
                acc += v[m, j] * vi[j]
            for s in range(t):
                acc -= c[m, s] * ci[s]
            col = acc * scale
            c[m, t] = col
            norms2[m] -= col * col
            if norms2[m] < 0.0:
                norms2[m] = 0.0
        norms2[i] = 0.0
    return out


@njit(cache=True)
def _rejection(v, rng):
    n, k = v.shape
    diag = np.empty(n)
    cdf = np.empty(n)
    acc = 0.0
    for i in range(n):
        s = 0.0
        for j in range(k):
            s += v[i, j] * v[i, j]
        diag[i] = s
        acc += s
        cdf[i] = acc
    total = cdf[n - 1]
    basis = np.zeros((k, k))
    proj = np.empty(k)
    resid = np.empty(k)
    chosen = np.zeros(n, np.bool_)
    out = np.empty(k, np.int64)
    t = 0
    while t < k:
        u1 = rng.random()
        u2 = rng.random()
        i = min(_search_right(cdf, u1 * total), n - 1)
        if chosen[i] or diag[i] <= 0.0:
            continue
        for s in range(t):
            acc = 0.0
            for j in range(k):
                acc += basis[s, j] * v[i, j]
            proj[s] = acc
        r2 = 0.0
        for j in range(k):
            acc = v[i, j]
            for s in range(t):
                acc -= basis[s, j] * proj[s]
            resid[j] = acc
            r2 += acc * acc
        if u2 * diag[i] < r2:
            inv = 1.0 / np.sqrt(r2)
            for j in range(k):
                basis[t, j] = resid[j] * inv
            out[t] = i
            chosen[i] = True
            t += 1
    return out


@functools.lru_cache(maxsize=64)
def _probe(k: int) -> np.ndarray:
    """A fixed pseudo-random direction in R^k for the O(Nk) orthonormality check."""
    g = np.random.default_rng(12345).standard_normal(k)
    g.setflags(write=False)
    return g


def _prepare(v):
    v = np.ascontiguousarray(v, dtype=np.float64)
    if v.ndim != 2 or v.shape[1] < 1 or v.shape[0] < v.shape[1]:
        raise ValueError(f"v: must have shape (N, k) with 1 <= k <= N (got {v.shape})")
    # O(Nk) check of V^T V = I along a fixed pseudo-random direction
    g = _probe(v.shape[1])
    err = float(np.max(np.abs(v.T @ (v @ g) - g))) / float(np.max(np.abs(g)))
    if err > 1e-8:
        raise ValueError(f"v: must have orthonormal columns (|V^T V g - g| = {err:.3g})")
    return v


def sample_projection_dpp_chain(v, rng: np.random.Generator) -> np.ndarray:
    """Chain rule with the full residual-norm vector (Numba); same draws as the numpy ``chain``."""
    return _chain(_prepare(v), rng)


def sample_projection_dpp_rejection(v, rng: np.random.Generator) -> np.ndarray:
    """Chain rule, each conditional drawn by rejection (Numba); draws like numpy ``rejection``."""
    return _rejection(_prepare(v), rng)


def sample_projection_dpp_numba(v, rng: np.random.Generator, method: str = "rejection"):
    """Dispatch on ``method`` (``"chain"`` or ``"rejection"``)."""
    if method == "chain":
        return sample_projection_dpp_chain(v, rng)
    if method == "rejection":
        return sample_projection_dpp_rejection(v, rng)
    raise ValueError(f"method: must be 'chain' or 'rejection' (got {method!r})")
