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

from sims._checks import check_schedule_like
from toytheory._validation import as_float_array

_INSIDE = 1e-9
_SCHEDULE_METHODS = ("drift", "diffusion_sq")


def _check_inputs(score_fn, schedule, x, t_grid, callback):
    """Validate the common arguments; return the time grid as a float64 array.

    Raises
    ------
    ValueError
        ``score_fn`` or ``callback`` not callable, ``schedule`` without the SDE
        coefficients, ``x`` not a finite floating-point torch tensor of points, ``t_grid``
        not a finite 1-D grid of at least two times.
    """
    import torch

    if not callable(score_fn):
        raise ValueError(f"score_fn: must be callable (got {type(score_fn).__name__})")
    check_schedule_like(schedule, _SCHEDULE_METHODS)
    if not isinstance(x, torch.Tensor):
        raise ValueError(f"x: must be a torch.Tensor (got {type(x).__name__}; convert with "
                         "torch.as_tensor)")
    if not x.is_floating_point():
        raise ValueError(f"x: must have a floating-point dtype (got {x.dtype})")
    if x.ndim < 1:
        raise ValueError("x: must have a leading batch dimension, shape (n, d) (got a 0-d "
                         "tensor)")
    if not bool(torch.isfinite(x).all()):
        raise ValueError("x: must contain only finite values")
    if callback is not None and not callable(callback):
        raise ValueError(f"callback: must be callable or None (got {type(callback).__name__})")
    grid = as_float_array("t_grid", t_grid)
    if grid.ndim != 1 or grid.size < 2:
        raise ValueError("t_grid: must be a 1-D grid of at least two times")
    return grid


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

    Raises
    ------
    ValueError
        ``score_fn`` not callable, ``schedule`` without ``drift``/``diffusion_sq``, ``x``
        not a finite floating-point torch tensor of points, ``t_grid`` not strictly
        monotone.
    """
    grid = _check_inputs(score_fn, schedule, x, t_grid, callback)
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
    score_fn : callable
        ``score_fn(x, t)`` with ``x`` a (n, d) tensor and ``t`` a float.
    schedule : toytheory.diffusion.schedules.NoiseSchedule
    x : (n, d) tensor
        Points at ``t_grid[0]`` (floating point; the noise is drawn in its dtype and on
        its device).
    t_grid : (m,) array
        Strictly decreasing times.
    generator : torch.Generator, optional
        The noise stream (seed it for reproducible paths).
    callback : callable, optional
        ``callback(i, t, x)`` after each step.

    Returns
    -------
    (n, d) tensor
        Points at ``t_grid[-1]``.

    Raises
    ------
    ValueError
        ``score_fn`` not callable, ``schedule`` without ``drift``/``diffusion_sq``, ``x``
        not a finite floating-point torch tensor of points, ``t_grid`` not strictly
        decreasing, ``generator`` not a torch.Generator.
    """
    import torch

    grid = _check_inputs(score_fn, schedule, x, t_grid, callback)
    if generator is not None and not isinstance(generator, torch.Generator):
        raise ValueError(f"generator: must be a torch.Generator or None "
                         f"(got {type(generator).__name__})")
    if not np.all(np.diff(grid) < 0):
        raise ValueError("t_grid: must be a strictly decreasing 1-D grid of at least two times")
    for i, (t0, t1) in enumerate(zip(grid[:-1], grid[1:])):
        dt = t0 - t1
        f, g2 = _coefficients(schedule, t0, t1)
        z = torch.randn(x.shape, generator=generator, dtype=x.dtype, device=x.device)
        x = x - (f * x - g2 * score_fn(x, t0)) * dt + (g2 * dt) ** 0.5 * z
        if callback is not None:
            callback(i, t1, x)
    return x
