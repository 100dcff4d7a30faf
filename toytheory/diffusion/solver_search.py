r"""Per-step solver schedules and the plain Euler baseline, for the solver-paper claims.

Two small samplers that the existing solver package (read-only here) does not have:

- :func:`sample_euler_vp` — Euler's method on the VP probability-flow ODE in :math:`t`,
  :math:`dx/dt = f(t)x + \tfrac{g^2(t)}{2\sigma_t}\hat\varepsilon(x, t)`, which ignores the
  ODE's semilinear structure: the baseline of "Fast Sampling of Diffusion Models with
  Exponential Integrator" (DEIS, Section 3: Euler on the learned ODE vs the exponential
  integrator).
- :func:`sample_schedule` — the exponential-integrator multistep family of
  "A Unified Sampling Framework for Solver Searching of Diffusion Probabilistic Models" (USF,
  Section 3), with a free choice *per step* of the prediction type (noise or data) and of the
  Taylor order (1 or 2, the derivative from the previous evaluation), with
  :math:`h = \lambda_{i+1} - \lambda_i`, :math:`r = h_{i-1}/h_i`:

  .. math:: x_{i+1} = \frac{\alpha_{i+1}}{\alpha_i}x_i - \sigma_{i+1}(e^h - 1)
            \big[\hat\varepsilon_i + \tfrac12 D_\varepsilon\big],\quad
            D_\varepsilon = (\hat\varepsilon_i - \hat\varepsilon_{i-1})/r \quad(\text{noise})

  .. math:: x_{i+1} = \frac{\sigma_{i+1}}{\sigma_i}x_i - \alpha_{i+1}(e^{-h} - 1)
            \big[\hat x_{0,i} + \tfrac12 D_x\big],\quad
            D_x = (\hat x_{0,i} - \hat x_{0,i-1})/r \quad(\text{data})

  (order 1: no :math:`D`). A fixed choice at every step gives DDIM, multistep DPM-Solver-2 and
  DPM-Solver++(2M) (midpoint form); :func:`search_schedule` tries every schedule.
"""

from __future__ import annotations

import itertools

import numpy as np

from .._validation import check_int

__all__ = ["sample_euler_vp", "sample_schedule", "search_schedule", "OPTIONS"]

#: the per-step choices: (prediction, order)
OPTIONS = (("eps", 1), ("data", 1), ("eps", 2), ("data", 2))


def sample_euler_vp(eps_model, x, grid):
    """Euler in t on the VP PF-ODE with an :math:`\\varepsilon`-model ``eps_model(x, t)``."""
    sch = grid.schedule
    x = np.array(x, float)
    for i in range(grid.n_steps):
        t, s = float(grid.t[i]), float(grid.t[i + 1])
        f = float(sch.drift(t))
        g2 = float(sch.diffusion_sq(t))
        x = x + (s - t) * (f * x + g2 / (2 * float(grid.sigma[i])) * eps_model(x, t))
    return x


def _check_schedule(schedule, n_steps):
    schedule = tuple(tuple(s) for s in schedule)
    if len(schedule) != n_steps:
        raise ValueError(f"schedule: must have one choice per step ({n_steps}; got "
                         f"{len(schedule)})")
    for i, choice in enumerate(schedule):
        if choice not in OPTIONS:
            raise ValueError(f"schedule: entry {i} must be one of {OPTIONS} (got {choice!r})")
        if choice[1] == 2 and i == 0:
            raise ValueError("schedule: the first step has no history for order 2")
    return schedule


def sample_schedule(eps_model, x, grid, schedule):
    """Run the per-step schedule (a sequence of ``(prediction, order)``, one per step)."""
    schedule = _check_schedule(schedule, grid.n_steps)
    x = np.array(x, float)
    prev = None  # (eps, x0) at the previous point
    for i, (pred, order) in enumerate(schedule):
        t = float(grid.t[i])
        a_s, s_s, lam_s = float(grid.alpha[i]), float(grid.sigma[i]), float(grid.log_snr[i])
        a_t, s_t, lam_t = (float(grid.alpha[i + 1]), float(grid.sigma[i + 1]),
                           float(grid.log_snr[i + 1]))
        h = lam_t - lam_s
        eps = eps_model(x, t)
        x0 = (x - s_s * eps) / a_s
        if order == 2:
            r = (lam_s - float(grid.log_snr[i - 1])) / h
        if pred == "eps":
            m = eps if order == 1 else eps + 0.5 * (eps - prev[0]) / r
            x_new = (a_t / a_s) * x - s_t * np.expm1(h) * m
        else:
            m = x0 if order == 1 else x0 + 0.5 * (x0 - prev[1]) / r
            x_new = (s_t / s_s) * x - a_t * np.expm1(-h) * m
        prev = (eps, x0)
        x = x_new
    return x


def search_schedule(error_of, n_steps: int):
    """Exhaustive search: ``error_of(schedule) -> float`` over every distinct schedule
    (3^(n_steps - 1) of them: order 1, or order 2 with either prediction, after a first-order
    first step).

    Returns ``(best_schedule, best_error, errors)`` with ``errors`` a dict over all schedules.
    """
    n_steps = check_int("n_steps", n_steps, low=1)
    # order 1 with either prediction is the same step (DDIM), so it is tried once
    distinct = (("eps", 1), ("eps", 2), ("data", 2))
    errors = {}
    for rest in itertools.product(distinct, repeat=n_steps - 1):
        sched = (("eps", 1),) + rest
        errors[sched] = float(error_of(sched))
    best = min(errors, key=errors.get)
    return best, errors[best], errors
