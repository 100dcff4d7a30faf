r"""Score distillation against an exact Gaussian-mixture prior: SDS, Consistent3D's consistency
distillation sampling (CDS), and multi-view SDS with a joint prior over views.

A "scene" is a vector :math:`\theta`; view ``v`` renders :math:`x_v = A_v\theta` (here the
identity per view: one coordinate per view, so each view is free, as a NeRF is). The prior
is the exact VE denoiser of a Gaussian mixture (:math:`\hat\varepsilon(z, \sigma) =
(z - \hat x_0(z, \sigma))/\sigma`, Tweedie), on Stable Diffusion's discrete schedule
(scaled-linear betas, 1000 steps; :math:`\sigma_t = \sqrt{(1 - \bar\alpha_t)/\bar\alpha_t}`,
weight :math:`w(t) = 1 - \bar\alpha_t`).

- SDS (Poole et al.): descend :math:`w(t)(\hat\varepsilon(x + \sigma_t\varepsilon, t) -
  \varepsilon)`, a fresh :math:`\varepsilon` every iteration.
- CDS (Wu et al., "Consistent3D", the released code ``compute_grad_consistency``): one noise
  :math:`\varepsilon^*` fixed for the whole run; :math:`z = x + \sigma_t\varepsilon^*`, one
  Euler step of the probability-flow ODE to :math:`t' < t`,
  :math:`z' = z + (\sigma_{t'} - \sigma_t)\hat\varepsilon(z, t)`, and the update
  :math:`x \leftarrow x + \eta\,w(t)(\hat\varepsilon(z', t') - \hat\varepsilon(z, t))`
  (the code's target ``latents + grad``: the less noisy prediction guides the noisier one).
  Times as in the code: :math:`t'` annealed from 700 to 20, :math:`t = t' + U\{100..299\}`.
- Multi-view SDS (BoostDream): SDS on all views at once with a *joint* prior over views (a
  multi-view diffusion model) in place of one per-view prior.

:func:`gradient_moments` gives each update's mean and variance exactly (Gauss–Hermite over the
noise, the discrete time window enumerated); :func:`sds_fixed_point` the zero of SDS's expected
update; :func:`fit` runs either method (vectorised over independent runs).
"""

from __future__ import annotations

import numpy as np

from .._validation import as_float_array, check_int, check_real
from .laws import GaussianMixture
from .schedules import scaled_linear_betas

__all__ = ["SIGMAS", "WEIGHTS", "eps_pred", "fit", "gradient_moments", "sds_fixed_point",
           "janus_fraction", "time_window"]

_AB = np.cumprod(1.0 - scaled_linear_betas(1000))
SIGMAS = np.sqrt((1.0 - _AB) / _AB)      # VE noise level of each discrete step
WEIGHTS = 1.0 - _AB                     # w(t) = 1 - alpha_bar_t ("sds" weighting)
T_NEXT_START, T_NEXT_END, GAP_LOW, GAP_HIGH = 700, 20, 100, 300


def _law(law):
    if not isinstance(law, GaussianMixture):
        raise ValueError(f"law: must be a GaussianMixture (got {type(law).__name__})")
    return law


def eps_pred(law: GaussianMixture, z, sigma):
    """:math:`\\hat\\varepsilon(z, \\sigma) = (z - E[x_0 | x_0 + \\sigma\\varepsilon = z])/\\sigma`,
    ``z`` (n, d), ``sigma`` scalar or (n,)."""
    z = np.asarray(z, float)
    s = np.broadcast_to(np.asarray(sigma, float), z.shape[:1])
    return (z - law.denoise(z, 1.0, s)) / s[:, None]


def time_window(t_next: int):
    """The CDS times :math:`t = t' + 100..299` (clipped to 999) for a given :math:`t'`."""
    t_next = check_int("t_next", t_next, low=1, high=999)
    return np.clip(np.arange(t_next + GAP_LOW, t_next + GAP_HIGH), 1, 999)


def _update(law, method, x, t, t_next, noise):
    """The ascent direction (x <- x + lr * update) of one iteration."""
    s = SIGMAS[t]
    w = WEIGHTS[t][:, None]
    if method == "sds":
        return -w * (eps_pred(law, x + s[:, None] * noise, s) - noise)
    z = x + s[:, None] * noise
    e0 = eps_pred(law, z, s)
    sn = SIGMAS[t_next]
    return w * (eps_pred(law, z + (sn - s)[:, None] * e0, sn) - e0)


def _method(method):
    if method not in ("sds", "cds"):
        raise ValueError(f"method: must be 'sds' or 'cds' (got {method!r})")
    return method


def fit(law: GaussianMixture, method: str, x0, n_iters: int, lr: float, rng, *,
        record_every: int = 0):
    """Distil the prior into ``n`` independent scenes (rows of ``x0``, shape (n, d)).

    ``t'`` is annealed linearly from 700 to 20 over ``n_iters``; ``t = t' + U{100..299}``
    per run and iteration (both methods, so they differ only in the update). SDS draws a
    fresh noise per iteration; CDS fixes one per run.

    Returns
    -------
    (n, d) array
        The final scenes (views); with ``record_every > 0`` also the list of scenes every
        ``record_every`` iterations (the trajectories).
    """
    _law(law)
    _method(method)
    x = as_float_array("x0", x0, ndim=2).copy()
    if x.shape[1] != law.dim:
        raise ValueError(f"x0: must have {law.dim} columns (got {x.shape[1]})")
    n_iters = check_int("n_iters", n_iters, low=2)
    lr = check_real("lr", lr, low=0.0, low_open=True)
    record_every = check_int("record_every", record_every, low=0)
    n = x.shape[0]
    fixed = rng.standard_normal(x.shape)
    path = [x.copy()]
    for it in range(n_iters):
        tn = int(round(T_NEXT_START + (T_NEXT_END - T_NEXT_START) * it / (n_iters - 1)))
        t = np.minimum(tn + rng.integers(GAP_LOW, GAP_HIGH, n), 999)
        noise = rng.standard_normal(x.shape) if method == "sds" else fixed
        x = x + lr * _update(law, method, x, t, np.full(n, tn), noise)
        if record_every and (it + 1) % record_every == 0:
            path.append(x.copy())
    return (x, path) if record_every else x


def gradient_moments(law: GaussianMixture, method: str, x: float, t_next: int,
                     n_nodes: int = 48):
    """Exact mean and variance of one iteration's update at the 1-D scene ``x``, for the time
    window of ``t_next``.

    SDS: over ``t`` in the window and the fresh noise (Gauss–Hermite). CDS: for a fixed
    :math:`\\varepsilon^*` the update varies with ``t`` only; returned are
    :math:`E_{\\varepsilon^*}[\\mathrm{mean}_t^2]` and :math:`E_{\\varepsilon^*}[\\mathrm{Var}_t]`
    (the within-run signal and noise), as ``(mean_sq, var)``; for SDS ``mean_sq`` is the
    square of the mean.
    """
    _law(law)
    _method(method)
    if law.dim != 1:
        raise ValueError("law: gradient_moments needs a 1-D law")
    x = check_real("x", x)
    ts = time_window(t_next)
    z, wz = np.polynomial.hermite_e.hermegauss(check_int("n_nodes", n_nodes, low=2))
    wz = wz / wz.sum()
    T, E = np.meshgrid(ts, z, indexing="ij")                       # (nt, nz)
    u = _update(law, method, np.full((T.size, 1), x), T.ravel(), np.full(T.size, t_next),
                E.ravel()[:, None])[:, 0].reshape(T.shape)
    if method == "sds":
        mean = float((u @ wz).mean())
        return mean ** 2, float(((u * u) @ wz).mean()) - mean ** 2
    m_t = u.mean(axis=0)                                           # per eps*
    v_t = (u * u).mean(axis=0) - m_t ** 2
    return float(wz @ (m_t ** 2)), float(wz @ v_t)


def sds_fixed_point(law: GaussianMixture, t_next: int = T_NEXT_END, bracket=(-3.0, 3.0),
                    n_nodes: int = 48):
    """Zeros of SDS's expected update (1-D law) for the window of ``t_next``: a sign-change
    scan of ``bracket`` refined by Brent's method. Returns the stable ones (update crossing
    from + to -), as an array."""
    from scipy.optimize import brentq

    _law(law)
    grid = np.linspace(bracket[0], bracket[1], 121)

    vals = np.array([_mean_update(law, float(v), t_next, n_nodes) for v in grid])
    roots = []
    for a, b, fa, fb in zip(grid[:-1], grid[1:], vals[:-1], vals[1:]):
        if fa > 0 >= fb:
            roots.append(brentq(lambda v: _mean_update(law, v, t_next, n_nodes), a, b,
                                xtol=1e-10))
    return np.array(roots)


def _mean_update(law, x, t_next, n_nodes):
    ts = time_window(t_next)
    z, wz = np.polynomial.hermite_e.hermegauss(n_nodes)
    wz = wz / wz.sum()
    T, E = np.meshgrid(ts, z, indexing="ij")
    u = _update(law, "sds", np.full((T.size, 1), x), T.ravel(), np.full(T.size, t_next),
                E.ravel()[:, None])[:, 0].reshape(T.shape)
    return float((u @ wz).mean())


def janus_fraction(views):
    """Fraction of scenes (rows) whose two views show the same side (same sign): the toy's
    Janus count (a consistent object shows opposite sides front and back)."""
    v = as_float_array("views", views, ndim=2)
    if v.shape[1] != 2:
        raise ValueError(f"views: must have 2 columns (got {v.shape[1]})")
    return float(np.mean(np.sign(v[:, 0]) == np.sign(v[:, 1])))
