"""Repeated sampling: pass@k, its unbiased estimator, and coverage over a population.

"Large Language Monkeys: Scaling Inference Compute with Repeated Sampling" (Brown et al.,
2024) measures *coverage*, the fraction of problems solved by any of k attempts, and
estimates it per problem with the unbiased estimator of Chen et al. (2021, "Evaluating
Large Language Models Trained on Code", eq. 1): with c correct among n ≥ k samples,

.. math::

    \\widehat{\\text{pass@}k} = 1 - \\binom{n-c}{k} \\Big/ \\binom{n}{k},
    \\qquad \\mathbb E\\,\\widehat{\\text{pass@}k} = 1 - (1 - p)^k
    \\quad (c \\sim \\mathrm{Binomial}(n, p)),

while the plug-in :math:`1 - (1 - c/n)^k` is biased low (Jensen). Over a population of
problems whose success rates are :math:`p \\sim \\mathrm{Beta}(a, b)` (a toy assumption,
not the paper's), coverage is exact:

.. math::

    C(k) = 1 - \\mathbb E (1-p)^k = 1 - \\frac{B(a, b + k)}{B(a, b)}
    \\sim 1 - \\frac{\\Gamma(a+b)}{\\Gamma(b)}\\, k^{-a} \\quad (k \\to \\infty),

so its gap to one is a power law in k with exponent :math:`-a`.
"""

from __future__ import annotations

from fractions import Fraction
from math import comb

import numpy as np

from toytheory._validation import check_int, check_real

__all__ = ["pass_at_k_unbiased", "pass_at_k_plugin", "expected_pass_at_k_exact",
           "beta_coverage", "beta_coverage_tail_constant",
           "fit_exponentiated_power_law"]


def _check_nck(n, c, k) -> tuple[int, int, int]:
    n = check_int("n", n, low=1)
    k = check_int("k", k, low=1)
    c = check_int("c", c, low=0)
    if c > n:
        raise ValueError(f"c: must be at most n = {n} (got {c})")
    if k > n:
        raise ValueError(f"n: must be at least k = {k} samples (got n = {n})")
    return n, c, k


def pass_at_k_unbiased(n: int, c: int, k: int) -> float:
    """Chen et al.'s unbiased estimator :math:`1 - \\binom{n-c}{k}/\\binom{n}{k}`.

    Computed as :math:`1 - \\prod_{i=n-c+1}^{n} (1 - k/i)` (stable for large n).

    Parameters
    ----------
    n : int, >= k
        Samples drawn for the problem.
    c : int, 0 <= c <= n
        Correct samples among them.
    k : int, >= 1

    Raises
    ------
    ValueError
        ``n < k``, ``c > n``, ``k < 1``, ``c < 0``.
    """
    n, c, k = _check_nck(n, c, k)
    if n - c < k:
        return 1.0
    return float(1.0 - np.prod(1.0 - k / np.arange(n - c + 1, n + 1)))


def pass_at_k_plugin(n: int, c: int, k: int) -> float:
    """The plug-in estimate :math:`1 - (1 - c/n)^k` (biased low)."""
    n, c, k = _check_nck(n, c, k)
    return float(1.0 - (1.0 - c / n) ** k)


def expected_pass_at_k_exact(n: int, k: int, p, estimator: str = "unbiased") -> Fraction:
    """:math:`\\mathbb E` of an estimator over :math:`c \\sim \\mathrm{Binomial}(n, p)`,
    in exact rational arithmetic.

    Parameters
    ----------
    n, k : int, 1 <= k <= n
    p : Fraction, int or str
        The success rate, exactly (``"1/3"``, ``Fraction(1, 3)``), in [0, 1].
    estimator : {"unbiased", "plugin"}

    Returns
    -------
    Fraction
    """
    n = check_int("n", n, low=1)
    k = check_int("k", k, low=1)
    if k > n:
        raise ValueError(f"n: must be at least k = {k} samples (got n = {n})")
    if estimator not in ("unbiased", "plugin"):
        raise ValueError(f"estimator: must be 'unbiased' or 'plugin' (got {estimator!r})")
    try:
        p = Fraction(p)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"p: must be an exact rational in [0, 1] (got {p!r})") from exc
    if not 0 <= p <= 1:
        raise ValueError(f"p: must lie in [0, 1] (got {p})")
    total = Fraction(0)
    for c in range(n + 1):
        weight = comb(n, c) * p ** c * (1 - p) ** (n - c)
        if estimator == "unbiased":
            value = 1 - Fraction(comb(n - c, k), comb(n, k))
        else:
            value = 1 - (1 - Fraction(c, n)) ** k
        total += weight * value
    return total


def beta_coverage(k, a: float, b: float) -> np.ndarray:
    """Coverage :math:`C(k) = 1 - B(a, b+k)/B(a, b)` of a Beta(a, b) population.

    Parameters
    ----------
    k : int or array_like of int, >= 1
        Attempts per problem.
    a, b : float, > 0
        The Beta law of per-problem success rates.

    Returns
    -------
    ndarray, the shape of ``k``
    """
    from scipy.special import betaln

    a = check_real("a", a, low=0.0, low_open=True)
    b = check_real("b", b, low=0.0, low_open=True)
    k_arr = np.asarray(k)
    if k_arr.size == 0 or not np.issubdtype(k_arr.dtype, np.integer) or np.any(k_arr < 1):
        raise ValueError("k: must be integers >= 1")
    return -np.expm1(betaln(a, b + k_arr) - betaln(a, b))


def beta_coverage_tail_constant(a: float, b: float) -> float:
    """:math:`\\Gamma(a+b)/\\Gamma(b)`: the constant of :math:`1 - C(k) \\sim c\\, k^{-a}`."""
    from scipy.special import gammaln

    a = check_real("a", a, low=0.0, low_open=True)
    b = check_real("b", b, low=0.0, low_open=True)
    return float(np.exp(gammaln(a + b) - gammaln(b)))


def fit_exponentiated_power_law(k, coverage) -> tuple[float, float, float]:
    """Fit the paper's :math:`C(k) \\approx \\exp(\\alpha k^{\\beta})` by least squares.

    Parameters
    ----------
    k : array_like of int, >= 1
    coverage : array_like, in (0, 1)

    Returns
    -------
    alpha, beta : float
        ``alpha < 0``, ``beta`` the power.
    max_error : float
        :math:`\\max |C(k) - \\exp(\\alpha k^\\beta)|` over the given ``k``.
    """
    from scipy.optimize import least_squares

    k_arr = np.asarray(k, dtype=float)
    cov = np.asarray(coverage, dtype=float)
    if k_arr.ndim != 1 or cov.shape != k_arr.shape or k_arr.size < 3:
        raise ValueError("k, coverage: must be 1-D of the same length, at least 3")
    if np.any(k_arr < 1):
        raise ValueError("k: must be >= 1")
    if np.any((cov <= 0) | (cov >= 1)):
        raise ValueError("coverage: must lie strictly between 0 and 1")
    start = np.polyfit(np.log(k_arr), np.log(-np.log(cov)), 1)

    def residual(theta):
        return np.exp(-np.exp(theta[0]) * k_arr ** theta[1]) - cov

    fit = least_squares(residual, [start[1], start[0]])
    return float(-np.exp(fit.x[0])), float(fit.x[1]), float(np.abs(fit.fun).max())
