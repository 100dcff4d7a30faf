"""Hypothesis strategies for the sampling area: design matrices and projection features.

Every strategy draws an integer seed and builds its object with numpy, so that
shrinking acts on the seed and on the shape, and the objects stay well formed
(full column rank, controlled conditioning).
"""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

from .strategies import seeds

__all__ = ["STRUCTURES", "design_matrices", "rank_deficient_matrices", "orthonormal_features",
           "exponents"]

STRUCTURES = ("gaussian", "heavy_tailed", "sign", "spiky", "ill_conditioned", "duplicated")


def _build(structure: str, n: int, d: int, rng: np.random.Generator) -> np.ndarray:
    if structure == "gaussian":
        return rng.standard_normal((n, d))
    if structure == "heavy_tailed":
        return rng.standard_normal((n, d)) * (rng.pareto(1.5, size=(n, 1)) + 1.0)
    if structure == "sign":
        return rng.choice([-1.0, 1.0], size=(n, d))
    if structure == "spiky":
        a = rng.standard_normal((n, d)) * 1e-2
        a[:d] += np.eye(d)
        return a[rng.permutation(n)]
    if structure == "ill_conditioned":
        q, _ = np.linalg.qr(rng.standard_normal((d, d)))
        scales = np.geomspace(1.0, 1e-4, d)
        return rng.standard_normal((n, d)) @ (q * scales) @ q.T
    # duplicated: few distinct rows, repeated with random signs and scales
    base = rng.standard_normal((d + 2, d))
    idx = rng.integers(0, d + 2, size=n)
    idx[: d + 2] = np.arange(d + 2)[: min(n, d + 2)]
    return base[idx] * rng.choice([-1.0, 1.0], size=(n, 1)) * rng.uniform(0.5, 2, (n, 1))


@st.composite
def design_matrices(draw, *, min_d: int = 1, max_d: int = 6, max_n: int = 60,
                    structures=STRUCTURES) -> np.ndarray:
    """Full-column-rank ``(n, d)`` matrices with ``d <= max_d`` and ``d <= n <= max_n``.

    Parameters
    ----------
    structures : sequence of str
        Drawn from: ``gaussian``, ``heavy_tailed`` (Pareto-scaled rows),
        ``sign`` (i.i.d. signs), ``spiky`` (coordinate spikes over small
        noise), ``ill_conditioned`` (condition number up to 1e4),
        ``duplicated`` (repeated rows up to sign and scale).
    """
    d = draw(st.integers(min_d, max_d))
    n = draw(st.integers(max(d, 2 if d == 1 else d), max_n))
    structure = draw(st.sampled_from(tuple(structures)))
    rng = np.random.default_rng(draw(seeds()))
    for _ in range(50):
        a = _build(structure, n, d, rng)
        s = np.linalg.svd(a, compute_uv=False)
        if s[-1] > 1e-6 * s[0]:
            return a
    return rng.standard_normal((n, d))


@st.composite
def rank_deficient_matrices(draw, *, max_d: int = 6, max_n: int = 40) -> np.ndarray:
    """``(n, d)`` matrices of rank ``r < d`` (``r >= 1``)."""
    d = draw(st.integers(2, max_d))
    r = draw(st.integers(1, d - 1))
    n = draw(st.integers(d, max_n))
    rng = np.random.default_rng(draw(seeds()))
    return rng.standard_normal((n, r)) @ rng.standard_normal((r, d))


@st.composite
def orthonormal_features(draw, *, max_n: int = 12, max_k: int = 5) -> np.ndarray:
    """``(N, k)`` matrices with orthonormal columns and uneven row norms."""
    k = draw(st.integers(1, max_k))
    n = draw(st.integers(k, max_n))
    rng = np.random.default_rng(draw(seeds()))
    q, _ = np.linalg.qr(rng.standard_normal((n, k)) * rng.uniform(0.2, 3.0, size=(n, 1)))
    return q


def exponents(low: float = 1.0, high: float = 6.0) -> st.SearchStrategy[float]:
    """Exponents p in ``[low, high]``, with the special values 1, 2 and 4 drawn often."""
    special = [v for v in (1.0, 2.0, 4.0) if low <= v <= high]
    return st.one_of(st.sampled_from(special), st.floats(low, high)) if special else \
        st.floats(low, high)
