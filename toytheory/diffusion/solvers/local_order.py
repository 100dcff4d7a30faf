r"""Local truncation error of the multistep DPM-Solver updates, by exact Taylor expansion.

The exponential-integrator form of the probability-flow ODE in log-SNR
:math:`\lambda` gives, for one step of size :math:`h` from :math:`\lambda_{s}`,

- data prediction :math:`m(\lambda)` (DPM-Solver++):
  :math:`x_t/\alpha_t - (\sigma_t/\sigma_s)x_s/\alpha_t = \int_0^h e^{-(h-u)} m(\lambda_s + u)\,du`;
- noise prediction :math:`\varepsilon(\lambda)` (DPM-Solver):
  :math:`x_t/\sigma_t - (\alpha_t/\alpha_s)x_s/\sigma_t
  = -\int_0^h e^{h-u}\varepsilon(\lambda_s + u)\,du`

(the exponential-integrator forms of the DPM-Solver and DPM-Solver++ papers). With
:math:`m(\lambda_s + u) = \sum_k c_k u^k/k!` the integrals are exact in
:math:`h`; the multistep updates replace the derivatives by divided
differences of the previous model values at :math:`\lambda_s - r_0 h` and
:math:`\lambda_s - (r_0 + r_1)h`. Their difference is a power series in
:math:`h`; its lowest non-vanishing power :math:`p` is the local order
(local error :math:`O(h^p)`, global order :math:`p - 1`).

The third-order update of the released DPM-Solver code
(``multistep_dpm_solver_third_update``) and of diffusers
(``multistep_dpm_solver_third_order_update``) multiplies
:math:`D_2 = (D_{1,0} - D_{1,1})/(r_0 + r_1) \approx h^2 m''/2` by
:math:`\varphi_3`, the coefficient of :math:`h^2 m''`: ``d2_factor=1``.
The Taylor-consistent coefficient is :math:`2\varphi_3` (``d2_factor=2``).
"""

from __future__ import annotations

from fractions import Fraction
from functools import lru_cache

from ..._validation import check_int
from ._base import check_choice

__all__ = ["multistep_local_error", "adams_bashforth_local_error"]

PREDICTIONS = ("data", "noise")


@lru_cache(maxsize=64)
def multistep_local_error(prediction: str, order: int, d2_factor: int = 2, *,
                          n_terms: int = 5):
    """Leading term of the local error of the multistep DPM-Solver(++) update.

    Parameters
    ----------
    prediction : {"data", "noise"}
        DPM-Solver++ (data prediction) or DPM-Solver (noise prediction) form.
    order : {2, 3}
        2M (the midpoint ``solver_type="dpmsolver"`` form, :math:`-\\tfrac12\\varphi_1 D_1`)
        or 3M.
    d2_factor : {1, 2}
        3M only: the factor in front of :math:`\\varphi_3 D_2` (1: the released code,
        2: the Taylor-consistent coefficient).
    n_terms : int
        Taylor terms of the model kept (at least ``order + 2``).

    Returns
    -------
    (int, sympy.Expr)
        The lowest power :math:`p` of :math:`h` with a non-zero coefficient in
        (exact increment - update), and that coefficient (a polynomial in the
        Taylor coefficients ``c0, c1, ...`` and the step ratios ``r0, r1``).
    """
    import sympy as sp

    prediction = check_choice("prediction", prediction, PREDICTIONS)
    order = check_int("order", order, low=2, high=3)
    d2_factor = check_int("d2_factor", d2_factor, low=1, high=2)
    n_terms = check_int("n_terms", n_terms, low=order + 2, high=10)
    h, r0, r1 = sp.symbols("h r0 r1", positive=True)
    c = sp.symbols(f"c0:{n_terms}")
    top = n_terms + 3                       # exp series long enough for the 1/h^2 divisions
    sgn = -1 if prediction == "data" else 1
    e = sum((sgn * h) ** k / sp.factorial(k) for k in range(top + 3))

    def model(x):
        return sum(c[k] * x ** k / sp.factorial(k) for k in range(n_terms))

    # int_0^h e^{sgn (h - u)} u^k / k! du = sgn^{k+1} (e^{sgn h} - sum_{j <= k} (sgn h)^j / j!)
    exact = sum(c[k] * sgn ** (k + 1) * (e - sum((sgn * h) ** j / sp.factorial(j)
                                                  for j in range(k + 1)))
                for k in range(n_terms))
    if prediction == "noise":
        exact = -exact
    m0, m1, m2 = model(0), model(-r0 * h), model(-(r0 + r1) * h)
    phi1 = e - 1
    phi2 = phi1 / h + (1 if prediction == "data" else -1)
    phi3 = phi2 / h - sp.Rational(1, 2)
    d1_0 = (m0 - m1) / r0
    if order == 2:
        update = -phi1 * m0 - sp.Rational(1, 2) * phi1 * d1_0
    else:
        d1_1 = (m1 - m2) / r1
        d1 = d1_0 + r0 / (r0 + r1) * (d1_0 - d1_1)
        d2 = (d1_0 - d1_1) / (r0 + r1)
        sign = 1 if prediction == "data" else -1
        update = -phi1 * m0 + sign * phi2 * d1 - d2_factor * phi3 * d2
    err = sp.expand(exact - update)
    for p in range(top):
        coefficient = sp.factor(sp.simplify(err.coeff(h, p)))
        if coefficient != 0:
            return p, coefficient
    raise ArithmeticError("no non-zero term found; raise n_terms")  # pragma: no cover


def adams_bashforth_local_error(order: int, *, varying: bool = True):
    """Leading local error of constant-coefficient Adams-Bashforth-k on a varying grid.

    One step of :math:`y' = f(\\rho)` from :math:`\\rho_n` with step :math:`h`, using
    :math:`f` at the previous nodes :math:`\\rho_n - h/\\omega`,
    :math:`\\rho_n - h/\\omega - h/\\omega^2, \\dots` (step ratio :math:`\\omega` between
    successive steps), with the weights of AB-k for equal steps (PLMS; PNDM). A smoothly
    varying grid has :math:`\\omega = 1 + \\delta h`; ``varying=False`` sets
    :math:`\\delta = 0` (equal steps, the textbook case).

    Returns
    -------
    (int, sympy.Expr)
        The lowest power :math:`p` of :math:`h` in (exact increment - AB increment), and its
        coefficient in the Taylor coefficients ``c0, c1, ...`` of :math:`f` and ``delta``.
        Equal steps: :math:`p = k + 1`; varying steps: :math:`p = \\min(k + 1, 3)`, so the
        global order is :math:`\\min(k, 2)`.
    """
    import sympy as sp

    from .momentum import adams_bashforth_coefficients

    order = check_int("order", order, low=1, high=5)
    h, delta = sp.symbols("h delta")
    n_terms = order + 3
    c = sp.symbols(f"c0:{n_terms}")
    top = order + 3
    inv = sum((-delta * h) ** i for i in range(top + 2)) if varying else sp.Integer(1)

    def trunc(expr):
        """Drop the powers of h above ``top`` (they cannot reach the leading term)."""
        poly = sp.Poly(sp.expand(expr), h)
        return sum(coef * h ** k for (k,), coef in poly.terms() if k <= top)

    def f(u):
        total, power = sp.Integer(0), sp.Integer(1)
        for j in range(n_terms):
            total += c[j] * power / sp.factorial(j)
            power = trunc(power * u)
        return total

    exact = sum(c[j] * h ** (j + 1) / sp.factorial(j + 1) for j in range(n_terms))
    # the weights are rationals with denominators dividing 720: recover them exactly
    weights = [sp.Rational(str(Fraction(w).limit_denominator(10 ** 4)))
               for w in adams_bashforth_coefficients(order, 1.0)]
    node, step, update = sp.Integer(0), h, sp.Integer(0)
    for w in weights:
        update += w * f(node)
        step = trunc(step * inv)
        node = node - step
    err = sp.expand(exact - h * update)
    for p in range(top + 1):
        coefficient = sp.factor(err.coeff(h, p))
        if coefficient != 0:
            return p, coefficient
    raise ArithmeticError("no non-zero term found")  # pragma: no cover
