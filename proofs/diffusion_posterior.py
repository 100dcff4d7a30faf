r"""Symbolic proofs for the posterior-sampling toys (issue 17).

1. **GMM posterior update, one component** (2-D signal, one linear measurement, general
   symmetric :math:`\Sigma`): with :math:`S = A\Sigma A^T + s^2`,
   :math:`\mu' = \mu + \Sigma A^T S^{-1}(y - A\mu)` and
   :math:`\Sigma' = \Sigma - \Sigma A^T S^{-1} A\Sigma` (toytheory's
   ``exact_gmm_posterior``),

   .. math:: N(x; \mu, \Sigma)\, N(y; Ax, s^2) = N(y; A\mu, S)\, N(x; \mu', \Sigma')

   identically in :math:`x, y` (log-densities: the quadratic forms and the
   log-determinants separately). Summed over components this is the mixture update: the
   posterior weights are :math:`\pi_k N(y; A\mu_k, S_k)` normalised.
2. **Gaussian bridge** (random walk with step variance :math:`q`): from the Markov
   transition densities, :math:`p(x_t \mid x_0 = a)\,p(x_T = b \mid x_t)` is, as a
   function of :math:`x_t`, proportional to
   :math:`N(x_t;\, a + (t/T)(b - a),\, q\,t(T-t)/T)` for symbolic :math:`0 < t < T`
   (toytheory's ``bridge_law`` on the walk; its covariance
   :math:`q(\min(s,t) - st/T)` follows from the same conditioning).
"""

from __future__ import annotations

import sympy as sp

from ._result import ProofResult
from .diffusion_symbolic import simplified_residual

__all__ = ["prove_gmm_component_update", "prove_random_walk_bridge", "component_update",
           "bridge_moments"]


def component_update(Sigma, A, mu, s2, y):
    """toytheory's one-component update (``exact_gmm_posterior``): (mu', Sigma', S)."""
    S = (A * Sigma * A.T)[0, 0] + s2
    gain = Sigma * A.T / S
    return mu + gain * (y - (A * mu)[0, 0]), Sigma - gain * A * Sigma, S


def prove_gmm_component_update() -> ProofResult:
    x1, x2, y, m1, m2, a1, a2 = sp.symbols("x1 x2 y m1 m2 a1 a2", real=True)
    p, q, s2 = sp.symbols("p q s2", positive=True)
    r = sp.Symbol("r", real=True)
    Sigma = sp.Matrix([[p, r], [r, q]])
    A = sp.Matrix([[a1, a2]])
    mu = sp.Matrix([m1, m2])
    x = sp.Matrix([x1, x2])
    mu_p, Sig_p, S = component_update(Sigma, A, mu, s2, y)
    # Sigma' is singular in the measured direction only when s2 = 0; here s2 > 0
    quad_lhs = ((x - mu).T * Sigma.inv() * (x - mu))[0, 0] + (y - (A * x)[0, 0]) ** 2 / s2
    quad_rhs = (y - (A * mu)[0, 0]) ** 2 / S + ((x - mu_p).T * Sig_p.inv() * (x - mu_p))[0, 0]
    det_res = Sigma.det() * s2 - Sig_p.det() * S
    res = (simplified_residual(sp.together(quad_lhs - quad_rhs)),
           simplified_residual(sp.together(det_res)))
    return ProofResult("one-component GMM posterior update (prior x likelihood = evidence x "
                       "posterior)", all(v == 0 for v in res), tuple(map(str, res)),
                       {"dimension": 2, "measurement": "scalar, general row A"})


def bridge_moments(a, b, t, T, q):
    """toytheory's random-walk bridge at frame t: (mean, variance)."""
    return a + t / T * (b - a), q * t * (T - t) / T


def prove_random_walk_bridge() -> ProofResult:
    a, b, xt = sp.symbols("a b x_t", real=True)
    t, T, q = sp.symbols("t T q", positive=True)
    # transitions of the walk: x_t | x_0 ~ N(x_0, q t); x_T | x_t ~ N(x_t, q (T - t))
    log_joint = -(xt - a) ** 2 / (2 * q * t) - (b - xt) ** 2 / (2 * q * (T - t))
    m, v = bridge_moments(a, b, t, T, q)
    log_bridge = -(xt - m) ** 2 / (2 * v)
    diff = sp.together(log_joint - log_bridge)
    # proportional in x_t: the difference must not depend on x_t
    res = (simplified_residual(sp.diff(diff, xt)),)
    return ProofResult("random-walk bridge: mean a + (t/T)(b - a), variance q t (T - t)/T",
                       res[0] == 0, tuple(map(str, res)), {"assumption": "0 < t < T"})
