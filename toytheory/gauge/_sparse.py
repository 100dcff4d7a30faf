r"""The weighted graph Laplacian of a node grid, and a geometric multigrid preconditioner.

The discrete weighted Poisson operator is

.. math:: L = \sum_a D_a^T W_a D_a,

with :math:`D_a` the forward difference along axis ``a`` (nodes to edges,
divided by :math:`h_a`) and :math:`W_a` the diagonal of edge weights. It is
symmetric positive semi-definite; on a connected grid (all weights positive)
its null space is the constants.

Preconditioners for conjugate gradients (``pyamg`` is not a dependency):

``"jacobi"``
    :math:`M^{-1} = \operatorname{diag}(L)^{-1}`. Because
    :math:`\operatorname{diag}(L)^{-1}L` is, up to :math:`h^2`, similar to the
    operator :math:`\Delta + \nabla\log p\cdot\nabla` (self-adjoint in
    :math:`L^2(p)`), diagonal scaling removes the dynamic range of ``p``; the
    iteration count still grows like the number of nodes per axis.
``"multigrid"`` (default)
    One symmetric V-cycle: linear interpolation :math:`P` (tensor product of
    1-D linear interpolation from every second node), Galerkin coarse
    operators :math:`P^T L P` (which keep the constants in the null space),
    two damped-Jacobi sweeps before and after the coarse correction, and on the
    coarsest grid (at most 400 nodes) the exact generalized inverse of
    :func:`pinned_inverse`. The
    cycle is a symmetric positive semi-definite operator, so it is a valid
    preconditioner for CG on the complement of the constants; the iteration
    count is nearly independent of the grid size.
"""

from __future__ import annotations

import numpy as np

__all__ = ["weighted_laplacian", "divergence_of_flux", "MultigridPreconditioner",
           "jacobi_preconditioner", "linear_interpolation_1d", "projected_cg"]


def _flat_index(shape):
    return np.arange(int(np.prod(shape)), dtype=np.int64).reshape(shape)


def weighted_laplacian(shape, spacing, weights):
    """Assemble :math:`L = \\sum_a D_a^T W_a D_a` as a CSR matrix.

    Parameters
    ----------
    shape : tuple of int
        Nodes per axis.
    spacing : tuple of float
    weights : sequence of arrays
        ``weights[a]`` has the edge shape of axis ``a`` (``shape`` with one
        fewer node along ``a``).
    """
    import scipy.sparse as sp

    idx = _flat_index(shape)
    n = idx.size
    rows, cols, vals = [], [], []
    diag = np.zeros(n)
    for a, (h, w) in enumerate(zip(spacing, weights)):
        lo = [slice(None)] * len(shape)
        hi = [slice(None)] * len(shape)
        lo[a] = slice(0, -1)
        hi[a] = slice(1, None)
        i = idx[tuple(lo)].reshape(-1)
        j = idx[tuple(hi)].reshape(-1)
        c = np.asarray(w, float).reshape(-1) / (h * h)
        rows += [i, j]
        cols += [j, i]
        vals += [-c, -c]
        diag += np.bincount(i, c, minlength=n) + np.bincount(j, c, minlength=n)
    rows.append(np.arange(n))
    cols.append(np.arange(n))
    vals.append(diag)
    mat = sp.csr_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
                        shape=(n, n))
    mat.sum_duplicates()
    return mat


def divergence_of_flux(shape, spacing, weights, field):
    """:math:`\\sum_a D_a^T (W_a f_a)`, the discrete (negative) divergence of the flux ``W f``.

    Written with array differences, independently of :func:`weighted_laplacian`.

    Returns
    -------
    array of shape ``shape``
    """
    out = np.zeros(shape)
    for a, (h, w, f) in enumerate(zip(spacing, weights, field)):
        flux = np.asarray(w) * np.asarray(f) / h
        pad = [(0, 0)] * len(shape)
        pad[a] = (1, 1)
        padded = np.pad(flux, pad)
        lo = [slice(None)] * len(shape)
        hi = [slice(None)] * len(shape)
        lo[a] = slice(0, -1)
        hi[a] = slice(1, None)
        # node i receives +flux of the edge ending at i, -flux of the edge starting at i
        out += padded[tuple(lo)] - padded[tuple(hi)]
    return out


def projected_cg(matrix, b, preconditioner, *, tol: float, maxiter: int):
    r"""Preconditioned CG for the singular system :math:`L\phi = b`, :math:`\mathbf 1^T b = 0`.

    The textbook PCG recursion, with the residual projected back onto the range
    of :math:`L` (:math:`\mathbf 1^T r = 0`) after every update. :math:`L` has the
    constants as null space and rounding slowly feeds a component along
    :math:`\mathbf 1` into the recursive residual, which no preconditioner removes
    (``scipy.sparse.linalg.cg`` then stagnates near :math:`10^{-10}` relative
    residual on 257 x 257 grids). The projection is oblique,
    :math:`r \leftarrow r - (\mathbf 1^T r/\mathbf 1^T d)\,d` with
    :math:`d = \operatorname{diag}(L)`, so that the correction at each node is on
    the scale of that node's equation: a uniform shift would plant rounding
    noise of the central nodes into tail nodes whose weights are 40 orders of
    magnitude smaller, where the preconditioner amplifies it.

    Parameters
    ----------
    matrix : scipy.sparse matrix (N, N)
    b : (N,) array, :math:`\mathbf 1^T b = 0` up to rounding
    preconditioner : callable
        ``z = preconditioner(r)``, symmetric positive definite on :math:`\mathbf 1^\perp`.
    tol : float
        Stop when :math:`\|b - L\phi\| \le tol\,\|b\|` (the recursive residual).
    maxiter : int

    Returns
    -------
    phi : (N,) array with zero mean
    iterations : int
    """
    b = np.asarray(b, float)
    bnorm = float(np.linalg.norm(b))
    x = np.zeros_like(b)
    if bnorm == 0.0:
        return x, 0
    diag = matrix.diagonal()
    dsum = float(diag.sum())
    r = b - (b.sum() / dsum) * diag
    z = preconditioner(r)
    p = z.copy()
    rz = float(r @ z)
    it = 0
    while it < maxiter:
        ap = matrix @ p
        alpha = rz / float(p @ ap)
        x += alpha * p
        r -= alpha * ap
        r -= (r.sum() / dsum) * diag
        it += 1
        if np.linalg.norm(r) <= tol * bnorm:
            break
        z = preconditioner(r)
        rz_new = float(r @ z)
        p = z + (rz_new / rz) * p
        rz = rz_new
    return x - x.mean(), it


def jacobi_preconditioner(matrix):
    """:math:`z = \\operatorname{diag}(L)^{-1} r` (a constant part is harmless: :math:`L\\mathbf 1 = 0`)."""
    inv = 1.0 / matrix.diagonal()

    def apply(r):
        return inv * r
    return apply


def linear_interpolation_1d(n: int):
    """Linear interpolation from the coarse nodes ``0, 2, 4, ...`` (and ``n - 1``) to all ``n``.

    Returns
    -------
    scipy.sparse.csr_matrix of shape (n, n_coarse)
    """
    import scipy.sparse as sp

    coarse = np.unique(np.concatenate([np.arange(0, n, 2), [n - 1]]))
    is_coarse = np.zeros(n, bool)
    is_coarse[coarse] = True
    fine = np.flatnonzero(~is_coarse)
    right = np.searchsorted(coarse, fine)          # index of the coarse node right of i
    left = right - 1
    lpos, rpos = coarse[left], coarse[right]
    theta = (fine - lpos) / (rpos - lpos)
    rows = np.concatenate([coarse, fine, fine])
    cols = np.concatenate([np.arange(coarse.size), left, right])
    vals = np.concatenate([np.ones(coarse.size), 1.0 - theta, theta])
    return sp.csr_matrix((vals, (rows, cols)), shape=(n, coarse.size))


def pinned_inverse(dense):
    r"""A generalized inverse of a connected weighted graph Laplacian (dense, small).

    The node with the largest diagonal is pinned to zero and the remaining
    block (symmetric positive definite) is inverted through its Cholesky
    factor: :math:`G = E A_{red}^{-1} E^T`. For every :math:`r` with
    :math:`\mathbf 1^T r = 0`, :math:`A G r = r` exactly. Unlike an
    eigenvalue-cutoff pseudo-inverse it keeps the small but genuine eigenvalues
    of the tail nodes, where the density (and the diagonal) is tiny.
    """
    from scipy.linalg import cho_factor, cho_solve

    a = 0.5 * (dense + dense.T)
    n = a.shape[0]
    pin = int(np.argmax(np.diag(a)))
    keep = np.flatnonzero(np.arange(n) != pin)
    # symmetric diagonal scaling makes the factorisation insensitive to the dynamic range
    scale = 1.0 / np.sqrt(np.diag(a)[keep])
    block = a[np.ix_(keep, keep)] * scale[:, None] * scale[None, :]
    inv = cho_solve(cho_factor(block, lower=True), np.eye(keep.size))
    g = np.zeros_like(a)
    g[np.ix_(keep, keep)] = inv * scale[:, None] * scale[None, :]
    return g


class MultigridPreconditioner:
    """A symmetric geometric V-cycle for a weighted grid Laplacian (see the module notes).

    Parameters
    ----------
    matrix : scipy.sparse matrix, (N, N)
        The fine-grid operator, N = prod(shape).
    shape : tuple of int
    coarsest : int, default 400
        Stop coarsening below this many nodes; the coarsest problem is solved
        with :func:`pinned_inverse`.
    sweeps : int, default 2
        Damped-Jacobi sweeps before and after the coarse correction.
    omega : float, default 0.6
        Jacobi damping.
    """

    def __init__(self, matrix, shape, coarsest: int = 400, sweeps: int = 2, omega: float = 0.6):
        import scipy.sparse as sp

        self.sweeps = int(sweeps)
        self.omega = float(omega)
        self.levels = []  # (A, inverse diagonal, P to this level's finer grid)
        a = matrix.tocsr()
        shape = tuple(shape)
        self.shapes = [shape]
        while int(np.prod(shape)) > coarsest and max(shape) > 3:
            factors = []
            new_shape = []
            for n in shape:
                if n > 3:
                    p1 = linear_interpolation_1d(n)
                else:
                    p1 = sp.identity(n, format="csr")
                factors.append(p1)
                new_shape.append(p1.shape[1])
            p = factors[0]
            for f in factors[1:]:
                p = sp.kron(p, f, format="csr")
            self.levels.append((a, 1.0 / a.diagonal(), p))
            a = (p.T @ a @ p).tocsr()
            shape = tuple(new_shape)
            self.shapes.append(shape)
        self.coarse_inverse = pinned_inverse(a.toarray())
        self.coarse_matrix = a

    @property
    def n_levels(self) -> int:
        return len(self.levels) + 1

    def _cycle(self, level: int, r):
        if level == len(self.levels):
            return self.coarse_inverse @ r
        a, dinv, p = self.levels[level]
        w = self.omega
        x = w * dinv * r
        for _ in range(self.sweeps - 1):
            x = x + w * dinv * (r - a @ x)
        x = x + p @ self._cycle(level + 1, p.T @ (r - a @ x))
        for _ in range(self.sweeps):
            x = x + w * dinv * (r - a @ x)
        return x

    def __call__(self, r):
        z = self._cycle(0, np.asarray(r, float))
        return z - z.mean()

    def as_linear_operator(self):
        from scipy.sparse.linalg import LinearOperator

        n = self.levels[0][0].shape[0] if self.levels else self.coarse_matrix.shape[0]
        return LinearOperator((n, n), matvec=self.__call__, dtype=float)
