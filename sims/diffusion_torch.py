r"""Torch forward simulators for diffusion processes, from their definitions.

Both take a score field as a callable ``score_fn(x, t) -> tensor`` (so any
field can be simulated: the exact score, a perturbed one, a score plus a
gauge field) and a schedule for the SDE coefficients
:math:`f(t) = d\log\alpha_t/dt`, :math:`g^2(t) = d\sigma_t^2/dt - 2f\sigma_t^2`:

- probability-flow ODE :math:`dx/dt = f(t)x - \tfrac12 g^2(t)\,s(x, t)`, classical RK4
  on a given time grid;
- reverse SDE :math:`dx = [f(t)x - g^2(t)s(x, t)]dt + g(t)d\bar W`, Euler–Maruyama on
  a given (decreasing) time grid.

They run on whatever device the input tensor lives on (CUDA when present). The
coefficients at a step's end points are evaluated a relative 1e-9 of the step
inside it (one-sided at the kinks of a piecewise schedule such as DDPM's
interpolated table; a change of order 1e-9 h for smooth schedules).
"""

from __future__ import annotations

from typing import Callable

import numpy as np


_INSIDE = 1e-9


def _coefficients(schedule, t: float, towards: float | None = None) -> tuple[float, float]:
    """``(f(t), g^2(t))``; with ``towards``, evaluated a relative 1e-9 of the step inside
    it, so that on a piecewise schedule (DDPM's interpolated table, kinks at integer
    times) a step's end point takes the derivative of the piece the step lies in."""
    if towards is not None:
        t = t + _INSIDE * (towards - t)
    return float(schedule.drift(t)), float(schedule.diffusion_sq(t))


def pf_ode_rk4(score_fn: Callable, schedule, x, t_grid, callback=None):
    """Integrate the probability-flow ODE with RK4 along ``t_grid``.

    Parameters
    ----------
    score_fn : callable
        ``score_fn(x, t)`` with ``x`` a (n, d) tensor and ``t`` a float.
    schedule : toytheory.diffusion.schedules.NoiseSchedule
    x : (n, d) tensor
        Points at ``t_grid[0]``.
    t_grid : (m,) array
        Monotone times (decreasing to sample, increasing to encode).
    callback : callable, optional
        ``callback(i, t, x)`` after each step.

    Returns
    -------
    (n, d) tensor
        Points at ``t_grid[-1]``.
    """
    grid = np.asarray(t_grid, dtype=float)
    if grid.ndim != 1 or grid.size < 2:
        raise ValueError("t_grid: must be a 1-D grid of at least two times")
    steps = np.diff(grid)
    if not (np.all(steps < 0) or np.all(steps > 0)):
        raise ValueError("t_grid: must be strictly monotone")

    def velocity(y, t, towards=None):
        f, g2 = _coefficients(schedule, t, towards)
        return f * y - 0.5 * g2 * score_fn(y, t)

    for i, (t0, t1) in enumerate(zip(grid[:-1], grid[1:])):
        h = t1 - t0
        k1 = velocity(x, t0, t1)
        k2 = velocity(x + 0.5 * h * k1, t0 + 0.5 * h)
        k3 = velocity(x + 0.5 * h * k2, t0 + 0.5 * h)
        k4 = velocity(x + h * k3, t1, t0)
        x = x + (h / 6.0) * (k1 + 2 * k2 + 2 * k3 + k4)
        if callback is not None:
            callback(i, t1, x)
    return x


def reverse_sde_euler_maruyama(score_fn: Callable, schedule, x, t_grid, generator=None,
                               callback=None):
    """Simulate the reverse-time SDE with Euler–Maruyama along a decreasing ``t_grid``.

    .. math:: x_{k+1} = x_k - [f(t_k)x_k - g^2(t_k)s(x_k, t_k)]\\,\\Delta_k
              + g(t_k)\\sqrt{\\Delta_k}\\,z_k, \\quad \\Delta_k = t_k - t_{k+1} > 0

    Parameters
    ----------
    generator : torch.Generator, optional
        The noise stream (seed it for reproducible paths).
    """
    import torch

    grid = np.asarray(t_grid, dtype=float)
    if grid.ndim != 1 or grid.size < 2 or not np.all(np.diff(grid) < 0):
        raise ValueError("t_grid: must be a strictly decreasing 1-D grid of at least two times")
    for i, (t0, t1) in enumerate(zip(grid[:-1], grid[1:])):
        dt = t0 - t1
        f, g2 = _coefficients(schedule, t0, t1)
        z = torch.randn(x.shape, generator=generator, dtype=x.dtype, device=x.device)
        x = x - (f * x - g2 * score_fn(x, t0)) * dt + (g2 * dt) ** 0.5 * z
        if callback is not None:
            callback(i, t1, x)
    return x
