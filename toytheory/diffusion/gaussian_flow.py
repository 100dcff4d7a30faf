r"""The probability-flow ODE of Gaussian data, solved in closed form under any schedule.

For data :math:`N(\mu, \Sigma)`, :math:`\Sigma = U\operatorname{diag}(\lambda)U^T`,
in VE coordinates :math:`\hat x = x/\alpha`, :math:`\rho = \sigma/\alpha`, the
PF-ODE :math:`d\hat x/d\rho = -\rho\nabla\log\hat p_\rho(\hat x)` is linear and

.. math:: \hat x_t - \mu = U \operatorname{diag}\Big(\sqrt{\tfrac{\lambda + \rho_t^2}
          {\lambda + \rho_s^2}}\Big) U^T (\hat x_s - \mu)

(Wang & Vastola, "The Unreasonable Effectiveness of Gaussian Score
Approximation for Diffusion Models and its Applications", the Gaussian
solution; REFERENCE.md section 1, derived for VP coordinates). Directions
outside the range of :math:`\Sigma` (:math:`\lambda = 0`) scale as
:math:`\rho_t/\rho_s`. The map :math:`x_s \mapsto x_t` is affine:
:math:`x_t = M x_s + c`.
"""

from __future__ import annotations

import numpy as np

from .._validation import as_float_array
from .laws import Gaussian
from .schedules import NoiseSchedule

__all__ = ["gaussian_flow_map", "gaussian_pf_ode_solution"]


def _check(law, schedule):
    if not isinstance(law, Gaussian):
        raise ValueError(f"law: must be a Gaussian (got {type(law).__name__}); the flow of a "
                         "mixture has no closed form")
    if not isinstance(schedule, NoiseSchedule):
        raise ValueError(f"schedule: must be a NoiseSchedule (got {type(schedule).__name__})")


def gaussian_flow_map(law: Gaussian, schedule: NoiseSchedule, s: float, t: float):
    """The affine PF-ODE map from time ``s`` to time ``t``: :math:`x_t = M x_s + c`.

    Parameters
    ----------
    law : Gaussian
    schedule : NoiseSchedule
    s, t : float
        Start and end times (either order: the flow runs both ways). Scalars: the
        map between two times is one matrix; call once per pair of times.

    Returns
    -------
    M : (d, d) array
    c : (d,) array

    Raises
    ------
    ValueError
        If :math:`\\sigma_s = 0` while :math:`\\Sigma` is singular (the flow out of a
        degenerate law is not determined), or if ``s`` or ``t`` is not a scalar, not
        finite or outside the schedule.
    """
    _check(law, schedule)
    s = schedule.check_scalar_t(s, "s")
    t = schedule.check_scalar_t(t, "t")
    a_s, sig_s = (float(v) for v in schedule.marginal(s))
    a_t, sig_t = (float(v) for v in schedule.marginal(t))
    rho_s2, rho_t2 = (sig_s / a_s) ** 2, (sig_t / a_t) ** 2
    lam, vecs = law.spectrum
    denom = lam + rho_s2
    if np.any(denom <= 0):
        raise ValueError("s: sigma_s must be > 0 when the covariance is singular")
    ratio = np.sqrt((lam + rho_t2) / denom)
    mu = law.mean_vector
    core = (vecs * ratio) @ vecs.T
    m = (a_t / a_s) * core
    c = a_t * (mu - core @ mu)
    return m, c


def gaussian_pf_ode_solution(x_s, law: Gaussian, schedule: NoiseSchedule, s: float, t: float):
    """Carry points ``x_s`` (n, d) at time ``s`` along the exact PF-ODE to time ``t``."""
    m, c = gaussian_flow_map(law, schedule, s, t)
    x = as_float_array("x_s", x_s, ndim=(1, 2))
    if x.shape[-1] != law.dim:
        raise ValueError(f"x_s: must have {law.dim} columns (got shape {x.shape})")
    return x @ m.T + c
