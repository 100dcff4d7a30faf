r"""Log-likelihood by the instantaneous change of variables along the flow of a model field.

For the probability-flow ODE of a model field :math:`s`,
:math:`\dot x = v_t(x) = f(t)x - \tfrac12 g^2(t)s_t(x)`, started at a data point
:math:`x(t_0) = x` and run forward to :math:`T`,

.. math::

    \log q_{t_0}(x) = \log q_T(x(T)) + \int_{t_0}^{T}\nabla\cdot v_t(x(t))\,dt,

where :math:`q_t` is the density transported by :math:`v` from
:math:`q_T = p_T` (Chen et al.'s instantaneous change of variables:
:math:`\tfrac{d}{dt}\log q_t(x(t)) = -\nabla\cdot v_t`). Which density is that?
:math:`q_t` solves :math:`\partial_t q + \nabla\cdot(q v) = 0`. If
:math:`s = \nabla\log p_t + r_t` with :math:`\nabla\cdot(p_t r_t) = 0` for all
:math:`t`, then :math:`\nabla\cdot(p_t v^{s}) = \nabla\cdot(p_t v^{\text{true}})`,
so :math:`p_t` solves the same equation with the same terminal value and
:math:`q_t = p_t`: the estimate is the *true* :math:`\log p_{t_0}(x)`, although the
trajectory, its end point :math:`x(T)` and the integrated divergence all
differ from those of the true flow (the two differences cancel exactly).
If the conservative part is wrong (:math:`s = \nabla\log p_t + \nabla\chi_t`), the
estimate is :math:`\log q_{t_0}(x) \ne \log p_{t_0}(x)`, the exact log-density of the
samples that the same field would produce (Horvat & Pfister, "On gauge
freedom, conservativity and intrinsic dimensionality estimation in diffusion
models": exact density estimation iff the conservative part is the score).

The divergence is the exact trace of the field's Jacobian (low dimension);
the ODE is integrated by classical RK4 on the given time grid.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from .._validation import as_float_array
from .fields import ModelField

__all__ = ["LikelihoodResult", "change_of_variables_log_prob", "check_time_grid"]


@dataclass
class LikelihoodResult:
    """The change-of-variables estimate and its two terms.

    Attributes
    ----------
    log_prob : (n,) array
        :math:`\\log q_{t_0}(x)`.
    endpoint : (n, d) array
        :math:`x(T)`.
    terminal_log_prob : (n,) array
        :math:`\\log q_T(x(T))`.
    integrated_divergence : (n,) array
        :math:`\\int_{t_0}^T\\nabla\\cdot v_t(x(t))\\,dt`.
    """

    log_prob: np.ndarray
    endpoint: np.ndarray
    terminal_log_prob: np.ndarray
    integrated_divergence: np.ndarray


def check_time_grid(name: str, t_grid, schedule, increasing: bool | None = None) -> np.ndarray:
    """A strictly monotone 1-D grid of at least two times inside the schedule's range."""
    grid = as_float_array(name, t_grid, ndim=1)
    if grid.size < 2:
        raise ValueError(f"{name}: must contain at least two times (got {grid.size})")
    steps = np.diff(grid)
    if increasing is True and not np.all(steps > 0):
        raise ValueError(f"{name}: must be strictly increasing")
    if increasing is False and not np.all(steps < 0):
        raise ValueError(f"{name}: must be strictly decreasing")
    if not (np.all(steps > 0) or np.all(steps < 0)):
        raise ValueError(f"{name}: must be strictly monotone")
    schedule.check_t(grid, name)
    return grid


def change_of_variables_log_prob(field: ModelField, x, t_grid, *,
                                 terminal_log_prob: Callable | None = None) -> LikelihoodResult:
    """:math:`\\log q_{t_0}(x)` by integrating :math:`(\\dot x, \\dot\\ell) = (v, \\nabla\\cdot v)` with RK4.

    Parameters
    ----------
    field : ModelField
        The model field :math:`s` (its exact divergence is used).
    x : (n, d) array
        Points at time ``t_grid[0]``.
    t_grid : (m,) array
        Strictly increasing times from :math:`t_0` to :math:`T`.
    terminal_log_prob : callable, optional
        :math:`\\log q_T` on (n, d) points. Default: the exact
        :math:`\\log p_T` of ``field.density`` (so that the integration is the only
        approximation).

    Returns
    -------
    LikelihoodResult

    Raises
    ------
    ValueError
        Naming the argument: ``field`` not a ModelField, ``x`` of the wrong
        shape or not finite, ``t_grid`` not strictly increasing inside the
        schedule's range (or a diverging integration), ``terminal_log_prob``
        not callable or returning the wrong shape or non-finite values.
    """
    if not isinstance(field, ModelField):
        raise ValueError(f"field: must be a ModelField (got {type(field).__name__})")
    if terminal_log_prob is not None and not callable(terminal_log_prob):
        raise ValueError(f"terminal_log_prob: must be a callable log q_T(x) on (n, d) points "
                         f"or None (got {type(terminal_log_prob).__name__})")
    x = field._x(x)
    grid = check_time_grid("t_grid", t_grid, field.schedule, increasing=True)

    def rhs(y, t):
        if not np.all(np.isfinite(y)):
            raise ValueError(f"t_grid: the flow diverged near t = {t:.3g}; use more steps")
        return field.velocity(y, t), field.velocity_divergence(y, t)

    ell = np.zeros(x.shape[0])
    y = x.copy()
    for t0, t1 in zip(grid[:-1], grid[1:]):
        h = t1 - t0
        k1, l1 = rhs(y, t0)
        k2, l2 = rhs(y + 0.5 * h * k1, t0 + 0.5 * h)
        k3, l3 = rhs(y + 0.5 * h * k2, t0 + 0.5 * h)
        k4, l4 = rhs(y + h * k3, t1)
        y = y + (h / 6.0) * (k1 + 2 * k2 + 2 * k3 + k4)
        ell = ell + (h / 6.0) * (l1 + 2 * l2 + 2 * l3 + l4)
    if terminal_log_prob is None:
        a, s = field.schedule.marginal(grid[-1])
        terminal = field.density.log_prob(y, float(a), float(s))
    else:
        terminal = as_float_array("terminal_log_prob", terminal_log_prob(y), ndim=1)
        if terminal.shape != (x.shape[0],):
            raise ValueError(f"terminal_log_prob: must return shape ({x.shape[0]},) "
                             f"(got {terminal.shape})")
    if not (np.all(np.isfinite(y)) and np.all(np.isfinite(ell))):
        raise ValueError("t_grid: the integration diverged (non-finite points); use more steps")
    return LikelihoodResult(terminal + ell, y, terminal, ell)
