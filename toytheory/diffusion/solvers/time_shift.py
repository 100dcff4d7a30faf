r"""The Time-Shift sampler: feed the model the time whose noise level matches the sample.

Li, Qu, Yao, Sun and Moens, "Alleviating Exposure Bias in Diffusion Models
through Sampling with Shifted Time Steps", section 4 (Algorithms 1-2). At a
step from time :math:`t`, while :math:`t > t_c` (the cutoff), each sample's
variance over its coordinates is compared with the variance a sample of the
marginal would have at nearby times, and the model is queried at the best match

.. math:: t_s = \operatorname{arg\,min}_{\tau \in [t - w,\, t + w]}
          \big|\widehat{\mathrm{Var}}(x_t) - v(\tau)\big|

(the paper's :math:`v(\tau) = 1 - \bar\alpha_\tau`, the noise part, for image
data; here :math:`v(\tau) = E\,\widehat{\mathrm{Var}}(x_\tau) = \alpha_\tau^2
c_0 + \sigma_\tau^2` exactly, :math:`c_0` the expected per-sample variance of the
data, :func:`expected_sample_variance`). Only the model's time input shifts;
the solver's coefficients keep :math:`t` (REFERENCE.md section 2). The wrapper
is a model, so it composes with every solver of this package.
"""

from __future__ import annotations

import numpy as np

from ..._validation import check_int, check_real
from ..laws import GaussianMixture
from ..schedules import NoiseSchedule

__all__ = ["TimeShiftModel", "expected_sample_variance"]


def expected_sample_variance(law: GaussianMixture, schedule: NoiseSchedule):
    """:math:`\\tau \\mapsto E\\big[\\tfrac{1}{d-1}\\sum_i (x_{\\tau,i} - \\bar x_\\tau)^2\\big]`
    for :math:`x_\\tau = \\alpha_\\tau x_0 + \\sigma_\\tau\\varepsilon`, exactly.

    .. math:: v(\\tau) = \\alpha_\\tau^2 c_0 + \\sigma_\\tau^2,\\quad
              c_0 = \\tfrac{1}{d-1}\\sum_k \\pi_k\\big(\\operatorname{tr}(P\\Sigma_k)
              + \\mu_k^T P\\mu_k\\big),\\; P = I - \\tfrac1d\\mathbf 1\\mathbf 1^T
    """
    if not isinstance(law, GaussianMixture):
        raise ValueError(f"law: must be a GaussianMixture (got {type(law).__name__})")
    d = law.dim
    if d < 2:
        raise ValueError("law: the per-sample variance needs dimension >= 2")
    proj = np.eye(d) - np.ones((d, d)) / d
    covs = law.covs
    c0 = sum(w * (np.trace(proj @ c) + m @ proj @ m)
             for w, m, c in zip(law.weights, law.means, covs)) / (d - 1)

    def v(tau):
        a, s = schedule.marginal(tau)
        return a * a * c0 + s * s

    v.c0 = float(c0)
    return v


class TimeShiftModel:
    """A model whose time input is shifted per sample (the Time-Shift sampler).

    Parameters
    ----------
    model : callable
        ``model(x, t)``; must accept one time per point (ExactModel does).
    schedule : NoiseSchedule
    expected_variance : callable
        :math:`v(\\tau)`, e.g. :func:`expected_sample_variance`.
    window : float
        :math:`w`, in the schedule's time units.
    cutoff : float
        :math:`t_c`: no shift at :math:`t \\le t_c`.
    n_candidates : int
        Candidate times, equally spaced on :math:`[t - w, t + w]` clipped to the
        schedule (the paper searches the integer training steps).

    Attributes
    ----------
    prediction : str
        The wrapped model's.
    shifts : list of arrays
        The chosen :math:`t_s - t` of every call (for diagnostics).
    """

    def __init__(self, model, schedule: NoiseSchedule, expected_variance, *, window: float,
                 cutoff: float, n_candidates: int = 41):
        if not callable(model):
            raise ValueError("model: must be callable")
        if not isinstance(schedule, NoiseSchedule):
            raise ValueError("schedule: must be a NoiseSchedule")
        if not callable(expected_variance):
            raise ValueError("expected_variance: must be callable")
        self.model = model
        self.schedule = schedule
        self.expected_variance = expected_variance
        self.window = check_real("window", window, low=0.0)
        self.cutoff = check_real("cutoff", cutoff)
        self.n_candidates = check_int("n_candidates", n_candidates, low=1)
        self.prediction = getattr(model, "prediction", None)
        self.shifts: list = []

    def __call__(self, x, t):
        t = float(t)
        if t <= self.cutoff or self.window == 0:
            return self.model(x, t)
        lo = max(self.schedule.t_min, t - self.window)
        hi = min(self.schedule.t_max, t + self.window)
        cand = np.linspace(lo, hi, self.n_candidates)
        target = np.asarray(self.expected_variance(cand), float)
        torch_in = type(x).__module__.startswith("torch")
        if torch_in:
            var = x.var(dim=1, unbiased=True).detach().cpu().numpy().astype(float)
        else:
            var = np.var(np.asarray(x, float), axis=1, ddof=1)
        best = np.argmin(np.abs(var[:, None] - target[None, :]), axis=1)
        t_s = cand[best]
        self.shifts.append(t_s - t)
        if torch_in:
            import torch

            t_s = torch.as_tensor(t_s, dtype=torch.float64)
        return self.model(x, t_s)


def sample_ddim_time_shift(model, x_T, grid, *, expected_variance, window: float, cutoff: float,
                           n_candidates: int = 41, prediction=None, generator=None, callback=None):
    """TS-DDIM: DDIM in which each sample's *state* is moved to its matched time.

    While :math:`t_i > t_c`, each sample's time is :math:`t_s` (the candidate in
    :math:`[t_i - w, t_i + w]` whose :math:`v(\\tau)` is closest to the sample's
    variance), and the DDIM step reads :math:`\\hat x_0` there,

    .. math:: \\hat x_0 = \\frac{x - \\sigma_{t_s}\\hat\\varepsilon(x, t_s)}{\\alpha_{t_s}},\\quad
              x_{i+1} = \\alpha_{i+1}\\hat x_0 + \\sigma_{i+1}\\hat\\varepsilon(x, t_s)

    (the Time-Shift sampler applied to DDIM, section 4 of the paper). Compare
    :class:`TimeShiftModel`, which shifts only the model's time input and
    composes with any solver. numpy only.
    """
    from ._base import SolverContext

    ctx = SolverContext(model, x_T, grid, prediction, callback)
    if ctx.torch:
        raise ValueError("x_T: sample_ddim_time_shift works on numpy arrays")
    if not callable(expected_variance):
        raise ValueError("expected_variance: must be callable")
    window = check_real("window", window, low=0.0)
    cutoff = check_real("cutoff", cutoff)
    n_candidates = check_int("n_candidates", n_candidates, low=1)
    sch = grid.schedule
    x = ctx.x_T
    for i in range(grid.n_steps):
        t, a, s, _ = ctx.point(i)
        _, a_n, s_n, _ = ctx.point(i + 1)
        if t > cutoff and window > 0:
            cand = np.linspace(max(sch.t_min, t - window), min(sch.t_max, t + window),
                               n_candidates)
            target = np.asarray(expected_variance(cand), float)
            var = np.var(x, axis=1, ddof=1)
            t_s = cand[np.argmin(np.abs(var[:, None] - target[None, :]), axis=1)]
        else:
            t_s = np.full(x.shape[0], t)
        a_s, s_s = (np.asarray(v, float)[:, None] for v in sch.marginal(t_s))
        raw = ctx.model(x, t_s)
        ctx.nfe += 1
        kind = ctx.prediction
        if kind == "eps":
            eps = raw
        elif kind == "x0":
            eps = (x - a_s * raw) / s_s
        elif kind == "v":
            eps = (s_s * x + a_s * raw) / (a_s ** 2 + s_s ** 2)
        else:
            eps = -s_s * raw
        x0 = (x - s_s * eps) / a_s
        x_next = a_n * x0 + s_n * eps
        ctx.report(i, x, x_next, x0, t_shift=t_s)
        x = x_next
    return x
