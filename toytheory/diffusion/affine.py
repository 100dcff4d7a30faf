r"""The exact output law of an affine sampler started from a Gaussian.

On Gaussian data the exact denoiser is affine in :math:`x`, so every linear
solver step (DDIM, DPM-Solver(++), UniPC, DEIS, Heun, ...) is affine, and a
whole deterministic sampler is a map :math:`x_T \mapsto Mx_T + c`; a
stochastic one is :math:`(x_T, z) \mapsto M x_T + N z + c` with the injected
standard normal noise :math:`z`. Then

.. math:: x_T \sim N(m, S) \;\Rightarrow\; \text{output} \sim N(Mm + c,\; MSM^T + NN^T)

exactly, with no Monte Carlo (REFERENCE.md section 1, derived). The map is
read off the sampler itself by probing it at 0 and at the basis vectors;
the affinity is then checked at random points, so a sampler that is not
affine is refused rather than silently linearised.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from .._random import as_generator
from .._validation import as_float_array, check_int, check_psd, check_real

__all__ = ["AffineMap", "affine_map_of", "gaussian_pushforward"]


@dataclass(frozen=True)
class AffineMap:
    """:math:`(x, z) \\mapsto Mx + Nz + c`.

    Attributes
    ----------
    matrix : (d_out, d) array
        M.
    noise_matrix : (d_out, q) array
        N (q = 0 for a deterministic sampler).
    offset : (d_out,) array
        c.
    residual : float
        Largest relative deviation from affinity seen at the random check points.
    """

    matrix: np.ndarray
    noise_matrix: np.ndarray
    offset: np.ndarray
    residual: float

    def __call__(self, x, z=None):
        out = np.asarray(x, float) @ self.matrix.T + self.offset
        if z is not None and self.noise_matrix.shape[1]:
            out = out + np.asarray(z, float) @ self.noise_matrix.T
        return out


def affine_map_of(fn: Callable, d: int, *, noise_dim: int = 0, scale: float = 1.0,
                  rtol: float = 1e-8, checks: int = 3, rng=0) -> AffineMap:
    """Read the affine map of a batched sampler by probing it.

    Parameters
    ----------
    fn : callable
        ``fn(x)`` (``noise_dim == 0``) or ``fn(x, z)``, with ``x`` of shape
        (n, d) and ``z`` of shape (n, noise_dim), returning (n, d_out).
    d : int
        Input dimension.
    noise_dim : int, default 0
        Dimension of the standard normal noise the sampler consumes.
    scale : float, default 1
        Probe size (use the typical size of x_T).
    rtol : float, default 1e-8
        Allowed relative deviation from affinity at the check points.
    checks : int, default 3
        Random points at which affinity is verified.
    rng : Generator, int or None

    Raises
    ------
    ValueError
        ``fn: is not affine ...`` when the check points deviate by more than ``rtol``.
    """
    d = check_int("d", d, low=1)
    noise_dim = check_int("noise_dim", noise_dim, low=0)
    scale = check_real("scale", scale, low=0.0, low_open=True)
    checks = check_int("checks", checks, low=1)
    gen = as_generator(rng)
    probes_x = np.zeros((1 + d + noise_dim, d))
    probes_x[1:1 + d] = scale * np.eye(d)
    probes_z = np.zeros((1 + d + noise_dim, noise_dim))
    if noise_dim:
        probes_z[1 + d:] = np.eye(noise_dim)
    call = (lambda x, z: fn(x, z)) if noise_dim else (lambda x, z: fn(x))
    out = as_float_array("fn(x)", np.asarray(call(probes_x, probes_z)), ndim=2)
    c = out[0]
    m = ((out[1:1 + d] - c) / scale).T
    n = (out[1 + d:] - c).T if noise_dim else np.zeros((out.shape[1], 0))
    x_check = scale * gen.standard_normal((checks, d))
    z_check = gen.standard_normal((checks, noise_dim))
    got = np.asarray(call(x_check, z_check), float)
    want = x_check @ m.T + z_check @ n.T + c
    size = np.max(np.abs(got)) + np.max(np.abs(c)) + np.finfo(float).tiny
    residual = float(np.max(np.abs(got - want)) / size)
    if residual > rtol:
        raise ValueError(f"fn: is not affine (relative deviation {residual:.3g} > rtol {rtol:g} "
                         "at random check points)")
    return AffineMap(m, n, c, residual)


def gaussian_pushforward(affine: AffineMap, mean, cov):
    """The law of :math:`Mx + Nz + c` for :math:`x \\sim N(m, S)`, :math:`z \\sim N(0, I)`.

    Returns
    -------
    mean : (d_out,) array
        :math:`Mm + c`.
    cov : (d_out, d_out) array
        :math:`MSM^T + NN^T` (exactly symmetrised).
    """
    m = as_float_array("mean", mean, ndim=1)
    s = check_psd("cov", cov)
    if m.size != affine.matrix.shape[1] or s.shape != (m.size, m.size):
        raise ValueError(f"mean, cov: must have dimension {affine.matrix.shape[1]} "
                         f"(got {m.size} and {s.shape})")
    mean_out = affine.matrix @ m + affine.offset
    cov_out = affine.matrix @ s @ affine.matrix.T + affine.noise_matrix @ affine.noise_matrix.T
    return mean_out, 0.5 * (cov_out + cov_out.T)
