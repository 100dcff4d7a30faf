r"""Perturbed-model guidance (the PAG construction) on 1-D Gaussian-mixture data, exactly.

The paper: Ahn et al., "Self-Rectifying Diffusion Sampling with Perturbed-Attention
Guidance". PAG guides away from a structurally degraded prediction of the same network,

.. math:: \tilde x_0 = \hat x_0 + s(\hat x_0 - \hat x_0^{\mathrm{pert}}),

(the paper replaces self-attention maps by the identity to degrade structure). A toy has no
attention, so the perturbed denoiser here is the exact denoiser of a structure-degraded law:

- ``"merged"``: the moment-matched single Gaussian (all mode structure destroyed);
- ``"broadened"``: every component's standard deviation times ``factor`` (structure blurred).

The guided probability-flow ODE in VE coordinates, :math:`dy/d\lambda = \tilde x_0 - y`, is
:func:`toytheory.diffusion.guidance.guided_reference_solution` with ``cond`` the base law and
``uncond`` the perturbed one. In one dimension a flow map is increasing, so pushing the
starting law's quantiles through the ODE (DOP853) gives the output law's quantile function
exactly up to ODE tolerance: :func:`pag_quantiles`. From it: the Wasserstein-1 distance to the
data law (:math:`\int_0^1|Q_{out} - Q_{data}|du`), mass near the modes, mean data
log-likelihood (precision-like), and the entropy of mode assignment (diversity):
:func:`quality_metrics`. :func:`pag_heun_sample` is an independent Heun sampler (Karras
noise levels) for simulated draws.
"""

from __future__ import annotations

import numpy as np
from scipy.special import ndtr

from .._validation import check_int, check_real
from .guidance import guided_reference_solution
from .laws import GaussianMixture

__all__ = ["perturbed_law", "data_quantiles", "pag_quantiles", "pag_heun_sample",
           "quality_metrics", "SIGMA_MAX", "SIGMA_MIN"]

SIGMA_MAX = 80.0
SIGMA_MIN = 2e-3


def _law1d(name, law):
    if not isinstance(law, GaussianMixture) or law.dim != 1:
        raise ValueError(f"{name}: must be a 1-D GaussianMixture")
    return law


def perturbed_law(law: GaussianMixture, kind: str, factor: float = 2.0) -> GaussianMixture:
    """The structure-degraded law whose exact denoiser plays PAG's perturbed prediction."""
    _law1d("law", law)
    if kind == "merged":
        return GaussianMixture([1.0], law.mean()[None], law.covariance()[None])
    if kind == "broadened":
        factor = check_real("factor", factor, low=1.0)
        return GaussianMixture(law.weights, law.means, law.covs * factor ** 2)
    raise ValueError(f"kind: must be 'merged' or 'broadened' (got {kind!r})")


def _quantiles_of(cdf, u, lo, hi, n=400_001):
    g = np.linspace(lo, hi, n)
    F = cdf(g)
    return np.interp(u, F, g)


def data_quantiles(law: GaussianMixture, u):
    """Quantile function of a 1-D mixture at ``u`` (fine-grid inversion of the exact CDF)."""
    _law1d("law", law)
    mu, sd, w = law.means[:, 0], np.sqrt(law.covs[:, 0, 0]), law.weights
    lo, hi = float((mu - 12 * sd).min()), float((mu + 12 * sd).max())
    return _quantiles_of(lambda g: (w * ndtr((g[:, None] - mu) / sd)).sum(1), u, lo, hi)


def _start_quantiles(base, u):
    """Quantiles of base * N(0, SIGMA_MAX^2) (the ODE's starting law)."""
    mu, w = base.means[:, 0], base.weights
    sd = np.sqrt(base.covs[:, 0, 0] + SIGMA_MAX ** 2)
    return _quantiles_of(lambda g: (w * ndtr((g[:, None] - mu) / sd)).sum(1), u,
                         float(mu.min() - 12 * sd.max()), float(mu.max() + 12 * sd.max()))


def pag_quantiles(base: GaussianMixture, perturbed: GaussianMixture, scale, n_quantiles=1000,
                  *, rtol=1e-8, atol=1e-8):
    """``(u, x)``: the guided ODE's output quantiles ``x`` at levels ``u = (j + 1/2)/n``."""
    _law1d("base", base)
    _law1d("perturbed", perturbed)
    scale = check_real("scale", scale, low=0.0)
    n = check_int("n_quantiles", n_quantiles, low=2)
    u = (np.arange(n) + 0.5) / n
    y0 = _start_quantiles(base, u)
    y = guided_reference_solution(base, perturbed, scale, y0[:, None], -np.log(SIGMA_MAX),
                                  -np.log(SIGMA_MIN), rtol=rtol, atol=atol)[:, 0]
    return u, y


def pag_heun_sample(base: GaussianMixture, perturbed: GaussianMixture, scale, n: int, rng, *,
                    n_steps: int = 100, rho: float = 7.0):
    """``n`` draws of the guided ODE by Heun's method on Karras noise levels (VE: ``y`` with
    :math:`dy/d\\sigma = (y - \\tilde x_0(y, \\sigma))/\\sigma`), from ``SIGMA_MAX`` to
    ``SIGMA_MIN``."""
    _law1d("base", base)
    _law1d("perturbed", perturbed)
    scale = check_real("scale", scale, low=0.0)
    n = check_int("n", n, low=1)
    n_steps = check_int("n_steps", n_steps, low=1)
    i = np.arange(n_steps + 1) / n_steps
    sig = (SIGMA_MAX ** (1 / rho) + i * (SIGMA_MIN ** (1 / rho) - SIGMA_MAX ** (1 / rho))) ** rho

    def x0(y, s):
        return (1 + scale) * base.denoise(y, 1.0, s) - scale * perturbed.denoise(y, 1.0, s)

    y = base.sample(n, 1.0, SIGMA_MAX, rng)
    for s0, s1 in zip(sig[:-1], sig[1:]):
        d0 = (y - x0(y, s0)) / s0
        yp = y + (s1 - s0) * d0
        d1 = (yp - x0(yp, s1)) / s1
        y = y + (s1 - s0) * 0.5 * (d0 + d1)
    return y[:, 0]


def quality_metrics(data: GaussianMixture, u, x, *, near_sd: float = 2.0):
    """Precision / diversity / distance of an output law given by quantiles ``x`` at ``u``.

    Returns
    -------
    dict
        ``w1`` (Wasserstein-1 to ``data``), ``near`` (mass within ``near_sd`` component sds
        of a mode), ``loglik`` (mean data log-density), ``entropy`` (of nearest-mode
        assignment) and ``mode_mass`` (K,).
    """
    _law1d("data", data)
    x = np.asarray(x, float)
    mu, sd = data.means[:, 0], np.sqrt(data.covs[:, 0, 0])
    dist = np.abs(x[:, None] - mu)
    lab = np.argmin(dist, axis=1)
    p = np.bincount(lab, minlength=mu.size) / x.size
    nz = p[p > 0]
    return dict(w1=float(np.mean(np.abs(x - data_quantiles(data, u)))),
                near=float(np.mean(dist[np.arange(x.size), lab] <= near_sd * sd[lab])),
                loglik=float(np.mean(data.log_prob(x[:, None]))),
                entropy=float(-(nz * np.log(nz)).sum()), mode_mass=p)
