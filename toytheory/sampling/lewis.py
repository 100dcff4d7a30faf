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
    Near ``p = 4`` the factor ``k`` tends to 1 (about ``log(tol) / log(k)``
    iterations, 6000 at ``p = 3.99``), so the iteration checks its residual:
    ``auto`` falls back to ``convex`` when it has not converged, and an
    explicit ``fixed_point`` raises :class:`ConvergenceError`.
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
from ._checks import ConvergenceError, check_design, check_p

__all__ = ["LewisResult", "ConvergenceError", "lewis_weights", "lewis_residual"]


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
    """Iterate the Lewis map until the residual of the current iterate is ``<= tol``.

    Returns ``(w, iterations, residual, converged)``; ``residual`` is
    ``max_i |log w_i - log f(w)_i|`` of the returned ``w`` (the quantity the
    stopping rule tests), so ``converged`` means exactly ``residual <= tol``.
    """
    n, d = a.shape
    w = np.full(n, d / n)
    residual = np.inf
    for it in range(max_iter + 1):
        new = _lewis_map(a, w, p)
        residual = float(np.max(np.abs(np.log(new) - np.log(w))))
        if residual <= tol:
            return w, it, residual, True
        if it == max_iter:
            break
        w = new
    return w, max_iter, residual, False


def _convex(a, p, tol, max_iter):
    """Damped Newton on ``F(M)``; returns ``(w, iterations, converged)``.

    ``converged`` means the Newton decrement reached ``tol`` (``lambda^2 <= tol^2``)
    within ``max_iter`` steps.
    """
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
    converged = False
    for it in range(1, max_iter + 1):
        minv = np.linalg.inv(m)
        u = outer @ m.reshape(-1)
        grad = -minv + (u ** (half - 1.0) @ outer).reshape(d, d)
        hess = np.kron(minv, minv) + (half - 1.0) * (outer.T * u ** (half - 2.0)) @ outer
        step = -np.linalg.solve(hess, grad.reshape(-1)).reshape(d, d)
        step = 0.5 * (step + step.T)
        dec = -float(np.sum(grad * step))
        if dec <= tol * tol:
            converged = True
            break
        s = 1.0
        if dec > 1e-8:  # damped phase; near the optimum take full (quadratic) Newton steps,
            f0 = f(m)   # whose decrease rounding in F could no longer confirm
            while f(m + s * step) > f0 - 0.25 * s * dec and s > 1e-16:
                s *= 0.5
        m = m + s * step
        m = 0.5 * (m + m.T)
    u = outer @ m.reshape(-1)
    return u ** half, it, converged


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
        ``auto``: the fixed point for ``p < 4``, falling back to the convex
        program when the fixed point has not reached ``tol`` within
        ``max_iter`` iterations and ``p >= 2`` (its contraction factor
        ``|1 - p/2|`` tends to 1 as ``p -> 4``); the convex program for
        ``p >= 4``. ``fixed_point`` needs ``p < 4``; ``convex`` needs
        ``p >= 2``.
    tol : float
        ``> 0``. The fixed point stops once the residual
        ``max_i |log w_i - log f(w)_i|`` of its iterate is ``<= tol``; the
        convex program once its Newton decrement is ``<= tol``.
    max_iter : int
        ``>= 1``. Iterations of the fixed point, or Newton steps.

    Returns
    -------
    LewisResult
        With the fixed-point residual recomputed from the returned weights,
        and ``method`` the method that produced them (``"convex"`` after a
        fallback).

    Raises
    ------
    ValueError
        Bad ``a``, ``p``, ``tol``, ``max_iter`` or ``method``, or a method
        outside its range of ``p``.
    ConvergenceError
        (a subclass of both ``ValueError`` and ``RuntimeError``) when the
        chosen method, after any fallback, has not met ``tol`` within
        ``max_iter``: a non-converged result is never returned.
    """
    p = check_p(p)
    a = check_design("a", a)
    tol = check_real("tol", tol, low=0.0, low_open=True)
    max_iter = check_int("max_iter", max_iter, low=1)
    if method not in ("auto", "fixed_point", "convex"):
        raise ValueError(f"method: must be 'auto', 'fixed_point' or 'convex' (got {method!r})")
    requested = method
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
        w, it, fp_residual, converged = _fixed_point(scaled, p, tol, max_iter)
        if not converged:
            if requested == "auto" and p >= 2.0:
                method = "convex"
            else:
                hint = ("use method='convex' or 'auto', or raise max_iter" if p >= 2.0
                        else "raise max_iter or tol")
                raise ConvergenceError(
                    f"max_iter: the fixed-point iteration must reach the residual tol = {tol:g} "
                    f"within max_iter = {max_iter} iterations (got residual "
                    f"{fp_residual:.3g}; its contraction factor is |1 - p/2| = "
                    f"{abs(1.0 - p / 2.0):.4g} at p = {p}); {hint}")
    if method == "convex":
        w, it, converged = _convex(scaled, p, tol, max_iter)
        if not converged:
            raise ConvergenceError(
                f"max_iter: Newton's method on the convex program must reach the decrement "
                f"tol = {tol:g} within max_iter = {max_iter} steps; raise max_iter or tol")
    res = float(np.max(np.abs(np.log(w) - np.log(_lewis_map(scaled, w, p)))))
    return LewisResult(w, res, it, method)
