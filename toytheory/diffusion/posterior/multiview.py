r"""Multi-view generation through a shared reconstruction: the Gaussian toy of VideoMV's
3D-aware denoising ("VideoMV: Consistent Multi-View Generation Based on Large Video
Generative Model", Zuo et al., 2024).

A latent object :math:`z \sim N(0, I_p)` is rendered into :math:`K` views
:math:`v_k = R_k z + \nu\,\eta_k \in \mathbb R^q` (linear renderers :math:`R_k`, a small
rendering noise :math:`\nu`); the stack :math:`V = (v_1, \dots, v_K)` has law
:math:`N(0, RR^T + \nu^2 I)` and, up to :math:`\nu`, lies in the *consistent* subspace
:math:`\mathrm{range}(R)`. Generation is conditioned on the first view (image-to-multi-view):
the target is the exact conditional :math:`V_{2:K} \mid v_1`.

Samplers over :math:`V_{2:K}` on one VE grid with the ancestral step (every one affine, so
its output law is exact by :func:`~toytheory.diffusion.posterior.linear.propagate`):

joint
    the exact denoiser of :math:`V_{2:K}\mid v_1` (a perfect multi-view model);
independent
    every view denoised on its own, with the exact denoiser of its own conditional
    :math:`v_k \mid v_1` (per-view models that share no information);
reconstruct (VideoMV's 3D-aware sampling)
    every step, the independent per-view estimates :math:`\hat x_0` and the given view are
    fused into one object by least squares, :math:`\hat z = R^+ (v_1, \hat x_0)`, and the
    views rendered from it, :math:`R_{2:K}\hat z`, replace :math:`\hat x_0` in the step.

Consistency: :math:`E\|(I - \Pi)(v_1, V_{2:K})\|^2` with :math:`\Pi` the orthogonal
projector onto :math:`\mathrm{range}(R)`, exact from the output law
(:func:`consistency_error`).
"""

from __future__ import annotations

import numpy as np

from ..._validation import as_float_array, check_int, check_real
from .linear import (affine_denoiser, check_grid, condition_gaussian, propagate, ve_step)

__all__ = ["renderers", "multiview_law", "conditional_law", "reconstruction_map",
           "sampler_steps", "sampler_laws", "consistency_error", "independent_law",
           "start_law", "SAMPLERS"]

SAMPLERS = ("joint", "independent", "reconstruct")


def renderers(p=4, K=4, q=2, seed=0):
    """A fixed random renderer stack ``R`` of shape (K q, p) (standard normal / sqrt(p))."""
    p = check_int("p", p, low=1)
    K = check_int("K", K, low=2)
    q = check_int("q", q, low=1)
    return np.random.default_rng(seed).standard_normal((K * q, p)) / np.sqrt(p)


def multiview_law(R, nu):
    """``(mean, cov)`` of the view stack: ``0`` and ``R R^T + nu^2 I``."""
    r = as_float_array("R", R, ndim=2)
    nu = check_real("nu", nu, low=0.0, low_open=True)
    return np.zeros(r.shape[0]), r @ r.T + nu * nu * np.eye(r.shape[0])


def _first(R, q, v1):
    r = as_float_array("R", R, ndim=2)
    q = check_int("q", q, low=1)
    if r.shape[0] % q or r.shape[0] // q < 2:
        raise ValueError(f"q: must divide the {r.shape[0]} rows of R into >= 2 views")
    v = as_float_array("v1", v1, ndim=1)
    if v.shape != (q,):
        raise ValueError(f"v1: must have shape ({q},) (got {v.shape})")
    obs = np.zeros(r.shape[0], bool)
    obs[:q] = True
    return r, q, v, obs


def conditional_law(R, nu, q, v1):
    r""":math:`V_{2:K} \mid v_1`: ``(mean, cov)``."""
    r, q, v, obs = _first(R, q, v1)
    mu, c, _ = condition_gaussian(*multiview_law(r, nu), obs, v)
    return mu, c


def independent_law(R, nu, q, v1):
    """Per-view conditionals put side by side: the conditional's diagonal blocks only."""
    mu, c = conditional_law(R, nu, q, v1)
    block = np.kron(np.eye(c.shape[0] // q), np.ones((q, q))).astype(bool)
    return mu, np.where(block, c, 0.0)


def reconstruction_map(R, q):
    r"""``(B, F)``: rendered views :math:`R_{2:K}R^+(v_1, x) = Bx + Fv_1` (least squares)."""
    r = as_float_array("R", R, ndim=2)
    q = check_int("q", q, low=1)
    M = r[q:] @ np.linalg.pinv(r)
    return M[:, q:], M[:, :q]


def sampler_steps(name, R, nu, q, v1, sigmas):
    """The affine steps of sampler ``name`` (one of :data:`SAMPLERS`)."""
    sig = check_grid(sigmas)
    if name not in SAMPLERS:
        raise ValueError(f"name: must be one of {SAMPLERS} (got {name!r})")
    r, q, v, _ = _first(R, q, v1)
    law = conditional_law(r, nu, q, v) if name == "joint" else independent_law(r, nu, q, v)
    B, F = reconstruction_map(r, q)
    steps = []
    for s, s_next in zip(sig[:-1], sig[1:]):
        G, h = affine_denoiser(*law, s)
        if name == "reconstruct":
            G, h = B @ G, B @ h + F @ v
        steps.append(ve_step(G, h, s, s_next))
    return steps


def sampler_laws(R, nu, q, v1, sigmas):
    """Exact output laws ``{name: (mean, cov)}`` plus ``"target"`` (the exact conditional)."""
    sig = check_grid(sigmas)
    target = conditional_law(R, nu, q, v1)
    start = start_law(R, nu, q, sig[0])
    out = {n: propagate(*start, sampler_steps(n, R, nu, q, v1, sig)) for n in SAMPLERS}
    out["target"] = target
    return out


def start_law(R, nu, q, sigma_max):
    """Every sampler's start: independent views at their prior variances + sigma_max^2."""
    c = multiview_law(R, nu)[1]
    n = c.shape[0] - q
    return np.zeros(n), np.diag(np.diag(c)[q:]) + float(sigma_max) ** 2 * np.eye(n)


def consistency_error(R, q, v1, mean, cov):
    r""":math:`E\|(I - \Pi)(v_1, V)\|^2` for :math:`V \sim N(\text{mean}, \text{cov})`."""
    r, q, v, _ = _first(R, q, v1)
    U, sv, _ = np.linalg.svd(r, full_matrices=False)
    U = U[:, sv > 1e-12 * sv[0]]
    Q = np.eye(r.shape[0]) - U @ U.T
    m = np.concatenate([v, as_float_array("mean", mean, ndim=1)])
    c = np.zeros((r.shape[0], r.shape[0]))
    c[q:, q:] = as_float_array("cov", cov, ndim=2)
    return float(np.trace(Q @ c @ Q.T) + m @ Q.T @ Q @ m)
