r"""Exact :math:`\ell_1` sensitivities: a linear program per row, and a vertex walk for all rows.

The :math:`\ell_1` sensitivity of row :math:`a_i` of a full-rank ``(n, d)``
matrix is the support function of the polytope
:math:`P = \{x : \|Ax\|_1 \le 1\}` at :math:`a_i`, and by LP duality the gauge
of the zonotope :math:`Z = A^\top [-1, 1]^n` (the polar of :math:`P`):

.. math::

    s_i = \max_{x \in P} a_i^\top x
        = \min \{ \|y\|_\infty : A^\top y = a_i \}.

Two exact methods are offered.

``l1_sensitivities_lp``
    one HiGHS linear program per row (scipy ``linprog``), the reference.
``l1_sensitivities_vertex``
    a primal simplex on :math:`P` itself, batched over all rows in numpy. A
    vertex of :math:`P` is a ray of the hyperplane arrangement of the rows:
    ``x`` with :math:`a_k^\top x = 0` for ``d - 1`` independent rows
    :math:`k \in B`, scaled to :math:`\|Ax\|_1 = 1`. At such a vertex the
    dual candidate :math:`y_k = t\,\mathrm{sign}(a_k^\top x)` (:math:`k
    \notin B`), with :math:`(t, y_B)` solving the ``d x d`` system
    :math:`A^\top y = a_i`, certifies optimality when
    :math:`|y_B| \le t`: then :math:`a_i^\top x = t = \|y\|_\infty`. Otherwise
    a violated index leaves ``B`` (steepest-edge choice) and the walk follows
    the edge of ``P`` to the first row whose sign would change (ratio test).
    Every returned value carries its certificate: a primal lower bound
    :math:`a_i^\top x / \|Ax\|_1` and a dual upper bound :math:`\|y\|_\infty`
    with :math:`A^\top y = a_i`. Rows that do not certify within
    ``max_pivots`` pivots are solved by the LP.

Neither depends on anything but the column space of ``A``.
"""

from __future__ import annotations

import numpy as np

from .._validation import check_int
from ..threads import bounded_threads
from ._checks import check_design

__all__ = ["l1_sensitivities_lp", "l1_sensitivities_vertex"]


def _lp_row(a: np.ndarray, i: int):
    from scipy.optimize import linprog
    from scipy.sparse import csr_matrix, hstack, identity, vstack

    n, d = a.shape
    c = np.zeros(n + 1)
    c[-1] = 1.0
    eye = identity(n, format="csr")
    ones = csr_matrix(np.ones((n, 1)))
    a_ub = vstack([hstack([eye, -ones]), hstack([-eye, -ones])], format="csr")
    a_eq = np.hstack([a.T, np.zeros((d, 1))])
    res = linprog(c, A_ub=a_ub, b_ub=np.zeros(2 * n), A_eq=a_eq, b_eq=a[i],
                  bounds=[(None, None)] * n + [(0, None)], method="highs")
    if res.status != 0:  # pragma: no cover - a bounded feasible LP for full-rank A
        raise RuntimeError(f"HiGHS failed on row {i}: {res.message}")
    x = np.asarray(res.eqlin.marginals, dtype=float)  # d t / d a_i = the maximiser over P
    z1 = np.abs(a @ x).sum()
    lower = float(abs(a[i] @ x) / z1) if z1 > 0 else 0.0
    y = np.asarray(res.x[:n])
    # project y exactly onto {A^T y = a_i} before reading the dual bound off it
    y = y + a @ np.linalg.solve(a.T @ a, a[i] - a.T @ y)
    upper = float(np.max(np.abs(y)))
    return lower, upper


def l1_sensitivities_lp(a, rows=None):
    r"""Exact :math:`\ell_1` sensitivities by one HiGHS LP per row.

    .. math:: s_i = \min \{\|y\|_\infty : A^\top y = a_i\}

    Parameters
    ----------
    a : (n, d) array
        ``n >= d``, full column rank (``ValueError`` otherwise; for a
        rank-deficient matrix pass an orthonormal basis of its column space,
        :func:`toytheory.sampling._checks.column_space_basis`).
    rows : sequence of int, optional
        Which rows (default all), distinct or not, in ``[0, n)``.

    Returns
    -------
    lower, upper : (len(rows),) arrays
        The primal value :math:`a_i^\top x / \|Ax\|_1` at the LP's maximiser
        and the dual value :math:`\|y\|_\infty` after projecting ``y`` onto
        :math:`A^\top y = a_i`; they bracket :math:`s_i`.

    Raises
    ------
    ValueError
        ``a`` not a finite full-column-rank matrix with ``n >= d``, or
        ``rows`` not integer indices in ``[0, n)``.

    References
    ----------
    Woodruff and Yasuda, "Sharper Bounds for ell_p Sensitivity Sampling"
    (ICML 2023), Section 1 (definition of sensitivities); the LP is the p = 1
    case.
    """
    a = check_design("a", a)
    scale = np.max(np.abs(a))
    a = a / scale
    if rows is None:
        rows = range(a.shape[0])
    else:
        rows = np.asarray(rows)
        if rows.ndim != 1 or (rows.size and not np.issubdtype(rows.dtype, np.integer)):
            raise ValueError(f"rows: must be a 1-D sequence of integer row indices (got {rows!r})")
        if rows.size and (rows.min() < 0 or rows.max() >= a.shape[0]):
            raise ValueError(f"rows: must be row indices in [0, {a.shape[0]}) "
                             f"(got range [{rows.min()}, {rows.max()}])")
    out = np.array([_lp_row(a, int(i)) for i in rows], dtype=float).reshape(-1, 2)
    return out[:, 0], out[:, 1]


# --------------------------------------------------------------------------- vertex walk

def _initial_directions(a: np.ndarray, rows: np.ndarray, irls_steps: int) -> np.ndarray:
    """Starting points: the l2 maximisers, refined by a few IRLS steps towards l1."""
    n, d = a.shape
    g = a.T @ a
    x = np.linalg.solve(g, a[rows].T).T
    z = x @ a.T
    outer = (a[:, :, None] * a[:, None, :]).reshape(n, d * d)
    for step in range(irls_steps):
        eps = np.max(np.abs(z), axis=1, keepdims=True) * 10.0 ** (-1.0 - 0.5 * step)
        weights = 1.0 / np.maximum(np.abs(z), eps)
        gram = (weights @ outer).reshape(-1, d, d)  # A^T diag(weights_k) A for every row k
        x = np.linalg.solve(gram, a[rows][:, :, None])[:, :, 0]
        z = x @ a.T
    return x


def _initial_bases(a: np.ndarray, x: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """For each row, d - 1 independent rows with the smallest |a_k^T x| / |a_k|."""
    n, d = a.shape
    m = rows.size
    norms = np.linalg.norm(a, axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        score = np.abs(x @ a.T) / norms
    score[:, norms == 0] = np.inf
    score[np.arange(m), rows] = np.inf
    order = np.argsort(score, axis=1, kind="stable")
    basis = np.full((m, d - 1), -1, dtype=np.int64)
    q = np.zeros((m, d, d - 1))
    count = np.zeros(m, dtype=np.int64)
    for c in range(n):
        todo = np.flatnonzero(count < d - 1)
        if todo.size == 0:
            break
        cand = order[todo, c]
        v = a[cand]
        coef = np.einsum("kdj,kd->kj", q[todo], v)
        res = v - np.einsum("kdj,kj->kd", q[todo], coef)
        rn = np.linalg.norm(res, axis=1)
        ok = rn > 1e-9 * np.maximum(norms[cand], 1e-300)
        ok &= np.isfinite(score[todo, cand])
        sel = todo[ok]
        q[sel, :, count[sel]] = res[ok] / rn[ok, None]
        basis[sel, count[sel]] = cand[ok]
        count[sel] += 1
    if np.any(count < d - 1):  # pragma: no cover - full rank guarantees d - 1 others
        # the row itself may be needed when the others span less than d - 1 dimensions
        raise RuntimeError("could not find d - 1 independent rows for a starting vertex")
    return basis


def _null_vectors(a: np.ndarray, basis: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Unit vectors r with A_B r = 0, signed so that target^T r >= 0."""
    _, _, vt = np.linalg.svd(a[basis])
    r = vt[:, -1, :]
    sign = np.where(np.einsum("kd,kd->k", r, target) < 0, -1.0, 1.0)
    return r * sign[:, None]


def _batched_solve(mats: np.ndarray, rhs: np.ndarray):
    """Solve each system; rows whose matrix is singular come back as NaN."""
    try:
        return np.linalg.solve(mats, rhs)
    except np.linalg.LinAlgError:
        out = np.full(rhs.shape, np.nan)
        for k in range(mats.shape[0]):
            try:
                out[k] = np.linalg.solve(mats[k], rhs[k])
            except np.linalg.LinAlgError:
                pass
        return out


def _dual_at(a, r, basis, targets):
    """Dual candidate (t, y_B) at the vertices r; z = A r with exact zeros on B."""
    k, dm1 = basis.shape
    d = dm1 + 1
    z = r @ a.T
    rows_k = np.arange(k)[:, None]
    z[rows_k, basis] = 0.0
    zmax = np.max(np.abs(z), axis=1, keepdims=True)
    sig = np.where(np.abs(z) > 1e-13 * zmax, np.sign(z), 0.0)
    mats = np.empty((k, d, d))
    mats[:, :, 0] = sig @ a
    mats[:, :, 1:] = np.transpose(a[basis], (0, 2, 1))
    sol = _batched_solve(mats, targets[:, :, None])[:, :, 0]
    return z, sol[:, 0], sol[:, 1:]


def l1_sensitivities_vertex(a, *, max_pivots: int | None = None, irls_steps: int = 8,
                            fallback: bool = True):
    r"""Exact :math:`\ell_1` sensitivities of all rows by a batched vertex walk on ``P``.

    .. math:: s_i = \max \{a_i^\top x : \|Ax\|_1 \le 1\}

    See the module docstring for the method and its certificate.

    Parameters
    ----------
    a : (n, d) array
        ``n >= d``, full column rank (``ValueError`` otherwise).
    max_pivots : int, optional
        Pivots per row before the row is handed to the LP (default
        ``60 + 20 d``).
    irls_steps : int, default 8
        Iteratively reweighted least-squares steps that move the starting
        point from the :math:`\ell_2` towards the :math:`\ell_1` maximiser.
    fallback : bool, default True
        Solve rows that did not certify by the LP. With ``False`` they are
        returned as NaN.

    Returns
    -------
    lower, upper : (n,) arrays
        Primal and dual values bracketing :math:`s_i` (equal to rounding
        error at a certified vertex).
    pivots : (n,) int array
        Pivots each row took (``-1``: solved by the LP fallback).

    Raises
    ------
    ValueError
        ``a`` not a finite full-column-rank matrix with ``n >= d``, or
        ``max_pivots`` / ``irls_steps`` not a non-negative integer.
    """
    a = check_design("a", a)
    irls_steps = check_int("irls_steps", irls_steps, low=0)
    if max_pivots is not None:
        max_pivots = check_int("max_pivots", max_pivots, low=0)
    # the walk is many small solves and products: bounded BLAS threads (toytheory.threads)
    with bounded_threads():
        return _vertex_walk(a, max_pivots, irls_steps, fallback)


def _vertex_walk(a, max_pivots, irls_steps, fallback):
    a = a / np.max(np.abs(a))
    n, d = a.shape
    if d == 1:
        col = np.abs(a[:, 0])
        s = col / col.sum()
        return s, s.copy(), np.zeros(n, dtype=np.int64)
    if max_pivots is None:
        max_pivots = 60 + 20 * d
    rows = np.arange(n)
    x0 = _initial_directions(a, rows, irls_steps)
    basis = _initial_bases(a, x0, rows)
    r = _null_vectors(a, basis, a)
    pivots = np.zeros(n, dtype=np.int64)
    certified = np.zeros(n, dtype=bool)
    active = np.ones(n, dtype=bool)
    for _ in range(max_pivots + 1):
        idx = np.flatnonzero(active)
        if idx.size == 0:
            break
        k = idx.size
        bas, rr = basis[idx], r[idx]
        z, t, y_b = _dual_at(a, rr, bas, a[idx])
        bad = ~np.isfinite(t) | ~np.all(np.isfinite(y_b), axis=1) | (t <= 0)
        with np.errstate(divide="ignore", invalid="ignore"):
            viol = np.abs(y_b) / t[:, None]
        done = ~bad & (np.max(viol, axis=1) <= 1.0 + 1e-12)
        certified[idx[done]] = True
        stop = done | bad | (pivots[idx] >= max_pivots)
        active[idx[stop]] = False
        go = ~stop
        if not np.any(go):
            break
        idx, k = idx[go], int(go.sum())
        bas, rr, z, y_b, viol = bas[go], rr[go], z[go], y_b[go], viol[go]
        ar = np.arange(k)
        edge = np.empty((k, d, d))
        edge[:, :d - 1, :] = a[bas]
        edge[:, d - 1, :] = rr
        try:
            inv = np.linalg.inv(edge)
        except np.linalg.LinAlgError:  # pragma: no cover - [A_B; r] is nonsingular
            inv = np.stack([np.linalg.pinv(e) for e in edge])
        dirs = inv[:, :, :d - 1]  # column j: a_B^T w = e_j, r^T w = 0
        score = (viol - 1.0) / np.linalg.norm(dirs, axis=1)
        score = np.where(viol > 1.0 + 1e-12, score, -np.inf)
        leave = np.argmax(score, axis=1)
        w = dirs[ar, :, leave] * np.sign(y_b[ar, leave])[:, None]
        aw = w @ a.T
        zmax = np.max(np.abs(z), axis=1, keepdims=True)
        zero = np.abs(z) <= 1e-13 * zmax
        awmax = np.max(np.abs(aw), axis=1, keepdims=True)
        moving = np.abs(aw) > 1e-13 * awmax
        blocking = moving & ((z * aw < 0) | zero)
        blocking[ar[:, None], bas] = False
        with np.errstate(divide="ignore", invalid="ignore"):
            lam = np.where(blocking, np.abs(z) / np.abs(aw), np.inf)
            lam = np.where(zero & blocking, 0.0, lam)
        enter = np.argmin(lam, axis=1)
        step = lam[ar, enter]
        ok = np.isfinite(step)
        # an unbounded edge cannot occur for full-rank A; such rows go to the LP
        active[idx[~ok]] = False
        idx, ar2 = idx[ok], ar[ok]
        new_r = rr[ar2] + step[ok, None] * w[ok]
        r[idx] = new_r / np.linalg.norm(new_r, axis=1)[:, None]
        basis[idx, leave[ok]] = enter[ok]
        pivots[idx] += 1
    lower = np.full(n, np.nan)
    upper = np.full(n, np.nan)
    done_idx = np.flatnonzero(certified)
    if done_idx.size:
        bas = basis[done_idx]
        rr = _null_vectors(a, bas, a[done_idx])
        z, t, y_b = _dual_at(a, rr, bas, a[done_idx])
        primal = np.einsum("kd,kd->k", rr, a[done_idx]) / np.abs(rr @ a.T).sum(axis=1)
        dual = np.maximum(t, np.max(np.abs(y_b), axis=1))
        good = np.isfinite(primal) & np.isfinite(dual) & (dual >= primal * (1 - 1e-9))
        lower[done_idx[good]] = primal[good]
        upper[done_idx[good]] = np.maximum(dual[good], primal[good])
    missing = np.flatnonzero(~np.isfinite(lower))
    if missing.size and fallback:
        lo, up = l1_sensitivities_lp(a, missing)
        lower[missing], upper[missing] = lo, up
        pivots[missing] = -1
    return lower, upper, pivots
