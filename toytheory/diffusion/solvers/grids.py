r"""Time grids for diffusion solvers: uniform in t, uniform in log-SNR, quadratic, EDM/Karras.

A :class:`TimeGrid` is the sequence of noise levels a solver visits, from the
noisiest to the cleanest, held together with its schedule: the model time
:math:`t_i`, :math:`\alpha_i`, :math:`\sigma_i`, :math:`\lambda_i = \log(\alpha_i/\sigma_i)`
and :math:`\rho_i = \sigma_i/\alpha_i = e^{-\lambda_i}` (the VE noise level), all
float64. Its last point may be *zero noise* (:math:`\sigma = 0`, :math:`\lambda = +\infty`):
the step into it is the denoising step :math:`x_N = \hat x_0(x_{N-1}, t_{N-1})`
(first order by necessity: every higher-order formula needs a finite
:math:`h`), and the model is never evaluated there.

A grid must be *strictly* monotone: every step has :math:`h_i = \lambda_{i+1} - \lambda_i > 0`.
A repeated noise level (:math:`h = 0`, e.g. the repeated final Karras sigma that
diffusers builds with ``final_sigmas_type="sigma_min"``) is refused with a
``ValueError`` naming ``grid``: such a step costs a model evaluation and does
nothing (first and second order), or divides :math:`0/0` (third-order multistep).

Grids here and the reference libraries' defaults
------------------------------------------------
``n`` is always the number of *steps* (intervals); ``final_zero=True`` makes
the last step go from ``t_end`` to zero noise.

=============================  ==================================================================
toytheory                      :func:`uniform_time_grid`, :func:`uniform_log_snr_grid`,
                               :func:`quadratic_time_grid` end at ``t_end`` (default
                               :func:`default_t_end`: 1e-3 for continuous VP as in DPM-Solver,
                               0.002 for EDM, ``t_min`` otherwise), ``final_zero=False``;
                               :func:`karras_grid` ends at zero (``final_zero=True``, k-diffusion).
                               Lower-order final steps: ``lower_order_final=True`` in the
                               multistep solvers (every step's order is at most the number
                               of steps left), whatever the number of steps.
DPM-Solver (Lu et al. code)    ``skip_type="time_uniform"`` (or ``"logSNR"``,
                               ``"time_quadratic"``), ``t_end = 1/N`` (discrete) or 1e-3,
                               ``denoise_to_zero=False``; multistep ``lower_order_final``
                               only below 10 steps.
diffusers DPMSolverMultistep   ``timestep_spacing="linspace"`` over the integer training
                               timesteps (999 down to about 0), ``final_sigmas_type="zero"``
                               (the last step is the first-order denoising step),
                               ``lower_order_final=True`` only below 15 steps,
                               ``solver_order=2``, ``algorithm_type="dpmsolver++"``,
                               ``solver_type="midpoint"``; computes in float32.
diffusers UniPCMultistep       same spacing and final zero; ``solver_type="bh2"``,
                               ``predict_x0=True``, ``lower_order_final=True`` at any
                               number of steps (orders :math:`\min(p, N - i)`).
diffusers DEISMultistep        ``linspace``; ends at :math:`\sigma_{min}` (training step 0),
                               no final zero; ``solver_type="logrho"``, order 2;
                               Karras sigmas repeat the last sigma (an :math:`h = 0` step).
diffusers DDIM                 ``timestep_spacing="leading"``, ``set_alpha_to_one=True``
                               (the last step goes to :math:`\bar\alpha = 1`, zero noise),
                               ``clip_sample=True`` (clips :math:`\hat x_0` to [-1, 1]: not affine).
diffusers Euler/HeunDiscrete   ``linspace``, zero appended; VE coordinates
                               (``init_noise_sigma``, ``scale_model_input``).
k-diffusion                    the caller's sigmas; ``get_sigmas_karras(n, sigma_min,
                               sigma_max, rho=7)`` appends zero; models are
                               ``model(x, sigma) -> x0`` in VE coordinates.
=============================  ==================================================================
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..._validation import as_float_array, check_int, check_real
from ..schedules import EDM, VPCosine, VPLinear, NoiseSchedule, karras_sigmas

__all__ = [
    "TimeGrid",
    "default_t_end",
    "uniform_time_grid",
    "uniform_log_snr_grid",
    "quadratic_time_grid",
    "karras_grid",
]


def _check_schedule(schedule) -> NoiseSchedule:
    if not isinstance(schedule, NoiseSchedule):
        raise ValueError(f"schedule: must be a NoiseSchedule (got {type(schedule).__name__})")
    return schedule


@dataclass(frozen=True, eq=False)
class TimeGrid:
    """A strictly monotone sequence of noise levels, noisiest first.

    Build one with :meth:`from_times`, :meth:`from_sigmas` or the grid
    functions of this module; the constructor checks everything.

    Attributes
    ----------
    schedule : NoiseSchedule
    t : (N + 1,) array
        Model times. For a grid that ends at zero noise the last entry is
        ``nan`` (the model is never evaluated there).
    alpha, sigma : (N + 1,) arrays
        :math:`\\alpha_i`, :math:`\\sigma_i` (the last are 1 and 0 at zero noise).
    log_snr : (N + 1,) array
        :math:`\\lambda_i`, strictly increasing (``+inf`` at zero noise).
    ends_at_zero : bool
    """

    schedule: NoiseSchedule
    t: np.ndarray
    alpha: np.ndarray
    sigma: np.ndarray
    log_snr: np.ndarray
    ends_at_zero: bool
    _floats: dict = field(default_factory=dict, repr=False)

    # ------------------------------------------------------------------ constructors
    @classmethod
    def from_times(cls, schedule: NoiseSchedule, times, *, final_zero: bool = False,
                   name: str = "grid") -> "TimeGrid":
        """A grid at the given model times (decreasing noise), optionally followed by zero noise.

        Raises
        ------
        ValueError
            ``grid: ...`` when a time is outside the schedule, a noise level is
            zero before the end, or the noise levels are not strictly decreasing.
        """
        schedule = _check_schedule(schedule)
        t = as_float_array(name, times, ndim=1)
        if t.size < (1 if final_zero else 2):
            raise ValueError(f"{name}: must have at least one step (got {t.size} time(s))")
        t = schedule.check_t(t, name)
        alpha, sigma = schedule.marginal(t)
        alpha, sigma = np.atleast_1d(alpha).astype(float), np.atleast_1d(sigma).astype(float)
        if np.any(sigma <= 0):
            i = int(np.argmax(sigma <= 0))
            raise ValueError(f"{name}: noise level must be > 0 except at the end; entry {i} "
                             f"(t = {t[i]!r}) has sigma = 0: pass final_zero=True and drop it")
        lam = np.atleast_1d(schedule.log_snr(t)).astype(float)
        if final_zero:
            t = np.append(t, np.nan)
            alpha = np.append(alpha, 1.0)
            sigma = np.append(sigma, 0.0)
            lam = np.append(lam, np.inf)
        return cls._validated(schedule, t, alpha, sigma, lam, bool(final_zero), name)

    @classmethod
    def from_sigmas(cls, schedule: NoiseSchedule, sigmas, *, name: str = "grid") -> "TimeGrid":
        """A grid at VE noise levels :math:`\\hat\\sigma = \\sigma/\\alpha` (a final 0: zero noise).

        This is how a library's own noise levels drive toytheory: diffusers'
        ``scheduler.sigmas`` and k-diffusion's ``sigmas`` are VE levels. The
        model time of each level is :meth:`NoiseSchedule.t_from_sigma_ve`; for
        :class:`~toytheory.diffusion.schedules.DiscreteVP` that is the exact
        inverse of diffusers' interpolation, so :math:`\\alpha, \\sigma` round-trip.
        """
        schedule = _check_schedule(schedule)
        s = as_float_array(name, sigmas, ndim=1)
        if s.size < 2:
            raise ValueError(f"{name}: must have at least two noise levels (got {s.size})")
        if np.any(s < 0):
            raise ValueError(f"{name}: noise levels must be >= 0")
        final_zero = bool(s[-1] == 0)
        body = s[:-1] if final_zero else s
        if np.any(body <= 0):
            i = int(np.argmax(body <= 0))
            raise ValueError(f"{name}: only the last noise level may be 0 (entry {i} is 0)")
        return cls.from_times(schedule, schedule.t_from_sigma_ve(body), final_zero=final_zero,
                              name=name)

    @classmethod
    def _validated(cls, schedule, t, alpha, sigma, lam, ends_at_zero, name):
        h = np.diff(lam)
        bad = np.flatnonzero(~(h > 0))
        if bad.size:
            i = int(bad[0])
            kind = ("a repeated noise level (h = 0)" if h[i] == 0 else
                    f"increasing noise (h = {h[i]:.3g} < 0)")
            raise ValueError(f"{name}: noise levels must be strictly decreasing (log-SNR strictly "
                             f"increasing); step {i} -> {i + 1} has {kind}")
        for arr in (t, alpha, sigma, lam):
            arr.setflags(write=False)
        return cls(schedule, t, alpha, sigma, lam, ends_at_zero)

    # ------------------------------------------------------------------ views
    @property
    def n_steps(self) -> int:
        """N, the number of steps."""
        return int(self.t.size - 1)

    @property
    def sigma_ve(self) -> np.ndarray:
        """:math:`\\rho_i = \\sigma_i/\\alpha_i` (0 at zero noise)."""
        return self.sigma / self.alpha

    @property
    def h(self) -> np.ndarray:
        """Steps in log-SNR, :math:`h_i = \\lambda_{i+1} - \\lambda_i > 0` (``inf`` into zero)."""
        return np.diff(self.log_snr)

    def point(self, i: int):
        """``(t, alpha, sigma, lambda)`` of point ``i`` as Python floats."""
        cache = self._floats
        if not cache:
            cache["t"] = [float(v) for v in self.t]
            cache["alpha"] = [float(v) for v in self.alpha]
            cache["sigma"] = [float(v) for v in self.sigma]
            cache["lam"] = [float(v) for v in self.log_snr]
        return cache["t"][i], cache["alpha"][i], cache["sigma"][i], cache["lam"][i]

    def step_into_zero(self, i: int) -> bool:
        """Whether step ``i`` (from point ``i`` to ``i + 1``) ends at zero noise."""
        return self.ends_at_zero and i == self.n_steps - 1

    def __repr__(self):
        end = "zero" if self.ends_at_zero else f"t={self.t[-1]:.4g}"
        return (f"TimeGrid({self.schedule!r}, steps={self.n_steps}, t={self.t[0]:.4g} -> {end})")

    def __len__(self):
        return self.t.size


# ---------------------------------------------------------------------- grid functions
def default_t_end(schedule: NoiseSchedule) -> float:
    """Where a grid ends by default: 1e-3 for continuous VP (DPM-Solver's ``eps``), 0.002
    for EDM (its :math:`\\sigma_{min}`), ``t_min`` for schedules with noise there."""
    schedule = _check_schedule(schedule)
    if isinstance(schedule, (VPLinear, VPCosine)):
        return 1e-3
    if isinstance(schedule, EDM):
        return 0.002
    return float(schedule.t_min)


def _ends(schedule, t_start, t_end):
    schedule = _check_schedule(schedule)
    t_start = schedule.t_max if t_start is None else check_real("t_start", t_start)
    t_end = default_t_end(schedule) if t_end is None else check_real("t_end", t_end)
    schedule.check_t(t_start, "t_start")
    schedule.check_t(t_end, "t_end")
    if not t_end < t_start:
        raise ValueError(f"t_end: must be < t_start = {t_start} (got {t_end})")
    if float(schedule.sigma(t_end)) <= 0:
        raise ValueError(f"t_end: must have noise > 0 (got t_end = {t_end}); use final_zero=True "
                         "to end at zero noise")
    return schedule, float(t_start), float(t_end)


def _times_to_grid(schedule, times, final_zero, n):
    if final_zero:
        times = times[:n]
    return TimeGrid.from_times(schedule, times, final_zero=final_zero)


def uniform_time_grid(schedule: NoiseSchedule, n: int, *, t_start=None, t_end=None,
                      final_zero: bool = False) -> TimeGrid:
    """``n`` steps uniform in the schedule's time :math:`t` (DPM-Solver's ``time_uniform``).

    .. math:: t_i = t_{start} + \\tfrac{i}{N}(t_{end} - t_{start}),\\quad i = 0..N

    With ``final_zero`` the points are :math:`t_0..t_{N-1}` on the same
    ``linspace(t_start, t_end, N)`` and the last step goes to zero noise.
    """
    n = check_int("n", n, low=1)
    schedule, t_start, t_end = _ends(schedule, t_start, t_end)
    times = np.linspace(t_start, t_end, n if final_zero else n + 1)
    return _times_to_grid(schedule, times, final_zero, n)


def uniform_log_snr_grid(schedule: NoiseSchedule, n: int, *, t_start=None, t_end=None,
                         final_zero: bool = False) -> TimeGrid:
    """``n`` steps uniform in :math:`\\lambda = \\log(\\alpha/\\sigma)` (DPM-Solver's ``logSNR``).

    .. math:: \\lambda_i = \\lambda_{start} + \\tfrac{i}{N}(\\lambda_{end} - \\lambda_{start}),
              \\quad t_i = t(\\lambda_i)

    ("DPM-Solver: A Fast ODE Solver ...", section 3.3: every step has the same
    :math:`h`.)
    """
    n = check_int("n", n, low=1)
    schedule, t_start, t_end = _ends(schedule, t_start, t_end)
    lam = np.linspace(float(schedule.log_snr(t_start)), float(schedule.log_snr(t_end)),
                      n if final_zero else n + 1)
    times = schedule.t_from_log_snr(lam)
    times[0] = t_start
    if times.size > 1:          # one final-zero step: the single point is t_start
        times[-1] = t_end
    return _times_to_grid(schedule, times, final_zero, n)


def quadratic_time_grid(schedule: NoiseSchedule, n: int, *, t_start=None, t_end=None,
                        final_zero: bool = False) -> TimeGrid:
    """``n`` steps quadratic in :math:`t` (DDIM's and DPM-Solver's ``time_quadratic``).

    .. math:: t_i = \\big(\\sqrt{t_{start}}
              + \\tfrac{i}{N}(\\sqrt{t_{end}} - \\sqrt{t_{start}})\\big)^2
    """
    n = check_int("n", n, low=1)
    schedule, t_start, t_end = _ends(schedule, t_start, t_end)
    if t_end < 0:
        raise ValueError(f"t_end: must be >= 0 for a quadratic grid (got {t_end})")
    times = np.linspace(np.sqrt(t_start), np.sqrt(t_end), n if final_zero else n + 1) ** 2
    times[0] = t_start
    if times.size > 1:          # one final-zero step: the single point is t_start
        times[-1] = t_end
    return _times_to_grid(schedule, times, final_zero, n)


def karras_grid(schedule: NoiseSchedule, n: int, *, sigma_min=None, sigma_max=None,
                rho: float = 7.0, final_zero: bool = True) -> TimeGrid:
    """``n`` steps on the EDM/Karras grid of VE noise levels.

    .. math:: \\hat\\sigma_i = \\big(\\hat\\sigma_{max}^{1/\\rho} + \\tfrac{i}{M-1}
              (\\hat\\sigma_{min}^{1/\\rho} - \\hat\\sigma_{max}^{1/\\rho})\\big)^\\rho

    with :math:`M = n` levels then zero (``final_zero``, as k-diffusion's
    ``get_sigmas_karras(n, ...)``) or :math:`M = n + 1` levels. Defaults: the
    schedule's VE noise range, from ``t_max`` down to :func:`default_t_end`
    ("Elucidating the Design Space of Diffusion-Based Generative Models", eq. 5).
    """
    n = check_int("n", n, low=1)
    schedule = _check_schedule(schedule)
    if sigma_max is None:
        sigma_max = float(schedule.sigma_ve(schedule.t_max))
    if sigma_min is None:
        sigma_min = float(schedule.sigma_ve(default_t_end(schedule)))
    levels = n if final_zero else n + 1
    if levels < 2:
        sig = np.array([check_real("sigma_max", sigma_max, low=0.0, low_open=True)])
    else:
        sig = karras_sigmas(levels, sigma_min, sigma_max, rho, append_zero=False)
    if final_zero:
        sig = np.append(sig, 0.0)
    return TimeGrid.from_sigmas(schedule, sig)
