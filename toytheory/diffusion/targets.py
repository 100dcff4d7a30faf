r"""Exact targets that are not the data law: annealed, product, geometric-average, CFG and
reward-tilted laws.

Closed forms (each returned as a :class:`~toytheory.diffusion.laws.GaussianMixture`, so its
log-density, score and denoiser are exact at every noise level :math:`(\alpha, \sigma)`):

- Gaussian data: :math:`N(m, S)^\beta \propto N(m, S/\beta)`;
  :math:`N(m_1, S_1)^{c_1} N(m_2, S_2)^{c_2} \propto N(\mu, P^{-1})`,
  :math:`P = c_1 S_1^{-1} + c_2 S_2^{-1}`, :math:`\mu = P^{-1}(c_1 S_1^{-1}m_1 + c_2 S_2^{-1} m_2)`
  (product ``c = (1, 1)``, geometric average ``(gamma, 1 - gamma)``, CFG law
  :math:`p(x|c)^w p(x)^{1-w}`: ``(w, 1 - w)``, normalisable only when ``P`` is positive
  definite). Note the diffused target is *not* the product of the diffused experts: the
  target here is the law at :math:`t = 0`, diffused afterwards (FKC's path
  :math:`\prod_k p_{k,t}^{c_k}` is :mod:`toytheory.diffusion.fkc`).
- Product of two Gaussian mixtures: a mixture with :math:`K_1 K_2` components
  (:math:`\pi_i\rho_j N(\mu_i; \nu_j, \Sigma_i + \Lambda_j)` weights).
- Reward tilts :math:`p(x)\exp(r(x)/\alpha)` of a mixture: linear
  :math:`r = a^T x` (component means shift by :math:`\Sigma_k a/\alpha`, weights gain
  :math:`\exp(a^T\mu_k/\alpha + a^T\Sigma_k a/2\alpha^2)`); quadratic
  :math:`r = -\tfrac12(x - c)^T Q (x - c)` (precisions gain :math:`Q/\alpha`).
- The indicator tilt :math:`r = 1\{u^T x \ge c\}` is not a mixture; :class:`IndicatorTilt`
  gives its exact density, normaliser, half-space mass and (1-D) CDF, and its diffused law
  through the exact soft value (:mod:`toytheory.diffusion.svdd`).

Not closed: :math:`p^\beta`, the geometric average and the CFG law of *mixtures* (the
latter, for ``w > 1``, normalisable only where :func:`cfg_tail_curvature` is positive).
:class:`GridLaw` is their quadrature reference in one or two dimensions (a fine grid,
trapezoid weights): normaliser, moments, set masses, 1-D CDF.

References: Skreta et al., "Feynman-Kac Correctors in Diffusion: Annealing, Guidance, and
Product of Experts" (the annealed / product / geometric targets); Li et al., "Derivative-Free
Guidance in Continuous and Discrete Diffusion Models with Soft Value-Based Decoding" (the
target :math:`p\exp(r/\alpha)`, its section 3); Ho & Salimans (the CFG law).
"""

from __future__ import annotations

import numpy as np
from scipy.special import log_ndtr, logsumexp

from .._validation import as_float_array, check_real
from .laws import Gaussian, GaussianMixture

__all__ = [
    "gaussian_power", "gaussian_product", "gaussian_geometric", "gaussian_cfg",
    "mixture_product", "tilt_linear", "tilt_quadratic", "IndicatorTilt", "GridLaw",
    "mixture_power_grid", "mixture_cfg_grid", "cfg_tail_curvature",
]


def _gauss(prefix, mean, cov):
    m = np.atleast_1d(as_float_array(f"{prefix}mean", mean))
    c = np.atleast_2d(as_float_array(f"{prefix}cov", cov))
    if m.ndim != 1 or c.shape != (m.size, m.size):
        raise ValueError(f"{prefix}cov: must have shape {(m.size, m.size)} (got {c.shape})")
    if np.linalg.eigvalsh(0.5 * (c + c.T)).min() <= 0:
        raise ValueError(f"{prefix}cov: must be positive definite")
    return m, c


def _tilted_gaussian(m1, c1, m2, c2, e1, e2, what):
    if m1.size != m2.size:
        raise ValueError(f"mean2: must have dimension {m1.size} (got {m2.size})")
    p1, p2 = np.linalg.inv(c1), np.linalg.inv(c2)
    prec = e1 * p1 + e2 * p2
    prec = 0.5 * (prec + prec.T)
    if np.linalg.eigvalsh(prec).min() <= 0:
        raise ValueError(f"{what}: the law is not normalisable (precision "
                         f"{e1:g} S1^-1 + {e2:g} S2^-1 is not positive definite)")
    cov = np.linalg.inv(prec)
    return Gaussian(cov @ (e1 * p1 @ m1 + e2 * p2 @ m2), 0.5 * (cov + cov.T))


def gaussian_power(mean, cov, beta) -> Gaussian:
    """:math:`N(m, S)^\\beta` normalised: :math:`N(m, S/\\beta)`, ``beta > 0``."""
    beta = check_real("beta", beta, low=0.0, low_open=True)
    m, c = _gauss("", mean, cov)
    return Gaussian(m, c / beta)


def gaussian_product(mean1, cov1, mean2, cov2) -> Gaussian:
    """:math:`N(m_1, S_1)\\,N(m_2, S_2)` normalised."""
    m1, c1 = _gauss("expert1_", mean1, cov1)
    m2, c2 = _gauss("expert2_", mean2, cov2)
    return _tilted_gaussian(m1, c1, m2, c2, 1.0, 1.0, "product")


def gaussian_geometric(mean1, cov1, mean2, cov2, gamma) -> Gaussian:
    """:math:`N(m_1, S_1)^\\gamma N(m_2, S_2)^{1-\\gamma}` normalised, ``gamma`` in [0, 1]."""
    gamma = check_real("gamma", gamma, low=0.0, high=1.0)
    m1, c1 = _gauss("expert1_", mean1, cov1)
    m2, c2 = _gauss("expert2_", mean2, cov2)
    return _tilted_gaussian(m1, c1, m2, c2, gamma, 1.0 - gamma, "gamma")


def gaussian_cfg(cond_mean, cond_cov, uncond_mean, uncond_cov, w) -> Gaussian:
    """The classifier-free-guidance law :math:`p(x|c)^w p(x)^{1-w}` normalised, ``w >= 0``.

    For ``w > 1`` the unconditional exponent is negative; the law exists only when
    :math:`w S_c^{-1} + (1 - w) S_u^{-1}` is positive definite (ValueError otherwise).
    """
    w = check_real("w", w, low=0.0)
    m1, c1 = _gauss("cond_", cond_mean, cond_cov)
    m2, c2 = _gauss("uncond_", uncond_mean, uncond_cov)
    return _tilted_gaussian(m1, c1, m2, c2, w, 1.0 - w, "w")


def _mixture(name, law):
    if not isinstance(law, GaussianMixture):
        raise ValueError(f"{name}: must be a GaussianMixture (got {type(law).__name__})")
    return law


def mixture_product(law1: GaussianMixture, law2: GaussianMixture) -> GaussianMixture:
    """The product :math:`p_1 p_2` of two Gaussian mixtures, normalised: a mixture with
    components :math:`N(\\Lambda_{ij}(\\Sigma_i^{-1}\\mu_i + \\Lambda_j^{-1}\\nu_j),
    (\\Sigma_i^{-1} + \\Lambda_j^{-1})^{-1})` and weights
    :math:`\\propto\\pi_i\\rho_j N(\\mu_i; \\nu_j, \\Sigma_i + \\Lambda_j)`
    (non-singular component covariances)."""
    _mixture("law1", law1)
    _mixture("law2", law2)
    if law1.dim != law2.dim:
        raise ValueError(f"law2: dimension {law2.dim} differs from law1's {law1.dim}")
    if law1.is_singular or law2.is_singular:
        raise ValueError("law1, law2: component covariances must be non-singular")
    d = law1.dim
    logw, means, covs = [], [], []
    for pi, mu, S in zip(law1.weights, law1.means, law1.covs):
        for rho, nu, L in zip(law2.weights, law2.means, law2.covs):
            if pi == 0 or rho == 0:
                continue
            P = np.linalg.inv(S) + np.linalg.inv(L)
            C = np.linalg.inv(P)
            C = 0.5 * (C + C.T)
            means.append(C @ (np.linalg.solve(S, mu) + np.linalg.solve(L, nu)))
            covs.append(C)
            J = S + L
            r = mu - nu
            logw.append(np.log(pi) + np.log(rho) - 0.5 * (r @ np.linalg.solve(J, r)
                        + np.linalg.slogdet(J)[1] + d * np.log(2 * np.pi)))
    logw = np.array(logw)
    return GaussianMixture(np.exp(logw - logsumexp(logw)), np.array(means), np.array(covs))


def _reward_alpha(alpha):
    return check_real("alpha", alpha, low=0.0, low_open=True)


def tilt_linear(law: GaussianMixture, a, alpha) -> GaussianMixture:
    """:math:`p(x)\\exp(a^T x/\\alpha)` normalised (exact: a mixture)."""
    _mixture("law", law)
    a = np.atleast_1d(as_float_array("a", a, ndim=(0, 1)))
    if a.size != law.dim:
        raise ValueError(f"a: must have {law.dim} entries (got {a.size})")
    alpha = _reward_alpha(alpha)
    covs = law.covs
    shift = covs @ a / alpha                                              # (K, d)
    logw = (np.log(np.maximum(law.weights, 1e-300)) + law.means @ a / alpha
            + 0.5 * np.einsum("i,kij,j->k", a, covs, a) / alpha ** 2)
    logw[law.weights == 0] = -np.inf
    return GaussianMixture(np.exp(logw - logsumexp(logw)), law.means + shift, covs)


def tilt_quadratic(law: GaussianMixture, Q, centre, alpha) -> GaussianMixture:
    """:math:`p(x)\\exp(-\\tfrac{1}{2\\alpha}(x - c)^T Q (x - c))` normalised, ``Q`` symmetric
    positive semi-definite (exact: a mixture; non-singular component covariances)."""
    _mixture("law", law)
    if law.is_singular:
        raise ValueError("law: component covariances must be non-singular")
    d = law.dim
    Q = np.atleast_2d(as_float_array("Q", Q))
    if Q.shape != (d, d) or np.abs(Q - Q.T).max() > 1e-12 * max(1.0, np.abs(Q).max()):
        raise ValueError(f"Q: must be a symmetric ({d}, {d}) matrix")
    if np.linalg.eigvalsh(Q).min() < -1e-12 * max(1.0, np.abs(Q).max()):
        raise ValueError("Q: must be positive semi-definite")
    c = np.atleast_1d(as_float_array("centre", centre, ndim=(0, 1)))
    if c.size != d:
        raise ValueError(f"centre: must have {d} entries (got {c.size})")
    alpha = _reward_alpha(alpha)
    # a Gaussian factor exp(-(x-c)^T (Q/alpha) (x-c)/2): product with each component
    logw, means, covs = [], [], []
    Qa = Q / alpha
    for pi, mu, S in zip(law.weights, law.means, law.covs):
        P = np.linalg.inv(S) + Qa
        C = np.linalg.inv(P)
        C = 0.5 * (C + C.T)
        means.append(C @ (np.linalg.solve(S, mu) + Qa @ c))
        covs.append(C)
        # int N(x; mu, S) exp(-(x-c)^T Qa (x-c)/2) dx = |I + S Qa|^-1/2 exp(-r^T (S + Qa^-1)^-1 r/2)
        r = mu - c
        M = np.eye(d) + S @ Qa
        quad = r @ Qa @ np.linalg.solve(M, r)
        logw.append(np.log(max(pi, 1e-300)) - 0.5 * np.linalg.slogdet(M)[1] - 0.5 * quad)
    logw = np.array(logw)
    logw[law.weights == 0] = -np.inf
    return GaussianMixture(np.exp(logw - logsumexp(logw)), np.array(means), np.array(covs))


class IndicatorTilt:
    """:math:`p(x)\\exp(1\\{u^T x \\ge c\\}/\\alpha)/Z` for a Gaussian mixture ``p``.

    The reward is non-differentiable (zero gradient almost everywhere).
    :math:`Z = 1 + (e^{1/\\alpha} - 1) P_p(u^T x \\ge c)`, and
    :math:`P_p(u^T x \\ge c) = \\sum_k \\pi_k \\Phi((u^T\\mu_k - c)/\\sqrt{u^T\\Sigma_k u})`.

    Parameters
    ----------
    law : GaussianMixture
    u : (d,) array, non-zero
    c : float
    alpha : float > 0
    """

    def __init__(self, law: GaussianMixture, u, c, alpha):
        self.law = _mixture("law", law)
        u = np.atleast_1d(as_float_array("u", u, ndim=(0, 1)))
        if u.size != law.dim or not np.any(u != 0):
            raise ValueError(f"u: must be a non-zero vector of {law.dim} entries")
        self.u = u
        self.c = check_real("c", c)
        self.alpha = _reward_alpha(alpha)
        self.log_gain = 1.0 / self.alpha          # log of the tilt on the set

    def reward(self, x):
        """:math:`1\\{u^T x \\ge c\\}`, shape ``(n,)``."""
        x = as_float_array("x", x, ndim=2)
        return (x @ self.u >= self.c).astype(float)

    def base_mass(self) -> float:
        """:math:`P_p(u^T x \\ge c)`, exact."""
        sd = np.sqrt(np.einsum("i,kij,j->k", self.u, self.law.covs, self.u))
        z = (self.law.means @ self.u - self.c) / np.maximum(sd, 1e-300)
        z = np.where(sd > 0, z, np.where(z >= 0, np.inf, -np.inf))
        return float(self.law.weights @ np.exp(log_ndtr(z)))

    def log_normaliser(self) -> float:
        """:math:`\\log Z`."""
        return float(np.log1p(np.expm1(self.log_gain) * self.base_mass()))

    def tilted_mass(self) -> float:
        """:math:`P(u^T x \\ge c)` under the tilted law: :math:`e^{1/\\alpha} P_p / Z`."""
        return float(np.exp(self.log_gain + np.log(self.base_mass()) - self.log_normaliser()))

    def log_prob(self, x):
        """Normalised log-density of the tilted law, shape ``(n,)``."""
        x = as_float_array("x", x, ndim=2)
        return self.law.log_prob(x) + self.log_gain * self.reward(x) - self.log_normaliser()

    def cdf(self, x):
        """1-D only (``u = (u_1,)``): the tilted law's CDF at points ``x`` (shape ``(n,)``),
        exact through normal CDFs."""
        if self.law.dim != 1:
            raise ValueError("law: cdf needs a 1-D law")
        x = np.atleast_1d(as_float_array("x", x, ndim=(0, 1)))
        thr = self.c / self.u[0]
        mu, sd, pi = self.law.means[:, 0], np.sqrt(self.law.covs[:, 0, 0]), self.law.weights
        F = lambda y: (pi * _ndtr_safe(y[:, None], mu, sd)).sum(axis=1)   # noqa: E731
        base = F(x)
        Fthr = F(np.array([thr]))[0]
        gain = np.exp(self.log_gain)
        if self.u[0] > 0:   # set = [thr, inf)
            out = np.where(x < thr, base, Fthr + gain * (base - Fthr))
        else:               # set = (-inf, thr]
            out = np.where(x <= thr, gain * base, gain * Fthr + (base - Fthr))
        return out / np.exp(self.log_normaliser())


def _ndtr_safe(y, mu, sd):
    from scipy.special import ndtr

    return ndtr((y - mu) / sd)


class GridLaw:
    """Quadrature reference for an unnormalised density in one or two dimensions.

    Parameters
    ----------
    log_density : callable
        ``log_density(x)`` for points ``x`` of shape ``(n, d)``, returns ``(n,)``.
    bounds : sequence of (low, high)
        One pair per dimension (``d`` in {1, 2}); the law's mass outside must be negligible.
    n_grid : int
        Points per dimension (trapezoid rule).
    """

    def __init__(self, log_density, bounds, n_grid: int = 4001):
        if not callable(log_density):
            raise ValueError("log_density: must be callable")
        bounds = [tuple(float(v) for v in b) for b in bounds]
        if len(bounds) not in (1, 2) or any(len(b) != 2 or not b[0] < b[1] for b in bounds):
            raise ValueError("bounds: must be 1 or 2 pairs (low, high) with low < high")
        if isinstance(n_grid, bool) or not isinstance(n_grid, int) or n_grid < 3:
            raise ValueError(f"n_grid: must be an integer >= 3 (got {n_grid!r})")
        self.dim = len(bounds)
        axes = [np.linspace(lo, hi, n_grid) for lo, hi in bounds]
        wts = []
        for ax in axes:
            w = np.full(n_grid, ax[1] - ax[0])
            w[[0, -1]] *= 0.5
            wts.append(w)
        if self.dim == 1:
            self.points = axes[0][:, None]
            qw = wts[0]
        else:
            g0, g1 = np.meshgrid(axes[0], axes[1], indexing="ij")
            self.points = np.stack([g0.ravel(), g1.ravel()], axis=1)
            qw = np.outer(wts[0], wts[1]).ravel()
        lp = np.asarray(log_density(self.points), float)
        if lp.shape != (self.points.shape[0],) or np.any(np.isnan(lp)) or np.any(lp == np.inf):
            raise ValueError("log_density: must return finite values or -inf, one per point")
        top = lp.max()
        mass = np.exp(lp - top) * qw
        self.log_normaliser = float(top + np.log(mass.sum()))
        self.probs = mass / mass.sum()     # quadrature weights of the normalised law
        self.axes = axes

    def mean(self):
        return self.probs @ self.points

    def cov(self):
        m = self.mean()
        r = self.points - m
        return (r * self.probs[:, None]).T @ r

    def prob(self, indicator):
        """Mass of a set given by ``indicator(points) -> bool (n,)``."""
        return float(self.probs @ np.asarray(indicator(self.points), float))

    def cdf(self, x):
        """1-D: CDF at ``x`` by linear interpolation of the cumulative quadrature."""
        if self.dim != 1:
            raise ValueError("cdf: only for a 1-D GridLaw")
        cum = np.cumsum(self.probs)
        return np.interp(np.asarray(x, float), self.axes[0], cum, left=0.0, right=1.0)


def mixture_power_grid(law: GaussianMixture, beta, bounds, n_grid: int = 4001) -> GridLaw:
    """Quadrature reference for :math:`p^\\beta` of a 1-D or 2-D mixture, ``beta > 0``."""
    beta = check_real("beta", beta, low=0.0, low_open=True)
    _mixture("law", law)
    return GridLaw(lambda x: beta * law.log_prob(x), bounds, n_grid)


def cfg_tail_curvature(cond: GaussianMixture, uncond: GaussianMixture, w, n_directions=720):
    """The smallest tail curvature of :math:`p(x|c)^w p(x)^{1-w}` over directions (1-D or 2-D).

    Along a unit direction ``v``, :math:`\\log p(rv) = -\\tfrac{r^2}{2}\\min_k v^T\\Sigma_k^{-1}v
    + O(r)` for a mixture (its broadest component in that direction wins), so the CFG
    log-density falls like :math:`-\\tfrac{r^2}{2}\\kappa(v)`,
    :math:`\\kappa(v) = w\\,a_c(v) + (1 - w)\\,a_u(v)`, :math:`a(v) = \\min_k
    v^T\\Sigma_k^{-1}v`. The law is normalisable when :math:`\\min_v\\kappa(v) > 0` and not
    when it is negative (``w <= 1`` always gives :math:`\\kappa > 0`; for ``w > 1`` a
    conditional component broader than every unconditional one in some direction breaks
    it). Returns :math:`\\min_v\\kappa(v)` over ``n_directions`` angles in [0, pi) (2-D) or
    over ``v = 1`` (1-D).
    """
    w = check_real("w", w, low=0.0)
    _mixture("cond", cond)
    _mixture("uncond", uncond)
    if cond.dim != uncond.dim or cond.dim not in (1, 2):
        raise ValueError(f"uncond: dimension must equal cond's, 1 or 2 (got {cond.dim}, "
                         f"{uncond.dim})")
    if cond.is_singular or uncond.is_singular:
        raise ValueError("cond, uncond: component covariances must be non-singular")
    if cond.dim == 1:
        v = np.ones((1, 1))
    else:
        ang = np.linspace(0.0, np.pi, int(n_directions), endpoint=False)
        v = np.stack([np.cos(ang), np.sin(ang)], axis=1)

    def a(law):
        prec = np.linalg.inv(law.covs[law.weights > 0])
        return np.einsum("ni,kij,nj->nk", v, prec, v).min(axis=1)

    return float((w * a(cond) + (1.0 - w) * a(uncond)).min())


def mixture_cfg_grid(cond: GaussianMixture, uncond: GaussianMixture, w, bounds,
                     n_grid: int = 4001) -> GridLaw:
    """Quadrature reference for :math:`p(x|c)^w p(x)^{1-w}` (1-D or 2-D), ``w >= 0``.

    For ``w > 1`` the law must be normalisable (:func:`cfg_tail_curvature` > 0; ValueError
    naming ``w`` otherwise): a grid would otherwise report the truncated mass of a law that
    does not exist.
    """
    w = check_real("w", w, low=0.0)
    _mixture("cond", cond)
    _mixture("uncond", uncond)
    if w > 1.0 and cfg_tail_curvature(cond, uncond, w) <= 0:
        raise ValueError(f"w: p(x|c)^w p(x)^(1-w) is not normalisable at w = {w} (a "
                         f"conditional component is broader than every unconditional one "
                         f"in some direction)")
    return GridLaw(lambda x: w * cond.log_prob(x) + (1 - w) * uncond.log_prob(x), bounds,
                   n_grid)
