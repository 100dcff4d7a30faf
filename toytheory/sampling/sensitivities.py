r""":math:`\ell_p` sensitivities, exactly, for any :math:`p \ge 1`, with certificates.

.. math::

    s_i(A) = \sup_{Ax \ne 0} \frac{|a_i^\top x|^p}{\|Ax\|_p^p}
           = \frac{1}{\min\{\|Ax\|_p^p : a_i^\top x = 1\}},
    \qquad \mathfrak S(A) = \sum_i s_i(A).

By norm duality (:math:`1/p + 1/q = 1`)

.. math::

    s_i^{1/p} = \max\{a_i^\top x : \|Ax\|_p \le 1\}
              = \min\{\|y\|_q : A^\top y = a_i\},

so any ``x`` gives a lower bound :math:`|a_i^\top x|^p / \|Ax\|_p^p` and any
``y`` with :math:`A^\top y = a_i` an upper bound :math:`\|y\|_q^p`. Every
method returns both (a certificate), and the value is certified to their
relative gap, which :func:`lp_sensitivities` guarantees to be at most
``gap_tol`` (default 1e-9) for every row or raises.

Methods
-------
``p = 2``
    closed form: the leverage scores :math:`a_i^\top (A^\top A)^{-1} a_i`.
``p = 1``
    linear programming: a batched vertex walk on the polytope
    :math:`\{\|Ax\|_1 \le 1\}` with a dual certificate (default), or one HiGHS
    LP per row (``method="lp"``); see :mod:`toytheory.sampling.l1_sensitivities`.
otherwise
    Newton's method on :math:`\min\{\|Ax\|_p^p : a_i^\top x = 1\}`, batched
    over rows, with a smoothing continuation
    :math:`|z|^p \to (z^2 + \epsilon^2)^{p/2}` for :math:`p < 2`; the dual
    point is :math:`y \propto \operatorname{sign}(z)|z|^{p-1}` projected onto
    :math:`A^\top y = a_i`. Near ``p = 1`` the primal optimum lies next to a
    (for sign matrices, degenerate) vertex of the l1 problem: the entries
    of ``z`` that vanish there are far below rounding and their duals are
    ill-determined, so rows whose gap is not small enough have their dual
    point re-solved for the least q-norm on the affine set
    :math:`A^\top y = a_i` (damped Newton, from the near-zero entries to all).

Rank. Sensitivities depend only on the column space of ``A`` (the supremum
runs over :math:`Ax \ne 0`). A matrix of rank ``r < d`` raises
``ValueError`` unless ``allow_rank_deficient=True``, which computes them on an
orthonormal basis of the column space; then :math:`\sum_i \tau_i = r` and
the bounds of :func:`sensitivity_bounds` hold with ``d`` replaced by ``r``.

References
----------
Woodruff and Yasuda, "Sharper Bounds for ell_p Sensitivity Sampling"
(ICML 2023), Section 1 (sensitivities, total sensitivity) and Section 4
(properties of :math:`\ell_p` sensitivities).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._validation import check_int, check_real
from ._checks import ConvergenceError, check_design, check_p, merge_parallel_rows
from .l1_sensitivities import l1_sensitivities_lp, l1_sensitivities_vertex
from .leverage import leverage_scores

__all__ = ["SensitivityResult", "lp_sensitivities", "total_sensitivity", "sensitivity_bounds"]

METHODS = ("auto", "closed_form", "vertex", "lp", "newton")

#: The relative certificate gap ``(upper - lower) / upper`` promised by default for every row.
GAP_TOL = 1e-9


@dataclass(frozen=True)
class SensitivityResult:
    """Sensitivities with their certificate.

    Attributes
    ----------
    values : (n,) array
        The sensitivities (the midpoint of ``lower`` and ``upper``).
    lower, upper : (n,) arrays
        Certified bounds: ``lower`` is attained by an explicit ``x``,
        ``upper`` is the value of an explicit dual-feasible ``y``.
    p : float
    method : str
        The method that produced the values.
    rank : int
        The dimension of the column space the values refer to.
    iterations : (n,) int array
        Pivots (vertex walk, ``-1`` for rows solved by LP fallback) or Newton
        steps per row; zeros for closed forms and for HiGHS rows of
        ``method="lp"`` (its rows re-solved by the vertex walk carry the
        walk's pivots).
    """

    values: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    p: float
    method: str
    rank: int
    iterations: np.ndarray

    @property
    def total(self) -> float:
        """The total sensitivity :math:`\\mathfrak S = \\sum_i s_i`."""
        return float(np.sum(self.values))

    @property
    def total_bounds(self) -> tuple[float, float]:
        """Certified bounds on the total sensitivity."""
        return float(np.sum(self.lower)), float(np.sum(self.upper))

    @property
    def max_relative_gap(self) -> float:
        """``max_i (upper_i - lower_i) / upper_i``: how tightly each value is certified."""
        with np.errstate(divide="ignore", invalid="ignore"):
            gap = np.where(self.upper > 0, (self.upper - self.lower) / self.upper, 0.0)
        return float(np.max(gap))


_BACKTRACK_BLOCK = 8   # Armijo step sizes tried at once for the rows that still need one


def _newton_sensitivities(a: np.ndarray, p: float, *, tol: float, max_iter: int,
                          gap_tol: float = np.inf):
    """Batched Newton on min ||Ax||_p^p s.t. a_i^T x = 1, for every row i.

    Returns ``(lower, upper, iterations)``; the dual points of rows whose
    relative gap exceeds ``gap_tol / 100`` are refined (see
    :func:`_dual_upper_bounds`).
    """
    n, d = a.shape
    rows = np.arange(n)
    c = a
    gram = a.T @ a
    x = np.linalg.solve(gram, a.T).T
    x /= np.einsum("kd,kd->k", x, c)[:, None]
    outer = (a[:, :, None] * a[:, None, :]).reshape(n, d * d)
    smooth = p < 2.0
    steps = 0.5 ** np.arange(40)
    iterations = np.zeros(n, dtype=np.int64)
    if smooth:
        z0 = np.abs(x @ a.T)
        eps_sched = [10.0 ** (-k) for k in range(1, 16)]
        scale = np.max(z0, axis=1)
    else:
        eps_sched = [0.0]
        scale = np.ones(n)

    def objective(z, eps):
        if smooth:
            return np.sum((z * z + eps * eps) ** (p / 2.0), axis=-1)
        return np.sum(np.abs(z) ** p, axis=-1)

    for eps_rel in eps_sched:
        eps = (eps_rel * scale)[:, None]
        active = np.ones(n, dtype=bool)
        for _ in range(max_iter):
            idx = np.flatnonzero(active)
            if idx.size == 0:
                break
            xi = x[idx]
            z = xi @ a.T
            e = eps[idx]
            if smooth:
                qz = z * z + e * e
                h1 = p * z * qz ** (p / 2.0 - 1.0)
                h2 = p * qz ** (p / 2.0 - 2.0) * ((p - 1.0) * z * z + e * e)
            else:
                az = np.abs(z)
                h1 = p * np.sign(z) * az ** (p - 1.0)
                h2 = p * (p - 1.0) * az ** (p - 2.0) if p != 2.0 else np.full_like(z, 2.0)
            grad = h1 @ a
            hess = (h2 @ outer).reshape(-1, d, d)
            tr = np.trace(hess, axis1=1, axis2=2)
            hess += (1e-14 * tr / d)[:, None, None] * np.eye(d)
            k = idx.size
            kkt = np.zeros((k, d + 1, d + 1))
            kkt[:, :d, :d] = hess
            kkt[:, :d, d] = c[idx]
            kkt[:, d, :d] = c[idx]
            rhs = np.zeros((k, d + 1))
            rhs[:, :d] = -grad
            try:
                sol = np.linalg.solve(kkt, rhs[:, :, None])[:, :, 0]
            except np.linalg.LinAlgError:
                sol = np.stack([np.linalg.lstsq(m_, r_, rcond=None)[0]
                                for m_, r_ in zip(kkt, rhs)])
            dx = sol[:, :d]
            dec = -np.einsum("kd,kd->k", grad, dx)
            f0 = objective(z, e)
            dz = dx @ a.T
            descent = 0.25 * np.maximum(dec, 0.0)
            # Armijo backtracking over steps 1, 1/2, ..., 2^-39: the largest step that
            # passes, the full step evaluated for every row and the shorter ones only for
            # the rows still without one, in blocks (the same values as evaluating all 40
            # at once, at a fraction of the cost: most Newton steps take the full step)
            f_full = objective(z + dz, e)
            first = np.zeros(k, dtype=np.int64)
            found = f_full <= f0 - descent
            todo = np.flatnonzero(~found)
            for lo in range(1, steps.size, _BACKTRACK_BLOCK):
                if todo.size == 0:
                    break
                st = steps[lo:lo + _BACKTRACK_BLOCK]
                trial = z[todo, None, :] + st[None, :, None] * dz[todo, None, :]
                ft = objective(trial, e[todo][:, :, None])
                armijo = ft <= f0[todo, None] - st[None, :] * descent[todo, None]
                hit = np.any(armijo, axis=1)
                first[todo[hit]] = lo + np.argmax(armijo[hit], axis=1)
                found[todo[hit]] = True
                todo = todo[~hit]
            # in the quadratic phase the decrease (about dec / 2) is below the rounding of F
            # and Armijo can neither confirm nor refute it: take the full Newton step unless F
            # grows beyond rounding (a rejected or shortened last step leaves x off by about
            # sqrt(dec), and the dual point read off from x with it)
            quadratic = ((dec <= 1e-12 * f0)
                         & (f_full <= f0 * (1.0 + 64.0 * np.finfo(float).eps)))
            found |= quadratic
            s = np.where(quadratic, 1.0, np.where(found, steps[first], 0.0))
            x[idx] = xi + s[:, None] * dx
            iterations[idx] += 1
            converged = (dec <= tol * 1e-6 * f0) | ~found | (s == 0)
            active[idx[converged]] = False
    # certificate
    z = x @ a.T
    az = np.abs(z)
    phi = np.sum(az ** p, axis=1)
    lower = np.abs(np.einsum("kd,kd->k", x, c)) ** p / phi
    upper = _dual_upper_bounds(a, z, phi, p, gram, lower=lower, gap_tol=gap_tol)
    upper = np.maximum(upper, lower)
    return lower, upper, iterations


def _q_norm_p(y: np.ndarray, q: float, p: float) -> np.ndarray:
    r"""``||y||_q^p`` along the last axis, scaled by the largest entry.

    For ``p`` near 1 the dual exponent ``q = p / (p - 1)`` is large (1001 at
    ``p = 1.001``) and :math:`|y_j|^q` overflows for :math:`|y_j| > 2`;
    :math:`m (\sum_j (|y_j|/m)^q)^{1/q}` with :math:`m = \max_j |y_j|` cannot.
    """
    ay = np.abs(y)
    m = np.max(ay, axis=-1)
    safe = np.where(m > 0, m, 1.0)
    t = ay / safe[..., None]
    return np.where(m > 0, safe ** p * np.sum(t ** q, axis=-1) ** (p / q), 0.0)


def _min_q_norm_completion(a: np.ndarray, target: np.ndarray, y: np.ndarray,
                           free: np.ndarray, q: float, *, max_steps: int = 500) -> np.ndarray:
    r"""Re-solve the entries ``free`` of ``y`` for the least q-norm with :math:`A^\top y = a_i`.

    The other entries stay fixed. The free entries start from their current
    values, corrected by least squares so that :math:`A_F^\top y_F = r`, and
    move by :math:`N w` for an orthonormal basis ``N`` of the null space of
    :math:`A_F^\top`. The convex norm :math:`\|y\|_q` itself (evaluated
    scaled by the largest entry, so nothing overflows) is minimised over
    ``w`` by Levenberg--Marquardt-damped Newton steps, each accepted only if
    it decreases the norm. For large ``q`` the norm is close to
    :math:`\max_j |y_j|`: its Hessian
    :math:`(q - 1)/\|y\|_q\,(\operatorname{diag}(t^{q-2}) - g g^\top)`
    (:math:`t = |y|/\|y\|_q`, ``g`` the gradient) vanishes where one entry
    dominates, so the damping is measured in units of :math:`(q-1)/\|y\|_q`.

    Parameters
    ----------
    a : (n, d) array
    target : (d,) array
        The right-hand side :math:`a_i`.
    y : (n,) array
        The current dual point (its entries outside ``free`` are kept).
    free : (k,) int array
    q : float, ``> 1``
    max_steps : int

    Returns
    -------
    (n,) array
        The new dual point (exact feasibility is restored by the caller).
    """
    out = y.copy()
    fixed = np.ones(y.size, dtype=bool)
    fixed[free] = False
    a_free = a[free]
    u, sv, vt = np.linalg.svd(a_free.T, full_matrices=True)
    if sv.size == 0 or sv[0] == 0.0:
        return out
    rank = int(np.sum(sv > 1e-12 * sv[0]))
    resid = target - a.T @ out
    out[free] += vt[:rank].T @ ((u[:, :rank].T @ resid) / sv[:rank])
    null = vt[rank:].T
    if null.shape[1] == 0:
        return out
    y_fixed = out[fixed]
    v = out[free].copy()

    def norm_q(free_part):
        full = np.concatenate([y_fixed, free_part])
        m = float(np.max(np.abs(full)))
        return 0.0 if m == 0.0 else m * float(np.sum((np.abs(full) / m) ** q)) ** (1.0 / q)

    value = norm_q(v)
    lam = 1e-6
    stalls = 0
    eye = np.eye(null.shape[1])
    for _ in range(max_steps):
        if value == 0.0:
            break
        t = np.maximum(np.abs(v) / value, 1e-300)  # entries of y / ||y||_q, at most 1
        g_free = np.sign(v) * t ** (q - 1.0)
        grad = null.T @ g_free
        hess = (q - 1.0) / value * ((null.T * t ** (q - 2.0)) @ null - np.outer(grad, grad))
        # damping in units of the largest curvature of the norm, (q - 1) / ||y||_q: the
        # Hessian itself vanishes where one entry dominates (the norm is locally |y_j|)
        scale = (q - 1.0) / value
        accepted = False
        while lam <= 1e12:
            try:
                step = -np.linalg.solve(hess + lam * scale * eye, grad)
            except np.linalg.LinAlgError:  # pragma: no cover - damped above
                lam *= 10.0
                continue
            trial = v + null @ step
            new_value = norm_q(trial)
            if new_value < value:
                accepted = True
                break
            lam *= 10.0
        if not accepted:
            break
        gain = (value - new_value) / value
        v, value = trial, new_value
        lam = max(lam / 10.0, 1e-12)
        stalls = stalls + 1 if gain <= 1e-15 else 0
        if stalls >= 3:
            break
    out[free] = v
    return out


def _dual_upper_bounds(a, z, phi, p, gram, *, lower=None, gap_tol=np.inf):
    """Upper bounds ||y||_q^p from dual points y with A^T y = a_i (exactly, up to rounding).

    The stationarity condition gives y = sign(z)|z|^{p-1} / ||z||_p^p. It is
    made exactly feasible in two ways and the smaller bound is kept: (i) the
    least-norm correction over all coordinates; (ii) for p < 2, keeping y on
    the clearly non-zero entries of z and solving for y on the near-zero ones
    (where |z|^{p-1} is ill-determined when p is close to 1).

    Rows whose relative gap to ``lower`` still exceeds ``gap_tol / 100`` (a
    margin below the promised ``gap_tol``) are refined:
    the near-zero entries (for p < 2), then all entries, are re-solved for the
    least q-norm over the affine set {A^T y = a_i} by Newton's method
    (:func:`_min_q_norm_completion`). Near p = 1 the primal optimum sits next
    to a (often degenerate) vertex of the l1 problem whose vanishing entries
    z_j are far below rounding; their duals y_j are fixed only by optimality
    in y, which the least-squares completion (ii) does not find.
    """
    n, d = a.shape
    q = p / (p - 1.0)
    az = np.abs(z)
    y0 = np.sign(z) * az ** (p - 1.0) / phi[:, None]
    resid = a - y0 @ a
    y = y0 + np.linalg.solve(gram, resid.T).T @ a.T
    best = _q_norm_p(y, q, p)
    best_y = y  # row k is replaced whenever a better dual point for row k is found
    zmax = np.max(az, axis=1)
    thresholds = (1e-12, 1e-9, 1e-6, 1e-4, 1e-3)

    def feasible(yk, k):
        return yk + a @ np.linalg.solve(gram, a[k] - a.T @ yk)  # exact feasibility

    if p < 2.0:
        for k in range(z.shape[0]):
            for thr in thresholds:
                small = az[k] <= thr * zmax[k]
                if not small.any() or small.all():
                    continue
                yk = y0[k].copy()
                yk[small] = 0.0
                sol, *_ = np.linalg.lstsq(a[small].T, a[k] - a.T @ yk, rcond=None)
                yk[small] = sol
                yk = feasible(yk, k)
                val = float(_q_norm_p(yk, q, p))
                if val < best[k]:
                    best[k], best_y[k] = val, yk
    if lower is None:
        return best
    for k in np.flatnonzero(best - lower > 1e-2 * gap_tol * best):
        candidates = []
        if p < 2.0:
            seen = set()
            for thr in thresholds:
                small = np.flatnonzero(az[k] <= thr * zmax[k])
                if 0 < small.size < n and small.size not in seen:
                    seen.add(small.size)
                    candidates.append(small)
        candidates.append(np.arange(n))
        for free in candidates:
            yk = feasible(_min_q_norm_completion(a, a[k], best_y[k], free, q), k)
            val = float(_q_norm_p(yk, q, p))
            if val < best[k]:
                best[k], best_y[k] = val, yk
            if best[k] - lower[k] <= 1e-2 * gap_tol * best[k]:
                break
    return best


def lp_sensitivities(a, p, *, method: str = "auto", tol: float = 1e-10, max_iter: int = 100,
                     gap_tol: float = GAP_TOL,
                     allow_rank_deficient: bool = False) -> SensitivityResult:
    r"""The exact :math:`\ell_p` sensitivities of the rows of ``a``, with certificates.

    .. math:: s_i = \sup_{Ax \ne 0} |a_i^\top x|^p / \|Ax\|_p^p

    Parameters
    ----------
    a : (n, d) array
        ``n >= d``, full column rank ``d`` (see ``allow_rank_deficient``).
    p : float
        ``p >= 1``.
    method : {"auto", "closed_form", "vertex", "lp", "newton"}
        ``auto``: closed form for ``p = 2``, the vertex walk for ``p = 1``,
        Newton otherwise. ``lp`` (``p = 1`` only) solves one HiGHS LP per
        row (rows whose HiGHS certificate misses ``gap_tol`` are re-solved
        by the vertex walk); ``newton`` requires ``p > 1``.
    tol : float
        ``> 0``. Newton's stopping rule (relative decrement, scaled by
        1e-6); the reported certificate is what counts.
    max_iter : int
        ``>= 1``. Newton steps per smoothing stage.
    gap_tol : float, default 1e-9
        ``> 0``. The certificate promised for every row:
        ``upper_i - lower_i <= gap_tol * upper_i``. Newton rows within a
        factor 100 of it are refined by re-solving the dual point for the
        least q-norm (needed near ``p = 1``, where the dual read off a primal
        point next to a degenerate vertex of the l1 problem is
        ill-determined); ``lp`` rows that miss it are re-solved by the vertex
        walk; a row that still misses it raises.
    allow_rank_deficient : bool, default False
        Compute on an orthonormal basis of the column space instead of
        raising for rank ``< d``.

    Returns
    -------
    SensitivityResult

    Raises
    ------
    ValueError
        For ``p < 1``, ``n < d``, rank ``< d`` (unless allowed), NaN/inf, a
        method that does not apply to ``p``, or ``tol``, ``max_iter``,
        ``gap_tol`` out of range.
    ConvergenceError
        (a ``ValueError`` and a ``RuntimeError``) when some row's certified
        relative gap exceeds ``gap_tol``: no uncertified result is returned.

    References
    ----------
    Woodruff and Yasuda, "Sharper Bounds for ell_p Sensitivity Sampling"
    (ICML 2023), Section 1 (the definition).
    """
    p = check_p(p)
    if method not in METHODS:
        raise ValueError(f"method: must be one of {METHODS} (got {method!r})")
    tol = check_real("tol", tol, low=0.0, low_open=True)
    max_iter = check_int("max_iter", max_iter, low=1)
    gap_tol = check_real("gap_tol", gap_tol, low=0.0, low_open=True)
    a = check_design("a", a, allow_rank_deficient=allow_rank_deficient)
    n, d = a.shape
    if method == "auto":
        method = "closed_form" if p == 2.0 else ("vertex" if p == 1.0 else "newton")
    if method == "closed_form":
        if p != 2.0:
            raise ValueError(f"method: 'closed_form' needs p = 2 (got p = {p})")
        tau = leverage_scores(a)
        return SensitivityResult(tau, tau.copy(), tau.copy(), p, method, d,
                                 np.zeros(n, dtype=np.int64))
    if method in ("vertex", "lp") and p != 1.0:
        raise ValueError(f"method: {method!r} needs p = 1 (got p = {p})")
    if method == "newton" and p == 1.0:
        raise ValueError("method: 'newton' needs p > 1 (use 'vertex' or 'lp' for p = 1)")
    # rows along one direction act as a single row (exact; removes duplicate-row degeneracy)
    merged, group, share = merge_parallel_rows(a, p)
    # sensitivities depend only on the column space: an orthonormal basis is best conditioned
    merged = np.linalg.qr(merged)[0]
    if method == "vertex":
        lower, upper, its = l1_sensitivities_vertex(merged)
    elif method == "lp":
        lower, upper = l1_sensitivities_lp(merged)
        its = np.zeros(merged.shape[0], dtype=np.int64)
        # HiGHS stops at its own tolerances (about 1e-7); rows whose certificate misses
        # gap_tol are re-solved at a certified vertex (the vertex walk's pivot count is kept)
        redo = upper - lower > gap_tol * upper
        if np.any(redo):
            v_lower, v_upper, v_pivots = l1_sensitivities_vertex(merged)
            better = redo & (v_upper - v_lower < upper - lower)
            lower[better], upper[better] = v_lower[better], v_upper[better]
            its[better] = v_pivots[better]
    else:
        lower, upper, its = _newton_sensitivities(merged, p, tol=tol, max_iter=max_iter,
                                                  gap_tol=gap_tol)
    with np.errstate(divide="ignore", invalid="ignore"):
        gap = np.where(upper > 0, (upper - lower) / upper, 0.0)
    if not np.all(np.isfinite(lower) & np.isfinite(upper)) or np.max(gap) > gap_tol:
        worst = int(np.argmax(np.where(np.isfinite(gap), gap, np.inf)))
        raise ConvergenceError(
            f"gap_tol: the {method} certificate must bracket every sensitivity to the relative "
            f"gap gap_tol = {gap_tol:g} (got {gap[worst]:.3g} on a row with bounds "
            f"[{lower[worst]:.17g}, {upper[worst]:.17g}] at p = {p}); raise max_iter or "
            "gap_tol")
    lo = np.where(group >= 0, share * lower[group], 0.0)
    up = np.where(group >= 0, share * upper[group], 0.0)
    it = np.where(group >= 0, its[group], 0)
    return SensitivityResult(0.5 * (lo + up), lo, up, p, method, d, it)


def total_sensitivity(a, p, **kwargs) -> float:
    r"""The total :math:`\ell_p` sensitivity :math:`\mathfrak S = \sum_i s_i` of ``a``.

    Parameters
    ----------
    a : (n, d) array
    p : float, >= 1
    **kwargs
        Passed to :func:`lp_sensitivities`.
    """
    return lp_sensitivities(a, p, **kwargs).total


def sensitivity_bounds(d: int, p: float) -> tuple[float, float]:
    r"""The range of the total sensitivity of a rank-``d`` matrix.

    .. math::

        d^{p/2} \le \mathfrak S \le d \quad (p \le 2), \qquad
        d \le \mathfrak S \le d^{p/2} \quad (p \ge 2).

    Both follow from the :math:`\ell_p` Lewis weights ``w`` (which sum to
    ``d``): for :math:`p \le 2`,
    :math:`d^{p/2-1} w_i \le s_i \le w_i`; for :math:`p \ge 2`,
    :math:`w_i \le s_i \le d^{p/2-1} w_i` (Hölder in the Lewis basis).

    References
    ----------
    Woodruff and Yasuda, "Sharper Bounds for ell_p Sensitivity Sampling"
    (ICML 2023), Section 4 (total sensitivity bounds).
    """
    from .._validation import check_int

    d = check_int("d", d, low=1)
    p = check_p(p)
    if p <= 2.0:
        return float(d) ** (p / 2.0), float(d)
    return float(d), float(d) ** (p / 2.0)
