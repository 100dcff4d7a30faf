r"""The Gaussian denoiser is the posterior mean (Tweedie's formula).

For :math:`x = \alpha x_0 + \sigma\varepsilon`, :math:`\varepsilon \sim N(0, I)`:

1. **General prior** (1-D; coordinates separate in higher dimension): for any
   density :math:`p_0` (an undefined sympy function),
   :math:`p_t(x) = \int p_0(y)\,e^{-(x-\alpha y)^2/2\sigma^2}dy/\sqrt{2\pi}\sigma` and

   .. math:: \sigma^2 \partial_x p_t(x) = \alpha \int y\, p_0(y)\, N(x; \alpha y, \sigma^2)\,dy
             - x\, p_t(x),

   i.e. :math:`E[x_0 \mid x] = (x + \sigma^2\partial_x\log p_t(x))/\alpha`. The
   integrand of the difference is checked to vanish identically (differentiation
   under the integral sign is licit for the Gaussian kernel and any integrable
   :math:`p_0`).
2. **Gaussian data, from the definition** (1-D): with :math:`p_0 = N(\mu, \lambda)`,
   sympy integrates :math:`\int x_0\, p_0(x_0)\, N(x; \alpha x_0, \sigma^2)\,dx_0 /
   \int p_0(x_0)\, N(x; \alpha x_0, \sigma^2)\,dx_0` and the result equals
   toytheory's denoiser :math:`\mu + \alpha\lambda(x - \alpha\mu)/(\alpha^2\lambda + \sigma^2)`
   and Tweedie's
   :math:`(x + \sigma^2\partial_x\log N(x; \alpha\mu, \alpha^2\lambda+\sigma^2))/\alpha`.
3. **Gaussian data, 2-D full covariance**: Gaussian conditioning,
   :math:`E[x_0 \mid x] = \mu + \operatorname{Cov}(x_0, x)\operatorname{Cov}(x)^{-1}(x - \alpha\mu)
   = \mu + \alpha\Sigma(\alpha^2\Sigma + \sigma^2 I)^{-1}(x - \alpha\mu)`, equals
   Tweedie's :math:`(x + \sigma^2\nabla\log p_t(x))/\alpha` with the gradient taken
   by sympy of the explicit 2-D Gaussian log-density, and toytheory's
   eigen-coordinate form
   :math:`\mu + U\operatorname{diag}(\alpha\lambda/(\alpha^2\lambda+\sigma^2))U^T(x-\alpha\mu)`
   for a symbolic rotation :math:`U`.

(Wang & Vastola, "The Unreasonable Effectiveness of Gaussian Score
Approximation for Diffusion Models and its Applications": the Gaussian
denoiser; REFERENCE.md section 1: ``D(x, sigma) = x + sigma^2 grad log p``.)
"""

from __future__ import annotations

import sympy as sp

from ._result import ProofResult
from .diffusion_symbolic import simplified_residual

__all__ = ["prove_tweedie_general_prior", "prove_gaussian_posterior_mean_1d",
           "prove_gaussian_posterior_mean_2d", "prove_tweedie", "gaussian_denoiser_1d"]

x, y, x0 = sp.symbols("x y x0", real=True)
a, s, lam = sp.symbols("alpha sigma lambda", positive=True)
mu = sp.Symbol("mu", real=True)


def gaussian_denoiser_1d(x_, a_, s_, mu_, lam_):
    """toytheory's denoiser for N(mu, lam) data, in one coordinate."""
    return mu_ + a_ * lam_ * (x_ - a_ * mu_) / (a_**2 * lam_ + s_**2)


def eigen_gain(a_, lam_, s_):
    """toytheory's per-eigendirection denoiser gain alpha lambda / (alpha^2 lambda + sigma^2)."""
    return a_ * lam_ / (a_**2 * lam_ + s_**2)


def _gauss(z, mean, var):
    return sp.exp(-(z - mean) ** 2 / (2 * var)) / sp.sqrt(2 * sp.pi * var)


def prove_tweedie_general_prior() -> ProofResult:
    p0 = sp.Function("p0")
    kernel = _gauss(x, a * y, s**2)
    integrand = (s**2 * sp.diff(p0(y) * kernel, x) - (a * y * p0(y) * kernel
                                                       - x * p0(y) * kernel))
    residual = sp.simplify(integrand / kernel)
    return ProofResult("Tweedie: sigma^2 d/dx p_t = alpha E[x0 p_0 N] - x p_t for any prior",
                       residual == 0, (str(residual),),
                       {"prior": "arbitrary density p0(y)",
                        "method": "integrand of the difference vanishes identically"})


def prove_gaussian_posterior_mean_1d() -> ProofResult:
    joint = _gauss(x0, mu, lam) * _gauss(x, a * x0, s**2)
    evidence = sp.simplify(sp.integrate(joint, (x0, -sp.oo, sp.oo)))
    first = sp.simplify(sp.integrate(x0 * joint, (x0, -sp.oo, sp.oo)))
    posterior_mean = sp.simplify(first / evidence)
    marginal = _gauss(x, a * mu, a**2 * lam + s**2)
    tweedie = (x + s**2 * sp.diff(sp.log(marginal), x)) / a
    r1 = simplified_residual(posterior_mean - gaussian_denoiser_1d(x, a, s, mu, lam))
    r2 = simplified_residual(tweedie - gaussian_denoiser_1d(x, a, s, mu, lam))
    r3 = simplified_residual(evidence / marginal - 1)
    return ProofResult("1-D Gaussian data: the integral posterior mean is toytheory's denoiser",
                       (r1, r2, r3) == (0, 0, 0), tuple(map(str, (r1, r2, r3))),
                       {"checked": ["posterior mean by integration - denoiser",
                                    "Tweedie with the marginal log-density - denoiser",
                                    "evidence / N(x; alpha mu, alpha^2 lambda + sigma^2) - 1"]})


def prove_gaussian_posterior_mean_2d() -> ProofResult:
    x1, x2, m1, m2 = sp.symbols("x1 x2 m1 m2", real=True)
    l1, l2 = sp.symbols("l1 l2", positive=True)
    u = sp.Symbol("u", real=True)
    c, sn = (1 - u**2) / (1 + u**2), 2 * u / (1 + u**2)  # rational rotation
    rot = sp.Matrix([[c, -sn], [sn, c]])
    cov = rot * sp.diag(l1, l2) * rot.T
    xv, mv = sp.Matrix([x1, x2]), sp.Matrix([m1, m2])
    marg_cov = a**2 * cov + s**2 * sp.eye(2)
    # Gaussian conditioning: Cov(x0, x) = alpha Sigma, Cov(x) = alpha^2 Sigma + sigma^2 I
    conditioning = mv + a * cov * marg_cov.inv() * (xv - a * mv)
    r = xv - a * mv
    log_p = (-(r.T * marg_cov.inv() * r)[0] / 2 - sp.log(marg_cov.det()) / 2
             - sp.log(2 * sp.pi))
    grad = sp.Matrix([sp.diff(log_p, v) for v in (x1, x2)])
    tweedie = (xv + s**2 * grad) / a
    gains = sp.diag(eigen_gain(a, l1, s), eigen_gain(a, l2, s))
    eigen_form = mv + rot * gains * rot.T * r
    residuals = [simplified_residual(e)
                 for e in (*(conditioning - tweedie), *(eigen_form - tweedie))]
    return ProofResult("2-D Gaussian data: conditioning = Tweedie = eigen-coordinate denoiser",
                       all(e == 0 for e in residuals), tuple(map(str, residuals)),
                       {"covariance": "R(u) diag(l1, l2) R(u)^T, R a rational rotation"})


def prove_tweedie() -> ProofResult:
    """All three parts; holds only if each does."""
    parts = [prove_tweedie_general_prior(), prove_gaussian_posterior_mean_1d(),
             prove_gaussian_posterior_mean_2d()]
    return ProofResult("the Gaussian denoiser is the posterior mean (Tweedie)",
                       all(p.holds for p in parts),
                       tuple(r for p in parts for r in p.residuals),
                       {"parts": [p.name for p in parts]})
