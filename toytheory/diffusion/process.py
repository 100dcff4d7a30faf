"""A data law diffused under a schedule: exact predictions at a time ``t``.

:class:`DiffusionProcess` pairs a law (:mod:`toytheory.diffusion.laws`) with a
schedule (:mod:`toytheory.diffusion.schedules`) and evaluates everything at a
time ``t`` of that schedule. :class:`ExactModel` is the exact "network": a
callable ``model(x, t)`` that returns one named prediction, numpy or torch,
which samplers use exactly as they would use a trained denoiser.
"""

from __future__ import annotations

import numpy as np

from .._random import as_generator
from .._validation import check_int
from .laws import PREDICTIONS, GaussianMixture
from .schedules import NoiseSchedule

__all__ = ["DiffusionProcess", "ExactModel"]


class DiffusionProcess:
    """Law + schedule: :math:`x_t = \\alpha_t x_0 + \\sigma_t \\varepsilon`.

    Parameters
    ----------
    law : GaussianMixture (or Gaussian, DeltaMixture)
    schedule : NoiseSchedule
    """

    def __init__(self, law: GaussianMixture, schedule: NoiseSchedule):
        if not isinstance(law, GaussianMixture):
            raise ValueError(f"law: must be a GaussianMixture, Gaussian or DeltaMixture "
                             f"(got {type(law).__name__})")
        if not isinstance(schedule, NoiseSchedule):
            raise ValueError(f"schedule: must be a NoiseSchedule (got {type(schedule).__name__})")
        self.law = law
        self.schedule = schedule

    def __repr__(self):
        return f"DiffusionProcess({self.law!r}, {self.schedule!r})"

    def _ab(self, t):
        a, s = self.schedule.marginal(t)
        return a, s

    def log_prob(self, x, t):
        """:math:`\\log p_t(x)`, shape (n,)."""
        return self.law.log_prob(x, *self._ab(t))

    def score(self, x, t):
        """:math:`\\nabla\\log p_t(x)`, shape (n, d)."""
        return self.law.score(x, *self._ab(t))

    def denoise(self, x, t):
        """:math:`E[x_0 \\mid x_t = x]`, shape (n, d)."""
        return self.law.denoise(x, *self._ab(t))

    def predict(self, x, t, kind: str = "x0"):
        """A named prediction (``x0``, ``eps``, ``v``, ``score``) at time ``t``."""
        return self.law.predict(x, *self._ab(t), kind=kind)

    def posterior(self, x, t):
        """:math:`P(k \\mid x_t = x)`, shape (n, K)."""
        return self.law.posterior(x, *self._ab(t))

    def sample(self, n: int, t, rng=None):
        """``n`` draws of :math:`x_t` at one time ``t``.

        Parameters
        ----------
        n : int
            Number of draws, >= 0.
        t : float
            One time of the schedule (a scalar: for draws at several times, call
            once per time).
        rng : Generator, int or None

        Returns
        -------
        (n, d) array

        Raises
        ------
        ValueError
            ``n`` not a non-negative integer; ``t`` not a scalar, not finite or
            outside the schedule.
        """
        n = check_int("n", n, low=0)
        a, s = self._ab(self.schedule.check_scalar_t(t, "t"))
        return self.law.sample(n, float(a), float(s), as_generator(rng))

    def marginal(self, t) -> GaussianMixture:
        """The exact law of :math:`x_t` at one time ``t`` (a scalar).

        Raises
        ------
        ValueError
            ``t`` not a scalar, not finite or outside the schedule.
        """
        a, s = self._ab(self.schedule.check_scalar_t(t, "t"))
        return self.law.marginal(float(a), float(s))

    def pf_ode_velocity(self, x, t):
        """Probability-flow velocity :math:`dx/dt = f(t)x - \\tfrac12 g^2(t)\\nabla\\log p_t(x)`."""
        f = self.schedule.drift(t)
        g2 = self.schedule.diffusion_sq(t)
        x = np.asarray(x, float)
        return f * x - 0.5 * g2 * self.score(x, t)


class ExactModel:
    """The exact denoiser as a model callable: ``model(x, t) -> prediction``.

    Parameters
    ----------
    law : GaussianMixture
    schedule : NoiseSchedule
    prediction : {"x0", "eps", "v", "score"}
    backend : {"numpy", "torch"}
    device, dtype :
        For the torch backend.

    Attributes
    ----------
    calls : int
        Number of evaluations so far (the NFE).
    points : int
        Number of points evaluated so far.

    Notes
    -----
    ``t`` is a scalar or one time per point (shape (n,)); schedule values are
    computed in float64 numpy and cast to the backend.
    """

    def __init__(self, law: GaussianMixture, schedule: NoiseSchedule, prediction: str = "x0",
                 backend: str = "numpy", device="cpu", dtype=None):
        if prediction not in PREDICTIONS:
            raise ValueError(f"prediction: must be one of {PREDICTIONS} (got {prediction!r})")
        if backend not in ("numpy", "torch"):
            raise ValueError(f"backend: must be 'numpy' or 'torch' (got {backend!r})")
        self.process = DiffusionProcess(law, schedule)
        self.schedule = schedule
        self.prediction = prediction
        self.backend = backend
        self._law = law.to_torch(device=device, dtype=dtype) if backend == "torch" else law
        self.calls = 0
        self.points = 0

    def __repr__(self):
        return (f"ExactModel({self.process.law!r}, {self.schedule!r}, "
                f"prediction={self.prediction!r}, backend={self.backend!r})")

    def reset_counter(self) -> None:
        self.calls = 0
        self.points = 0

    def __call__(self, x, t):
        if self.backend == "torch":
            import torch

            t_np = t.detach().cpu().numpy() if isinstance(t, torch.Tensor) else t
            a, s = self.schedule.marginal(t_np)
            a = torch.as_tensor(a, dtype=self._law.dtype, device=self._law.device)
            s = torch.as_tensor(s, dtype=self._law.dtype, device=self._law.device)
        else:
            a, s = self.schedule.marginal(t)
        out = self._law.predict(x, a, s, kind=self.prediction)
        self.calls += 1
        self.points += int(out.shape[0]) if out.ndim == 2 else 1
        return out
