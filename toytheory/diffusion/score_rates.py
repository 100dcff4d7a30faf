r"""Score estimation from n samples on Gaussian data: exact rates, and memorisation.

Plug-in estimator. From :math:`x_1, \dots, x_n \sim N(\mu, \Sigma)` in :math:`d`
dimensions take :math:`\hat\mu` (sample mean) and :math:`\hat\Sigma` (divisor
:math:`m = n - 1`), and the score of the diffused estimate,
:math:`\hat s_t(x) = -(\alpha^2\hat\Sigma + \sigma^2 I)^{-1}(x - \alpha\hat\mu)`. With
:math:`m\Sigma^{-1/2}\hat\Sigma\Sigma^{-1/2} = W \sim W_d(I, m)` independent of
:math:`\hat\mu` and the inverse-Wishart moments :math:`E W^{-1} = I/(m-d-1)`,
:math:`E W^{-2} = (m-1) I/((m-d)(m-d-1)(m-d-3))`, the noise-free (:math:`t = 0`) expected
score error is exactly

.. math:: E\,E_{x\sim p}\|\hat s(x) - \nabla\log p(x)\|^2
          = \operatorname{tr}\Sigma^{-1}\Big[\big(1 + \tfrac1n\big)
          \frac{m^2(m-1)}{(m-d)(m-d-1)(m-d-3)} - \frac{2m}{m-d-1} + 1\Big]
          \qquad (n > d + 4),

:func:`expected_score_error_plugin`; at :math:`t > 0` the inner expectation is exact
given the estimate and the outer one is averaged over drawn estimates
(:func:`score_error_given_estimate`). The probability-flow ODE driven by
:math:`\hat s_t` samples exactly :math:`N(\hat\mu, \hat\Sigma)` (it is the exact score of
that law), so the sampler's distribution-estimation error is

.. math:: E\,\mathrm{KL}\big(N(\mu,\Sigma)\,\|\,N(\hat\mu,\hat\Sigma)\big)
          = \tfrac12\Big[\big(1+\tfrac1n\big)\frac{md}{m-d-1} - d
          + \sum_{i=1}^d \psi\big(\tfrac{m-i+1}2\big) + d\log\tfrac2m\Big]
          = \frac{d(d+1)}{4n} + O(n^{-2}) \qquad (n > d + 2),

:func:`expected_kl_plugin` (the :math:`\log\det` of a Wishart matrix has mean
:math:`\sum_i\psi((m-i+1)/2) + d\log 2`).

Memorisation (:func:`pf_ode_empirical`): the exact score of the empirical law of the
training set (:class:`~toytheory.diffusion.laws.DeltaMixture`) drives the PF-ODE onto
training points.
"""

from __future__ import annotations

import functools

import numpy as np
from scipy.special import digamma

from .._validation import as_float_array, check_int, check_psd, check_real
from .laws import DeltaMixture
from .schedules import karras_sigmas

__all__ = ["expected_score_error_plugin", "expected_kl_plugin", "plugin_estimate",
           "bartlett_inverse_moments",
           "score_error_given_estimate", "kl_given_estimate", "pf_ode_empirical"]


def _check_n(n, d, need, why):
    n = check_int("n", n, low=1)
    if n < need:
        raise ValueError(f"n: must be at least d + {need - d} = {need} ({why}; got n = {n})")
    return n


def expected_score_error_plugin(n: int, cov) -> float:
    """Exact :math:`E\\,E_x\\|\\hat s - s\\|^2` of the plug-in score at zero noise."""
    s = check_psd("cov", cov, strict=True)
    d = s.shape[0]
    n = _check_n(n, d, d + 5, "the expected inverse-Wishart square is finite only then")
    m = n - 1
    tr = float(np.trace(np.linalg.inv(s)))
    return tr * ((1 + 1 / n) * m * m * (m - 1) / ((m - d) * (m - d - 1) * (m - d - 3))
                 - 2 * m / (m - d - 1) + 1)


def expected_kl_plugin(n: int, d: int) -> float:
    """Exact :math:`E\\,\\mathrm{KL}(N(\\mu,\\Sigma)\\|N(\\hat\\mu,\\hat\\Sigma))` (any
    :math:`\\mu, \\Sigma`)."""
    d = check_int("d", d, low=1)
    n = _check_n(n, d, d + 3, "the plug-in covariance must be invertible with finite "
                 "expected inverse")
    m = n - 1
    i = np.arange(1, d + 1)
    return 0.5 * ((1 + 1 / n) * m * d / (m - d - 1) - d
                  + float(np.sum(digamma((m - i + 1) / 2))) + d * np.log(2 / m))


@functools.lru_cache(maxsize=16)
def _bartlett_terms(d: int, power: int):
    """Terms of the polynomial ``diag(W^-power) * prod l_i^8`` in (l, z), W = L L^T."""
    import sympy as sp

    ell = sp.symbols(f"l1:{d + 1}", positive=True)
    zs = [sp.Symbol(f"z{i}_{j}") for i in range(d) for j in range(i)]
    low = sp.zeros(d, d)
    k = 0
    for i in range(d):
        low[i, i] = ell[i]
        for j in range(i):
            low[i, j] = zs[k]
            k += 1
    inv = low.inv()
    w_inv = inv.T * inv
    mat = w_inv if power == 1 else w_inv * w_inv
    clear = sp.prod([li ** 8 for li in ell])   # every denominator divides l_i^8
    return [sp.Poly(sp.expand(mat[i, i] * clear), *ell, *zs).terms() for i in range(d)]


def bartlett_inverse_moments(d: int, m: int, second: bool = True):
    r"""Exact :math:`E[(W^{-1})_{ii}]` and :math:`E[(W^{-2})_{ii}]`, :math:`W \sim W_d(I, m)`,
    by the Bartlett decomposition (sympy, exact rationals).

    :math:`W = LL^T`, :math:`L` lower triangular with independent
    :math:`L_{ii}^2 \sim \chi^2_{m-i+1}` and :math:`L_{ij} \sim N(0, 1)` (:math:`i > j`);
    :math:`W^{-1} = L^{-T}L^{-1}` is a polynomial in the :math:`L_{ij}` and the
    :math:`1/L_{ii}`, integrated term by term with :math:`E z^{2k} = (2k-1)!!` and
    :math:`E(\chi^2_k)^{-j} = 1/\prod_{i \le j}(k - 2i)`. An independent route to the
    inverse-Wishart moments that :func:`expected_score_error_plugin` uses.

    Returns
    -------
    (list, list or None) of sympy Rationals, each of length ``d`` (the second ``None``
    when ``second`` is false).
    """
    import sympy as sp

    d = check_int("d", d, low=1, high=6)
    m = check_int("m", m, low=1)
    if m < d + 4:
        raise ValueError(f"m: must be at least d + 4 = {d + 4} (E W^-2 is finite only then; "
                         f"got m = {m})")

    def expect(terms):
        total = sp.Rational(0)
        for mon, coef in terms:
            if any(p % 2 for p in mon[d:]):
                continue                      # odd Gaussian moment
            val = sp.Rational(coef)
            for k, p in enumerate(mon[:d]):
                p -= 8
                if p > 0 or p % 2:
                    raise ValueError("d: Bartlett expansion left a positive or odd power")
                for i in range(1, -p // 2 + 1):
                    val /= (m - k - 2 * i)
            for p in mon[d:]:
                val *= sp.factorial2(p - 1) if p else 1
            total += val
        return total

    first = [expect(t) for t in _bartlett_terms(d, 1)]
    return first, ([expect(t) for t in _bartlett_terms(d, 2)] if second else None)


def plugin_estimate(x):
    """Sample mean and covariance (divisor n - 1) of the rows of ``x`` (n, d); n >= d + 2
    so the covariance is invertible with probability one and its inverse has a mean."""
    x = as_float_array("x", x, ndim=2)
    n, d = x.shape
    _check_n(n, d, d + 2, "the plug-in covariance needs it")
    return x.mean(0), np.cov(x, rowvar=False).reshape(d, d)


def score_error_given_estimate(mean, cov, mean_hat, cov_hat, alpha: float = 1.0,
                               sigma: float = 0.0) -> float:
    """:math:`E_{x\\sim p_t}\\|\\hat s_t(x) - \\nabla\\log p_t(x)\\|^2` given the estimate
    (exact: :math:`\\operatorname{tr}((\\hat A - A)C(\\hat A - A)^T) +
    \\alpha^2\\|\\hat A(\\hat\\mu - \\mu)\\|^2`)."""
    mu = as_float_array("mean", mean, ndim=1)
    s = check_psd("cov", cov)
    mh = as_float_array("mean_hat", mean_hat, ndim=1)
    sh = check_psd("cov_hat", cov_hat)
    a = check_real("alpha", alpha, low=0.0, low_open=True)
    sg = check_real("sigma", sigma, low=0.0)
    d = mu.size
    c = a * a * s + sg * sg * np.eye(d)
    ch = a * a * sh + sg * sg * np.eye(d)
    A, Ah = np.linalg.inv(c), np.linalg.inv(ch)
    diff = Ah - A
    return float(np.trace(diff @ c @ diff.T) + a * a * np.sum((Ah @ (mh - mu)) ** 2))


def kl_given_estimate(mean, cov, mean_hat, cov_hat) -> float:
    """:math:`\\mathrm{KL}(N(\\mu,\\Sigma)\\|N(\\hat\\mu,\\hat\\Sigma))`."""
    from ..gaussian_distances import kl_divergence_gaussians

    return kl_divergence_gaussians(mean, cov, mean_hat, cov_hat)


def pf_ode_empirical(points, x_T, *, n_steps: int = 200, sigma_min: float = 1e-3,
                     sigma_max: float = 80.0) -> np.ndarray:
    """EDM Heun on the VE PF-ODE with the exact score of the empirical law of ``points``,
    from ``x_T`` (n, d) at ``sigma_max`` down to 0 (Karras grid, last step a denoise)."""
    law = DeltaMixture(points)
    n_steps = check_int("n_steps", n_steps, low=2)
    sig = karras_sigmas(n_steps, sigma_min, sigma_max)
    x = as_float_array("x_T", x_T, ndim=2).copy()
    for s, s_next in zip(sig[:-1], sig[1:]):
        dx = (x - law.denoise(x, 1.0, s)) / s
        x_e = x + (s_next - s) * dx
        if s_next == 0.0:
            x = x_e
        else:
            x = x + 0.5 * (s_next - s) * (dx + (x_e - law.denoise(x_e, 1.0, s_next)) / s_next)
    return x
