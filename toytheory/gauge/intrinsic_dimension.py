r"""Intrinsic-dimension estimators from a diffusion model's field.

Score-SVD estimator (Stanczuk, Batzolis, Deveney and Schönlieb, "Your diffusion
model secretly knows the dimension of the data manifold", Algorithm 1)

    At a point :math:`x_0` of the manifold and a small time :math:`t`, draw
    :math:`K` points :math:`x^{(i)} = \alpha_t x_0 + \sigma_t\varepsilon_i`, stack the
    field values :math:`s(x^{(i)}, t)` into a :math:`K\times D` matrix and take its
    singular values :math:`s_1 \ge \dots \ge s_D`. For small :math:`\sigma_t` the
    score lies in the normal space, so :math:`D - k` values are large
    (:math:`\sim\sqrt K/\sigma_t`) and :math:`k` are small:

    .. math:: \hat k = D - \arg\max_{1\le i<D}(s_i - s_{i+1}).

Flow-Jacobian estimator (Horvat & Pfister, "On gauge freedom, conservativity
and intrinsic dimensionality estimation in diffusion models", the singular
values of :math:`Y(x_1, t) = \partial\varphi_t(x_1)/\partial x_1`)

    :math:`\varphi_t` maps a point :math:`x_1` at the noise end :math:`T` to time
    :math:`t` along the backward probability-flow ODE of the field. As
    :math:`t\to 0` the flow contracts the normal directions of the manifold
    (singular values :math:`\sim\sigma_t/\sigma_T \to 0`) while the tangent ones
    saturate, so the number of non-vanishing singular values is k. We start at
    :math:`\alpha_{t_0}x_0` on the manifold, integrate the flow and its
    variational equation :math:`\dot J = \nabla v\,J` forward to :math:`T`, and use
    :math:`Y(t) = J(t)J(T)^{-1}` (the same trajectory, run backwards). The
    estimate counts the singular values of :math:`Y(t_0)` above the largest gap
    in :math:`\log s_i`:

    .. math:: \hat k = \arg\max_{1\le i<D}(\log s_i - \log s_{i+1}).

Both take any field: the exact score (conservative), the score plus a gauge
field, or anything else (:class:`toytheory.gauge.fields.ModelField`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._random import as_generator
from .._validation import as_float_array, check_int, check_real
from .fields import ModelField
from .likelihood import check_time_grid

__all__ = ["DimensionEstimate", "gap_dimension", "score_svd_estimate", "flow_jacobian_estimate",
           "log_snr_time_grid"]


@dataclass
class DimensionEstimate:
    """Estimates at a set of base points.

    Attributes
    ----------
    estimates : (n,) int array
    singular_values : (n, D) array
        The spectrum behind each estimate (descending).
    times : (m,) array or None
        For the flow-Jacobian estimator: the time grid.
    trajectories : (n, m, D) array or None
        Singular values of :math:`Y(t)` at every grid time (flow-Jacobian only).
    """

    estimates: np.ndarray
    singular_values: np.ndarray
    times: np.ndarray | None = None
    trajectories: np.ndarray | None = None


def gap_dimension(singular_values, *, log: bool, normal: bool) -> np.ndarray:
    """The position of the largest gap in descending singular values.

    Parameters
    ----------
    singular_values : (n, D) array, descending, positive when ``log``
    log : bool
        Gaps of :math:`\\log s_i` (flow Jacobian) or of :math:`s_i` (score SVD).
    normal : bool
        If True the values above the gap span the *normal* space and the
        estimate is :math:`D - i^*`; else it is :math:`i^*`.

    Returns
    -------
    (n,) int array

    Raises
    ------
    ValueError
        ``singular_values: ...`` unless it is a finite 2-D array with at least
        two columns, every row sorted in descending order (ties allowed) and,
        when ``log``, positive; ``log: ...`` or ``normal: ...`` unless a bool.
    """
    for name, flag in (("log", log), ("normal", normal)):
        if not isinstance(flag, (bool, np.bool_)):
            raise ValueError(f"{name}: must be a bool (got {type(flag).__name__})")
    sv = as_float_array("singular_values", singular_values, ndim=2)
    if sv.shape[1] < 2:
        raise ValueError(f"singular_values: must have at least two values per row "
                         f"(got shape {sv.shape})")
    rising = np.diff(sv, axis=1) > 0
    if np.any(rising):
        row, col = (int(v) for v in np.argwhere(rising)[0])
        raise ValueError(f"singular_values: must be sorted in descending order along each row "
                         f"(row {row}: entry {col + 1} = {sv[row, col + 1]:.6g} exceeds entry "
                         f"{col} = {sv[row, col]:.6g})")
    if log:
        if np.any(sv <= 0):
            raise ValueError("singular_values: must be positive for log gaps")
        sv = np.log(sv)
    istar = 1 + np.argmax(sv[:, :-1] - sv[:, 1:], axis=1)
    return sv.shape[1] - istar if normal else istar


def _check_field(field):
    if not isinstance(field, ModelField):
        raise ValueError(f"field: must be a ModelField (got {type(field).__name__})")
    return field


def _base_points(field, base_points) -> np.ndarray:
    """A finite (n, D) array with n >= 1 and D the field's dimension."""
    x0 = as_float_array("base_points", base_points, ndim=2)
    if x0.shape[0] < 1 or x0.shape[1] != field.dim:
        raise ValueError(f"base_points: must have shape (n, {field.dim}) with n >= 1, one row "
                         f"per point in the field's dimension D = {field.dim} "
                         f"(got shape {x0.shape})")
    return x0


def score_svd_estimate(field: ModelField, base_points, t: float, n_samples: int,
                       rng=None) -> DimensionEstimate:
    """Stanczuk et al.'s estimate at each base point (module notes).

    Parameters
    ----------
    field : ModelField
    base_points : (n, D) array
        Points :math:`x_0` on the manifold.
    t : float
        The (small) time of the perturbed points.
    n_samples : int
        K, at least D.
    rng : Generator, int or None

    Returns
    -------
    DimensionEstimate

    Raises
    ------
    ValueError
        Naming the argument: ``field`` not a ModelField; ``base_points`` not a
        finite (n, D) array with n >= 1; ``t`` outside the schedule's range or
        at a time where :math:`\\sigma_t = 0` (e.g. t = 0); ``n_samples`` below D.
    """
    field = _check_field(field)
    x0 = _base_points(field, base_points)
    d = field.dim
    t = float(field.schedule.check_t(check_real("t", t)))
    k = check_int("n_samples", n_samples, low=d)
    a, s = field.schedule.marginal(t)
    if not float(s) > 0:
        raise ValueError(f"t: must be a time with sigma_t > 0, i.e. > {field.schedule.t_min:g} "
                         f"for {field.schedule!r} (got {t!r})")
    if not float(a) > 0:
        raise ValueError(f"t: must be a time with alpha_t > 0 for {field.schedule!r} "
                         f"(got {t!r})")
    gen = as_generator(rng)
    svs = np.empty((x0.shape[0], d))
    for i, y in enumerate(x0):
        pts = float(a) * y[None, :] + float(s) * gen.standard_normal((k, d))
        svs[i] = np.linalg.svd(field(pts, t), compute_uv=False)
    return DimensionEstimate(gap_dimension(svs, log=False, normal=True), svs)


def log_snr_time_grid(schedule, t_min: float, t_max: float, steps: int) -> np.ndarray:
    r"""``steps + 1`` times from ``t_min`` to ``t_max``, equally spaced in log-SNR.

    The probability-flow ODE is stiff with rate :math:`\sim\tfrac12 g^2/\sigma_t^2
    = -d\lambda/dt` (and a gauge field multiplies that rate by its amplitude), so
    steps of equal :math:`\Delta\lambda` keep :math:`h\times\text{rate}` constant.
    """
    from ..diffusion.schedules import NoiseSchedule

    if not isinstance(schedule, NoiseSchedule):
        raise ValueError(f"schedule: must be a NoiseSchedule (got {type(schedule).__name__})")
    t_min = check_real("t_min", t_min, low=0.0, low_open=True)
    t_max = check_real("t_max", t_max, low=t_min, low_open=True)
    steps = check_int("steps", steps, low=1)
    schedule.check_t(np.array([t_min, t_max]), "t_min, t_max")
    lam = np.linspace(float(schedule.log_snr(t_min)), float(schedule.log_snr(t_max)), steps + 1)
    grid = np.asarray(schedule.t_from_log_snr(lam), float)
    grid[0], grid[-1] = t_min, t_max
    return grid


def flow_jacobian_estimate(field: ModelField, base_points, t_grid, *,
                           trajectories: bool = False) -> DimensionEstimate:
    """Horvat & Pfister's flow-Jacobian estimate at each base point (module notes).

    Parameters
    ----------
    field : ModelField
    base_points : (n, D) array
        Points :math:`x_0` on the manifold; the flow starts at :math:`\\alpha_{t_0}x_0`.
    t_grid : (m,) array
        Strictly increasing times from :math:`t_0 > 0` to :math:`T` (RK4 steps;
        :func:`log_snr_time_grid` suits the stiffness of the flow).
    trajectories : bool, default False
        Also return the singular values of :math:`Y(t)` at every grid time.

    Returns
    -------
    DimensionEstimate
        With ``times = t_grid`` and, if asked, ``trajectories[i, j]`` the
        singular values of :math:`Y(t_j) = J(t_j)J(T)^{-1}` for base point i.

    Raises
    ------
    ValueError
        Naming the argument: ``field`` not a ModelField; ``base_points`` not a
        finite (n, D) array with n >= 1; ``t_grid`` not strictly increasing
        inside the schedule's range from t > 0, or too coarse (the flow
        diverges); ``trajectories`` not a bool.
    """
    field = _check_field(field)
    if not isinstance(trajectories, (bool, np.bool_)):
        raise ValueError(f"trajectories: must be a bool (got {type(trajectories).__name__})")
    x0 = _base_points(field, base_points)
    grid = check_time_grid("t_grid", t_grid, field.schedule, increasing=True)
    if grid[0] <= 0:
        raise ValueError("t_grid: must start at t > 0 (the flow is singular on the manifold)")
    n, d = x0.shape
    a0, _ = field.schedule.marginal(grid[0])
    x = float(a0) * x0
    jac = np.broadcast_to(np.eye(d), (n, d, d)).copy()
    history = [jac.copy()] if trajectories else None

    def rhs(y, j, t):
        if not (np.all(np.isfinite(y)) and np.all(np.isfinite(j))):
            raise ValueError(f"t_grid: the flow or its variational equation diverged near "
                             f"t = {t:.3g}; use more (or finer) steps")
        vel, vjac = field.velocity_and_jacobian(y, t)
        return vel, vjac @ j

    for t0, t1 in zip(grid[:-1], grid[1:]):
        h = t1 - t0
        k1, m1 = rhs(x, jac, t0)
        k2, m2 = rhs(x + 0.5 * h * k1, jac + 0.5 * h * m1, t0 + 0.5 * h)
        k3, m3 = rhs(x + 0.5 * h * k2, jac + 0.5 * h * m2, t0 + 0.5 * h)
        k4, m4 = rhs(x + h * k3, jac + h * m3, t1)
        x = x + (h / 6.0) * (k1 + 2 * k2 + 2 * k3 + k4)
        jac = jac + (h / 6.0) * (m1 + 2 * m2 + 2 * m3 + m4)
        if not (np.all(np.isfinite(x)) and np.all(np.isfinite(jac))):
            raise ValueError(f"t_grid: the flow or its variational equation diverged near "
                             f"t = {t1:.3g}; use more (or finer) steps")
        if trajectories:
            history.append(jac.copy())
    # singular values of Y(t0) = J(T)^-1 are the reciprocals of those of J(T)
    svs = 1.0 / np.linalg.svd(jac, compute_uv=False)[:, ::-1]
    traj = None
    if trajectories:
        inv_final = np.linalg.inv(jac)
        traj = np.stack([np.linalg.svd(h_j @ inv_final, compute_uv=False) for h_j in history],
                        axis=1)                                             # (n, m, d)
    return DimensionEstimate(gap_dimension(svs, log=True, normal=False), svs, grid, traj)
