"""The symbolic local-order expansions against a numeric one-step experiment, and bad input.

For a smooth data prediction m(lambda) = sin(lambda) + 2 lambda^2 the exact one-step
increment is an integral computed by adaptive quadrature; the local error of one 3M step
with fixed step ratios then falls like h^p with the p sympy reports (3 with the published
coefficient, 4 with 2 phi_3), seen as the ratio of errors at h and h/2.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.integrate import quad

from toytheory.claims.catalog.diffusion_solvers_third_order import third_order_step
from toytheory.diffusion.solvers import adams_bashforth_local_error, multistep_local_error


def _m(lam):
    return math.sin(lam) + 2.0 * lam * lam


def _local_error(prediction, h, factor, lam0=0.4, r0=1.3, r1=0.8):
    lam = [lam0 - (r0 + r1) * h, lam0 - r0 * h, lam0, lam0 + h]
    x = 0.7
    step = float(third_order_step(prediction, np.array([x]), tuple(np.array([_m(v)])
                                                                   for v in lam[:3]), lam,
                                  factor)[0])
    a = [1.0 / math.sqrt(1.0 + math.exp(-2.0 * v)) for v in lam]
    s = [ai * math.exp(-v) for ai, v in zip(a, lam)]
    if prediction == "data":
        integral, _ = quad(lambda u: math.exp(-(h - u)) * _m(lam0 + u), 0.0, h, epsabs=1e-15,
                           epsrel=1e-14)
        exact = s[3] / s[2] * x + a[3] * integral
    else:
        integral, _ = quad(lambda u: math.exp(h - u) * _m(lam0 + u), 0.0, h, epsabs=1e-15,
                           epsrel=1e-14)
        exact = a[3] / a[2] * x - s[3] * integral
    return abs(step - exact)


@pytest.mark.parametrize("prediction", ["data", "noise"])
@pytest.mark.parametrize("factor", [1.0, 2.0])
def test_numeric_local_error_falls_at_the_symbolic_power(prediction, factor):
    p, _ = multistep_local_error(prediction, 3, int(factor))
    e1, e2 = _local_error(prediction, 0.01, factor), _local_error(prediction, 0.005, factor)
    assert math.log2(e1 / e2) == pytest.approx(p, abs=0.15)


def test_adams_bashforth_orders_are_the_textbook_ones():
    for k in (1, 2, 3, 4, 5):
        assert adams_bashforth_local_error(k, varying=False)[0] == k + 1
        assert adams_bashforth_local_error(k)[0] == min(k + 1, 3)


@pytest.mark.parametrize("call, name", [
    (lambda: multistep_local_error("score", 2), "prediction"),
    (lambda: multistep_local_error("data", 4), "order"),
    (lambda: multistep_local_error("data", 3, 3), "d2_factor"),
    (lambda: multistep_local_error("data", 3, n_terms=3), "n_terms"),
    (lambda: adams_bashforth_local_error(6), "order"),
])
def test_bad_input_is_refused_naming_the_argument(call, name):
    with pytest.raises(ValueError, match=f"^{name}"):
        call()
