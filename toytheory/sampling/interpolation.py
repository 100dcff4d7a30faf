r"""Exact expectations over the continuous projection DPP of a 1-D basis, by quadrature.

Interpolation at the ``m`` points of the projection DPP of an orthonormal
basis :math:`\varphi_1..\varphi_m` of :math:`V_m \subset L^2(\mu)` satisfies

.. math:: \mathbb E \|f - \hat f\|^2 = (m + 1) \|f - P_m f\|^2

for every :math:`f \in L^2(\mu)` (the continuous analogue of
:math:`\mathbb E L(w_S) = (d + 1) L(w^*)` for volume sampling). With
:math:`e = f - P_m f`, :math:`\Phi_{ij} = \varphi_j(x_i)` and Cramer's rule,

.. math::

    \mathbb E \|f - \hat f\|^2 = \|e\|^2 + \frac{1}{m!} \int \sum_{j=1}^m
        \det\bigl(\Phi_{j \leftarrow e(x)}\bigr)^2 \, d\mu^{\otimes m}(x),

where :math:`\Phi_{j \leftarrow e}` is :math:`\Phi` with column ``j``
replaced by :math:`(e(x_1), \dots, e(x_m))`: the density
:math:`\det(\Phi)^2/m!` cancels the :math:`\det(\Phi)^{-2}` of
:math:`\|\Phi^{-1} e\|^2`, so the integrand is smooth (polynomial when ``f``
is), and tensor Gauss–Legendre quadrature evaluates it exactly for
polynomials and to high accuracy otherwise.

References
----------
Nouy and Michel, "Weighted least-squares approximation with determinantal
point processes and generalized volume sampling" (2023), the section on
interpolation at projection-DPP points.
"""

from __future__ import annotations

import itertools
import math

import numpy as np

from .._validation import as_float_array, check_int
from .bases import PolynomialBasis, gauss_legendre_rule

__all__ = ["dpp_interpolation_expected_error", "continuous_dpp_cell_law",
           "optimal_density_cdf", "cell_multiset"]


def _check_1d(basis):
    if not isinstance(basis, PolynomialBasis) or basis.dim != 1:
        raise ValueError("basis: must be a one-dimensional PolynomialBasis")
    return basis


def dpp_interpolation_expected_error(basis: PolynomialBasis, f, best_coef, *,
                                     points: int = 40, breakpoints=(), chunk: int = 200_000):
    r""":math:`\mathbb E\|f - \hat f\|^2` for interpolation at projection-DPP points, by quadrature.

    Parameters
    ----------
    basis : PolynomialBasis
        One-dimensional, ``m <= 5``.
    f : callable
        ``f(x)`` for ``x`` of shape ``(N, 1)``.
    best_coef : (m,) array
        :math:`c^*` (from :func:`~toytheory.sampling.weighted_ls.best_approximation`).
    points : int
        Gauss–Legendre nodes per coordinate (and per piece between breakpoints).
    breakpoints : sequence of float
        Where ``f`` is not smooth.
    chunk : int
        Grid points evaluated at a time.

    Returns
    -------
    expected : float
        :math:`\mathbb E\|f - \hat f\|^2`.
    best : float
        :math:`\|f - P_m f\|^2` from the same one-dimensional rule.

    Raises
    ------
    ValueError
        ``basis`` not one-dimensional or ``m > 5``; ``best_coef`` not of
        length ``m``; ``f`` not returning ``N`` finite values; ``points``,
        ``chunk`` or ``breakpoints`` out of range.
    """
    basis = _check_1d(basis)
    m = basis.m
    if m > 5:
        raise ValueError(f"basis: m = {m} > 5 makes the m-dimensional quadrature too large")
    points = check_int("points", points, low=1)
    chunk = check_int("chunk", chunk, low=1)
    if not callable(f):
        raise ValueError(f"f: must be callable (got {type(f).__name__})")
    c = as_float_array("best_coef", best_coef, ndim=1)
    if c.shape[0] != m:
        raise ValueError(f"best_coef: must have one entry per basis function, m = {m} "
                         f"(got {c.shape[0]})")
    nodes, weights = gauss_legendre_rule(points, 1, breakpoints)
    phi = basis(nodes)
    fx = as_float_array("f", f(nodes))
    if fx.shape != (nodes.shape[0],):
        raise ValueError(f"f: must return shape (N,) for points of shape (N, 1), N = "
                         f"{nodes.shape[0]} (got {fx.shape})")
    e = fx - phi @ c
    best = float(weights @ e ** 2)
    total = 0.0
    grid = itertools.product(range(nodes.shape[0]), repeat=m)
    while True:
        idx = np.fromiter(itertools.chain.from_iterable(itertools.islice(grid, chunk)),
                          dtype=np.int64).reshape(-1, m)
        if idx.size == 0:
            break
        mat = phi[idx]  # (B, m, m): row i is phi(x_i)
        ev = e[idx]  # (B, m)
        w = np.prod(weights[idx], axis=1)
        total += float(w @ _dpp_weighted_error(mat, ev))
    return best + total / math.factorial(m), best


def _dpp_weighted_error(mat: np.ndarray, ev: np.ndarray) -> np.ndarray:
    r""":math:`m!` times the DPP density times the interpolation error, at each grid point.

    The ordered DPP points have density :math:`\det(\Phi)^2 / m!` with
    respect to :math:`\mu^{\otimes m}`, and interpolation leaves the error
    :math:`\|\Phi^{-1} e\|^2` beyond :math:`\|e\|^2`; by Cramer's rule their
    product times :math:`m!` is :math:`\sum_j \det(\Phi_{j \leftarrow e})^2`,
    a polynomial in the points when ``f`` is one (no division by
    :math:`\det \Phi`).

    Parameters
    ----------
    mat : (B, m, m) array
        :math:`\Phi` at ``B`` grid points (row ``i`` is :math:`\varphi(x_i)`).
    ev : (B, m) array
        :math:`e(x_i)`.

    Returns
    -------
    (B,) array
    """
    acc = np.zeros(mat.shape[0])
    for j in range(mat.shape[2]):
        mj = mat.copy()
        mj[:, :, j] = ev
        acc += np.linalg.det(mj) ** 2
    return acc


def _check_edges(edges) -> np.ndarray:
    edges = as_float_array("edges", edges, ndim=1)
    if edges.size < 2 or edges[0] != -1.0 or edges[-1] != 1.0 or np.any(np.diff(edges) <= 0):
        raise ValueError(f"edges: must increase strictly from -1 to 1 (got {edges.tolist()})")
    return edges


def cell_multiset(points, edges) -> tuple:
    """The sorted tuple of bin indices of the points (bins given by ``edges``).

    Parameters
    ----------
    points : (m,) or (m, 1) array
        In ``[-1, 1]`` (the point ``1`` falls in the last bin).
    edges : (B + 1,) array
        Strictly increasing from -1 to 1.

    Returns
    -------
    tuple of int

    Raises
    ------
    ValueError
        ``edges`` not strictly increasing from -1 to 1, or ``points`` not a
        finite column of values in ``[-1, 1]`` (they would be clipped into
        the end bins silently).
    """
    edges = _check_edges(edges)
    x = as_float_array("points", points, ndim=(1, 2))
    if x.ndim == 2 and x.shape[1] != 1:
        raise ValueError(f"points: must have shape (m,) or (m, 1) (got {x.shape})")
    x = x.reshape(-1)
    if np.any(np.abs(x) > 1.0):
        raise ValueError(f"points: must lie in [-1, 1] (got extremes {x.min():.6g}, "
                         f"{x.max():.6g})")
    idx = np.clip(np.searchsorted(edges, x, side="right") - 1, 0, len(edges) - 2)
    return tuple(sorted(int(i) for i in idx))


def continuous_dpp_cell_law(basis: PolynomialBasis, edges):
    r"""Exact probabilities of the bin multisets of a 1-D continuous projection DPP.

    The ordered points have density :math:`\det(\Phi)^2 / m!` with respect to
    :math:`\mu^{\otimes m}`; a multiset of bins :math:`(b_1 \le \dots \le b_m)`
    has probability (number of its distinct orderings) times the integral of
    that density over the box :math:`B_{b_1} \times \dots \times B_{b_m}`,
    computed by a Gauss–Legendre rule exact for its polynomial degree.

    Parameters
    ----------
    basis : PolynomialBasis
        One-dimensional.
    edges : (B + 1,) increasing array from -1 to 1

    Returns
    -------
    cells : list of tuple
    probabilities : (len(cells),) array
    """
    basis = _check_1d(basis)
    edges = _check_edges(edges)
    m = basis.m
    t, w = np.polynomial.legendre.leggauss(m + 1)  # exact for degree 2m + 1 per variable
    bins = len(edges) - 1
    bin_nodes, bin_weights = [], []
    for lo, hi in zip(edges[:-1], edges[1:]):
        bin_nodes.append(0.5 * (hi - lo) * t + 0.5 * (hi + lo))
        bin_weights.append(0.25 * (hi - lo) * w)
    cells = list(itertools.combinations_with_replacement(range(bins), m))
    probs = np.empty(len(cells))
    for ci, cell in enumerate(cells):
        grids = np.meshgrid(*[bin_nodes[b] for b in cell], indexing="ij")
        wgrid = np.meshgrid(*[bin_weights[b] for b in cell], indexing="ij")
        x = np.stack([g.reshape(-1) for g in grids], axis=1)  # (q^m, m)
        ww = np.prod(np.stack([g.reshape(-1) for g in wgrid], axis=1), axis=1)
        phi = basis(x.reshape(-1, 1)).reshape(x.shape[0], m, m)
        integral = float(ww @ np.linalg.det(phi) ** 2) / math.factorial(m)
        counts = np.bincount(np.array(cell), minlength=bins)
        orderings = math.factorial(m) // int(np.prod([math.factorial(int(k)) for k in counts]))
        probs[ci] = orderings * integral
    return cells, probs


def optimal_density_cdf(basis: PolynomialBasis, x) -> np.ndarray:
    r"""CDF of the optimal density :math:`k_m/m \, d\mu` on ``[-1, 1]`` (exact quadrature)."""
    basis = _check_1d(basis)
    x = as_float_array("x", x, ndim=1)
    t, w = np.polynomial.legendre.leggauss(basis.m + 1)
    lo = -1.0
    hi = np.clip(x, -1.0, 1.0)
    nodes = 0.5 * (hi - lo)[:, None] * t[None, :] + 0.5 * (hi + lo)[:, None]
    k = basis.christoffel(nodes.reshape(-1, 1)).reshape(nodes.shape)
    return (0.25 * (hi - lo) * (k @ w)) / basis.m
