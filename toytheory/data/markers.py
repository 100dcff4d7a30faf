"""Training-time markers for a rare subgroup, with exact long-tail errors for linear models.

Paper: "Treasure Hunt: Real-time Targeting of the Long Tail using Training-Time Markers".
The toy: a marker :math:`z \\in \\{0, 1\\}` (1 = the rare tail, probability :math:`\\pi`),
inputs :math:`x \\mid z \\sim N(\\mu_z, I_d)` and outputs
:math:`y = (1, x)^\\top w_z + \\sigma\\varepsilon`. Three linear predictors:

* without markers: one least-squares fit on :math:`(1, x)`;
* with markers given at inference: one (ridge) fit per marker value;
* with markers optional: the same fits, the marker inferred at inference by the linear
  discriminant :math:`\\hat z(x) = 1\\{a^\\top x + b > 0\\}` trained on the marked data.

Given the fitted parameters, every error on a test law :math:`x \\sim N(\\mu, I)` is exact:
:math:`\\sigma^2 + e^\\top M e` for a fixed linear predictor, and for the inferred marker
a truncated-Gaussian moment (:func:`switched_error`).
"""

from __future__ import annotations

import math

import numpy as np

from .._validation import as_float_array, check_real

__all__ = ["linear_error", "switched_error", "fit_lda", "fit_ridge"]


def fit_ridge(X, y, lam: float = 0.1) -> np.ndarray:
    """Ridge on :math:`(1, x)` (intercept penalised lightly too): ``(d + 1,)``."""
    X = as_float_array("X", X, ndim=2)
    y = as_float_array("y", y, ndim=1)
    lam = check_real("lam", lam, low=0.0)
    Z = np.column_stack([np.ones(len(y)), X])
    return np.linalg.solve(Z.T @ Z + lam * np.eye(Z.shape[1]), Z.T @ y)


def fit_lda(X, z) -> tuple[np.ndarray, float]:
    """Linear discriminant with a pooled covariance and the empirical prior: ``(a, b)``
    with :math:`\\hat z(x) = 1\\{a^\\top x + b > 0\\}`."""
    X = as_float_array("X", X, ndim=2)
    z = np.asarray(z).astype(bool)
    if z.all() or not z.any():
        raise ValueError("z: both marker values must occur")
    m0, m1 = X[~z].mean(0), X[z].mean(0)
    R = np.vstack([X[~z] - m0, X[z] - m1])
    S = R.T @ R / (len(X) - 2)
    a = np.linalg.solve(S, m1 - m0)
    p = z.mean()
    b = float(-a @ (m0 + m1) / 2 + math.log(p / (1 - p)))
    return a, b


def linear_error(w_hat, w_true, mu, sigma2: float) -> float:
    """:math:`E(y - (1, x)^\\top \\hat w)^2` for :math:`x \\sim N(\\mu, I)`:
    :math:`\\sigma^2 + (e_0 + \\mu^\\top e_x)^2 + \\|e_x\\|^2` with :math:`e = \\hat w - w`."""
    e = np.asarray(w_hat, float) - np.asarray(w_true, float)
    mu = np.asarray(mu, float)
    sigma2 = check_real("sigma2", sigma2, low=0.0)
    return float(sigma2 + (e[0] + mu @ e[1:]) ** 2 + e[1:] @ e[1:])


def _trunc_square(e, mu, a, b, below: bool) -> float:
    """:math:`E[(e_0 + e_x^\\top x)^2\\, 1\\{a^\\top x + b \\le 0\\}]` (or ``> 0``),
    :math:`x \\sim N(\\mu, I)`, by conditioning on :math:`s = a^\\top x + b`."""
    from scipy.special import ndtr

    m_t, v_t = e[0] + mu @ e[1:], e[1:] @ e[1:]
    m_s, v_s = a @ mu + b, a @ a
    rho = e[1:] @ a
    if v_s == 0.0:  # a constant classifier: the indicator does not depend on x
        return float((v_t + m_t ** 2) * ((b <= 0) == below))
    sd = math.sqrt(v_s)
    al = -m_s / sd
    phi = math.exp(-0.5 * al * al) / math.sqrt(2 * math.pi)
    P = float(ndtr(al))
    E1 = -sd * phi                      # E[(s - m_s) 1{s <= 0}]
    E2 = v_s * (P - al * phi)           # E[(s - m_s)^2 1{s <= 0}]
    if not below:
        P, E1, E2 = 1 - P, -E1, v_s - E2
    beta = rho / v_s
    return float((v_t - rho * beta) * P + m_t ** 2 * P + 2 * m_t * beta * E1
                 + beta ** 2 * E2)


def switched_error(w0_hat, w1_hat, w_true, mu, sigma2: float, a, b) -> float:
    """Exact error on :math:`x \\sim N(\\mu, I)`, :math:`y = (1, x)^\\top w + \\sigma\\varepsilon`
    of the predictor that uses ``w1_hat`` where :math:`a^\\top x + b > 0` and ``w0_hat``
    elsewhere."""
    mu = np.asarray(mu, float)
    a = np.asarray(a, float)
    sigma2 = check_real("sigma2", sigma2, low=0.0)
    e0 = np.asarray(w0_hat, float) - np.asarray(w_true, float)
    e1 = np.asarray(w1_hat, float) - np.asarray(w_true, float)
    return float(sigma2 + _trunc_square(e0, mu, a, float(b), True)
                 + _trunc_square(e1, mu, a, float(b), False))
