r"""Simulators of the PFGM++ ODE on point data: Numba (parallel over particles) and torch
(batched; CUDA when present).

"PFGM++: Unlocking the Potential of Physics-Inspired Generative Models" (Xu et al., ICML
2023), Sections 3-4: with the alignment :math:`r = \sigma\sqrt D` the ODE
:math:`dx/dr = (x - E[y \mid x])/r` becomes, in :math:`s = \log\sigma`,

.. math:: \frac{dx}{ds} = x - \hat D(x, \sigma), \qquad
          \hat D = \sum_i w_i y_i + e(x, \sigma), \quad
          w_i \propto (\|x - y_i\|^2 + D\sigma^2)^{-(N+D)/2}

(:math:`D = \infty`: :math:`w_i \propto e^{-\|x - y_i\|^2/2\sigma^2}`, EDM's ODE). Both
simulators take classical RK4 steps uniform in :math:`s` from ``sigma_max`` down to
``sigma_min`` and compute the weights here, from the definition (log-sum-exp), not with
:mod:`toytheory.diffusion.pfgmpp`. The optional modelling error is the family the
robustness claim uses, an error of fixed size in the eps-prediction,
:math:`e(x, \sigma) = a\,\sigma\cos(f x + \phi)` coordinate-wise (``error=(a, f, phi)``;
``(0.1, 0, 0)`` is ``0.1 sigma``; ``(0.1, 3, -pi/2)`` is ``0.1 sigma sin 3x``).
They are held against :func:`toytheory.diffusion.pfgmpp.point_ode_map`, the exact numpy
map (scipy DOP853 at tight tolerance).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from toytheory._validation import as_float_array, check_int, check_real
from toytheory.threads import bounded_threads

__all__ = ["pfgmpp_ode_numba", "pfgmpp_ode_torch"]


def _check(x, data, D, sigma_max, sigma_min, steps, error):
    data = as_float_array("data", data, ndim=2)
    if data.shape[0] == 0:
        raise ValueError("data: must not be empty")
    if D != np.inf:
        D = check_int("D", D, low=1)
    sigma_max = check_real("sigma_max", sigma_max, low=0.0, low_open=True)
    sigma_min = check_real("sigma_min", sigma_min, low=0.0, low_open=True)
    if sigma_min >= sigma_max:
        raise ValueError("sigma_min: must be below sigma_max")
    steps = check_int("steps", steps, low=1)
    a, f, phi = (0.0, 0.0, 0.0) if error is None else (float(v) for v in error)
    return data, D, sigma_max, sigma_min, steps, (a, f, phi)


@njit(cache=True)
def _velocity(x, data, D, infinite, sig, a, f, phi, out, logw):
    m, N = data.shape
    top = -np.inf
    for i in range(m):
        sq = 0.0
        for j in range(N):
            d = x[j] - data[i, j]
            sq += d * d
        if infinite:
            lw = -sq / (2.0 * sig * sig)
        else:
            lw = -0.5 * (N + D) * math.log(sq + D * sig * sig)
        logw[i] = lw
        if lw > top:
            top = lw
    total = 0.0
    for j in range(N):
        out[j] = 0.0
    for i in range(m):
        w = math.exp(logw[i] - top)
        total += w
        for j in range(N):
            out[j] += w * data[i, j]
    for j in range(N):
        den = out[j] / total + a * sig * math.cos(f * x[j] + phi)
        out[j] = x[j] - den


@njit(parallel=True, cache=True)
def _rk4_numba(x0, data, D, infinite, s_hi, s_lo, steps, a, f, phi):
    n, N = x0.shape
    m = data.shape[0]
    out = np.empty_like(x0)
    h = (s_lo - s_hi) / steps
    for p in prange(n):
        x = x0[p].copy()
        k1 = np.empty(N)
        k2 = np.empty(N)
        k3 = np.empty(N)
        k4 = np.empty(N)
        tmp = np.empty(N)
        logw = np.empty(m)
        for k in range(steps):
            s = s_hi + k * h
            _velocity(x, data, D, infinite, math.exp(s), a, f, phi, k1, logw)
            for j in range(N):
                tmp[j] = x[j] + 0.5 * h * k1[j]
            _velocity(tmp, data, D, infinite, math.exp(s + 0.5 * h), a, f, phi, k2, logw)
            for j in range(N):
                tmp[j] = x[j] + 0.5 * h * k2[j]
            _velocity(tmp, data, D, infinite, math.exp(s + 0.5 * h), a, f, phi, k3, logw)
            for j in range(N):
                tmp[j] = x[j] + h * k3[j]
            _velocity(tmp, data, D, infinite, math.exp(s + h), a, f, phi, k4, logw)
            for j in range(N):
                x[j] += h / 6.0 * (k1[j] + 2.0 * k2[j] + 2.0 * k3[j] + k4[j])
        out[p] = x
    return out


def pfgmpp_ode_numba(x, data, D, sigma_max: float, sigma_min: float, steps: int,
                     error=None) -> np.ndarray:
    """Carry ``x`` (n, N) at ``sigma_max`` to ``sigma_min`` through the PFGM++ ODE on the
    point set ``data`` (m, N) with ``steps`` RK4 steps in log sigma (Numba, parallel over
    particles). ``D``: int >= 1 or ``np.inf``; ``error``: None or ``(a, f, phi)``.

    Raises
    ------
    ValueError
        empty ``data``, ``D < 1``, ``sigma_min >= sigma_max``, a non-positive sigma,
        ``steps < 1``, ``x`` with the wrong number of columns.
    """
    data, D, sigma_max, sigma_min, steps, (a, f, phi) = _check(
        x, data, D, sigma_max, sigma_min, steps, error)
    x = as_float_array("x", x, ndim=2)
    if x.shape[1] != data.shape[1]:
        raise ValueError(f"x: must have {data.shape[1]} columns like data")
    infinite = D == np.inf
    return _rk4_numba(np.ascontiguousarray(x), np.ascontiguousarray(data),
                      0.0 if infinite else float(D), infinite, math.log(sigma_max),
                      math.log(sigma_min), steps, a, f, phi)


def pfgmpp_ode_torch(x, data, D, sigma_max: float, sigma_min: float, steps: int,
                     error=None):
    """The same, batched in torch on ``x``'s device and dtype (numpy input: float64 CPU);
    returns a tensor."""
    import torch

    xt = x if isinstance(x, torch.Tensor) else torch.as_tensor(np.asarray(x, float))
    data_np = data.detach().cpu().numpy() if isinstance(data, torch.Tensor) else data
    data_np, D, sigma_max, sigma_min, steps, (a, f, phi) = _check(
        xt, data_np, D, sigma_max, sigma_min, steps, error)
    if xt.ndim != 2 or xt.shape[1] != data_np.shape[1]:
        raise ValueError(f"x: must be (n, {data_np.shape[1]})")
    yt = torch.as_tensor(data_np, dtype=xt.dtype, device=xt.device)
    N = yt.shape[1]

    def velocity(z, sig):
        sq = ((z[:, None, :] - yt[None]) ** 2).sum(-1)
        lw = -sq / (2 * sig * sig) if D == np.inf else -(N + D) / 2 * torch.log(
            sq + D * sig * sig)
        w = torch.softmax(lw, dim=1)
        return z - (w @ yt + a * sig * torch.cos(f * z + phi))

    s_hi, s_lo = math.log(sigma_max), math.log(sigma_min)
    h = (s_lo - s_hi) / steps
    z = xt.clone()
    # thousands of small CPU ops: toytheory's thread policy (one thread by default; on a
    # loaded 2-core machine torch's pool made this 50x slower)
    with bounded_threads(torch_too=xt.device.type == "cpu"):
        for k in range(steps):
            s = s_hi + k * h
            k1 = velocity(z, math.exp(s))
            k2 = velocity(z + 0.5 * h * k1, math.exp(s + 0.5 * h))
            k3 = velocity(z + 0.5 * h * k2, math.exp(s + 0.5 * h))
            k4 = velocity(z + h * k3, math.exp(s + h))
            z = z + h / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
    return z
