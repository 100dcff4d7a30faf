"""Input checks shared by the sampling modules (full-rank design matrices, exponents p)."""

from __future__ import annotations

import numpy as np

from .._validation import as_float_array, check_real

#: Relative singular-value threshold below which a column direction counts as missing.
RANK_RTOL = 1e-10


class ConvergenceError(ValueError, RuntimeError):
    """An iterative method did not meet its stated tolerance; no result is returned.

    It is a :class:`ValueError` because, like every boundary error here, its
    message names the argument whose value did not suffice (``max_iter``,
    ``tol`` or ``method``), and a :class:`RuntimeError` because the failure
    shows only while computing. A result that has not met its tolerance is
    never returned silently.
    """


def numerical_rank(a: np.ndarray, rtol: float = RANK_RTOL) -> int:
    """Number of singular values above ``rtol * max(n, d) * sigma_max``."""
    if a.size == 0:
        return 0
    s = np.linalg.svd(a, compute_uv=False)
    if s[0] == 0.0:
        return 0
    return int(np.sum(s > rtol * max(a.shape) * s[0]))


def column_space_basis(a, rtol: float = RANK_RTOL) -> np.ndarray:
    """An orthonormal basis ``U`` (shape ``(n, r)``) of the column space of ``a``.

    Every quantity in :mod:`toytheory.sampling` that is defined through
    ``{Ax : x}`` only (sensitivities, Lewis weights, leverage scores, the
    distortion of a row sample) is the same for ``a`` and ``U``; pass ``U``
    when ``a`` has rank below its number of columns.
    """
    a = as_float_array("a", a, ndim=2)
    u, s, _ = np.linalg.svd(a, full_matrices=False)
    r = 0 if s.size == 0 or s[0] == 0 else int(np.sum(s > rtol * max(a.shape) * s[0]))
    return u[:, :r]


def check_design(name: str, a, *, allow_rank_deficient: bool = False) -> np.ndarray:
    """A finite ``(n, d)`` matrix with ``n >= d`` and full column rank ``d``.

    With ``allow_rank_deficient=True`` a matrix of rank ``r < d`` is replaced
    by an orthonormal basis of its column space (shape ``(n, r)``): the
    quantities computed from it depend on the column space only.

    Raises
    ------
    ValueError
        ``name: must ...`` for a wrong rank (number of dimensions), NaN/inf,
        fewer rows than columns, or rank below ``d``.
    """
    a = as_float_array(name, a, ndim=2)
    n, d = a.shape
    if d < 1:
        raise ValueError(f"{name}: must have at least one column (got shape {a.shape})")
    if n < d and not allow_rank_deficient:
        raise ValueError(f"{name}: must have at least as many rows as columns, n >= d "
                         f"(got n = {n} < d = {d})")
    r = numerical_rank(a)
    if r == 0:
        raise ValueError(f"{name}: must not be zero (rank 0)")
    if r < d:
        if allow_rank_deficient:
            return column_space_basis(a)
        raise ValueError(
            f"{name}: must have full column rank d = {d} (got numerical rank {r}). "
            "Sensitivities s_i = sup_{Ax != 0} |a_i^T x|^p / ||Ax||_p^p depend only on the "
            "column space of A; pass allow_rank_deficient=True to compute them on an "
            f"orthonormal basis of that space, where every bound holds with d replaced by "
            f"the rank {r}")
    return a


def check_p(p, name: str = "p") -> float:
    """An exponent ``p >= 1`` (finite)."""
    return check_real(name, p, low=1.0)


def merge_parallel_rows(a: np.ndarray, p: float, *, decimals: int = 12):
    r"""Merge rows that are multiples of one another (and drop zero rows).

    Rows :math:`a_k = c_k u` along one unit direction ``u`` enter
    :math:`\|Ax\|_p^p` as :math:`C |u^\top x|^p` with :math:`C = \sum_k |c_k|^p`,
    so they may be replaced by the single row :math:`C^{1/p} u`; the
    sensitivity of row ``k`` is then :math:`|c_k|^p / C` times that of the
    merged row (zero rows have sensitivity zero).

    Returns
    -------
    merged : (r, d) array
    group : (n,) int array
        The merged row of each original row (``-1`` for zero rows).
    share : (n,) array
        :math:`|c_k|^p / C` (zero for zero rows).
    """
    norms = np.linalg.norm(a, axis=1)
    nonzero = norms > 0
    u = np.zeros_like(a)
    u[nonzero] = a[nonzero] / norms[nonzero, None]
    # sign convention: the first clearly non-zero coordinate is positive
    lead = np.argmax(np.abs(u) > 1e-9, axis=1)
    sign = np.sign(u[np.arange(a.shape[0]), lead])
    sign[sign == 0] = 1.0
    u *= sign[:, None]
    key = np.round(u[nonzero], decimals) + 0.0  # + 0.0 folds -0.0 into 0.0
    _, first, inverse = np.unique(key, axis=0, return_index=True, return_inverse=True)
    inverse = inverse.reshape(-1)
    weight = norms[nonzero] ** p
    total = np.bincount(inverse, weights=weight)
    merged = u[nonzero][first] * (total ** (1.0 / p))[:, None]
    group = np.full(a.shape[0], -1, dtype=np.int64)
    group[nonzero] = inverse
    share = np.zeros(a.shape[0])
    share[nonzero] = weight / total[inverse]
    return merged, group, share
