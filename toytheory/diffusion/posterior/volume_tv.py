r"""The TV prior across slices of "Solving 3D Inverse Problems using Pre-trained 2D Diffusion
Models" (Chung, Ryu, Ye, CVPR 2023): the 2-D slice prior augmented by total variation along
the remaining direction, its MAP estimate by ADMM (the paper's solver) and a direct
quasi-Newton solve as the witness.

With the volume, slice prior and projector of :mod:`toytheory.diffusion.posterior.volume`,
the MAP estimate under the 2-D slice prior plus TV along :math:`z` is

.. math:: \hat x = \arg\min_x\ \tfrac12 x^T P x + \tfrac1{2s^2}\|Ax - y\|^2
          + \lambda\,\|D_z x\|_1, \qquad P = I_{n_z} \otimes K_{xy}^{-1},

a strictly convex problem (``P`` is positive definite). ADMM on the split
:math:`v = D_z x` (:func:`tv_map`):

.. math:: x \leftarrow (P + A^TA/s^2 + \rho D_z^TD_z)^{-1}(A^Ty/s^2 + \rho D_z^T(v - u)),\quad
          v \leftarrow \mathrm{soft}_{\lambda/\rho}(D_zx + u),\quad u \leftarrow u + D_zx - v,

one Cholesky factor for all iterations and all volumes (columns of ``y``).
"""

from __future__ import annotations

import numpy as np
from scipy.linalg import cho_factor, cho_solve

from ..._validation import as_float_array, check_int, check_real

__all__ = ["tv_objective", "tv_map", "tv_map_direct", "soft_threshold", "tv_posterior_samples"]


def soft_threshold(v, t):
    """:math:`\\mathrm{sign}(v)\\max(|v| - t, 0)`."""
    return np.sign(v) * np.maximum(np.abs(v) - t, 0.0)


def _inputs(precision, A, D, y, noise_std, lam):
    P = as_float_array("precision", precision, ndim=2)
    A = as_float_array("A", A, ndim=2)
    D = as_float_array("D", D, ndim=2)
    N = P.shape[0]
    if P.shape != (N, N):
        raise ValueError(f"precision: must be square (got {P.shape})")
    if A.shape[1] != N:
        raise ValueError(f"A: must have shape (m, {N}) (got {A.shape})")
    if D.shape[1] != N:
        raise ValueError(f"D: must have shape (k, {N}) (got {D.shape})")
    yy = as_float_array("y", y)
    if yy.shape[0] != A.shape[0] or yy.ndim not in (1, 2):
        raise ValueError(f"y: must have shape ({A.shape[0]},) or ({A.shape[0]}, n) "
                         f"(got {yy.shape})")
    s = check_real("noise_std", noise_std, low=0.0, low_open=True)
    lam = check_real("lam", lam, low=0.0)
    return P, A, D, yy, s, lam


def tv_objective(x, precision, A, D, y, noise_std, lam):
    """The MAP objective (module doc) at ``x`` (N,) or (N, n): one value per column."""
    P, A, D, yy, s, lam = _inputs(precision, A, D, y, noise_std, lam)
    xx = as_float_array("x", x)
    r = A @ xx - yy
    return (0.5 * np.sum(xx * (P @ xx), axis=0) + 0.5 * np.sum(r * r, axis=0) / s ** 2
            + lam * np.sum(np.abs(D @ xx), axis=0))


def tv_map(precision, A, D, y, noise_std, lam, *, iters=400, rho=None):
    """The MAP estimate by ADMM (module doc), ``iters`` iterations, penalty ``rho``
    (default ``lam + 1``); ``y`` (m,) or (m, n) gives ``x`` (N,) or (N, n)."""
    P, A, D, yy, s, lam = _inputs(precision, A, D, y, noise_std, lam)
    iters = check_int("iters", iters, low=1)
    rho = lam + 1.0 if rho is None else check_real("rho", rho, low=0.0, low_open=True)
    fac = cho_factor(P + A.T @ A / s ** 2 + rho * D.T @ D)
    aty = A.T @ yy / s ** 2
    v = np.zeros((D.shape[0],) + yy.shape[1:])
    u = np.zeros_like(v)
    x = cho_solve(fac, aty)
    for _ in range(iters):
        x = cho_solve(fac, aty + rho * D.T @ (v - u))
        dx = D @ x
        v = soft_threshold(dx + u, lam / rho)
        u = u + dx - v
    return x


def tv_map_direct(precision, A, D, y, noise_std, lam, *, eps=1e-5):
    r"""The MAP estimate for one ``y`` (m,) by L-BFGS on the objective with
    :math:`|t|` smoothed to :math:`\sqrt{t^2 + \epsilon^2}` (scipy; the witness of
    :func:`tv_map`; the smoothing moves the objective by at most
    :math:`\lambda\epsilon` per difference)."""
    from scipy.optimize import minimize

    P, A, D, yy, s, lam = _inputs(precision, A, D, y, noise_std, lam)
    if yy.ndim != 1:
        raise ValueError("y: must be one measurement (m,)")
    eps = check_real("eps", eps, low=0.0, low_open=True)
    H = P + A.T @ A / s ** 2
    b = A.T @ yy / s ** 2

    def f(x):
        dx = D @ x
        r = np.sqrt(dx * dx + eps * eps)
        return (0.5 * x @ H @ x - b @ x + lam * r.sum(),
                H @ x - b + lam * D.T @ (dx / r))

    x0 = np.linalg.solve(H, b)
    res = minimize(f, x0, jac=True, method="L-BFGS-B",
                   options={"maxiter": 20000, "gtol": 1e-10, "ftol": 1e-15})
    return res.x


def tv_posterior_samples(precision, A, D, y, noise_std, lam, rng, *, steps=300, h=0.5,
                         x0=None):
    r"""Draws of the posterior :math:`\propto \exp(-\tfrac12x^TPx - \|Ax - y\|^2/2s^2 -
    \lambda\|D_zx\|_1)`, one chain per column of ``y`` (m, n), by preconditioned MALA:
    proposals :math:`x' = x - \tfrac h2 C\nabla U(x) + \sqrt h\,C^{1/2}\xi` with :math:`C =
    (P + A^TA/s^2)^{-1}` (the Gaussian part's posterior covariance) and the TV term's
    (sub)gradient, accepted by the Metropolis-Hastings ratio (exact for the non-smooth
    target). Started at the Gaussian part's posterior draw (``x0`` to override).

    Returns
    -------
    x : (N, n) array, the chains' states after ``steps`` steps
    accept : float, the mean acceptance rate
    """
    P, A, D, yy, s, lam = _inputs(precision, A, D, y, noise_std, lam)
    if yy.ndim != 2:
        raise ValueError("y: must have shape (m, n), one chain per column")
    steps = check_int("steps", steps, low=1)
    h = check_real("h", h, low=0.0, low_open=True)
    H = P + A.T @ A / s ** 2
    C = np.linalg.inv(H)
    C = 0.5 * (C + C.T)
    L = np.linalg.cholesky(C)
    b = A.T @ yy / s ** 2
    mean = C @ b
    x = mean + L @ rng.standard_normal(mean.shape) if x0 is None else np.array(x0, float)

    def U(z):
        return 0.5 * np.sum(z * (H @ z), axis=0) - np.sum(b * z, axis=0) \
            + lam * np.sum(np.abs(D @ z), axis=0)

    def drift(z):      # C grad U = z - mean + lam C D^T sign(Dz)
        return z - mean + lam * C @ (D.T @ np.sign(D @ z))

    ux, dx = U(x), drift(x)
    acc = 0.0
    for _ in range(steps):
        prop = x - 0.5 * h * dx + np.sqrt(h) * (L @ rng.standard_normal(x.shape))
        up, dp = U(prop), drift(prop)
        # log q(x | prop) - log q(prop | x), Gaussian with covariance h C
        fwd = prop - x + 0.5 * h * dx
        bwd = x - prop + 0.5 * h * dp
        lq = -0.5 / h * (np.sum(bwd * (H @ bwd), axis=0) - np.sum(fwd * (H @ fwd), axis=0))
        ok = np.log(rng.random(x.shape[1])) < ux - up + lq
        x = np.where(ok, prop, x)
        ux = np.where(ok, up, ux)
        dx = np.where(ok, dp, dx)
        acc += ok.mean()
    return x, acc / steps
