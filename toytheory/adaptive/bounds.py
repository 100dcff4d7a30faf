"""Accuracy bounds for answering ``m`` statistical queries on ``n`` points.

Every bound is a :math:`(\\tau, \\beta)` statement: with probability at least
:math:`1 - \\beta` over the sample (and the mechanism's coins), all ``m``
answers are within :math:`\\tau` of the true answers :math:`\\mathbb{E}_P\\phi_i`.
Queries take values in ``[0, 1]``.

Sources, and how far each was checked
-------------------------------------
- Hoeffding + union bound (non-adaptive queries): standard.
- Sample splitting: the same bound on parts of :math:`\\lfloor n/m\\rfloor` points.
- Transfer theorem: Jung, Ligett, Neel, Roth, Sharifi-Malvajerdi and Shenfeld,
  "A New Analysis of Differential Privacy's Generalization Guarantees": a
  mechanism that is :math:`(\\varepsilon, \\delta)`-DP and
  :math:`(\\alpha, \\beta)`-sample accurate is
  :math:`(\\alpha + (e^\\varepsilon - 1) + c + 2d,\\ \\beta/c + \\delta/d)`-accurate
  with respect to the population, for every :math:`c, d > 0`. REFERENCE.md marks
  this statement **[read in code]**; we could not retrieve the theorem's text
  through the search tool, so the constants are as REFERENCE.md gives them.
  :func:`transfer_bound` minimises over ``c``, ``d`` and the split of
  :math:`\\beta` numerically (a grid, then Nelder-Mead); every point it
  evaluates is a valid bound, so the optimiser can only make it tighter.
  Bassily, Nissim, Smith, Steinke, Stemmer and Ullman ("Algorithmic Stability
  for Adaptive Data Analysis") prove the same shape with larger constants;
  Jung et al. report their constants to be better, so we compute theirs.
- zCDP facts (Bun and Steinke 2016), see :mod:`toytheory.adaptive.accounting`;
  they agree with OpenDP's privacy maps (tested).
- Thresholdout: the parameter choice :math:`T = 3\\tau/4`,
  :math:`\\sigma = \\tau/(96\\ln(4m/\\beta))` is **[read]** (REFERENCE.md);
  the sample size :math:`n_0` of the paper's theorem has constants we could not
  read, so :func:`thresholdout_transfer_bound` instead derives a guarantee from
  Thresholdout's privacy (:math:`2B/(\\sigma n)`, sparse vector) and the
  transfer theorem **[derived]**.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np

from .._validation import check_int, check_real

__all__ = [
    "hoeffding_union_bound", "sample_splitting_width", "laplace_sample_accuracy",
    "gaussian_sample_accuracy", "TransferBound", "transfer_bound", "gaussian_transfer_bound",
    "laplace_transfer_bound", "optimal_gaussian_sigma", "optimal_laplace_scale",
    "thresholdout_parameters", "thresholdout_epsilon", "thresholdout_sample_accuracy",
    "thresholdout_transfer_bound", "pmw_update_bound", "gaussian_attack_error",
]


def _n_m_beta(n, m, beta):
    n = check_int("n", n, low=1)
    m = check_int("m", m, low=1)
    beta = check_real("beta", beta, low=0.0, high=1.0, low_open=True, high_open=True)
    return n, m, beta


def hoeffding_union_bound(n: int, m: int, beta: float) -> float:
    """Accuracy of the empirical mean on ``m`` queries fixed before the sample is drawn.

    .. math:: \\tau = \\sqrt{\\frac{\\ln(2m/\\beta)}{2n}}

    Hoeffding: :math:`P(|\\mathbb{E}_S\\phi - \\mathbb{E}_P\\phi| > \\tau) \\le 2e^{-2n\\tau^2}`;
    a union bound over the ``m`` queries. It does **not** hold for adaptively
    chosen queries ("Preserving Statistical Validity in Adaptive Data
    Analysis", Section 1).
    """
    n, m, beta = _n_m_beta(n, m, beta)
    return math.sqrt(math.log(2.0 * m / beta) / (2.0 * n))


def sample_splitting_width(n: int, m: int, beta: float) -> float:
    """Accuracy of sample splitting: Hoeffding on parts of :math:`\\lfloor n/m\\rfloor` points.

    .. math:: \\tau = \\sqrt{\\frac{\\ln(2m/\\beta)}{2\\lfloor n/m\\rfloor}}

    Valid for adaptive queries: query ``i`` is evaluated on a part that no
    earlier answer depends on.

    Raises
    ------
    ValueError
        ``m: ... too small to split`` when ``n < m``.
    """
    n, m, beta = _n_m_beta(n, m, beta)
    if n < m:
        raise ValueError(f"m: the sample of n = {n} points is too small to split into "
                         f"m = {m} parts (need n >= m)")
    return hoeffding_union_bound(n // m, m, beta)


def laplace_sample_accuracy(scale: float, m: int, beta: float) -> float:
    """:math:`\\alpha` with :math:`P(\\max_{i\\le m} |\\mathrm{Lap}(b)_i| > \\alpha) \\le \\beta`.

    :math:`P(|\\mathrm{Lap}(b)| > t) = e^{-t/b}`; a union bound:
    :math:`\\alpha = b\\ln(m/\\beta)`.
    """
    scale = check_real("scale", scale, low=0.0, low_open=True)
    m = check_int("m", m, low=1)
    beta = check_real("beta", beta, low=0.0, high=1.0, low_open=True, high_open=True)
    return scale * max(0.0, math.log(m / beta))


def gaussian_sample_accuracy(sigma: float, m: int, beta: float) -> float:
    """:math:`\\alpha` with :math:`P(\\max_{i\\le m} |N(0,\\sigma^2)_i| > \\alpha) \\le \\beta`.

    Exact two-sided tail and a union bound:
    :math:`\\alpha = \\sigma\\,\\bar\\Phi^{-1}(\\beta/(2m))`.
    """
    from scipy.special import ndtri

    sigma = check_real("sigma", sigma, low=0.0, low_open=True)
    m = check_int("m", m, low=1)
    beta = check_real("beta", beta, low=0.0, high=1.0, low_open=True, high_open=True)
    return sigma * float(-ndtri(beta / (2.0 * m)))


@dataclass(frozen=True)
class TransferBound:
    """The result of :func:`transfer_bound`.

    Attributes
    ----------
    tau : float
        The population accuracy :math:`\\alpha + (e^\\varepsilon - 1) + c + 2d`.
    beta : float
        The failure probability :math:`\\beta_s/c + \\delta/d` (equal to the
        requested one).
    alpha, beta_sample, epsilon, delta, c, d : float
        The chosen sample accuracy, its failure probability, the privacy
        parameters and Jung et al.'s free constants.
    """

    tau: float
    beta: float
    alpha: float
    beta_sample: float
    epsilon: float
    delta: float
    c: float
    d: float


def _expm1(x):
    with np.errstate(over="ignore"):
        return np.where(np.asarray(x) > 700.0, np.inf, np.expm1(np.minimum(x, 700.0)))


def _jung_parts(alpha_of_beta, epsilon_of_delta, beta, c, d, u, pure):
    beta_s = u * beta * c
    alpha = float(alpha_of_beta(beta_s))
    if pure:
        eps, delta, d = float(epsilon_of_delta(None)), 0.0, 0.0
    else:
        delta = (1.0 - u) * beta * d
        eps = float(epsilon_of_delta(delta))
    tau = alpha + float(_expm1(eps)) + c + 2.0 * d
    return tau, (alpha, beta_s, eps, delta, c, d)


def transfer_bound(alpha_of_beta: Callable, epsilon_of_delta: Callable, beta: float, *,
                   pure: bool = False, refine: bool = True) -> TransferBound:
    """Jung et al.'s transfer theorem, minimised over its free constants.

    .. math:: \\tau = \\min_{c, d, \\beta_s, \\delta:\\ \\beta_s/c + \\delta/d = \\beta}
              \\alpha(\\beta_s) + (e^{\\varepsilon(\\delta)} - 1) + c + 2d

    ("A New Analysis of Differential Privacy's Generalization Guarantees").
    The failure probability is split as :math:`\\beta_s/c = u\\beta`,
    :math:`\\delta/d = (1-u)\\beta`; a grid over ``(u, c, d)`` is refined by
    Nelder-Mead. Every point evaluated is a valid bound.

    Parameters
    ----------
    alpha_of_beta : callable
        ``alpha(beta_s)``, vectorised: the mechanism's sample accuracy at
        failure probability ``beta_s``.
    epsilon_of_delta : callable
        ``epsilon(delta)``, vectorised: its privacy curve (called with
        ``None`` when ``pure``).
    beta : float
        The target failure probability.
    pure : bool
        Pure DP (:math:`\\delta = 0`): the ``d`` term vanishes and ``u = 1``.
    refine : bool
        Polish the grid minimum with Nelder-Mead.
    """
    from scipy.optimize import minimize

    beta = check_real("beta", beta, low=0.0, high=1.0, low_open=True, high_open=True)
    cs = np.geomspace(1e-7, 1.0, 57)
    if pure:
        alpha = np.asarray(alpha_of_beta(beta * cs), dtype=float)
        tau = alpha + float(_expm1(float(epsilon_of_delta(None)))) + cs
        i = int(np.argmin(tau))
        start = np.array([math.log(cs[i])])
        best = _jung_parts(alpha_of_beta, epsilon_of_delta, beta, float(cs[i]), 0.0, 1.0, True)
    else:
        ds = np.geomspace(1e-10, 1.0, 61)
        us = np.linspace(0.02, 0.98, 25)
        alpha = np.asarray(alpha_of_beta(us[:, None] * beta * cs[None, :]), dtype=float)
        eps = np.asarray(epsilon_of_delta((1.0 - us)[:, None] * beta * ds[None, :]),
                         dtype=float)
        tau = (alpha[:, :, None] + _expm1(eps)[:, None, :] + cs[None, :, None]
               + 2.0 * ds[None, None, :])
        iu, ic, idd = np.unravel_index(int(np.argmin(tau)), tau.shape)
        start = np.array([math.log(cs[ic]), math.log(ds[idd]), us[iu]])
        best = _jung_parts(alpha_of_beta, epsilon_of_delta, beta, float(cs[ic]),
                           float(ds[idd]), float(us[iu]), False)

    def unpack(z):
        c = math.exp(z[0])
        d, u = (0.0, 1.0) if pure else (math.exp(z[1]), float(z[2]))
        return c, d, u

    def objective(z):
        c, d, u = unpack(z)
        if not 0.0 < u <= 1.0 or u * beta * c >= 1.0 or (not pure and (1 - u) * beta * d >= 1):
            return math.inf
        try:
            return _jung_parts(alpha_of_beta, epsilon_of_delta, beta, c, d, u, pure)[0]
        except (ValueError, OverflowError, FloatingPointError):
            return math.inf

    if refine:
        res = minimize(objective, start, method="Nelder-Mead",
                       options={"xatol": 1e-7, "fatol": 1e-12, "maxiter": 4000})
        if np.isfinite(res.fun) and res.fun < best[0]:
            best = _jung_parts(alpha_of_beta, epsilon_of_delta, beta, *unpack(res.x), pure)
    tau_best, (alpha_b, beta_s, eps_b, delta_b, c_b, d_b) = best
    achieved = beta_s / c_b + (delta_b / d_b if d_b > 0 else 0.0)
    return TransferBound(tau_best, achieved, alpha_b, beta_s, eps_b, delta_b, c_b, d_b)


def _gaussian_alpha(sigma, m):
    from scipy.special import ndtri

    return lambda b: sigma * -ndtri(np.minimum(b, 0.999) / (2.0 * m))


def _zcdp_eps(rho):
    return lambda delta: rho + 2.0 * np.sqrt(rho * np.log(1.0 / np.asarray(delta)))


def _laplace_alpha(scale, m):
    return lambda b: scale * np.maximum(0.0, np.log(m / np.minimum(b, 0.999)))


def gaussian_transfer_bound(n: int, m: int, sigma: float, beta: float, *,
                            refine: bool = True) -> TransferBound:
    """Population accuracy of the Gaussian mechanism on ``m`` adaptive queries.

    Privacy: :math:`\\rho = m/(2n^2\\sigma^2)`-zCDP, hence
    :math:`(\\rho + 2\\sqrt{\\rho\\ln(1/\\delta)}, \\delta)`-DP (Bun and Steinke).
    Sample accuracy: :func:`gaussian_sample_accuracy`. Then
    :func:`transfer_bound` (Jung et al.).
    """
    n, m, beta = _n_m_beta(n, m, beta)
    sigma = check_real("sigma", sigma, low=0.0, low_open=True)
    rho = m / (2.0 * n * n * sigma * sigma)
    return transfer_bound(_gaussian_alpha(sigma, m), _zcdp_eps(rho), beta, refine=refine)


def laplace_transfer_bound(n: int, m: int, scale: float, beta: float, *,
                           refine: bool = True) -> TransferBound:
    """Population accuracy of the Laplace mechanism (scale ``b``) on ``m`` adaptive queries.

    Each answer is :math:`\\varepsilon_0 = 1/(nb)`-DP. Two privacy routes,
    the better bound is returned: basic composition (pure
    :math:`m\\varepsilon_0`) and advanced composition
    (:func:`toytheory.adaptive.accounting.advanced_composition`). Sample
    accuracy: :func:`laplace_sample_accuracy`.
    """
    n, m, beta = _n_m_beta(n, m, beta)
    scale = check_real("scale", scale, low=0.0, low_open=True)
    eps0 = 1.0 / (n * scale)
    alpha = _laplace_alpha(scale, m)
    pure = transfer_bound(alpha, lambda _: m * eps0, beta, pure=True, refine=refine)
    advanced = transfer_bound(
        alpha, lambda delta: (np.sqrt(2.0 * m * np.log(1.0 / np.asarray(delta))) * eps0
                              + m * eps0 * math.expm1(eps0)), beta, refine=refine)
    return pure if pure.tau <= advanced.tau else advanced


def _optimal_scale(bound_of_scale, lo, hi):
    from scipy.optimize import minimize_scalar

    grid = np.geomspace(lo, hi, 41)
    taus = [bound_of_scale(s, False).tau for s in grid]
    i = int(np.argmin(taus))
    a, b = grid[max(i - 1, 0)], grid[min(i + 1, len(grid) - 1)]
    res = minimize_scalar(lambda z: bound_of_scale(math.exp(z), False).tau,
                          bounds=(math.log(a), math.log(b)), method="bounded",
                          options={"xatol": 1e-3})
    s = math.exp(res.x) if res.fun < taus[i] else float(grid[i])
    return s, bound_of_scale(s, True)


def optimal_gaussian_sigma(n: int, m: int, beta: float) -> tuple[float, TransferBound]:
    """The noise level that minimises :func:`gaussian_transfer_bound`, and that bound."""
    n, m, beta = _n_m_beta(n, m, beta)
    return _optimal_scale(lambda s, r: gaussian_transfer_bound(n, m, s, beta, refine=r),
                          1e-3 / math.sqrt(n), 10.0)


def optimal_laplace_scale(n: int, m: int, beta: float) -> tuple[float, TransferBound]:
    """The Laplace scale that minimises :func:`laplace_transfer_bound`, and that bound."""
    n, m, beta = _n_m_beta(n, m, beta)
    return _optimal_scale(lambda s, r: laplace_transfer_bound(n, m, s, beta, refine=r),
                          1e-3 / math.sqrt(n), 10.0)


def thresholdout_parameters(tau: float, m: int, beta: float) -> tuple[float, float]:
    """The paper's parameter choice for Thresholdout: :math:`T = 3\\tau/4`, :math:`\\sigma = \\tau/(96\\ln(4m/\\beta))`.

    Dwork et al., "The reusable holdout" (Science 2015), as read in
    REFERENCE.md section 7.

    Returns
    -------
    (threshold, sigma)
    """
    tau = check_real("tau", tau, low=0.0, high=1.0, low_open=True)
    m = check_int("m", m, low=1)
    beta = check_real("beta", beta, low=0.0, high=1.0, low_open=True, high_open=True)
    return 0.75 * tau, tau / (96.0 * math.log(4.0 * m / beta))


def thresholdout_epsilon(sigma: float, n: int, budget: int) -> float:
    """:math:`2B/(\\sigma n)`: Thresholdout's pure DP with respect to the holdout **[derived]**."""
    sigma = check_real("sigma", sigma, low=0.0, low_open=True)
    n = check_int("n", n, low=1)
    budget = check_int("budget", budget, low=1)
    return 2.0 * budget / (sigma * n)


def thresholdout_sample_accuracy(threshold: float, sigma: float, m: int, budget: int,
                                 beta: float) -> float:
    """Accuracy of Thresholdout's answers with respect to the holdout means **[derived]**.

    A below-threshold answer :math:`\\mathbb{E}_{S_t}\\phi` is within
    :math:`\\hat T + \\eta \\le T + |\\gamma| + |\\eta|` of :math:`\\mathbb{E}_{S_h}\\phi`;
    an above-threshold answer is within :math:`|\\xi|`. With at most ``B + 1``
    threshold draws (``Lap(2 sigma)``), ``m`` comparison draws (``Lap(4 sigma)``)
    and ``B`` answer draws (``Lap(sigma)``), union bounds with
    :math:`\\beta/3` each give

    .. math:: \\alpha = \\max\\big(T + 2\\sigma\\ln\\tfrac{3(B+1)}{\\beta}
              + 4\\sigma\\ln\\tfrac{3m}{\\beta},\\ \\sigma\\ln\\tfrac{3B}{\\beta}\\big).
    """
    threshold = check_real("threshold", threshold, low=0.0, low_open=True)
    sigma = check_real("sigma", sigma, low=0.0, low_open=True)
    m = check_int("m", m, low=1)
    budget = check_int("budget", budget, low=1)
    beta = check_real("beta", beta, low=0.0, high=1.0, low_open=True, high_open=True)
    g = 2.0 * sigma * math.log(3.0 * (budget + 1) / beta)
    e = 4.0 * sigma * max(0.0, math.log(3.0 * m / beta))
    x = sigma * max(0.0, math.log(3.0 * budget / beta))
    return max(threshold + g + e, x)


def thresholdout_transfer_bound(n: int, m: int, threshold: float, sigma: float, budget: int,
                                beta: float) -> TransferBound:
    """A population-accuracy guarantee for Thresholdout while its budget lasts **[derived]**.

    Thresholdout is :math:`2B/(\\sigma n)`-DP (pure) with respect to the
    holdout and :func:`thresholdout_sample_accuracy`-accurate with respect to
    it; the transfer theorem (Jung et al.) combines the two. This is not the
    paper's own theorem (whose constants we could not read); it is valid for
    every analyst, and typically far looser.
    """
    n, m, beta = _n_m_beta(n, m, beta)
    eps = thresholdout_epsilon(sigma, n, budget)
    thresholdout_sample_accuracy(threshold, sigma, m, budget, beta)  # validates the arguments

    def alpha(b):
        b = np.minimum(b, 0.999)
        g = 2.0 * sigma * np.log(3.0 * (budget + 1) / b)
        e = 4.0 * sigma * np.maximum(0.0, np.log(3.0 * m / b))
        x = sigma * np.maximum(0.0, np.log(3.0 * budget / b))
        return np.maximum(threshold + g + e, x)

    return transfer_bound(alpha, lambda _: eps, beta, pure=True)


def pmw_update_bound(universe_size: int, alpha: float, learning_rate: float) -> float:
    """Most updates of multiplicative weights that each fix a discrepancy of at least ``alpha``.

    Relative entropy :math:`\\mathrm{KL}(h \\| x)` starts at most :math:`\\ln N`
    and falls by at least :math:`\\lambda\\alpha - \\lambda^2` per update (Dwork
    and Roth 2014, Section 4.2), so there are at most
    :math:`\\ln N/(\\lambda\\alpha - \\lambda^2)` updates; :math:`4\\ln N/\\alpha^2`
    at :math:`\\lambda = \\alpha/2`.
    """
    universe_size = check_int("universe_size", universe_size, low=1)
    alpha = check_real("alpha", alpha, low=0.0, low_open=True)
    learning_rate = check_real("learning_rate", learning_rate, low=0.0, low_open=True)
    gain = learning_rate * alpha - learning_rate ** 2
    if gain <= 0:
        raise ValueError(f"learning_rate: must be < alpha = {alpha} for the potential to fall "
                         f"(got {learning_rate})")
    return math.log(universe_size) / gain


def gaussian_attack_error(n: int, m: int) -> float:
    """The Gaussian approximation of the log-odds attack's bias on the empirical mechanism.

    With ``m - 1`` coordinate queries on ``n`` Rademacher points and log-odds
    weights, the final halfspace query's empirical answer exceeds its true 1/2
    by about :math:`\\Phi(\\sqrt{(m-1)/n}) - 1/2 \\approx \\sqrt{(m-1)/(2\\pi n)}`
    (each :math:`w_j z_{ij}` has mean :math:`2/n` and variance :math:`4/n`)
    **[derived]**; a guide for the figures, not a bound.
    """
    from scipy.special import ndtr

    n = check_int("n", n, low=1)
    m = check_int("m", m, low=1)
    return float(ndtr(math.sqrt((m - 1) / n)) - 0.5)
