r"""Preconditioned conjugate gradients for the weighted grid Laplacian, in torch (CPU or CUDA).

The operator :math:`L\phi = \sum_a D_a^T W_a D_a \phi` is applied matrix-free
with tensor differences on the grid, so the solver runs wherever the tensors
live. Preconditioners: ``"jacobi"`` (the diagonal of :math:`L`, matrix-free)
and ``"multigrid"`` (the V-cycle of :class:`toytheory.gauge._sparse.MultigridPreconditioner`,
built once with scipy on the CPU and moved to the device as sparse CSR tensors;
the finest level reuses the matrix-free operator). The recursion is the one of
:func:`toytheory.gauge._sparse.projected_cg`: the residual is projected
obliquely back onto :math:`\mathbf 1^T r = 0` after every update.

torch is imported lazily: this module is only loaded by the torch solver.
"""

from __future__ import annotations

import numpy as np

__all__ = ["torch_weighted_poisson_cg"]


def _apply_laplacian(torch, phi, weights, spacing):
    """:math:`\\sum_a D_a^T (w_a D_a\\phi)` with tensor differences."""
    out = torch.zeros_like(phi)
    for a, (w, h) in enumerate(zip(weights, spacing)):
        flux = w * torch.diff(phi, dim=a) / (h * h)
        n = phi.shape[a]
        out.narrow(a, 1, n - 1).add_(flux)
        out.narrow(a, 0, n - 1).sub_(flux)
    return out


def _laplacian_diagonal(torch, shape, weights, spacing, like):
    diag = torch.zeros(shape, dtype=like.dtype, device=like.device)
    for a, (w, h) in enumerate(zip(weights, spacing)):
        n = shape[a]
        c = w / (h * h)
        diag.narrow(a, 1, n - 1).add_(c)
        diag.narrow(a, 0, n - 1).add_(c)
    return diag


def _to_torch_csr(torch, matrix, device, dtype):
    import warnings

    m = matrix.tocsr()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "sparse CSR support is in beta"
        return torch.sparse_csr_tensor(
        torch.as_tensor(m.indptr, dtype=torch.int64, device=device),
        torch.as_tensor(m.indices, dtype=torch.int64, device=device),
        torch.as_tensor(m.data, dtype=dtype, device=device), size=m.shape)


class _TorchMultigrid:
    def __init__(self, torch, mg, fine_apply, device, dtype):
        self.torch = torch
        self.fine_apply = fine_apply
        self.omega = mg.omega
        self.sweeps = mg.sweeps
        self.levels = []
        for i, (a, dinv, p) in enumerate(mg.levels):
            a_t = None if i == 0 else _to_torch_csr(torch, a, device, dtype)
            self.levels.append((a_t, torch.as_tensor(dinv, dtype=dtype, device=device),
                                _to_torch_csr(torch, p, device, dtype),
                                _to_torch_csr(torch, p.T.tocsr(), device, dtype)))
        self.coarse = torch.as_tensor(mg.coarse_inverse, dtype=dtype, device=device)

    def _matvec(self, level, a_t, x):
        if level == 0:
            return self.fine_apply(x)
        return (a_t @ x[:, None])[:, 0]

    def _cycle(self, level, r):
        if level == len(self.levels):
            return self.coarse @ r
        a_t, dinv, p, pt = self.levels[level]
        w = self.omega
        x = w * dinv * r
        for _ in range(self.sweeps - 1):
            x = x + w * dinv * (r - self._matvec(level, a_t, x))
        rc = (pt @ (r - self._matvec(level, a_t, x))[:, None])[:, 0]
        x = x + (p @ self._cycle(level + 1, rc)[:, None])[:, 0]
        for _ in range(self.sweeps):
            x = x + w * dinv * (r - self._matvec(level, a_t, x))
        return x

    def __call__(self, r):
        z = self._cycle(0, r)
        return z - z.mean()


def torch_weighted_poisson_cg(shape, spacing, weights, rhs, *, tol=1e-10, maxiter=None,
                              preconditioner="jacobi", device="cpu", scipy_matrix=None):
    """Solve :math:`L\\phi = b` (constants projected out) by preconditioned CG in torch float64.

    Parameters
    ----------
    shape : tuple of int
    spacing : tuple of float
    weights : sequence of numpy arrays (edge shapes)
    rhs : numpy array of shape ``shape``
    tol : float
        Stop when :math:`\\|b - L\\phi\\| \\le tol\\,\\|b\\|`.
    maxiter : int, optional
        Default ``20 * max(shape) + 100`` (Jacobi) or 200 (multigrid).
    preconditioner : {"jacobi", "multigrid"}
    device : str
    scipy_matrix : scipy sparse matrix, optional
        The assembled :math:`L` (needed for ``"multigrid"``).

    Returns
    -------
    phi : numpy array of shape ``shape``
    iterations : int
    relative_residual : float
    """
    import torch

    dev = torch.device(device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError("device: CUDA requested but no CUDA device is available")
    dtype = torch.float64
    w_t = [torch.as_tensor(np.ascontiguousarray(w), dtype=dtype, device=dev) for w in weights]
    b = torch.as_tensor(np.ascontiguousarray(rhs), dtype=dtype, device=dev)
    n = int(np.prod(shape))
    diag = _laplacian_diagonal(torch, shape, w_t, spacing, b).reshape(-1)
    dsum = diag.sum()

    def apply_flat(x):
        return _apply_laplacian(torch, x.reshape(shape), w_t, spacing).reshape(-1)

    if preconditioner == "jacobi":
        dinv = 1.0 / diag

        def precond(r):
            return dinv * r
        default_maxiter = 20 * max(shape) + 100
    elif preconditioner == "multigrid":
        from ._sparse import MultigridPreconditioner

        if scipy_matrix is None:
            raise ValueError("scipy_matrix: the assembled operator is needed for multigrid")
        precond = _TorchMultigrid(torch, MultigridPreconditioner(scipy_matrix, shape),
                                  apply_flat, dev, dtype)
        default_maxiter = 200
    else:
        raise ValueError(f"preconditioner: must be 'jacobi' or 'multigrid' "
                         f"(got {preconditioner!r})")
    maxiter = default_maxiter if maxiter is None else int(maxiter)
    bflat = b.reshape(-1)
    bnorm = float(torch.linalg.vector_norm(bflat))
    x = torch.zeros(n, dtype=dtype, device=dev)
    if bnorm == 0.0:
        return np.zeros(shape), 0, 0.0
    r = bflat - (bflat.sum() / dsum) * diag
    z = precond(r)
    p = z.clone()
    rz = torch.dot(r, z)
    it = 0
    rel = 1.0
    while it < maxiter:
        ap = apply_flat(p)
        alpha = rz / torch.dot(p, ap)
        x = x + alpha * p
        r = r - alpha * ap
        r = r - (r.sum() / dsum) * diag  # oblique projection onto 1^T r = 0 (see _sparse)
        it += 1
        rel = float(torch.linalg.vector_norm(r)) / bnorm
        if rel <= tol:
            break
        z = precond(r)
        rz_new = torch.dot(r, z)
        p = z + (rz_new / rz) * p
        rz = rz_new
    true_rel = float(torch.linalg.vector_norm(bflat - apply_flat(x))) / bnorm
    x = x - x.mean()
    return x.reshape(shape).cpu().numpy(), it, true_rel
