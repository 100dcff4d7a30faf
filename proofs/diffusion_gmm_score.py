r"""The Gaussian-mixture score formula is the gradient of the log of the mixture marginal.

The marginal of :math:`x_t = \alpha x_0 + \sigma\varepsilon` for
:math:`x_0 \sim \sum_k\pi_k N(\mu_k, \Sigma_k)` is
:math:`p_t(x) = \sum_k \pi_k N(x; \alpha\mu_k, C_k)`, :math:`C_k = \alpha^2\Sigma_k + \sigma^2 I`,
written here directly (determinant and inverse by sympy). toytheory evaluates
its score in eigen-coordinates (:mod:`toytheory.diffusion._mixture_core`):
with :math:`\Sigma_k = U_k\operatorname{diag}(\lambda_k)U_k^T`,
:math:`c_k = U_k^T(x - \alpha\mu_k)`, :math:`D_k = \alpha^2\lambda_k + \sigma^2`,

.. math:: s(x) = -\sum_k w_k U_k (c_k / D_k), \quad
          w_k = \operatorname{softmax}_k\Big(\log\pi_k - \tfrac12\sum_i \frac{c_{ki}^2}{D_{ki}}
          - \tfrac12\sum_i\log D_{ki}\Big)

(REFERENCE.md section 1; Wang & Vastola, "The Unreasonable Effectiveness of
Gaussian Score Approximation for Diffusion Models and its Applications", the
Gaussian-mixture score). The proofs check :math:`\nabla\log p_t - s = 0`
exactly:

- 1-D, two components with symbolic weights, means, variances, :math:`\alpha`, :math:`\sigma`;
- 2-D, two components with full covariances :math:`R(u_k)\operatorname{diag}(\lambda_{k1},
  \lambda_{k2})R(u_k)^T` (:math:`R` a rational parametrisation of the rotations,
  so everything stays rational). The 2-D residual is reduced in three exact
  steps: each component's log-density in eigen-coordinates equals the direct
  one (quadratic form and determinant), the direct component gradient is
  :math:`-C_k^{-1}(x - \alpha\mu_k) = -U_k(c_k/D_k)`, and the gradient of
  :math:`\log\sum_k e^{\ell_k(x)}` is :math:`\sum_k\operatorname{softmax}(\ell)_k\nabla\ell_k`
  for arbitrary functions :math:`\ell_k`.
- the delta-mixture form :math:`(\alpha\sum_j w_j y_j - x)/\sigma^2` is the
  :math:`\lambda = 0` case (1-D, three points).
"""

from __future__ import annotations

import sympy as sp

from ._result import ProofResult
from .diffusion_symbolic import simplified_residual

__all__ = ["prove_gmm_score_1d", "prove_gmm_score_2d", "prove_delta_mixture_score_1d",
           "prove_gmm_score"]

x = sp.Symbol("x", real=True)
a, s = sp.symbols("alpha sigma", positive=True)


def component_logit(weight, c, dvar):
    """toytheory's logit of one component in one coordinate: log pi - c^2/2D - log(D)/2."""
    return sp.log(weight) - c**2 / (2 * dvar) - sp.log(dvar) / 2


def _softmax_score(logits, comps):
    top = sum(sp.exp(l) for l in logits)
    return sum(sp.exp(l) / top * c for l, c in zip(logits, comps))


def prove_gmm_score_1d() -> ProofResult:
    p = sp.Symbol("p", positive=True)
    m1, m2 = sp.symbols("m1 m2", real=True)
    l1, l2 = sp.symbols("l1 l2", positive=True)
    weights, means, lams = (p, 1 - p), (m1, m2), (l1, l2)
    marginal = sum(w * sp.exp(-(x - a * m) ** 2 / (2 * (a**2 * lam + s**2)))
                   / sp.sqrt(2 * sp.pi * (a**2 * lam + s**2))
                   for w, m, lam in zip(weights, means, lams))
    grad = sp.diff(sp.log(marginal), x)
    logits, comps = [], []
    for w, m, lam in zip(weights, means, lams):
        c, dvar = x - a * m, a**2 * lam + s**2
        logits.append(component_logit(w, c, dvar))
        comps.append(-c / dvar)
    residual = simplified_residual(grad - _softmax_score(logits, comps))
    return ProofResult("1-D two-component GMM: grad log p_t = softmax-weighted component scores",
                       residual == 0, (str(residual),), {"components": 2})


def prove_delta_mixture_score_1d() -> ProofResult:
    ys = sp.symbols("y1:4", real=True)
    w = sp.symbols("w1:4", positive=True)
    marginal = sum(wi * sp.exp(-(x - a * yi) ** 2 / (2 * s**2)) for wi, yi in zip(w, ys))
    grad = sp.diff(sp.log(marginal), x)
    logits = [sp.log(wi) - (x - a * yi) ** 2 / (2 * s**2) for wi, yi in zip(w, ys)]
    formula = (a * _softmax_score(logits, ys) - x) / s**2
    residual = simplified_residual(grad - formula)
    return ProofResult("1-D delta mixture: grad log p_t = (alpha sum_j w_j y_j - x) / sigma^2",
                       residual == 0, (str(residual),), {"points": 3})


def _rotation(u):
    c, sn = (1 - u**2) / (1 + u**2), 2 * u / (1 + u**2)
    return sp.Matrix([[c, -sn], [sn, c]])


def prove_gmm_score_2d() -> ProofResult:
    x1, x2 = sp.symbols("x1 x2", real=True)
    xv = sp.Matrix([x1, x2])
    residuals = []
    logits_direct, logits_eigen, comps = [], [], []
    for k in (1, 2):
        u = sp.Symbol(f"u{k}", real=True)
        lam = sp.symbols(f"l{k}_1:3", positive=True)
        mu = sp.Matrix(sp.symbols(f"m{k}_1:3", real=True))
        rot = _rotation(u)
        cov = a**2 * rot * sp.diag(*lam) * rot.T + s**2 * sp.eye(2)   # C_k, directly
        r = xv - a * mu
        quad_direct = sp.cancel((r.T * cov.inv() * r)[0])
        det_direct = sp.cancel(cov.det())
        # toytheory's eigen-coordinate form
        c = rot.T * r
        dvar = [a**2 * li + s**2 for li in lam]
        quad_eigen = sum(c[i] ** 2 / dvar[i] for i in range(2))
        residuals.append(sp.cancel(quad_direct - quad_eigen))
        residuals.append(sp.cancel(det_direct - dvar[0] * dvar[1]))
        # gradient of the direct component log-density = -U (c / D)
        log_n = -quad_direct / 2 - sp.log(det_direct) / 2
        grad_direct = sp.Matrix([sp.diff(log_n, v) for v in (x1, x2)])
        comp = -rot * sp.Matrix([c[i] / dvar[i] for i in range(2)])
        residuals += [sp.cancel(g) for g in (grad_direct - comp)]
        comps.append(comp)
    # mixture step: d/dx log sum_k exp(l_k(x)) = sum_k softmax_k * d l_k/dx, any l_k
    ells = [sp.Function(f"ell{k}")(x1, x2) for k in (1, 2)]
    lse = sp.log(sum(sp.exp(e) for e in ells))
    for v in (x1, x2):
        residuals.append(simplified_residual(
            sp.diff(lse, v) - _softmax_score(ells, [sp.diff(e, v) for e in ells])))
    return ProofResult("2-D two-component GMM with full rotated covariances: grad log p_t "
                       "= toytheory's eigen-coordinate score", all(r == 0 for r in residuals),
                       tuple(map(str, residuals)),
                       {"steps": ["quadratic forms agree", "determinants agree",
                                  "component gradients agree", "log-sum-exp gradient"]})


def prove_gmm_score() -> ProofResult:
    """All parts; holds only if each does."""
    parts = [prove_gmm_score_1d(), prove_delta_mixture_score_1d(), prove_gmm_score_2d()]
    return ProofResult("the GMM score formula is the gradient of the log GMM marginal",
                       all(p.holds for p in parts),
                       tuple(r for p in parts for r in p.residuals),
                       {"parts": [p.name for p in parts]})
