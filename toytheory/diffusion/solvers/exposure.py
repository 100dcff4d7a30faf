r"""Exposure bias as a prediction error of known variance (the model of the Time-Shift paper).

Li, Qu, Yao, Sun and Moens, "Alleviating Exposure Bias in Diffusion Models
through Sampling with Shifted Time Steps" (ICLR 2024), read exposure bias as
the mismatch between the noisy inputs a network sees in training (draws of the
forward marginal at :math:`t`) and at inference (the sampler's own states),
caused by the network's prediction error. Their analysis models that error in
:math:`x_0` coordinates; here

.. math:: \hat x_0(x, t) = E[x_0 \mid x_t = x] + \delta\,e,\qquad
          e \sim N(0, I_d)\ \text{fresh at every call},

with the exact posterior mean of the law. A DDIM step then gives
:math:`x_{t'} = \alpha_{t'}\hat x_0 + \sigma_{t'}(x - \alpha_t\hat x_0)/\sigma_t`,
whose error term :math:`(\alpha_{t'} - \sigma_{t'}\alpha_t/\sigma_t)\,\delta e`
adds variance the training marginal at :math:`t'` does not have: the sampled
states drift away from the marginals the network was trained on, which is the
mismatch the Time-Shift sampler tries to correct by querying the network at a
better matched time.
"""

from __future__ import annotations

import numpy as np

from ..._validation import check_real
from ..schedules import NoiseSchedule
from ._base import PREDICTIONS

__all__ = ["X0ErrorModel"]


class X0ErrorModel:
    """A model whose :math:`\\hat x_0` carries an independent N(0, delta^2 I) error.

    Parameters
    ----------
    model : callable
        ``model(x, t)`` returning its ``prediction`` (numpy; one time or one per point).
    schedule : NoiseSchedule
    delta : float >= 0
        :math:`\\delta`, the error's standard deviation per coordinate.
    rng : numpy.random.Generator
        Source of :math:`e` (fresh draws at every call).
    prediction : str, optional
        The wrapped model's kind (default ``model.prediction``); the output has the same kind.

    Notes
    -----
    ``delta = 0`` returns the wrapped model's output unchanged (bit for bit).
    """

    def __init__(self, model, schedule: NoiseSchedule, *, delta: float, rng, prediction=None):
        if not callable(model):
            raise ValueError("model: must be callable")
        if not isinstance(schedule, NoiseSchedule):
            raise ValueError("schedule: must be a NoiseSchedule")
        if not isinstance(rng, np.random.Generator):
            raise ValueError("rng: must be a numpy Generator")
        self.model = model
        self.schedule = schedule
        self.delta = check_real("delta", delta, low=0.0)
        self.rng = rng
        self.prediction = prediction if prediction is not None else getattr(model, "prediction",
                                                                             None)
        if self.prediction not in PREDICTIONS:
            raise ValueError(f"prediction: must be one of {PREDICTIONS} (got {self.prediction!r})")

    def __call__(self, x, t):
        raw = self.model(x, t)
        if self.delta == 0.0:
            return raw
        x = np.asarray(x, float)
        t_arr = np.asarray(t, float)
        a, s = self.schedule.marginal(t_arr)
        a = np.asarray(a, float)[:, None] if t_arr.ndim else float(a)
        s = np.asarray(s, float)[:, None] if t_arr.ndim else float(s)
        err = self.delta * self.rng.standard_normal(x.shape)
        kind = self.prediction
        if kind == "x0":
            return raw + err
        # x0 = (x - s eps)/a: an x0 error err is an eps error -a err / s
        if kind == "eps":
            return raw - a * err / s
        if kind == "v":            # v = a eps - s x0
            return raw - (a * a / s + s) * err
        return raw + a * err / (s * s)   # score = -eps / s
