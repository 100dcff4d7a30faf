r"""Symbolic proofs for the guided / composed targets (issue 16, item 7).

1. **Tilted products of Gaussians** (1-D; coordinates of a diagonalising basis separate):
   for exponents :math:`c_1, c_2` (product ``(1, 1)``, geometric average
   ``(gamma, 1 - gamma)``, CFG ``(w, 1 - w)``, annealing ``(beta, 0)``),
   :math:`c_1\log N(x; m_1, v_1) + c_2\log N(x; m_2, v_2) - \log N(x; m, v)` is constant in
   :math:`x` exactly when :math:`1/v = c_1/v_1 + c_2/v_2` and
   :math:`m = v(c_1m_1/v_1 + c_2m_2/v_2)` (toytheory.diffusion.targets): its first
   derivative in :math:`x` simplifies to zero.
2. **The FKC weight solves the Feynman–Kac PDE** for the annealed Gaussian path
   :math:`\tilde\pi_t = N(x; \alpha_t m, C_t)^\beta`, :math:`C_t = \alpha_t^2 S + \sigma_t^2`,
   with :math:`\alpha_t, \sigma_t` undefined functions of ``t`` and any drift coefficients
   :math:`f, g^2`: with the naive reverse drift :math:`v = -fx + g^2\partial_x\log\tilde\pi`
   and toytheory's rate (``fkc.fkc_log_weight_rate``, 1-D)
   :math:`G = -\partial_t\log\tilde\pi + \partial_xv + v\,s - \tfrac{g^2}{2}(\partial_x s + s^2)`,
   :math:`s = \partial_x\log\tilde\pi`,

   .. math:: -\partial_t\tilde\pi + \partial_x(v\tilde\pi) - \tfrac{g^2}{2}\partial_x^2\tilde\pi
             = G\,\tilde\pi

   (reverse time :math:`\tau = T - t`; REFERENCE.md section 3). And for :math:`\beta = 1`
   on a VP schedule (:math:`\dot\alpha = f\alpha`, :math:`\dot{(\sigma^2)} = g^2 + 2f\sigma^2`)
   :math:`G \equiv 0`: the reverse SDE already carries the data path, so FKC's weights stay
   constant.
"""

from __future__ import annotations

import sympy as sp

from ._result import ProofResult
from .diffusion_symbolic import simplified_residual

__all__ = ["tilted_gaussian_1d", "fkc_rate_1d", "prove_tilted_gaussian_products",
           "prove_fkc_weight_solves_pde", "prove_fkc_weight_vanishes_on_the_data_path"]

x, t = sp.symbols("x t", real=True)
m1, m2, m = sp.symbols("m1 m2 m", real=True)
v1, v2, S, f, g2, beta = sp.symbols("v1 v2 S f g2 beta", positive=True)


def _log_normal(x_, mean, var):
    return -(x_ - mean) ** 2 / (2 * var) - sp.log(2 * sp.pi * var) / 2


def tilted_gaussian_1d(c1, c2):
    """toytheory's (mean, variance) of N(m1, v1)^c1 N(m2, v2)^c2 (targets._tilted_gaussian)."""
    prec = c1 / v1 + c2 / v2
    return (c1 * m1 / v1 + c2 * m2 / v2) / prec, 1 / prec


def prove_tilted_gaussian_products() -> ProofResult:
    gamma, w = sp.symbols("gamma w", positive=True)
    cases = {"product": (1, 1), "geometric": (gamma, 1 - gamma), "cfg": (w, 1 - w),
             "annealed": (beta, 0)}
    residuals = []
    for c1, c2 in cases.values():
        mean, var = tilted_gaussian_1d(c1, c2)
        diff = (c1 * _log_normal(x, m1, v1) + c2 * _log_normal(x, m2, v2)
                - _log_normal(x, mean, var))
        residuals.append(str(simplified_residual(sp.diff(diff, x))))
    return ProofResult("c1 log N1 + c2 log N2 = log N(m, v) + const (product, geometric, "
                       "CFG, annealed)", all(r == "0" for r in residuals), tuple(residuals),
                       {"cases": list(cases)})


def _path():
    al = sp.Function("alpha")(t)
    sg = sp.Function("sigma")(t)
    C = al ** 2 * S + sg ** 2
    log_pi = beta * _log_normal(x, al * m, C)
    return al, sg, log_pi


def fkc_rate_1d(log_pi):
    """toytheory's weight rate G (fkc.fkc_log_weight_rate) in one dimension, forward time t:
    G = -d_t log pi + tr A + v s - g^2/2 (-P + s^2), with s = d_x log pi, P = -d_x s,
    A = -f - g^2 P, v = -f x + g^2 s."""
    s = sp.diff(log_pi, x)
    P = -sp.diff(s, x)
    A = -f - g2 * P
    v = -f * x + g2 * s
    return -sp.diff(log_pi, t) + A + v * s - g2 / 2 * (-P + s ** 2), v


def prove_fkc_weight_solves_pde() -> ProofResult:
    _, _, log_pi = _path()
    G, v = fkc_rate_1d(log_pi)
    pi = sp.exp(log_pi)
    lhs = -sp.diff(pi, t) + sp.diff(v * pi, x) - g2 / 2 * sp.diff(pi, x, 2)
    res = simplified_residual(sp.simplify(lhs / pi) - G)
    return ProofResult("the FKC weight rate solves the Feynman-Kac PDE of the annealed "
                       "Gaussian path", str(res) == "0", (str(res),))


def prove_fkc_weight_vanishes_on_the_data_path() -> ProofResult:
    al, sg, log_pi = _path()
    G, _ = fkc_rate_1d(log_pi.subs(beta, 1))
    da, ds = sp.Symbol("dalpha"), sp.Symbol("dsigma")
    G = G.subs({sp.Derivative(al, t): da, sp.Derivative(sg, t): ds})
    # VP: alpha' = f alpha, (sigma^2)' = 2 sigma sigma' = g^2 + 2 f sigma^2
    G = G.subs({da: f * al, ds: (g2 + 2 * f * sg ** 2) / (2 * sg)})
    res = simplified_residual(G)
    return ProofResult("beta = 1 on a VP schedule: the FKC weight rate is identically zero",
                       str(res) == "0", (str(res),))
