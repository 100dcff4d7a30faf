r"""DC-Solver: UniPC with dynamic compensation of the newest model output.

Zhao, Wang, Zhou and Lu, "DC-Solver: Improving Predictor-Corrector Diffusion
Sampler via Dynamic Compensation", section 3 (eq. 9) and the authors'
``dc_solver.py``. Before the update from :math:`t_i`, the newest model output
:math:`m_i` is replaced by the Lagrange interpolation of the last
:math:`K + 1` outputs (``dc_order`` :math:`= K`) in the model time :math:`t`,
evaluated at the compensated time

.. math:: \tau_i = \gamma_i t_i + (1 - \gamma_i)\,t_{i-1},\qquad
          \tilde m_i = \sum_{j=0}^{K} m_{i-j}\prod_{k\ne j}
          \frac{\tau_i - t_{i-k}}{t_{i-j} - t_{i-k}}

(:math:`\gamma_i = 1` is plain UniPC); the compensated value stays in the
history. The ratios :math:`\gamma_i` are fitted step by step on a few (10)
trajectories against the exact solution: each :math:`\gamma_i` minimises the
mean squared distance between the corrected state after step :math:`i` and
the reference state there (:func:`fit_dc_ratios`).
"""

from __future__ import annotations

import numpy as np

from ..._validation import as_float_array, check_int
from ._base import SolverContext, check_choice, check_order, lincomb
from .dpm_solver import _check_enough_steps, _finish, _first_order, multistep_orders
from .unipc import VARIANTS, _unipc_update

__all__ = ["sample_dc_solver", "fit_dc_ratios", "dynamic_compensation"]


def dynamic_compensation(history, times, ratio: float, dc_order: int):
    """:math:`\\tilde m_i` from the outputs ``history`` at ``times`` (newest last)."""
    t_i, t_prev = times[-1], times[-2]
    tau = ratio * t_i + (1.0 - ratio) * t_prev
    terms = []
    for j in range(dc_order + 1):
        c = 1.0
        for k in range(dc_order + 1):
            if k != j:
                c *= (tau - times[-1 - k]) / (times[-1 - j] - times[-1 - k])
        terms.append((c, history[-1 - j]))
    return lincomb(terms)


def _dc_loop(ctx, grid, ratios, order, variant, data, dc_order, lower_order_final,
             fit_step=None):
    orders = multistep_orders(grid.n_steps, order, lower_order_final, grid.ends_at_zero)
    x = ctx.x_T
    t0 = ctx.point(0)
    raw = ctx.raw(x, t0[0])
    convert = ctx.to_data if data else ctx.to_noise
    hist = [convert(raw, x, t0[1], t0[2])]
    lams = [t0[3]]
    times = [t0[0]]
    used = []
    for i in range(grid.n_steps):
        x = ctx.m(x)  # concrete state (fused mode keeps combinations lazy)
        pt_s, pt_t = ctx.point(i), ctx.point(i + 1)
        p = orders[i]
        last = i == grid.n_steps - 1

        def step(ratio, hist=hist):
            h = list(hist)
            if ratio != 1.0 and len(h) >= dc_order + 1:
                # concrete: the compensated output stays in the history (kept lazy, each
                # compensation would carry all the earlier ones)
                h[-1] = ctx.m(dynamic_compensation(h, times, ratio, dc_order))
            if grid.step_into_zero(i):
                return _first_order(ctx, x, h[-1], pt_s, pt_t, data), None, h
            x_pred = _unipc_update(x, h, lams, pt_s, pt_t, p, variant, data)
            if last:
                return x_pred, None, h
            m_t = convert(ctx.raw(x_pred, pt_t[0]), x_pred, pt_t[1], pt_t[2])
            x_corr = _unipc_update(x, h, lams, pt_s, pt_t, p, variant, data, model_t=m_t)
            return x_corr, m_t, h

        ratio = 1.0 if ratios is None else float(ratios[i])
        if fit_step is not None and len(hist) >= dc_order + 1:
            ratio = fit_step(i, lambda r: step(r)[0])
        x_next, m_t, hist = step(ratio)
        used.append(ratio)
        ctx.report(i, x, x_next, None, order=p, ratio=ratio)
        x = x_next
        if m_t is not None:
            hist = (hist + [m_t])[-max(order, dc_order + 1):]
            lams = (lams + [pt_t[3]])[-max(order, dc_order + 1):]
            times = (times + [pt_t[0]])[-max(order, dc_order + 1):]
    return x, used


def sample_dc_solver(model, x_T, grid, *, ratios=None, prediction=None, generator=None,
                     order: int = 3,
                     variant: str = "bh1", dc_order: int = 2, predict_x0: bool = True,
                     lower_order_final: bool = True, callback=None,
                     denoise_to_zero: bool = False):
    """UniPC-``order`` with dynamic compensation (DC-Solver).

    Parameters
    ----------
    ratios : sequence of float, optional
        :math:`\\gamma_i` per step (None or all ones: UniPC; entries for steps
        with fewer than ``dc_order + 1`` outputs are ignored), e.g. from
        :func:`fit_dc_ratios`.
    order : int
        UniPC predictor order (DC-Solver's default 3).
    variant : {"bh1", "bh2"}
        DC-Solver's default bh1.
    dc_order : int
        Degree :math:`K` of the compensating interpolation (default 2).

    Returns
    -------
    (n, d) array or tensor
    """
    order = check_order("order", order, low=1)
    dc_order = check_int("dc_order", dc_order, low=1)
    variant = check_choice("variant", variant, VARIANTS)
    ctx = SolverContext(model, x_T, grid, prediction, callback)
    _check_enough_steps(grid, order)
    if ratios is not None:
        ratios = as_float_array("ratios", ratios, ndim=1)
        if ratios.size != grid.n_steps:
            raise ValueError(f"ratios: must have one entry per step ({grid.n_steps}); "
                             f"got {ratios.size}")
    x, _ = _dc_loop(ctx, grid, ratios, order, variant, bool(predict_x0), dc_order,
                    bool(lower_order_final))
    return _finish(ctx, x, denoise_to_zero)


def fit_dc_ratios(model, x_T, grid, reference, *, prediction=None, order: int = 3,
                  variant: str = "bh1", dc_order: int = 2, predict_x0: bool = True,
                  lower_order_final: bool = True, bounds=(-1.0, 3.0)):
    """Fit the compensation ratios on a few trajectories, step by step.

    Parameters
    ----------
    x_T : (m, d) array
        The fitting trajectories' starting points (the paper uses 10).
    reference : (N + 1, m, d) array
        The exact states at the grid points (closed form for Gaussian data, a
        fine ``solve_ivp`` solve for mixtures).
    bounds : (float, float)
        Search interval for every :math:`\\gamma_i` (bounded Brent).

    Returns
    -------
    (N,) array
        :math:`\\gamma_i` (1 where there is nothing to compensate).
    """
    from scipy.optimize import minimize_scalar

    order = check_order("order", order, low=1)
    dc_order = check_int("dc_order", dc_order, low=1)
    variant = check_choice("variant", variant, VARIANTS)
    ctx = SolverContext(model, x_T, grid, prediction, None)
    if ctx.torch:
        raise ValueError("x_T: fit_dc_ratios works on numpy arrays")
    _check_enough_steps(grid, order)
    ref = as_float_array("reference", reference, ndim=3)
    if ref.shape != (grid.n_steps + 1,) + tuple(ctx.x_T.shape):
        raise ValueError(f"reference: must have shape {(grid.n_steps + 1,) + ctx.x_T.shape} "
                         f"(got {ref.shape})")

    def fit_step(i, run):
        target = ref[i + 1]

        def loss(r):
            return float(np.mean((run(r) - target) ** 2))

        res = minimize_scalar(loss, bounds=bounds, method="bounded",
                              options={"xatol": 1e-6})
        return float(res.x) if res.fun <= loss(1.0) else 1.0

    _, used = _dc_loop(ctx, grid, None, order, variant, bool(predict_x0), dc_order,
                       bool(lower_order_final), fit_step=fit_step)
    return np.array(used)
