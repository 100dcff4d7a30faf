r"""Keyframe interpolation on a Gaussian process of frames: the exact bridge and the
bidirectional sampler of "ViBiDSampler: Enhancing Video Interpolation Using Bidirectional
Diffusion Sampler" (Yang et al., 2024).

Frames :math:`x_0, \dots, x_T \in \mathbb R^d` have the separable Gaussian law
:math:`\mathrm{Cov}(x_s, x_t) = K_{st}\, S` (time kernel :math:`K`, spatial covariance
:math:`S`), zero mean: a Gaussian random walk (:math:`K_{st} = v_0 + q\min(s, t)`) or a
stationary Ornstein-Uhlenbeck chain (:math:`K_{st} = \rho^{|s-t|}`). The inner frames
:math:`X = (x_1, \dots, x_{T-1})` given both keyframes follow the exact bridge,
:math:`X \mid x_0, x_T \sim N(m_{0T}, C_{0T})` (Gaussian conditioning,
:func:`~toytheory.diffusion.posterior.linear.condition_gaussian`); for the random walk
the bridge of frame :math:`t` has mean :math:`x_0 + (t/T)(x_T - x_0)` and variance
:math:`q\,t(T-t)/T\;S` (the Brownian bridge).

Samplers over :math:`X`, all on one VE noise grid with the ancestral step
(:mod:`~toytheory.diffusion.posterior.linear`), started from the prior's diffused law:

exact
    the denoiser of the bridge :math:`N(m_{0T}, C_{0T})` (the reference sampler);
forward (one-sided)
    the denoiser of :math:`X \mid x_0` only (an image-to-video model given the start frame);
parallel fusion
    at every step the average of the forward denoiser and the backward one
    (:math:`X \mid x_T`), "existing approaches that fuse temporally forward and backward
    paths in parallel";
bidirectional (ViBiDSampler)
    at every step: one step with the forward denoiser, re-noise back to the step's
    starting level, one step with the backward denoiser (the paper's sequential
    forward-then-backward path, its Algorithm 1 without CFG++/DDS);
sample averaging
    one draw of :math:`X\mid x_0` and an independent one of :math:`X\mid x_T`, averaged
    (closed form: mean :math:`(m_0+m_T)/2`, covariance :math:`(C_0 + C_T)/4`).
"""

from __future__ import annotations

import numpy as np

from ..._validation import as_float_array, check_int, check_real
from .linear import affine_denoiser, check_grid, condition_gaussian, renoise_step, ve_step

__all__ = ["frame_kernel", "frame_covariance", "bridge_law", "one_sided_law",
           "sampler_steps", "sampler_laws", "SAMPLERS"]

SAMPLERS = ("exact", "forward", "parallel", "bidirectional")


def frame_kernel(T, kind="walk", *, v0=1.0, q=1.0, rho=0.8):
    r"""The time kernel :math:`K` over frames :math:`0..T`, shape (T+1, T+1).

    Parameters
    ----------
    T : int, >= 2
        Index of the end frame (``T - 1`` inner frames).
    kind : {"walk", "ou"}
        Random walk :math:`v_0 + q\min(s,t)` or OU :math:`\rho^{|s-t|}`.
    """
    T = check_int("T", T, low=2)
    t = np.arange(T + 1, dtype=float)
    if kind == "walk":
        v0 = check_real("v0", v0, low=0.0, low_open=True)
        q = check_real("q", q, low=0.0, low_open=True)
        return v0 + q * np.minimum.outer(t, t)
    if kind == "ou":
        rho = check_real("rho", rho, low=0.0, high=1.0, low_open=True, high_open=True)
        return rho ** np.abs(np.subtract.outer(t, t))
    raise ValueError(f"kind: must be 'walk' or 'ou' (got {kind!r})")


def _spatial(S, d=None):
    s = as_float_array("S", S, ndim=2)
    if s.shape[0] != s.shape[1] or np.linalg.eigvalsh(0.5 * (s + s.T))[0] <= 0:
        raise ValueError(f"S: must be a symmetric positive definite matrix (got {s.shape})")
    return 0.5 * (s + s.T)


def frame_covariance(K, S):
    """``kron(K, S)``: covariance of all frames, frame-major (index ``t * d + j``)."""
    return np.kron(as_float_array("K", K, ndim=2), _spatial(S))


def _mask(T, d, frames):
    m = np.zeros((T + 1, d), bool)
    m[list(frames)] = True
    return m.ravel()


def _ends(K, S, x_start, x_end):
    s = _spatial(S)
    d = s.shape[0]
    T = K.shape[0] - 1
    if T < 2:
        raise ValueError(f"T: must be >= 2 frames apart (got K of shape {K.shape})")
    a = as_float_array("x_start", x_start, ndim=1)
    b = as_float_array("x_end", x_end, ndim=1)
    if a.shape != (d,) or b.shape != (d,):
        raise ValueError(f"x_start: must have shape ({d},) like x_end (got {a.shape}, "
                         f"{b.shape})")
    return s, d, T, a, b


def bridge_law(K, S, x_start, x_end):
    r"""The exact bridge :math:`X \mid x_0, x_T`: ``(mean ((T-1) d,), cov)``."""
    s, d, T, a, b = _ends(K, S, x_start, x_end)
    full = np.kron(K, s)
    mu, c, _ = condition_gaussian(np.zeros(full.shape[0]), full, _mask(T, d, (0, T)),
                                  np.concatenate([a, b]))
    return mu, c


def one_sided_law(K, S, x_start, x_end, side="start"):
    r""":math:`X \mid x_0` (``side="start"``) or :math:`X \mid x_T` (``"end"``), over the
    inner frames."""
    s, d, T, a, b = _ends(K, S, x_start, x_end)
    full = np.kron(K, s)
    if side == "start":
        obs, val, drop = (0,), a, T
    elif side == "end":
        obs, val, drop = (T,), b, 0
    else:
        raise ValueError(f"side: must be 'start' or 'end' (got {side!r})")
    mu, c, _ = condition_gaussian(np.zeros(full.shape[0]), full, _mask(T, d, obs), val)
    keep = np.ones(T, bool)           # the remaining frames 1..T (start) or 0..T-1 (end)
    keep[T - 1 if side == "start" else 0] = False
    idx = np.repeat(keep, d)
    return mu[idx], c[np.ix_(idx, idx)]


def sampler_steps(name, K, S, x_start, x_end, sigmas):
    """The list of affine steps of sampler ``name`` (one of :data:`SAMPLERS`) on ``sigmas``."""
    sig = check_grid(sigmas)
    if name not in SAMPLERS:
        raise ValueError(f"name: must be one of {SAMPLERS} (got {name!r})")
    laws = {"exact": bridge_law(K, S, x_start, x_end),
            "forward": one_sided_law(K, S, x_start, x_end, "start"),
            "backward": one_sided_law(K, S, x_start, x_end, "end")}
    n = laws["exact"][0].size
    steps = []
    for s_now, s_next in zip(sig[:-1], sig[1:]):
        den = {k: affine_denoiser(*v, s_now) for k, v in laws.items()}
        if name in ("exact", "forward"):
            steps.append(ve_step(*den[name], s_now, s_next))
        elif name == "parallel":
            G = 0.5 * (den["forward"][0] + den["backward"][0])
            h = 0.5 * (den["forward"][1] + den["backward"][1])
            steps.append(ve_step(G, h, s_now, s_next))
        else:
            steps += [ve_step(*den["forward"], s_now, s_next),
                      renoise_step(n, s_next, s_now),
                      ve_step(*den["backward"], s_now, s_next)]
    return steps


def start_law(K, S, sigma_max):
    r"""The prior's diffused law of the inner frames at ``sigma_max`` (every sampler's start)."""
    s = _spatial(S)
    d = s.shape[0]
    T = K.shape[0] - 1
    idx = np.repeat(np.arange(T + 1) % T != 0, d)
    c = np.kron(K, s)[np.ix_(idx, idx)]
    return np.zeros(c.shape[0]), c + float(sigma_max) ** 2 * np.eye(c.shape[0])


def sampler_laws(K, S, x_start, x_end, sigmas):
    """Exact output laws ``{name: (mean, cov)}`` of every sampler, plus ``"bridge"`` (the
    target) and ``"averaging"`` (sample averaging, closed form)."""
    from .linear import propagate

    sig = check_grid(sigmas)
    m0, c0 = start_law(K, S, sig[0])
    out = {name: propagate(m0, c0, sampler_steps(name, K, S, x_start, x_end, sig))
           for name in SAMPLERS}
    out["bridge"] = bridge_law(K, S, x_start, x_end)
    mf, cf = one_sided_law(K, S, x_start, x_end, "start")
    mb, cb = one_sided_law(K, S, x_start, x_end, "end")
    out["averaging"] = (0.5 * (mf + mb), 0.25 * (cf + cb))
    return out
