"""DEIS weights integrate every polynomial of degree < p in their variable exactly.

The existing check (weights sum to the step in rho) holds for any weighting that is exact on
constants. Here each variant's weights :math:`C_j` are held to the definition
:math:`\\sum_j C_j q(v_j) = \\int_{\\rho_0}^{\\rho_{next}} q(v(\\rho))\\,d\\rho` for
:math:`q = 1, v, v^2` (three nodes), with the variable :math:`v` of the variant (t for
tAB, rho for rhoAB, log rho for log-rho AB) and the integral by adaptive quadrature
(scipy.integrate.quad), which the weights' Gauss-Legendre construction does not share.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.integrate import quad

from toytheory.diffusion import VPLinear
from toytheory.diffusion import solvers as S


def _variable(variant, vp):
    if variant == "tab":
        return lambda rho: float(vp.t_from_sigma_ve(rho))
    if variant == "rhoab":
        return lambda rho: rho
    return lambda rho: float(np.log(rho))


@pytest.mark.parametrize("variant", ["tab", "rhoab", "logrho"])
@pytest.mark.parametrize("t_nodes, t_next", [([0.5, 0.6, 0.7], 0.4), ([0.1, 0.14, 0.2], 0.07)])
def test_deis_weights_integrate_polynomials_in_their_variable(variant, t_nodes, t_next):
    vp = VPLinear()
    rho = [float(vp.sigma_ve(t)) for t in t_nodes]
    r_next = float(vp.sigma_ve(t_next))
    c = S.deis_coefficients(vp, t_nodes, rho, t_next, r_next, variant)
    v = _variable(variant, vp)
    nodes = np.array([v(r) for r in rho])
    for k in range(3):
        exact, _ = quad(lambda r: v(r) ** k, rho[0], r_next, epsabs=1e-13, epsrel=1e-12)
        assert float(c @ nodes ** k) == pytest.approx(exact, rel=1e-9, abs=1e-12), (variant, k)


def test_the_check_tells_the_variants_apart():
    """Planted: tAB's weights used where rhoAB's are promised; the quadratic moment differs.

    Power: deterministic (fixed nodes, quadrature): no random draw enters."""
    vp = VPLinear()
    t_nodes, t_next = [0.5, 0.6, 0.7], 0.4
    rho = [float(vp.sigma_ve(t)) for t in t_nodes]
    r_next = float(vp.sigma_ve(t_next))
    wrong = S.deis_coefficients(vp, t_nodes, rho, t_next, r_next, "tab")
    exact, _ = quad(lambda r: r ** 2, rho[0], r_next)
    assert abs(float(wrong @ np.array(rho) ** 2) - exact) > 1e-6 * abs(exact)
