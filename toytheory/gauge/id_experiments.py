"""The intrinsic-dimension experiments shared by the claims, the figures and the notebook.

One function runs both estimators of :mod:`toytheory.gauge.intrinsic_dimension`
at a few base points of a manifold, for the exact score and (optionally) the
score plus a gauge field, at the noise level :math:`\\sigma_0` (default 0.01:
well below the curvature radii of the test manifolds and well above the
spacing of the Swiss roll's spiral points).
"""

from __future__ import annotations

import math

import numpy as np

from .._random import as_generator
from .._validation import check_int, check_real
from .fields import ModelField
from .gauge_fields import SkewTensorGaugeField, random_skew
from .intrinsic_dimension import flow_jacobian_estimate, log_snr_time_grid, score_svd_estimate

__all__ = ["time_at_noise", "rotation_gauge", "run_estimators", "manifold_spectra_rows",
           "manifold_trajectory_rows"]


def _time_at_noise(schedule, value, name: str) -> float:
    """:func:`time_at_noise`, with errors naming ``name`` (the caller's argument)."""
    from ..diffusion.schedules import NoiseSchedule

    if not isinstance(schedule, NoiseSchedule):
        raise ValueError(f"schedule: must be a NoiseSchedule (got {type(schedule).__name__})")
    value = check_real(name, value, low=0.0, low_open=True)
    lam = -math.log(value)
    lo = float(schedule.log_snr(schedule.t_max))
    hi = float(schedule.log_snr(schedule.t_min))
    slack = 1e-6 * max(abs(lo), 1.0)            # the tolerance of schedule.t_from_log_snr
    if lam < lo - slack:
        raise ValueError(f"{name}: must be <= {math.exp(-lo):.6g}, the noise level "
                         f"sigma_t/alpha_t at t_max = {schedule.t_max:g} of {schedule!r} "
                         f"(got {value!r})")
    if lam > hi:
        raise ValueError(f"{name}: must be >= {math.exp(-hi):.6g}, the noise level "
                         f"sigma_t/alpha_t at t_min = {schedule.t_min:g} of {schedule!r} "
                         f"(got {value!r})")
    return float(schedule.t_from_log_snr(lam))


def time_at_noise(schedule, sigma_ve: float) -> float:
    """The time at which :math:`\\sigma_t/\\alpha_t` equals ``sigma_ve``.

    Parameters
    ----------
    schedule : NoiseSchedule
    sigma_ve : float
        The variance-exploding noise level, inside the schedule's range
        :math:`[\\sigma_{t_{min}}/\\alpha_{t_{min}}, \\sigma_{t_{max}}/\\alpha_{t_{max}}]`.

    Returns
    -------
    float

    Raises
    ------
    ValueError
        ``schedule: ...`` for anything but a NoiseSchedule; ``sigma_ve: ...``
        unless it is finite, positive and inside the schedule's range.
    """
    return _time_at_noise(schedule, sigma_ve, "sigma_ve")


def rotation_gauge(manifold, schedule, rng=None, amplitude: float = 3.0):
    """:math:`r_t = a\\,C\\nabla\\log p_t` with a random skew C of spectral scale ~1 (B = a p C)."""
    d = manifold.dim
    c = random_skew(d, rng) / np.sqrt(d)
    return SkewTensorGaugeField(manifold, schedule, c, amplitude=amplitude)


def run_estimators(manifold, schedule, n_points: int, rng=None, *, gauge=None,
                   sigma0: float = 0.01, svd_samples: int | None = None, steps: int = 120,
                   base_points=None, jacobian: bool = True, trajectories: bool = False) -> dict:
    """Both estimates at ``n_points`` base points, for the exact score (and score + ``gauge``).

    Parameters
    ----------
    manifold : EmbeddedManifold
        The data law (:mod:`toytheory.gauge.manifolds`).
    schedule : NoiseSchedule
    n_points : int
        Base points drawn from the manifold (ignored when ``base_points`` is given).
    rng : numpy.random.Generator, int or None
    gauge : GaugeField, optional
        Also run both estimators on the score plus this gauge field.
    sigma0 : float, default 0.01
        The noise level :math:`\\sigma_{t_0}/\\alpha_{t_0}` of the estimates, inside
        the schedule's range and above 0.
    svd_samples : int, optional
        K of the score-SVD estimator, at least D (default 4 D).
    steps : int, default 120
        RK4 steps (equal in log-SNR) of the flow-Jacobian estimator.
    base_points : (n, D) array, optional
        Points on the manifold to use instead of drawing ``n_points``.
    jacobian, trajectories : bool
        Run the flow-Jacobian estimator; keep its singular values along t.

    Returns
    -------
    dict
        ``base_points``, ``t0``, ``svd`` and ``jac`` (DimensionEstimate for the
        exact score), and ``svd_gauge``, ``jac_gauge`` when a gauge is given.

    Raises
    ------
    ValueError
        Naming the argument, e.g. ``sigma0: ...`` outside the schedule's noise
        range, ``svd_samples: ...`` below D.
    """
    n_points = check_int("n_points", n_points, low=1)
    t0 = _time_at_noise(schedule, sigma0, "sigma0")
    if not t0 > schedule.t_min:
        raise ValueError(f"sigma0: must be large enough that its time exceeds t_min = "
                         f"{schedule.t_min:g} of {schedule!r} (got {sigma0!r}, which maps to "
                         f"t = {t0!r})")
    if svd_samples is not None:
        svd_samples = check_int("svd_samples", svd_samples, low=manifold.dim)
    gen = as_generator(rng)
    k = svd_samples or 4 * manifold.dim
    y = manifold.sample_data(n_points, gen) if base_points is None else base_points
    grid = log_snr_time_grid(schedule, t0, float(schedule.t_max), steps)
    fields = {"": ModelField(manifold, schedule)}
    if gauge is not None:
        fields["_gauge"] = ModelField(manifold, schedule, gauges=[gauge])
    out = {"base_points": y, "t0": t0, "grid": grid}
    for suffix, f in fields.items():
        out["svd" + suffix] = score_svd_estimate(f, y, t0, k, gen)
        if jacobian:
            out["jac" + suffix] = flow_jacobian_estimate(f, y, grid, trajectories=trajectories)
    return out


def manifold_spectra_rows(cases, seed: int = 0, steps: int = 120) -> list:
    """Spectra (one base point per manifold) for :func:`toytheory.gauge.plots.spectra_figure`."""
    from ..diffusion.schedules import VPLinear

    sched = VPLinear()
    rows = []
    for i, m in enumerate(cases):
        gen = np.random.default_rng(seed + 101 * i)
        res = run_estimators(m, sched, 1, gen, gauge=rotation_gauge(m, sched, gen), steps=steps)
        rows.append({"label": f"{type(m).__name__} k={m.intrinsic_dim} D={m.dim}",
                     "k": m.intrinsic_dim,
                     "svd": res["svd"].singular_values[0], "jac": res["jac"].singular_values[0],
                     "svd_gauge": res["svd_gauge"].singular_values[0],
                     "jac_gauge": res["jac_gauge"].singular_values[0]})
    return rows


def manifold_trajectory_rows(cases, seed: int = 0, steps: int = 120) -> list:
    """Singular values of Y(t) along t, for :func:`toytheory.gauge.plots.jacobian_trajectories_figure`."""
    from ..diffusion.schedules import VPLinear

    sched = VPLinear()
    rows = []
    for i, m in enumerate(cases):
        gen = np.random.default_rng(seed + 101 * i)
        res = run_estimators(m, sched, 1, gen, gauge=rotation_gauge(m, sched, gen), steps=steps,
                             trajectories=True)
        rows.append({"label": f"{type(m).__name__} k={m.intrinsic_dim} D={m.dim}",
                     "times": res["jac"].times, "conservative": res["jac"].trajectories[0],
                     "gauge": res["jac_gauge"].trajectories[0]})
    return rows
