r"""Weighted least-squares approximation from random points (Nouy and Michel).

Given an orthonormal basis :math:`\varphi` of :math:`V_m \subset L^2(\mu)`
and points :math:`x_1, \dots, x_n`, the weighted least-squares projection is

.. math::

    \hat f = \arg\min_{v \in V_m} \frac{1}{n} \sum_i w(x_i) (f(x_i) - v(x_i))^2,
    \qquad w = m / k_m,

with empirical Gram matrix :math:`G = \frac1n \sum_i w(x_i)\varphi(x_i)\varphi(x_i)^\top`
(:math:`\mathbb E G = I` for every scheme below). Since :math:`\varphi` is
orthonormal, :math:`\|f - \hat f\|^2 = \|f - P_m f\|^2 + \|\hat c - c^*\|^2`.

Sampling schemes (``n`` points):

``"iid"``
    i.i.d. from the optimal density :math:`\rho = k_m/m`.
``"dpp"``
    the projection DPP of the basis (``n = m``; the estimator interpolates).
``"volume_rescaled"``
    density proportional to :math:`\det G` with respect to
    :math:`\rho^{\otimes n}`: ``m`` projection-DPP points and ``n - m``
    i.i.d. optimal points in a uniformly random order (Cauchy–Binet).
``"repeated_dpp"``
    ``n / m`` independent projection-DPP samples.

Each scheme can be conditioned on :math:`\|G - I\|_2 \le \delta` by redrawing.

References
----------
Nouy and Michel, "Weighted least-squares approximation with determinantal
point processes and generalized volume sampling" (2023): the sections on
optimal i.i.d. sampling, on (generalised) volume-rescaled sampling, and on
independent repetitions of projection DPPs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from .._random import as_generator
from .._validation import as_float_array, check_int, check_real
from .bases import PolynomialBasis, gauss_legendre_rule
from .continuous_dpp import sample_continuous_projection_dpp, sample_optimal_density

__all__ = [
    "SCHEMES",
    "TestFunction",
    "TEST_FUNCTIONS",
    "draw_points",
    "gram_matrix",
    "weighted_least_squares",
    "best_approximation",
    "squared_error",
]

SCHEMES = ("iid", "dpp", "volume_rescaled", "repeated_dpp")


@dataclass(frozen=True)
class TestFunction:
    """A target function on ``[-1, 1]^dim`` with its non-smooth points (for quadrature)."""

    __test__ = False  # not a pytest class

    name: str
    f: Callable[[np.ndarray], np.ndarray]
    dim: int
    breakpoints: tuple = ()


def _runge(x):
    return 1.0 / (1.0 + 5.0 * x[:, 0] ** 2)


def _abs(x):
    return np.abs(x[:, 0])


def _smooth_2d(x):
    return np.exp(-(x[:, 0] ** 2 + x[:, 1] ** 2)) * np.cos(x[:, 0] + 2.0 * x[:, 1])


TEST_FUNCTIONS = {
    "runge": TestFunction("1/(1 + 5x^2)", _runge, 1),
    "abs": TestFunction("|x|", _abs, 1, (0.0,)),
    "smooth_2d": TestFunction("exp(-x^2 - y^2) cos(x + 2y)", _smooth_2d, 2),
}


def _check_basis(basis):
    if not isinstance(basis, PolynomialBasis):
        raise ValueError(f"basis: must be a PolynomialBasis (got {type(basis).__name__})")
    return basis


def draw_points(basis: PolynomialBasis, scheme: str, n: int, *, rng=None,
                condition: float | None = None, max_redraws: int = 10_000):
    """Draw ``n`` points by ``scheme`` (optionally conditioned on ``||G - I||_2 <= condition``).

    Parameters
    ----------
    basis : PolynomialBasis
    scheme : {"iid", "dpp", "volume_rescaled", "repeated_dpp"}
    n : int
        ``n >= m``; ``n = m`` for ``"dpp"``; a multiple of ``m`` for
        ``"repeated_dpp"``.
    rng : Generator, int or None
    condition : float, optional
        Redraw until the empirical Gram matrix satisfies
        :math:`\\|G - I\\|_2 \\le` ``condition``.
    max_redraws : int
        ``>= 0``: draws rejected by the conditioning before giving up.

    Returns
    -------
    points : (n, dim) array
    redraws : int
        How many draws were rejected by the conditioning.

    Raises
    ------
    ValueError
        Bad ``basis``, ``scheme``, ``n``, ``condition`` or ``max_redraws``.
    RuntimeError
        When no draw meets the conditioning within ``max_redraws`` redraws.
    """
    basis = _check_basis(basis)
    m = basis.m
    if scheme not in SCHEMES:
        raise ValueError(f"scheme: must be one of {SCHEMES} (got {scheme!r})")
    n = check_int("n", n, low=m)
    if scheme == "dpp" and n != m:
        raise ValueError(f"n: must equal m = {m} for the 'dpp' scheme (got {n})")
    if scheme == "repeated_dpp" and n % m:
        raise ValueError(f"n: must be a multiple of m = {m} for 'repeated_dpp' (got {n})")
    if condition is not None:
        condition = check_real("condition", condition, low=0.0, low_open=True)
    max_redraws = check_int("max_redraws", max_redraws, low=0)
    gen = as_generator(rng)
    for redraws in range(max_redraws + 1):
        if scheme == "iid":
            x = sample_optimal_density(basis, n, rng=gen)
        elif scheme == "dpp":
            x = sample_continuous_projection_dpp(basis, rng=gen)
        elif scheme == "repeated_dpp":
            x = np.vstack([sample_continuous_projection_dpp(basis, rng=gen)
                           for _ in range(n // m)])
        else:
            x = np.vstack([sample_continuous_projection_dpp(basis, rng=gen),
                           sample_optimal_density(basis, n - m, rng=gen)])
            x = x[gen.permutation(n)]
        if condition is None:
            return x, redraws
        g = gram_matrix(basis, x)
        if np.linalg.norm(g - np.eye(m), 2) <= condition:
            return x, redraws
    raise RuntimeError(f"no draw met ||G - I|| <= {condition} in {max_redraws} redraws")


def gram_matrix(basis: PolynomialBasis, x) -> np.ndarray:
    """The empirical Gram matrix :math:`G = \\frac1n\\sum_i w(x_i)\\varphi(x_i)\\varphi(x_i)^\\top`.

    Returns
    -------
    (m, m) array
    """
    basis = _check_basis(basis)
    phi = basis(x)
    w = basis.m / np.einsum("ij,ij->i", phi, phi)
    return (phi * w[:, None]).T @ phi / phi.shape[0]


def weighted_least_squares(basis: PolynomialBasis, x, values) -> np.ndarray:
    """Coefficients of the weighted least-squares projection (weights ``m / k_m``), shape ``(m,)``.

    Parameters
    ----------
    basis : PolynomialBasis
    x : (n, dim) array, ``n >= m``
    values : (n,) array
        ``f(x_i)``.
    """
    basis = _check_basis(basis)
    phi = basis(x)
    values = as_float_array("values", values, ndim=1)
    if values.shape[0] != phi.shape[0]:
        raise ValueError(f"values: must have {phi.shape[0]} entries (got {values.shape[0]})")
    if phi.shape[0] < basis.m:
        raise ValueError(f"x: must contain at least m = {basis.m} points (got {phi.shape[0]})")
    sw = np.sqrt(basis.m / np.einsum("ij,ij->i", phi, phi))
    coef, *_ = np.linalg.lstsq(phi * sw[:, None], values * sw, rcond=None)
    return coef


def best_approximation(basis: PolynomialBasis, f: TestFunction, *, points: int = 200):
    """:math:`c^* = \\int f\\varphi\\,d\\mu` and :math:`\\|f - P_m f\\|^2` by Gauss–Legendre.

    Returns
    -------
    coef : (m,) array
    error : float
        :math:`\\|f - P_m f\\|^2_{L^2(\\mu)}`.
    """
    basis = _check_basis(basis)
    if f.dim != basis.dim:
        raise ValueError(f"f: must be a function of {basis.dim} variable(s) (got {f.dim})")
    points = check_int("points", points, low=1)
    nodes, weights = gauss_legendre_rule(points, basis.dim, f.breakpoints)
    phi = basis(nodes)
    fx = f.f(nodes)
    coef = phi.T @ (weights * fx)
    resid = fx - phi @ coef
    return coef, float(weights @ resid ** 2)


def squared_error(coef, best_coef, best_error) -> float:
    """The squared :math:`L^2(\\mu)` error of the coefficients ``coef``.

    .. math:: \\|f - \\hat f\\|^2 = \\|f - P_m f\\|^2 + \\|\\hat c - c^*\\|^2

    (the basis is orthonormal).
    """
    coef = as_float_array("coef", coef, ndim=1)
    best_coef = as_float_array("best_coef", best_coef, ndim=1)
    if coef.shape != best_coef.shape:
        raise ValueError(f"coef: must have shape {best_coef.shape} (got {coef.shape})")
    best_error = check_real("best_error", best_error, low=0.0)
    return float(best_error + np.sum((coef - best_coef) ** 2))
