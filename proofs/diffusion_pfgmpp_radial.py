r"""The PFGM++ kernel's radial marginal is the paper's Beta sampler, and toytheory's
normaliser is right.

"PFGM++: Unlocking the Potential of Physics-Inspired Generative Models" (Xu et al., ICML
2023), Section 3 / Appendix: the perturbation kernel on :math:`\mathbb R^N` at
augmentation norm :math:`r` is

.. math:: p_r(x \mid y) = C_{N,D}\, r^D\, (\|x - y\|^2 + r^2)^{-(N+D)/2}, \qquad
          C_{N,D} = \frac{\Gamma((N+D)/2)}{\pi^{N/2}\Gamma(D/2)}

(toytheory's :func:`toytheory.diffusion.pfgmpp.kernel_density`), and the paper samples
:math:`\|x - y\|` as :math:`R = r\sqrt{B/(1-B)}`, :math:`B \sim \mathrm{Beta}(N/2, D/2)`.
In polar coordinates the kernel's radial marginal is
:math:`f(\rho) = S_{N-1}\rho^{N-1} C_{N,D} r^D (\rho^2 + r^2)^{-(N+D)/2}`,
:math:`S_{N-1} = 2\pi^{N/2}/\Gamma(N/2)` the area of the unit sphere in :math:`\mathbb R^N`.

The proof, for symbolic :math:`N, D, r > 0`, :math:`\rho > 0`:

1. the map :math:`b \mapsto r\sqrt{b/(1-b)}` is inverted by :math:`b(\rho) = \rho^2/(\rho^2
   + r^2)` (residual 0), and :math:`b'(\rho) > 0`;
2. the change of variables gives :math:`R`'s density
   :math:`g(\rho) = b^{N/2-1}(1-b)^{D/2-1} b'(\rho) / \mathrm B(N/2, D/2)`, and
   :math:`g(\rho) - f(\rho) = 0` identically: the radial marginal of the normalised
   kernel *is* the Beta sampler's law. Since the Beta density integrates to 1, this also
   proves the normaliser :math:`C_{N,D}` (a wrong constant leaves a non-zero residual);
3. toytheory's closed form :func:`~toytheory.diffusion.pfgmpp.radial_density`,
   :math:`2\rho^{N-1}r^{-N}(1 + \rho^2/r^2)^{-(N+D)/2}/\mathrm B(N/2, D/2)`, equals
   :math:`g` (residual 0);
4. a cross-check by integration: for (N, D) in a few small integer cases, sympy's
   :math:`\int_0^\infty f(\rho)\,d\rho = 1` exactly.
"""

from __future__ import annotations

import sympy as sp

from ._result import ProofResult

__all__ = ["kernel_normaliser", "sphere_area", "toytheory_radial_density",
           "prove_radial_law", "prove_normalised_by_integration"]

rho, r = sp.symbols("rho r", positive=True)
N, D = sp.symbols("N D", positive=True)
b = sp.Symbol("b", positive=True)


def kernel_normaliser(N_, D_, r_):
    """toytheory's constant in front of (|x - y|^2 + r^2)^(-(N+D)/2) (kernel_density)."""
    return sp.gamma((N_ + D_) / 2) / (sp.pi ** (N_ / 2) * sp.gamma(D_ / 2)) * r_ ** D_


def sphere_area(N_):
    """Area of the unit sphere in R^N: 2 pi^(N/2) / Gamma(N/2)."""
    return 2 * sp.pi ** (N_ / 2) / sp.gamma(N_ / 2)


def toytheory_radial_density(rho_, N_, D_, r_):
    """toytheory's radial_density: 2 rho^(N-1) r^-N (1 + rho^2/r^2)^(-(N+D)/2) / B(N/2, D/2)."""
    beta = sp.gamma(N_ / 2) * sp.gamma(D_ / 2) / sp.gamma((N_ + D_) / 2)
    return 2 * rho_ ** (N_ - 1) * r_ ** (-N_) * (1 + rho_ ** 2 / r_ ** 2) ** (-(N_ + D_) / 2) / beta


def _kernel_radial(rho_, N_, D_, r_):
    return sphere_area(N_) * rho_ ** (N_ - 1) * kernel_normaliser(N_, D_, r_) * (
        rho_ ** 2 + r_ ** 2) ** (-(N_ + D_) / 2)


def _ratio_is_one(num, den) -> sp.Expr:
    """num/den - 1, simplified through the logarithm (both sides positive)."""
    log_ratio = sp.expand_log(sp.log(num) - sp.log(den), force=True)
    res = sp.simplify(sp.gammasimp(sp.expand(log_ratio)))
    # polynomials left inside a logarithm cancel once factored
    return sp.simplify(res.replace(sp.log, lambda arg: sp.log(sp.factor(arg))))


def prove_radial_law() -> ProofResult:
    """Steps 1-3 of the module docstring, for symbolic N, D, r."""
    b_of_rho = rho ** 2 / (rho ** 2 + r ** 2)
    inverse = sp.simplify(r * sp.sqrt(b_of_rho / (1 - b_of_rho)) - rho)
    slope = sp.simplify(sp.diff(b_of_rho, rho))
    beta = sp.gamma(N / 2) * sp.gamma(D / 2) / sp.gamma((N + D) / 2)
    beta_pdf = b ** (N / 2 - 1) * (1 - b) ** (D / 2 - 1) / beta
    g = beta_pdf.subs(b, b_of_rho) * slope
    kernel_vs_beta = _ratio_is_one(_kernel_radial(rho, N, D, r), g)
    closed_vs_beta = _ratio_is_one(toytheory_radial_density(rho, N, D, r), g)
    slope_positive = bool(sp.simplify(slope).is_positive)
    residuals = (str(inverse), str(kernel_vs_beta), str(closed_vs_beta))
    return ProofResult(
        "PFGM++ radial marginal: S_{N-1} rho^(N-1) p_r = law of r sqrt(B/(1-B)), "
        "B ~ Beta(N/2, D/2); toytheory's radial_density and kernel normaliser",
        all(res == "0" for res in residuals) and slope_positive, residuals,
        {"symbols": "N, D, r, rho > 0", "slope_positive": slope_positive,
         "residual forms": "inverse map; log(kernel radial / Beta law); "
                           "log(radial_density / Beta law)"})


def prove_normalised_by_integration(cases=((1, 1), (2, 1), (2, 3), (3, 2), (4, 4))
                                    ) -> ProofResult:
    """Step 4: the kernel's radial marginal integrates to exactly 1 in small integer cases."""
    residuals = []
    for n_, d_ in cases:
        total = sp.integrate(_kernel_radial(rho, sp.Integer(n_), sp.Integer(d_), r),
                             (rho, 0, sp.oo))
        residuals.append(str(sp.simplify(total - 1)))
    return ProofResult("PFGM++ kernel radial marginal integrates to 1 (sympy integrate)",
                       all(res == "0" for res in residuals), tuple(residuals),
                       {"cases (N, D)": list(cases)})
