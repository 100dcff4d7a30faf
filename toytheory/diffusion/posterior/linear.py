r"""Gaussian conditioning and diffusion samplers whose output law is Gaussian in closed form.

With a Gaussian prior :math:`N(m, C)` every denoiser used here is affine,
:math:`D_\sigma(x) = G_\sigma x + h_\sigma` with (Tweedie, variance-exploding noise
:math:`x_\sigma = x_0 + \sigma\varepsilon`)

.. math:: G_\sigma = C (C + \sigma^2 I)^{-1}, \qquad h_\sigma = (I - G_\sigma)\, m .

The ancestral VE step from :math:`\sigma` to :math:`\sigma' < \sigma` (DDPM's
:math:`q(x_{\sigma'} \mid x_\sigma, x_0 = \hat x_0)`),

.. math:: x' = \hat x_0 + r\,(x - \hat x_0) + \sigma'\sqrt{1 - r}\;\xi, \qquad
          r = \sigma'^2/\sigma^2,

is then affine in :math:`x` plus independent Gaussian noise, so a whole sampler maps a
Gaussian start to a Gaussian output whose mean and covariance are propagated exactly
(:func:`propagate`). Samplers that combine several affine denoisers (averaging, or
alternating them with re-noising, as ViBiDSampler and VideoMV do) stay in this class.
"""

from __future__ import annotations

import numpy as np

from ..._validation import as_float_array, check_real

__all__ = ["AffineStep", "affine_denoiser", "ve_step", "renoise_step", "propagate",
           "simulate", "condition_gaussian", "check_grid"]


class AffineStep:
    r"""One sampler step :math:`x \mapsto M x + b + L\xi`, :math:`\xi \sim N(0, I)`;
    ``Q = L L^T`` is the added noise covariance."""

    __slots__ = ("M", "b", "Q")

    def __init__(self, M, b, Q):
        self.M = np.asarray(M, float)
        self.b = np.asarray(b, float)
        self.Q = np.asarray(Q, float)


def affine_denoiser(mean, cov, sigma):
    r"""``(G, h)`` of the exact denoiser of :math:`N(m, C)` at VE noise ``sigma`` (module doc).

    Parameters
    ----------
    mean : (n,) array
    cov : (n, n) array, symmetric PSD
    sigma : float, > 0
    """
    m = as_float_array("mean", mean, ndim=1)
    c = as_float_array("cov", cov, ndim=2)
    if c.shape != (m.size, m.size):
        raise ValueError(f"cov: must have shape ({m.size}, {m.size}) (got {c.shape})")
    s = check_real("sigma", sigma, low=0.0, low_open=True)
    G = np.linalg.solve(c + s * s * np.eye(m.size), c).T       # C (C + s^2)^-1 (C symmetric)
    return G, m - G @ m


def ve_step(G, h, sigma, sigma_next):
    r"""The ancestral VE step from ``sigma`` to ``sigma_next`` with denoiser ``G x + h``."""
    s = check_real("sigma", sigma, low=0.0, low_open=True)
    sn = check_real("sigma_next", sigma_next, low=0.0)
    if sn >= s:
        raise ValueError(f"sigma_next: must be < sigma = {s} (got {sn})")
    n = G.shape[0]
    r = sn * sn / (s * s)
    return AffineStep(r * np.eye(n) + (1 - r) * G, (1 - r) * h, sn * sn * (1 - r) * np.eye(n))


def renoise_step(n, sigma_from, sigma_to):
    r"""Forward noising :math:`x \mapsto x + \sqrt{\sigma_{to}^2 - \sigma_{from}^2}\,\xi`."""
    a = check_real("sigma_from", sigma_from, low=0.0)
    b = check_real("sigma_to", sigma_to, low=0.0)
    if b < a:
        raise ValueError(f"sigma_to: must be >= sigma_from = {a} (got {b})")
    return AffineStep(np.eye(n), np.zeros(n), (b * b - a * a) * np.eye(n))


def check_grid(sigmas):
    """A strictly decreasing grid of noise levels, last >= 0."""
    sig = as_float_array("sigmas", sigmas, ndim=1)
    if sig.size < 2 or np.any(np.diff(sig) >= 0) or sig[-1] < 0:
        raise ValueError("sigmas: must be a strictly decreasing grid of >= 2 levels, the "
                         "last >= 0")
    return sig


def propagate(mean, cov, steps):
    r"""The exact output law of a chain of :class:`AffineStep`:
    :math:`\mu \leftarrow M\mu + b`, :math:`\Sigma \leftarrow M\Sigma M^T + Q`.

    Returns
    -------
    mean : (n,) array
    cov : (n, n) array
    """
    mu = as_float_array("mean", mean, ndim=1).copy()
    c = as_float_array("cov", cov, ndim=2).copy()
    for st in steps:
        mu = st.M @ mu + st.b
        c = st.M @ c @ st.M.T + st.Q
        c = 0.5 * (c + c.T)
    return mu, c


def simulate(x_init, steps, rng):
    """Run the chain on draws ``x_init`` (N, n) with noise from ``rng`` (the simulated witness
    of :func:`propagate`)."""
    x = as_float_array("x_init", x_init, ndim=2).copy()
    for st in steps:
        x = x @ st.M.T + st.b
        if np.any(st.Q):
            w, v = np.linalg.eigh(st.Q)
            x += (rng.standard_normal(x.shape) * np.sqrt(np.clip(w, 0, None))) @ v.T
    return x


def condition_gaussian(mean, cov, observed, values):
    r"""Law of the unobserved coordinates of :math:`N(m, C)` given the observed ones
    (Schur complement: :math:`m_u + C_{uo}C_{oo}^{-1}(v - m_o)`,
    :math:`C_{uu} - C_{uo}C_{oo}^{-1}C_{ou}`).

    Parameters
    ----------
    mean : (n,) array
    cov : (n, n) array
    observed : (n,) bool array, at least one True and one False
    values : (n_observed,) array

    Returns
    -------
    mean : (n_unobserved,) array
    cov : (n_unobserved, n_unobserved) array
    gain : (n_unobserved, n_observed) array
        :math:`C_{uo}C_{oo}^{-1}` (the conditional mean is affine in ``values``).
    """
    m = as_float_array("mean", mean, ndim=1)
    c = as_float_array("cov", cov, ndim=2)
    obs = np.asarray(observed, bool)
    if obs.shape != m.shape or c.shape != (m.size, m.size):
        raise ValueError(f"observed: must be a bool mask of length {m.size} matching cov")
    if not obs.any() or obs.all():
        raise ValueError("observed: must observe at least one and not every coordinate")
    v = as_float_array("values", values, ndim=1)
    if v.shape != (int(obs.sum()),):
        raise ValueError(f"values: must have length {int(obs.sum())} (got {v.shape})")
    u = ~obs
    gain = np.linalg.solve(c[np.ix_(obs, obs)], c[np.ix_(obs, u)]).T
    mu = m[u] + gain @ (v - m[obs])
    cc = c[np.ix_(u, u)] - gain @ c[np.ix_(obs, u)]
    return mu, 0.5 * (cc + cc.T), gain
