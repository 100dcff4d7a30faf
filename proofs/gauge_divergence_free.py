r"""Each gauge-field construction of :mod:`toytheory.gauge.gauge_fields` satisfies
:math:`\nabla\cdot(p\,r) = 0` exactly (sympy).

Everything is derived here from the definitions, not imported from
:mod:`toytheory.gauge`:

1. Gaussian data: :math:`p \propto \exp(-\tfrac12 (x-m)^T P (x-m))` with a
   generic symmetric precision :math:`P` (d = 2 and 3), :math:`\Sigma = P^{-1}`,
   :math:`r = \Sigma A (x - m)` with a generic skew-symmetric :math:`A`:
   :math:`\nabla\cdot(p r)/p` cancels to 0 as a rational function.
2. Any 2-D density and stream function: generic functions :math:`p(x,y)`,
   :math:`\psi(x,y)`, :math:`r = p^{-1}(\partial_y\psi, -\partial_x\psi)`.
3. A skew-symmetric tensor field in d = 3 and 4: generic functions
   :math:`B_{ij} = -B_{ji}`, :math:`r_i = p^{-1}\sum_j\partial_j B_{ij}`.
4. The parametrisation used in the code, :math:`B = p\,h\,C` with a generic
   density :math:`p`, a generic scalar :math:`h` and a constant skew :math:`C`
   (d = 3): :math:`p^{-1}\nabla\cdot B = C(\nabla h + h\nabla\log p)` and
   :math:`\nabla\cdot(p\,C(\nabla h + h\nabla\log p)) = 0`; in d = 2 with
   :math:`C = J` this is the stream function :math:`\psi = p h`.
"""

from __future__ import annotations

import sympy as sp

from ._result import ProofResult

__all__ = ["prove_gaussian_gauge_field", "prove_stream_function_gauge_field",
           "prove_skew_tensor_gauge_field", "prove_density_times_h_parametrisation",
           "prove_all"]


def _skew(d, name):
    a = sp.zeros(d, d)
    for i in range(d):
        for j in range(i + 1, d):
            s = sp.Symbol(f"{name}{i}{j}", real=True)
            a[i, j] = s
            a[j, i] = -s
    return a


def _symmetric(d, name):
    m = sp.zeros(d, d)
    for i in range(d):
        for j in range(i, d):
            s = sp.Symbol(f"{name}{i}{j}", real=True)
            m[i, j] = s
            m[j, i] = s
    return m


def prove_gaussian_gauge_field(d: int = 3, skew: bool = True) -> ProofResult:
    """:math:`\\nabla\\cdot(p\\,\\Sigma A(x-m)) = 0` for :math:`p = N(m, \\Sigma)`, generic :math:`\\Sigma`, skew A.

    ``skew=False`` takes a generic *symmetric* A instead: the residual is then
    non-zero (the proof can fail).
    """
    x = sp.Matrix(sp.symbols(f"x0:{d}", real=True))
    m = sp.Matrix(sp.symbols(f"m0:{d}", real=True))
    prec = _symmetric(d, "P")
    a = _skew(d, "a") if skew else _symmetric(d, "a")
    cov = prec.inv()
    u = x - m
    p = sp.exp(-sp.Rational(1, 2) * (u.T * prec * u)[0, 0])
    r = cov * a * u
    div = sum(sp.diff(p * r[i], x[i]) for i in range(d))
    residual = sp.simplify(sp.cancel(sp.expand(div / p)))
    return ProofResult(f"div(p Sigma A (x - m)) = 0 for Gaussian p, d = {d}", residual == 0,
                       (str(residual),), {"d": d, "covariance": "inverse of a generic symmetric "
                                                             "precision"})


def prove_stream_function_gauge_field() -> ProofResult:
    """:math:`\\nabla\\cdot(p\\cdot p^{-1}\\nabla^\\perp\\psi) = 0` for generic :math:`p, \\psi` in 2-D."""
    x, y = sp.symbols("x y", real=True)
    p = sp.Function("p", positive=True)(x, y)
    psi = sp.Function("psi", real=True)(x, y)
    r = sp.Matrix([sp.diff(psi, y), -sp.diff(psi, x)]) / p
    residual = sp.simplify(sp.diff(p * r[0], x) + sp.diff(p * r[1], y))
    return ProofResult("div(p * (1/p) grad-perp psi) = 0 in 2-D", residual == 0,
                       (str(residual),), {"p": "generic positive function", "psi": "generic"})


def prove_skew_tensor_gauge_field(d: int = 3, skew: bool = True) -> ProofResult:
    """:math:`\\sum_{ij}\\partial_i\\partial_j B_{ij} = 0` for generic skew :math:`B(x)`, so
    :math:`r_i = p^{-1}\\sum_j\\partial_j B_{ij}` is a gauge field (``skew=False``: B symmetric,
    and the residual is not zero)."""
    xs = sp.symbols(f"x0:{d}", real=True)
    p = sp.Function("p", positive=True)(*xs)
    b = sp.zeros(d, d)
    for i in range(d):
        for j in range(i + 1, d):
            f = sp.Function(f"B{i}{j}", real=True)(*xs)
            b[i, j] = f
            b[j, i] = -f if skew else f
    r = [sum(sp.diff(b[i, j], xs[j]) for j in range(d)) / p for i in range(d)]
    residual = sp.simplify(sum(sp.diff(p * r[i], xs[i]) for i in range(d)))
    return ProofResult(f"div(p r) = 0 for r_i = (1/p) sum_j d_j B_ij, B skew, d = {d}",
                       residual == 0, (str(residual),), {"d": d, "B": "generic skew field"})


def prove_density_times_h_parametrisation(d: int = 3) -> ProofResult:
    """:math:`B = p h C`: :math:`p^{-1}\\nabla\\cdot B = C(\\nabla h + h\\nabla\\log p)`, and it is a gauge field."""
    xs = sp.symbols(f"x0:{d}", real=True)
    p = sp.Function("p", positive=True)(*xs)
    h = sp.Function("h", real=True)(*xs)
    c = _skew(d, "c")
    b = p * h * c
    from_tensor = sp.Matrix([sum(sp.diff(b[i, j], xs[j]) for j in range(d)) / p
                             for i in range(d)])
    grad_h = sp.Matrix([sp.diff(h, v) for v in xs])
    grad_log_p = sp.Matrix([sp.diff(sp.log(p), v) for v in xs])
    code_form = c * (grad_h + h * grad_log_p)
    same = [sp.simplify(e) for e in (from_tensor - code_form)]
    div = sp.simplify(sum(sp.diff(p * code_form[i], xs[i]) for i in range(d)))
    residuals = tuple(str(e) for e in same) + (str(div),)
    holds = all(e == 0 for e in same) and div == 0
    return ProofResult(f"B = p h C gives r = C(grad h + h grad log p) with div(p r) = 0, d = {d}",
                       holds, residuals, {"d": d})


def prove_all() -> list[ProofResult]:
    """Every identity above (Gaussian d = 2, 3; stream function; tensor d = 3, 4; p h C)."""
    return [prove_gaussian_gauge_field(2), prove_gaussian_gauge_field(3),
            prove_stream_function_gauge_field(), prove_skew_tensor_gauge_field(3),
            prove_skew_tensor_gauge_field(4), prove_density_times_h_parametrisation(3),
            prove_density_times_h_parametrisation(2)]
