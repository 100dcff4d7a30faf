r"""Euler and EDM Heun in the VE noise level (Karras et al., Algorithm 1).

In VE coordinates :math:`\hat x = x/\alpha`, :math:`\hat\sigma = \rho = \sigma/\alpha`
the probability-flow ODE is

.. math:: \frac{d\hat x}{d\hat\sigma} = \frac{\hat x - D(\hat x, \hat\sigma)}{\hat\sigma}
          = \hat\varepsilon

("Elucidating the Design Space of Diffusion-Based Generative Models", eq. 4
with :math:`s = 1`, :math:`\sigma(t) = t`). Euler: :math:`\hat x_{i+1} = \hat x_i +
(\hat\sigma_{i+1} - \hat\sigma_i)\,d_i` (k-diffusion's ``sample_euler``,
diffusers' ``EulerDiscreteScheduler``); it coincides with DDIM. Heun
(Algorithm 1): an Euler predictor and the trapezoidal corrector
:math:`\hat x_{i+1} = \hat x_i + (\hat\sigma_{i+1} - \hat\sigma_i)(d_i + d_i')/2`,
with an Euler step into :math:`\hat\sigma = 0` (k-diffusion's ``sample_heun``,
diffusers' ``HeunDiscreteScheduler``): NFE = 2N - 1 on a grid that ends at zero.
States are carried in the schedule's coordinates, :math:`x = \alpha\hat x`.
Deterministic samplers only (no churn, :math:`S_{churn} = 0`).
"""

from __future__ import annotations

from ._base import SolverContext, lincomb
from .dpm_solver import _finish

__all__ = ["sample_euler", "sample_heun"]


def sample_euler(model, x_T, grid, *, prediction=None, generator=None, callback=None,
                 denoise_to_zero: bool = False):
    """Euler on :math:`d\\hat x/d\\hat\\sigma = \\hat\\varepsilon` (Karras et al., Algorithm 1
    without the correction; order 1).

    .. math:: x_{i+1} = \\alpha_{i+1}\\Big(\\frac{x_i}{\\alpha_i} + (\\rho_{i+1} - \\rho_i)\\,
              \\hat\\varepsilon(x_i, t_i)\\Big)
    """
    ctx = SolverContext(model, x_T, grid, prediction, callback)
    rho = [float(v) for v in grid.sigma_ve]
    x = ctx.x_T
    for i in range(grid.n_steps):
        x = ctx.m(x)  # concrete state (fused mode keeps combinations lazy)
        t_s, a_s, s_s, _ = ctx.point(i)
        _, a_t, _, _ = ctx.point(i + 1)
        raw = ctx.raw(x, t_s)
        d_i = ctx.to_noise(raw, x, a_s, s_s)
        x_next = lincomb([(a_t / a_s, x), (a_t * (rho[i + 1] - rho[i]), d_i)])
        ctx.report(i, x, x_next, ctx.to_data(raw, x, a_s, s_s) if ctx.callback else None)
        x = x_next
    return _finish(ctx, x, denoise_to_zero)


def sample_heun(model, x_T, grid, *, prediction=None, generator=None, callback=None,
                denoise_to_zero: bool = False):
    """EDM Heun (Karras et al., Algorithm 1; order 2, Euler into zero noise).

    .. math:: \\hat x' = \\hat x_i + \\Delta\\rho\\, d_i,\\quad
              \\hat x_{i+1} = \\hat x_i
              + \\Delta\\rho\\,\\tfrac12\\big(d_i + d(\\hat x', \\rho_{i+1})\\big)
    """
    ctx = SolverContext(model, x_T, grid, prediction, callback)
    rho = [float(v) for v in grid.sigma_ve]
    x = ctx.x_T
    for i in range(grid.n_steps):
        x = ctx.m(x)  # concrete state (fused mode keeps combinations lazy)
        t_s, a_s, s_s, _ = ctx.point(i)
        t_t, a_t, s_t, _ = ctx.point(i + 1)
        raw = ctx.raw(x, t_s)
        d_i = ctx.to_noise(raw, x, a_s, s_s)
        dr = rho[i + 1] - rho[i]
        x_euler = lincomb([(a_t / a_s, x), (a_t * dr, d_i)])
        if grid.step_into_zero(i):
            x_next = x_euler
        else:
            d_prime = ctx.noise(x_euler, t_t, a_t, s_t)
            x_next = lincomb([(a_t / a_s, x), (0.5 * a_t * dr, d_i), (0.5 * a_t * dr, d_prime)])
        ctx.report(i, x, x_next, ctx.to_data(raw, x, a_s, s_s) if ctx.callback else None)
        x = x_next
    return _finish(ctx, x, denoise_to_zero)
