"""Hypothesis strategies shared by every area.

All strategies build their random objects from a drawn integer seed through
numpy, so that shrinking works on the seed and the objects stay well formed.
"""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

__all__ = ["seeds", "rngs", "finite_floats", "probability_vectors", "psd_matrices",
           "spd_matrices", "gaussian_params"]


def seeds() -> st.SearchStrategy[int]:
    """Non-negative 32-bit integer seeds."""
    return st.integers(min_value=0, max_value=2**32 - 1)


def rngs() -> st.SearchStrategy[np.random.Generator]:
    """Seeded numpy Generators (shown by their seed when a test fails)."""
    return seeds().map(np.random.default_rng)


def finite_floats(low: float = -1e6, high: float = 1e6) -> st.SearchStrategy[float]:
    """Finite floats in ``[low, high]`` (no NaN, no inf)."""
    return st.floats(min_value=low, max_value=high, allow_nan=False, allow_infinity=False)


@st.composite
def probability_vectors(draw, size: int | st.SearchStrategy[int] | None = None, *,
                        min_size: int = 1, max_size: int = 20, min_prob: float = 0.0,
                        concentration: float = 1.0) -> np.ndarray:
    """Probability vectors (non-negative, summing to one to machine precision).

    Parameters
    ----------
    size : int or strategy, optional
        Length; drawn in ``[min_size, max_size]`` when omitted.
    min_prob : float
        Every entry is at least this (requires ``size * min_prob <= 1``).
    concentration : float
        Dirichlet concentration (small: spiky vectors; large: near uniform).
    """
    if size is None:
        k = draw(st.integers(min_size, max_size))
    elif isinstance(size, int):
        k = size
    else:
        k = draw(size)
    if k * min_prob > 1:
        raise ValueError(f"min_prob: must be <= 1/size = {1 / k:g} (got {min_prob})")
    rng = np.random.default_rng(draw(seeds()))
    w = rng.dirichlet(np.full(k, concentration))
    w = min_prob + (1 - k * min_prob) * w
    return w / w.sum()


@st.composite
def psd_matrices(draw, d: int | st.SearchStrategy[int] | None = None, *, max_d: int = 8,
                 condition: tuple[float, float] = (1.0, 1e3), rank: int | None = None,
                 scale: tuple[float, float] = (1e-2, 1e2)) -> np.ndarray:
    """Symmetric PSD matrices with a controlled condition number.

    The matrix is ``Q diag(lam) Q^T`` with ``Q`` a random rotation and the
    non-zero eigenvalues geometrically spaced so that their ratio (the
    condition number on the range) is drawn in ``condition``.

    Parameters
    ----------
    d : int or strategy, optional
        Dimension (default: drawn in ``[1, max_d]``).
    condition : (float, float)
        Range of ``lam_max / lam_min`` over the non-zero eigenvalues.
    rank : int, optional
        Number of non-zero eigenvalues (default ``d``: positive definite).
    scale : (float, float)
        Range of the largest eigenvalue.
    """
    if d is None:
        dim = draw(st.integers(1, max_d))
    elif isinstance(d, int):
        dim = d
    else:
        dim = draw(d)
    r = dim if rank is None else min(rank, dim)
    kappa = draw(st.floats(condition[0], condition[1]))
    top = draw(st.floats(scale[0], scale[1]))
    rng = np.random.default_rng(draw(seeds()))
    q, rr = np.linalg.qr(rng.standard_normal((dim, dim)))
    q = q * np.sign(np.diag(rr))
    eig = np.zeros(dim)
    eig[:r] = top * np.geomspace(1.0, 1.0 / kappa, r) if r > 1 else top
    rng.shuffle(eig)
    m = (q * eig) @ q.T
    return 0.5 * (m + m.T)


def spd_matrices(d=None, *, max_d: int = 8, condition=(1.0, 1e3), scale=(1e-2, 1e2)):
    """Symmetric positive-definite matrices (:func:`psd_matrices` with full rank)."""
    return psd_matrices(d, max_d=max_d, condition=condition, scale=scale)


@st.composite
def gaussian_params(draw, d: int | None = None, *, max_d: int = 6,
                    condition=(1.0, 1e3)) -> tuple[np.ndarray, np.ndarray]:
    """A (mean, covariance) pair with a positive-definite covariance."""
    dim = d if d is not None else draw(st.integers(1, max_d))
    cov = draw(spd_matrices(dim, condition=condition))
    rng = np.random.default_rng(draw(seeds()))
    return rng.standard_normal(dim) * draw(st.floats(0.0, 10.0)), cov
