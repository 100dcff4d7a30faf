r""":math:`\ell_p` Lewis weights: the fixed point, and a convex program for every :math:`p \ge 2`.

The Lewis weights of a full-rank ``(n, d)`` matrix are the unique positive
``w`` with

.. math::

    w_i = \bigl(a_i^\top (A^\top W^{1 - 2/p} A)^{-1} a_i\bigr)^{p/2},
    \qquad \sum_i w_i = d .

(The sum follows from the fixed point: :math:`\sum_i w_i =
\operatorname{tr}(M A^\top W^{1-2/p} A) = \operatorname{tr} I_d` with
:math:`M = (A^\top W^{1-2/p} A)^{-1}`.)

``fixed_point``
    iterate the map; in log coordinates its Jacobian is
    :math:`(1 - p/2) D^{-1} (H \circ H)` with eigenvalues in
    :math:`[0, 1]\cdot(1 - p/2)`, and the map contracts with factor
    :math:`|1 - p/2|` in the sup norm of :math:`\log w`: it converges for
    :math:`p < 4` (Cohen and Peng's iteration). The distance to the fixed
    point is at most ``residual * k / (1 - k)`` with ``k = |1 - p/2|``.
``convex``
    for :math:`p \ge 2`, minimise the strictly convex
    :math:`F(M) = -\log\det M + \tfrac{2}{p}\sum_i (a_i^\top M a_i)^{p/2}`
    over positive-definite ``M`` by Newton's method; its stationarity
    condition :math:`M^{-1} = \sum_i (a_i^\top M a_i)^{p/2 - 1} a_i a_i^\top`
    is the fixed point with :math:`w_i = (a_i^\top M a_i)^{p/2}`. This
    converges for every :math:`p \ge 2`, in particular :math:`p \ge 4`
    where the plain iteration can oscillate.

References
----------
Woodruff and Yasuda, "Sharper Bounds for ell_p Sensitivity Sampling"
(ICML 2023), Section 4 (Lewis weights and their relation to sensitivities).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._validation import check_int, check_real
from ._checks import check_design, check_p

__all__ = ["LewisResult", "lewis_weights", "lewis_residual"]


@dataclass(frozen=True)
class LewisResult:
    """Lewis weights with their fixed-point residual.

    Attributes
    ----------
    weights : (n,) array
    residual : float
        ``max_i |log w_i - log f(w)_i|`` for the Lewis map ``f``.
    iterations : int
    method : str
    """

    weights: np.ndarray
    residual: float
    iterations: int
    method: str


def _lewis_map(a: np.ndarray, w: np.ndarray, p: float) -> np.ndarray:
    scaled = a * (w ** (0.5 - 1.0 / p))[:, None]
    from scipy.linalg import solve_triangular

    r = np.linalg.qr(scaled, mode="r")
    # leverage scores of W^{1/2 - 1/p} A, row by row through R (relative accuracy
    # also for tiny rows, unlike the rows of the Householder Q)
    sol = solve_triangular(r, scaled.T, trans="T", lower=False)
    lev = np.einsum("ij,ij->j", sol, sol)
    # a_i^T (A^T W^{1-2/p} A)^{-1} a_i = lev_i / w_i^{1 - 2/p}
    return (lev * w ** (2.0 / p - 1.0)) ** (p / 2.0)


def lewis_residual(a, w, p) -> float:
    """``max_i |log w_i - log f(w)_i|``: how far ``w`` is from the Lewis fixed point.

    Parameters
    ----------
    a : (n, d) array, full column rank
    w : (n,) array of positive weights
    p : float, >= 1
    """
    p = check_p(p)
    a = check_design("a", a)
    w = np.asarray(w, dtype=float)
    if w.shape != (a.shape[0],) or np.any(~np.isfinite(w)) or np.any(w <= 0):
        raise ValueError(f"w: must be {a.shape[0]} positive finite weights")
    return float(np.max(np.abs(np.log(w) - np.log(_lewis_map(a, w, p)))))


def _fixed_point(a, p, tol, max_iter):
    n, d = a.shape
    w = np.full(n, d / n)
    for it in range(1, max_iter + 1):
        new = _lewis_map(a, w, p)
        step = float(np.max(np.abs(np.log(new) - np.log(w))))
        w = new
        if step <= tol:
            break
    return w, it


def _convex(a, p, tol, max_iter):
    n, d = a.shape
    g = a.T @ a
    tau = np.einsum("ij,ji->i", a, np.linalg.solve(g, a.T))
    m = np.linalg.inv(g) * (d / np.sum(tau ** (p / 2.0))) ** (2.0 / p)
    m = 0.5 * (m + m.T)
    outer = (a[:, :, None] * a[:, None, :]).reshape(n, d * d)
    half = p / 2.0

    def f(mat):
        try:
            chol = np.linalg.cholesky(mat)
        except np.linalg.LinAlgError:
            return np.inf
        u = outer @ mat.reshape(-1)
        return -2.0 * np.sum(np.log(np.diag(chol))) + np.sum(u ** half) / half

    it = 0
    for it in range(1, max_iter + 1):
        minv = np.linalg.inv(m)
        u = outer @ m.reshape(-1)
        grad = -minv + (u ** (half - 1.0) @ outer).reshape(d, d)
        hess = np.kron(minv, minv) + (half - 1.0) * (outer.T * u ** (half - 2.0)) @ outer
        step = -np.linalg.solve(hess, grad.reshape(-1)).reshape(d, d)
        step = 0.5 * (step + step.T)
        dec = -float(np.sum(grad * step))
        if dec <= tol * tol:
            break
        s = 1.0
        if dec > 1e-8:  # damped phase; near the optimum take full (quadratic) Newton steps,
            f0 = f(m)   # whose decrease rounding in F could no longer confirm
            while f(m + s * step) > f0 - 0.25 * s * dec and s > 1e-16:
                s *= 0.5
        m = m + s * step
        m = 0.5 * (m + m.T)
    u = outer @ m.reshape(-1)
    return u ** half, it


def lewis_weights(a, p, *, method: str = "auto", tol: float = 1e-13,
                  max_iter: int = 1000) -> LewisResult:
    r"""The :math:`\ell_p` Lewis weights of the rows of ``a``.

    .. math:: w_i = \bigl(a_i^\top (A^\top W^{1-2/p} A)^{-1} a_i\bigr)^{p/2}

    Parameters
    ----------
    a : (n, d) array
        ``n >= d``, full column rank.
    p : float
        ``p >= 1``.
    method : {"auto", "fixed_point", "convex"}
        ``auto``: the fixed point for ``p < 4``, the convex program for
        ``p >= 4``. ``fixed_point`` needs ``p < 4``; ``convex`` needs
        ``p >= 2``.
    tol : float
        Stopping tolerance (log-step of the iteration; Newton decrement).
    max_iter : int

    Returns
    -------
    LewisResult
        With the fixed-point residual recomputed from the returned weights.

    Raises
    ------
    ValueError
        Bad ``a`` or ``p``, or a method outside its range of ``p``.
    """
    p = check_p(p)
    a = check_design("a", a)
    check_real("tol", tol, low=0.0, low_open=True)
    max_iter = check_int("max_iter", max_iter, low=1)
    if method not in ("auto", "fixed_point", "convex"):
        raise ValueError(f"method: must be 'auto', 'fixed_point' or 'convex' (got {method!r})")
    if method == "auto":
        method = "fixed_point" if p < 4.0 else "convex"
    if method == "fixed_point" and p >= 4.0:
        raise ValueError(f"method: the fixed-point iteration needs p < 4 (got p = {p}); "
                         "use 'convex'")
    if method == "convex" and p < 2.0:
        raise ValueError(f"method: the convex program needs p >= 2 (got p = {p}); "
                         "use 'fixed_point'")
    # Lewis weights depend only on the column space: work with an orthonormal basis Q (A = QR)
    scaled = np.linalg.qr(a)[0]
    if method == "fixed_point":
        w, it = _fixed_point(scaled, p, tol, max_iter)
    else:
        w, it = _convex(scaled, p, tol, max_iter)
    res = float(np.max(np.abs(np.log(w) - np.log(_lewis_map(scaled, w, p)))))
    return LewisResult(w, res, it, method)
