r"""Exact classifier-free guidance on Gaussian mixtures, its reference ODE solution, thresholding.

With a conditional law :math:`p(x_0 \mid c)` and the unconditional law
:math:`p(x_0)`, both Gaussian mixtures, classifier-free guidance at scale
:math:`w` uses the noise prediction

.. math:: \tilde\varepsilon_w(x, t) = (1 + w)\,\hat\varepsilon(x, t \mid c)
          - w\,\hat\varepsilon(x, t),

both terms exact (Tweedie). Since :math:`\hat x_0 = (x - \sigma\hat\varepsilon)/\alpha`
is affine in :math:`\hat\varepsilon`, the guided data prediction is
:math:`\tilde x_{0,w} = (1 + w)\hat x_0(\cdot \mid c) - w\hat x_0`, and the guided
probability-flow ODE in VE coordinates :math:`y = x/\alpha`,
:math:`\lambda = \log(\alpha/\sigma)` is

.. math:: \frac{dy}{d\lambda} = \tilde x_{0,w}(y, e^{-\lambda}) - y

("DPM-Solver++: Fast Solver for Guided Sampling of Diffusion Probabilistic
Models", Lu et al., section 3: guided sampling solves this ODE with
:math:`\tilde\varepsilon_w` in place of :math:`\hat\varepsilon`).
:func:`guided_reference_solution` integrates it with DOP853 at tight
tolerances: the exact target a few-step solver of the guided ODE is held to.

:class:`ThresholdedModel` is dynamic thresholding (Saharia et al., "Imagen",
section 2.3; DPM-Solver++ section 4.2 / the released code's
``data_prediction_fn``): with :math:`s = \max(\mathrm{quantile}_p |\hat x_0|, R)`
per sample, :math:`\hat x_0 \leftarrow \mathrm{clip}(\hat x_0, -s, s)\cdot R/s`
(the released code uses :math:`R = 1`, the image range; here :math:`R` is the
data range of the toy).
"""

from __future__ import annotations

import numpy as np

from .._validation import as_float_array, check_real
from .laws import GaussianMixture
from .schedules import NoiseSchedule

__all__ = ["GuidedMixtureModel", "ThresholdedModel", "guided_reference_solution"]


def _check_laws(cond, uncond):
    for name, law in (("cond", cond), ("uncond", uncond)):
        if not isinstance(law, GaussianMixture):
            raise ValueError(f"{name}: must be a GaussianMixture (got {type(law).__name__})")
    if cond.dim != uncond.dim:
        raise ValueError(f"cond: dimension {cond.dim} differs from uncond's {uncond.dim}")


class GuidedMixtureModel:
    """The exact classifier-free-guided model :math:`(1 + w)\\hat x_0(\\cdot|c) - w\\hat x_0`.

    Parameters
    ----------
    cond, uncond : GaussianMixture
        :math:`p(x_0 \\mid c)` and :math:`p(x_0)` (same dimension).
    schedule : NoiseSchedule
    w : float >= 0
        The guidance scale (``w = 0`` is the conditional model).
    prediction : {"eps", "x0"}
        What ``__call__`` returns (one time per call, or one per point).
    """

    def __init__(self, cond: GaussianMixture, uncond: GaussianMixture, schedule: NoiseSchedule,
                 w: float, prediction: str = "eps"):
        _check_laws(cond, uncond)
        if not isinstance(schedule, NoiseSchedule):
            raise ValueError("schedule: must be a NoiseSchedule")
        if prediction not in ("eps", "x0"):
            raise ValueError(f"prediction: must be 'eps' or 'x0' (got {prediction!r})")
        self.cond, self.uncond, self.schedule = cond, uncond, schedule
        self.w = check_real("w", w, low=0.0)
        self.prediction = prediction
        self.calls = 0

    def x0(self, x, t):
        """The guided data prediction at time ``t`` (shape like ``x``)."""
        x = as_float_array("x", x, ndim=2)
        t_arr = np.asarray(t, float)
        a, s = self.schedule.marginal(t_arr)
        if t_arr.ndim:
            a = np.asarray(a, float)[:, None]
            s = np.asarray(s, float)[:, None]
            y, sig = x / a, s / a
            out = np.empty_like(x)
            for val in np.unique(sig):
                rows = np.flatnonzero(sig[:, 0] == val)
                out[rows] = self._x0_ve(y[rows], float(val))
            return out
        return self._x0_ve(x / float(a), float(s) / float(a))

    def _x0_ve(self, y, sig):
        return ((1.0 + self.w) * self.cond.denoise(y, 1.0, sig)
                - self.w * self.uncond.denoise(y, 1.0, sig))

    def __call__(self, x, t):
        self.calls += 1
        x0 = self.x0(x, t)
        if self.prediction == "x0":
            return x0
        t_arr = np.asarray(t, float)
        a, s = self.schedule.marginal(t_arr)
        if t_arr.ndim:
            a = np.asarray(a, float)[:, None]
            s = np.asarray(s, float)[:, None]
        return (np.asarray(x, float) - a * x0) / s


class ThresholdedModel:
    """Dynamic thresholding of a model's data prediction (returns ``"x0"``).

    Parameters
    ----------
    model : callable
        ``model(x, t)`` with ``.prediction`` in {"eps", "x0"}.
    schedule : NoiseSchedule
    data_range : float > 0
        :math:`R`: the range the data lie in (per coordinate).
    quantile : float in (0, 1]
        :math:`p` (0.995 in Imagen and the released DPM-Solver++ code).
    """

    prediction = "x0"

    def __init__(self, model, schedule: NoiseSchedule, *, data_range: float,
                 quantile: float = 0.995):
        if not callable(model) or getattr(model, "prediction", None) not in ("eps", "x0"):
            raise ValueError("model: must be callable with .prediction 'eps' or 'x0'")
        if not isinstance(schedule, NoiseSchedule):
            raise ValueError("schedule: must be a NoiseSchedule")
        self.model, self.schedule = model, schedule
        self.data_range = check_real("data_range", data_range, low=0.0, low_open=True)
        self.quantile = check_real("quantile", quantile, low=0.0, high=1.0, low_open=True)

    def __call__(self, x, t):
        raw = self.model(x, t)
        if self.model.prediction == "eps":
            t_arr = np.asarray(t, float)
            a, s = self.schedule.marginal(t_arr)
            if t_arr.ndim:
                a = np.asarray(a, float)[:, None]
                s = np.asarray(s, float)[:, None]
            raw = (np.asarray(x, float) - s * raw) / a
        x0 = np.asarray(raw, float)
        r = self.data_range
        s_q = np.maximum(np.quantile(np.abs(x0), self.quantile, axis=1), r)[:, None]
        return np.clip(x0, -s_q, s_q) * (r / s_q)


def guided_reference_solution(cond: GaussianMixture, uncond: GaussianMixture, w: float, y,
                              lam_start: float, lam_end: float, *, rtol: float = 1e-10,
                              atol: float = 1e-10):
    """The guided probability-flow ODE solution, in VE coordinates, by DOP853.

    Parameters
    ----------
    cond, uncond : GaussianMixture
    w : float >= 0
    y : (n, d) array
        :math:`y = x/\\alpha` at log-SNR ``lam_start``.
    lam_start, lam_end : float
        ``lam_end >= lam_start`` (finite).

    Returns
    -------
    (n, d) array
        :math:`y` at ``lam_end`` (multiply by :math:`\\alpha` there).
    """
    from scipy.integrate import solve_ivp

    _check_laws(cond, uncond)
    w = check_real("w", w, low=0.0)
    y0 = as_float_array("y", y, ndim=2)
    lam_start = check_real("lam_start", lam_start)
    lam_end = check_real("lam_end", lam_end)
    if lam_end < lam_start:
        raise ValueError(f"lam_end: must be >= lam_start = {lam_start} (got {lam_end})")
    shape = y0.shape

    def rhs(lam, yy):
        yy = yy.reshape(shape)
        sig = float(np.exp(-lam))
        x0 = (1.0 + w) * cond.denoise(yy, 1.0, sig) - w * uncond.denoise(yy, 1.0, sig)
        return (x0 - yy).ravel()

    sol = solve_ivp(rhs, (lam_start, lam_end), y0.ravel(), method="DOP853", rtol=rtol,
                    atol=atol)
    if not sol.success:  # pragma: no cover - DOP853 on a smooth field
        raise RuntimeError(f"reference solve failed: {sol.message}")
    return sol.y[:, -1].reshape(shape)
