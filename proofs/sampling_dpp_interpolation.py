"""Symbolic proof: interpolation at projection-DPP points has E||f - f_hat||^2 = (m+1) e*.

Here e* = ||f - P_m f||^2 is the best approximation error.

For the orthonormal Legendre basis of degree < m on U(-1, 1) and a polynomial
``f`` with symbolic coefficients, sympy integrates the density
det(Phi)^2 / m! times ||f - f_hat||^2 exactly (Cramer's rule removes the
det(Phi)^-2, see ``toytheory.sampling.interpolation``) and checks that the
difference with (m + 1)||f - P_m f||^2 simplifies to zero.

Nouy and Michel, "Weighted least-squares approximation with determinantal
point processes and generalized volume sampling" (2023), the section on interpolation at projection-DPP points.
"""

from __future__ import annotations

import math

import sympy as sp

from ._result import ProofResult

__all__ = ["prove_interpolation_identity"]


def prove_interpolation_identity(m: int = 2, degree: int = 3) -> ProofResult:
    """Prove the identity for ``m`` DPP points and a generic polynomial ``f`` of ``degree``.

    Parameters
    ----------
    m : int
        Number of basis functions and of points (2 or 3 run in seconds).
    degree : int
        Degree of ``f = sum_k a_k x^k`` with symbolic ``a_k``.
    """
    t = sp.Symbol("t", real=True)
    xs = sp.symbols(f"x1:{m + 1}", real=True)
    a = sp.symbols(f"a0:{degree + 1}", real=True)
    phi = [sp.sqrt(2 * j + 1) * sp.legendre(j, t) for j in range(m)]
    f = sum(a[k] * t ** k for k in range(degree + 1))

    def mean(expr, var):  # integral against the uniform probability measure on [-1, 1]
        return sp.integrate(sp.expand(expr), (var, -1, 1)) / 2

    coef = [sp.simplify(mean(f * p, t)) for p in phi]
    resid = sp.expand(f - sum(c * p for c, p in zip(coef, phi)))
    best = sp.simplify(mean(resid ** 2, t))
    mat = sp.Matrix([[p.subs(t, x) for p in phi] for x in xs])
    evec = [resid.subs(t, x) for x in xs]
    integrand = 0
    for j in range(m):
        mj = mat.copy()
        for i in range(m):
            mj[i, j] = evec[i]
        integrand += sp.expand(mj.det() ** 2)
    total = integrand / math.factorial(m)
    for x in xs:
        total = mean(total, x)
    residual = sp.simplify(best + total - (m + 1) * best)
    return ProofResult(
        name=f"E||f - f_hat||^2 = (m + 1)||f - P_m f||^2 for m = {m}, deg f = {degree}",
        holds=residual == 0,
        residuals=(str(residual),),
        details={"m": m, "degree": degree, "best_error": str(best)},
    )


if __name__ == "__main__":  # pragma: no cover
    for m_, deg in ((2, 3), (3, 4)):
        print(prove_interpolation_identity(m_, deg))
