r"""Orthonormal polynomial bases on :math:`[-1, 1]^D` with the uniform probability measure.

:math:`\varphi_j(x) = \sqrt{2j + 1}\, P_j(x)` (Legendre polynomials) are
orthonormal in :math:`L^2(\mu)`, :math:`\mu = U(-1, 1)`; products over a
downward-closed multi-index set give an orthonormal basis on
:math:`[-1, 1]^2`. The inverse Christoffel function

.. math:: k_m(x) = \sum_{j=1}^m \varphi_j(x)^2, \qquad \int k_m \, d\mu = m,

defines the optimal sampling density :math:`\rho = k_m/m` (with respect to
:math:`\mu`) and the weight :math:`w = m/k_m` of Nouy and Michel.

References
----------
Nouy and Michel, "Weighted least-squares approximation with determinantal
point processes and generalized volume sampling" (2023), the section on
optimal weighted least squares with i.i.d. points.
"""

from __future__ import annotations

import functools
import itertools
from dataclasses import dataclass, field

import numpy as np

from .._validation import as_float_array, check_int

__all__ = ["PolynomialBasis", "legendre_basis", "tensor_legendre_basis", "gauss_legendre_rule"]


def _legendre_1d(x: np.ndarray, degree: int) -> np.ndarray:
    """Orthonormal Legendre values, shape ``x.shape + (degree + 1,)``."""
    from scipy.special import eval_legendre

    j = np.arange(degree + 1)
    return eval_legendre(j, x[..., None]) * np.sqrt(2.0 * j + 1.0)


@dataclass(frozen=True)
class PolynomialBasis:
    """An orthonormal tensor-Legendre basis of ``m`` functions on ``[-1, 1]^dim``.

    Attributes
    ----------
    indices : (m, dim) int array
        The multi-indices (degrees per coordinate).
    """

    indices: np.ndarray = field(repr=False)

    @property
    def dim(self) -> int:
        return int(self.indices.shape[1])

    @property
    def m(self) -> int:
        return int(self.indices.shape[0])

    def _points(self, x) -> np.ndarray:
        x = as_float_array("x", x)
        if self.dim == 1 and x.ndim == 1:
            x = x[:, None]
        if x.ndim != 2 or x.shape[1] != self.dim:
            raise ValueError(f"x: must have shape (n, {self.dim}) (got {x.shape})")
        if np.any(np.abs(x) > 1.0 + 1e-12):
            raise ValueError("x: must lie in [-1, 1]^dim")
        return x

    def __call__(self, x) -> np.ndarray:
        """Feature matrix :math:`\\Phi_{ij} = \\varphi_j(x_i)`, shape ``(n, m)``."""
        x = self._points(x)
        out = np.ones((x.shape[0], self.m))
        for c in range(self.dim):
            vals = _legendre_1d(x[:, c], int(self.indices[:, c].max()))
            out *= vals[:, self.indices[:, c]]
        return out

    def christoffel(self, x) -> np.ndarray:
        """:math:`k_m(x) = \\|\\varphi(x)\\|^2`, shape ``(n,)``."""
        phi = self(x)
        return np.einsum("ij,ij->i", phi, phi)

    @property
    def christoffel_sup(self) -> float:
        """:math:`\\sup_x k_m(x) = \\sum_j \\prod_c (2 j_c + 1)` (attained at the corners)."""
        return float(np.sum(np.prod(2.0 * self.indices + 1.0, axis=1)))

    def optimal_density(self, x) -> np.ndarray:
        """:math:`\\rho(x) = k_m(x)/m`, the density of the optimal sampling law w.r.t. ``mu``."""
        return self.christoffel(x) / self.m

    def weight(self, x) -> np.ndarray:
        """The least-squares weight :math:`w(x) = m / k_m(x)`."""
        return self.m / self.christoffel(x)


def legendre_basis(m: int) -> PolynomialBasis:
    """The first ``m`` orthonormal Legendre polynomials on ``[-1, 1]`` (degrees ``0..m-1``)."""
    m = check_int("m", m, low=1)
    return PolynomialBasis(np.arange(m)[:, None])


def tensor_legendre_basis(degree: int, kind: str = "total") -> PolynomialBasis:
    """Tensor Legendre basis on ``[-1, 1]^2``.

    Parameters
    ----------
    degree : int
        Maximal total degree (``kind="total"``) or maximal degree per
        coordinate (``kind="tensor"``).
    kind : {"total", "tensor"}
    """
    degree = check_int("degree", degree, low=0)
    if kind not in ("total", "tensor"):
        raise ValueError(f"kind: must be 'total' or 'tensor' (got {kind!r})")
    idx = [(a, b) for a, b in itertools.product(range(degree + 1), repeat=2)
           if kind == "tensor" or a + b <= degree]
    idx.sort(key=lambda t: (t[0] + t[1], t))
    return PolynomialBasis(np.array(idx, dtype=np.int64))


@functools.lru_cache(maxsize=32)
def _leggauss(points: int):
    """Gauss-Legendre nodes and weights on [-1, 1] (cached: they cost an eigenproblem)."""
    from scipy.special import roots_legendre

    t, w = roots_legendre(points)
    t.setflags(write=False)
    w.setflags(write=False)
    return t, w


def gauss_legendre_rule(points: int, dim: int = 1, breakpoints=()):
    """Gauss–Legendre nodes and weights for the uniform probability measure on ``[-1, 1]^dim``.

    Parameters
    ----------
    points : int
        Nodes per coordinate and per sub-interval.
    dim : int
    breakpoints : sequence of float
        Interior points of ``[-1, 1]``, each in the open interval
        ``(-1, 1)``, where the integrand is not smooth (e.g. ``(0.0,)`` for
        ``|x|``): the rule is composite across them (repeats count once).

    Returns
    -------
    nodes : (N, dim) array
    weights : (N,) array, summing to one

    Raises
    ------
    ValueError
        ``points`` or ``dim`` below 1, or a breakpoint that is NaN, infinite
        or outside ``(-1, 1)`` (it would put nodes outside the domain and
        weights of the wrong sign).
    """
    points = check_int("points", points, low=1)
    dim = check_int("dim", dim, low=1)
    brk = as_float_array("breakpoints", breakpoints, ndim=(0, 1)).reshape(-1)
    if np.any(np.abs(brk) >= 1.0):
        raise ValueError(f"breakpoints: must lie in the open interval (-1, 1) "
                         f"(got {brk.tolist()})")
    t, w = _leggauss(points)
    edges = np.concatenate([[-1.0], np.unique(brk), [1.0]])
    xs, ws = [], []
    for lo, hi in zip(edges[:-1], edges[1:]):
        xs.append(0.5 * (hi - lo) * t + 0.5 * (hi + lo))
        ws.append(0.25 * (hi - lo) * w)  # the uniform measure on [-1, 1] has density 1/2
    x1, w1 = np.concatenate(xs), np.concatenate(ws)
    grids = np.meshgrid(*([x1] * dim), indexing="ij")
    wgrid = np.meshgrid(*([w1] * dim), indexing="ij")
    nodes = np.stack([g.reshape(-1) for g in grids], axis=1)
    weights = np.prod(np.stack([g.reshape(-1) for g in wgrid], axis=1), axis=1)
    return nodes, weights
