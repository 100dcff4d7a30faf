r"""Noise schedules: :math:`x_t = \alpha_t x_0 + \sigma_t \varepsilon`.

Every schedule gives :math:`\alpha(t)`, :math:`\sigma(t)`, the log-SNR
:math:`\lambda(t) = \log(\alpha_t/\sigma_t)` and its inverse :math:`t(\lambda)`,
the SDE coefficients :math:`f(t) = d\log\alpha_t/dt` and
:math:`g^2(t) = d\sigma_t^2/dt - 2 f(t)\sigma_t^2`, and the conversion between
the VP form and the VE form (:math:`\hat x = x/\alpha`,
:math:`\hat\sigma = \sigma/\alpha = e^{-\lambda}`).

Schedules
---------
VPLinear
    Continuous VP with linear :math:`\beta(t)` (Song et al. 2021; DPM-Solver's
    ``NoiseScheduleVP('linear')``): :math:`\log\alpha_t = -\tfrac14 t^2(\beta_1-\beta_0)
    - \tfrac12 t\beta_0`, :math:`t \in [0, 1]`.
VPCosine
    Nichol & Dhariwal's cosine schedule: :math:`\alpha_t^2 = f(t)/f(0)`,
    :math:`f(t) = \cos^2\big(\tfrac{t+s}{1+s}\tfrac{\pi}{2}\big)`, :math:`t \in [0, t_{max}]`
    (:math:`t_{max}` = 0.9946 as in DPM-Solver, where :math:`\alpha` is still
    positive).
DiscreteVP
    A table of :math:`\bar\alpha_n` (DDPM linear betas, Stable Diffusion's
    "scaled_linear", or any betas) interpolated the way diffusers does: the time
    is the (fractional) training timestep index :math:`t \in [0, N-1]` and the
    VE noise level :math:`\hat\sigma = \sqrt{(1-\bar\alpha)/\bar\alpha}` is
    interpolated *linearly in t* between table entries
    (``np.interp(timesteps, np.arange(N), sigmas)`` in diffusers'
    ``set_timesteps``); then :math:`\alpha = (1+\hat\sigma^2)^{-1/2}`,
    :math:`\sigma = \hat\sigma\alpha`. :math:`t(\lambda)` is the exact inverse of
    that interpolation. (diffusers' ``_sigma_to_t`` interpolates in
    :math:`\log\hat\sigma` instead, so it is not the exact inverse of its own
    forward interpolation off the grid; drive diffusers with its own
    ``scheduler.sigmas``.)
VE
    Song et al.'s SMLD/VE: :math:`\alpha = 1`, :math:`\sigma(t) = \sigma_{min}
    (\sigma_{max}/\sigma_{min})^t`, :math:`t \in [0, 1]`.
EDM
    Karras et al.: :math:`\alpha = 1`, :math:`\sigma(t) = t`, :math:`t \in [0, \sigma_{max}]`.

The EDM/Karras *grid* of noise levels is :func:`karras_sigmas`.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod

import numpy as np

from .._validation import as_float_array, check_int, check_real

__all__ = [
    "NoiseSchedule",
    "VPLinear",
    "VPCosine",
    "DiscreteVP",
    "VE",
    "EDM",
    "karras_sigmas",
    "ddpm_linear_betas",
    "scaled_linear_betas",
]


def _softplus(x):
    """log(1 + e^x), stable for large |x|."""
    return np.logaddexp(0.0, x)


class NoiseSchedule(ABC):
    """A noise schedule :math:`t \\mapsto (\\alpha_t, \\sigma_t)`.

    Subclasses define :meth:`_log_alpha`, :meth:`_log_sigma` (or
    :meth:`_log_snr`), :meth:`_t_from_log_snr` and the derivatives. Public
    methods validate ``t`` against ``[t_min, t_max]`` and accept scalars or
    arrays (returning the same shape).
    """

    #: whether alpha^2 + sigma^2 = 1
    variance_preserving: bool = True

    @property
    @abstractmethod
    def t_min(self) -> float: ...

    @property
    @abstractmethod
    def t_max(self) -> float: ...

    # ------------------------------------------------------------- validation
    def check_t(self, t, name: str = "t") -> np.ndarray:
        """Validate ``t`` (finite, inside ``[t_min, t_max]``) and return it as float64."""
        arr = as_float_array(name, t)
        lo, hi = self.t_min, self.t_max
        # allow a relative slack of a few ulps at the ends (grids built with linspace)
        slack = 4 * np.finfo(float).eps * max(abs(lo), abs(hi), 1.0)
        if np.any(arr < lo - slack) or np.any(arr > hi + slack):
            bad = arr[(arr < lo - slack) | (arr > hi + slack)].ravel()[0]
            raise ValueError(f"{name}: must lie in [{lo:g}, {hi:g}] for {self!r} (got {bad!r})")
        return np.clip(arr, lo, hi)

    def check_scalar_t(self, t, name: str = "t") -> float:
        """Validate a single time (a scalar inside ``[t_min, t_max]``) and return it as float.

        Parameters
        ----------
        t : float
            The time.
        name : str, default "t"
            The argument's name, for the error message.

        Raises
        ------
        ValueError
            ``name: must be a scalar time`` for an array with more than zero
            dimensions, and the errors of :meth:`check_t`.
        """
        arr = self.check_t(t, name)
        if arr.ndim != 0:
            raise ValueError(f"{name}: must be a scalar time (got an array of shape "
                             f"{arr.shape})")
        return float(arr)

    # ------------------------------------------------------------- interface
    @abstractmethod
    def _log_alpha(self, t: np.ndarray) -> np.ndarray: ...

    @abstractmethod
    def _log_snr(self, t: np.ndarray) -> np.ndarray: ...

    @abstractmethod
    def _t_from_log_snr(self, lam: np.ndarray) -> np.ndarray: ...

    @abstractmethod
    def _d_log_alpha(self, t: np.ndarray) -> np.ndarray: ...

    @abstractmethod
    def _d_log_sigma(self, t: np.ndarray) -> np.ndarray: ...

    def _log_sigma(self, t: np.ndarray) -> np.ndarray:
        return self._log_alpha(t) - self._log_snr(t)

    # ------------------------------------------------------------- public
    def alpha(self, t):
        """:math:`\\alpha_t`, same shape as ``t``."""
        return np.exp(self._log_alpha(self.check_t(t)))

    def sigma(self, t):
        """:math:`\\sigma_t`, same shape as ``t`` (0 where :math:`\\lambda = +\\infty`)."""
        with np.errstate(divide="ignore"):
            return np.exp(self._log_sigma(self.check_t(t)))

    def marginal(self, t):
        """``(alpha_t, sigma_t)``."""
        t = self.check_t(t)
        with np.errstate(divide="ignore"):
            return np.exp(self._log_alpha(t)), np.exp(self._log_sigma(t))

    def log_snr(self, t):
        """:math:`\\lambda_t = \\log(\\alpha_t/\\sigma_t)` (``+inf`` where :math:`\\sigma_t = 0`)."""
        with np.errstate(divide="ignore"):
            return self._log_snr(self.check_t(t))

    def t_from_log_snr(self, lam):
        """The inverse of :meth:`log_snr`.

        Raises
        ------
        ValueError
            ``lam`` outside ``[log_snr(t_max), log_snr(t_min)]``.
        """
        lam = as_float_array("lam", lam, finite=False)
        if np.any(np.isnan(lam)):
            raise ValueError("lam: must not be NaN")
        lo = float(self.log_snr(self.t_max))
        hi = float(self.log_snr(self.t_min))
        # float32 round-off in a caller's sigmas (diffusers computes them in float32) is
        # accepted and clipped: 1e-6 relative, far below any meaningful change of t
        slack = 1e-6 * max(abs(lo), 1.0)
        if np.any(lam < lo - slack) or np.any(lam > hi + (slack if np.isfinite(hi) else 0)):
            raise ValueError(f"lam: must lie in [{lo:g}, {hi:g}] for {self!r}")
        lam = np.clip(lam, lo, hi)
        return np.clip(self._t_from_log_snr(lam), self.t_min, self.t_max)

    def sigma_ve(self, t):
        """VE noise level :math:`\\hat\\sigma_t = \\sigma_t/\\alpha_t = e^{-\\lambda_t}`."""
        return np.exp(-self.log_snr(t))

    def t_from_sigma_ve(self, sigma_ve):
        """Inverse of :meth:`sigma_ve`."""
        s = as_float_array("sigma_ve", sigma_ve)
        if np.any(s <= 0):
            raise ValueError("sigma_ve: must be > 0")
        return self.t_from_log_snr(-np.log(s))

    def drift(self, t):
        """SDE drift coefficient :math:`f(t) = d\\log\\alpha_t/dt`."""
        return self._d_log_alpha(self.check_t(t))

    def diffusion_sq(self, t):
        """SDE diffusion coefficient :math:`g^2(t) = d\\sigma_t^2/dt - 2f(t)\\sigma_t^2`
        :math:`= 2\\sigma_t^2 (d\\log\\sigma_t/dt - d\\log\\alpha_t/dt)`."""
        t = self.check_t(t)
        with np.errstate(divide="ignore", invalid="ignore"):
            s2 = np.exp(2 * self._log_sigma(t))
            out = 2 * s2 * (self._d_log_sigma(t) - self._d_log_alpha(t))
        return np.where(s2 == 0, self._g2_at_zero_noise(t), out)

    def _g2_at_zero_noise(self, t):
        return np.zeros_like(t)

    def to_ve(self, x, t):
        """A point of this schedule at time ``t`` in VE coordinates.

        Parameters
        ----------
        x : array_like
            Finite points at time ``t`` (any shape that broadcasts with ``t``).
        t : float or array_like
            Times inside ``[t_min, t_max]``.

        Returns
        -------
        x_ve : ndarray
            :math:`x / \\alpha_t`.
        sigma_ve : ndarray
            :math:`\\sigma_t / \\alpha_t = e^{-\\lambda_t}`, the VE noise level.

        Raises
        ------
        ValueError
            ``x`` not finite, or ``t`` outside the schedule.
        """
        x = as_float_array("x", x)
        a, s = self.marginal(t)
        return x / a, s / a

    def from_ve(self, x_ve, t):
        """A point in VE coordinates back to this schedule's coordinates at ``t``.

        Parameters
        ----------
        x_ve : array_like
            Finite points in VE coordinates (any shape that broadcasts with ``t``).
        t : float or array_like
            Times inside ``[t_min, t_max]``.

        Returns
        -------
        ndarray
            :math:`\\alpha_t\\,x_{ve}`; the inverse of :meth:`to_ve`'s first output.

        Raises
        ------
        ValueError
            ``x_ve`` not finite, or ``t`` outside the schedule.
        """
        x_ve = as_float_array("x_ve", x_ve)
        return self.alpha(t) * x_ve


class VPLinear(NoiseSchedule):
    """Continuous VP schedule with linear :math:`\\beta(t) = \\beta_0 + t(\\beta_1 - \\beta_0)`.

    .. math:: \\log\\alpha_t = -\\tfrac14 t^2 (\\beta_1 - \\beta_0) - \\tfrac12 t \\beta_0,
              \\quad \\sigma_t = \\sqrt{1 - \\alpha_t^2}

    Parameters
    ----------
    beta_min, beta_max : float
        :math:`\\beta_0 = 0.1`, :math:`\\beta_1 = 20` (Song et al. 2021, "Score-Based
        Generative Modeling through SDEs"; DPM-Solver's continuous VP).
    t_max : float, default 1
    """

    def __init__(self, beta_min: float = 0.1, beta_max: float = 20.0, t_max: float = 1.0):
        self.beta_min = check_real("beta_min", beta_min, low=0.0)
        self.beta_max = check_real("beta_max", beta_max, low=0.0)
        if self.beta_max <= self.beta_min:
            raise ValueError(f"beta_max: must be > beta_min = {self.beta_min} (got {beta_max})")
        self._t_max = check_real("t_max", t_max, low=0.0, low_open=True)

    def __repr__(self):
        return f"VPLinear(beta_min={self.beta_min}, beta_max={self.beta_max})"

    t_min = property(lambda self: 0.0)
    t_max = property(lambda self: self._t_max)

    def _log_alpha(self, t):
        return -0.25 * t**2 * (self.beta_max - self.beta_min) - 0.5 * t * self.beta_min

    def _log_snr(self, t):
        # lambda = log alpha - 0.5 log(1 - alpha^2) = log alpha - 0.5 log(-expm1(2 log alpha))
        la = self._log_alpha(t)
        with np.errstate(divide="ignore"):
            return la - 0.5 * np.log(-np.expm1(2 * la))

    def _t_from_log_snr(self, lam):
        # -log alpha = 0.5 softplus(-2 lam) =: L ; 0.25 dB t^2 + 0.5 b0 t = L
        big_l = 0.5 * _softplus(-2 * lam)
        db = self.beta_max - self.beta_min
        return 4 * big_l / (self.beta_min + np.sqrt(self.beta_min**2 + 4 * db * big_l))

    def _d_log_alpha(self, t):
        return -0.5 * t * (self.beta_max - self.beta_min) - 0.5 * self.beta_min

    def _d_log_sigma(self, t):
        la = self._log_alpha(t)
        with np.errstate(divide="ignore", invalid="ignore"):
            # sigma^2 = 1 - alpha^2 ; d log sigma = -alpha^2 dlogalpha / sigma^2
            return -np.exp(2 * la) * self._d_log_alpha(t) / (-np.expm1(2 * la))

    def _g2_at_zero_noise(self, t):
        return self.beta_min + t * (self.beta_max - self.beta_min)

    def diffusion_sq(self, t):
        """:math:`g^2(t) = \\beta(t)` exactly for VP."""
        t = self.check_t(t)
        return self.beta_min + t * (self.beta_max - self.beta_min)


class VPCosine(NoiseSchedule):
    """Cosine VP schedule (Nichol & Dhariwal 2021).

    .. math:: \\alpha_t = \\cos\\big(\\tfrac{t+s}{1+s}\\tfrac{\\pi}{2}\\big) /
              \\cos\\big(\\tfrac{s}{1+s}\\tfrac{\\pi}{2}\\big)

    Parameters
    ----------
    s : float, default 0.008
    t_max : float, default 0.9946
        DPM-Solver's choice: beyond it :math:`\\alpha_t` heads to 0 and
        :math:`\\lambda_t` to :math:`-\\infty`.
    """

    def __init__(self, s: float = 0.008, t_max: float = 0.9946):
        self.s = check_real("s", s, low=0.0, low_open=True)
        self._t_max = check_real("t_max", t_max, low=0.0, high=1.0, low_open=True,
                                 high_open=True)
        self._log_cos0 = math.log(math.cos(self.s / (1 + self.s) * math.pi / 2))
        self._tan0 = math.tan(self.s / (1 + self.s) * math.pi / 2)

    def __repr__(self):
        return f"VPCosine(s={self.s}, t_max={self._t_max})"

    t_min = property(lambda self: 0.0)
    t_max = property(lambda self: self._t_max)

    def _phase(self, t):
        return (t + self.s) / (1 + self.s) * (math.pi / 2)

    def _log_alpha_of_delta(self, delta):
        # cos(phi_0 + delta)/cos(phi_0) = 1 - 2 sin^2(delta/2) - tan(phi_0) sin(delta), with
        # delta = phase(t) - phase(0) >= 0: both corrections are <= 0, so log alpha is exactly
        # 0 at t = 0, negative after it, and accurate to a few ulps relative near t = 0.
        # (log cos(phase(t)) - log cos(phase(0)) came out a few ulps above 0 near t = 0 for
        # some s, and then sigma = sqrt(1 - alpha^2) was NaN.)
        half = np.sin(0.5 * delta)
        return np.log1p(-2.0 * half * half - self._tan0 * np.sin(delta))

    def _log_alpha(self, t):
        return self._log_alpha_of_delta(t / (1 + self.s) * (math.pi / 2))

    def _log_snr(self, t):
        la = self._log_alpha(t)
        with np.errstate(divide="ignore"):
            return la - 0.5 * np.log(-np.expm1(2 * la))

    def _t_from_log_snr(self, lam):
        # log alpha = -softplus(-2 lam)/2 is accurate even where alpha rounds to 1; the arccos
        # of alpha cos(phi_0) is not (it loses every digit of a tiny delta), so refine with
        # Newton steps on log alpha(delta) = log_alpha, d log alpha/d delta = -tan(phi_0+delta)
        log_alpha = -0.5 * _softplus(-2 * lam)
        phi0 = self.s / (1 + self.s) * (math.pi / 2)
        delta = np.maximum(np.arccos(np.exp(log_alpha + self._log_cos0)) - phi0, 0.0)
        for _ in range(3):
            step = (self._log_alpha_of_delta(delta) - log_alpha) / np.tan(phi0 + delta)
            delta = np.maximum(delta + step, 0.0)
        return delta * (1 + self.s) * (2 / math.pi)

    def _d_log_alpha(self, t):
        return -np.tan(self._phase(t)) * (math.pi / 2) / (1 + self.s)

    def _d_log_sigma(self, t):
        la = self._log_alpha(t)
        with np.errstate(divide="ignore", invalid="ignore"):
            return -np.exp(2 * la) * self._d_log_alpha(t) / (-np.expm1(2 * la))

    def _g2_at_zero_noise(self, t):
        return -2 * self._d_log_alpha(t)

    def diffusion_sq(self, t):
        """:math:`g^2 = -2 d\\log\\alpha/dt` exactly for VP."""
        return -2 * self._d_log_alpha(self.check_t(t))


def ddpm_linear_betas(num_steps: int = 1000, beta_start: float = 1e-4,
                      beta_end: float = 0.02) -> np.ndarray:
    """DDPM's linear betas (Ho et al. 2020): ``linspace(beta_start, beta_end, N)``."""
    n = check_int("num_steps", num_steps, low=2)
    return np.linspace(check_real("beta_start", beta_start, low=0.0, high=1.0, low_open=True),
                       check_real("beta_end", beta_end, low=0.0, high=1.0, low_open=True), n)


def scaled_linear_betas(num_steps: int = 1000, beta_start: float = 0.00085,
                        beta_end: float = 0.012) -> np.ndarray:
    """Stable Diffusion's "scaled_linear" betas: ``linspace(sqrt(b0), sqrt(b1), N)**2``."""
    n = check_int("num_steps", num_steps, low=2)
    b0 = check_real("beta_start", beta_start, low=0.0, high=1.0, low_open=True)
    b1 = check_real("beta_end", beta_end, low=0.0, high=1.0, low_open=True)
    return np.linspace(math.sqrt(b0), math.sqrt(b1), n) ** 2


class DiscreteVP(NoiseSchedule):
    """A discrete VP schedule (a table of betas), interpolated as diffusers does.

    The time ``t`` is the fractional training-timestep index in ``[0, N-1]``.
    With :math:`\\bar\\alpha_n = \\prod_{m \\le n}(1 - \\beta_m)` and the VE level
    :math:`\\hat\\sigma_n = \\sqrt{(1 - \\bar\\alpha_n)/\\bar\\alpha_n}`,

    .. math:: \\hat\\sigma(t) = \\hat\\sigma_{\\lfloor t \\rfloor} + (t - \\lfloor t\\rfloor)
              (\\hat\\sigma_{\\lfloor t\\rfloor+1} - \\hat\\sigma_{\\lfloor t\\rfloor}),
              \\quad \\alpha_t = (1 + \\hat\\sigma(t)^2)^{-1/2},
              \\quad \\sigma_t = \\hat\\sigma(t)\\,\\alpha_t

    (diffusers' ``set_timesteps``: ``np.interp(timesteps, np.arange(N), sigmas)``).
    At integer ``t = n`` this is exactly :math:`\\alpha^2 = \\bar\\alpha_n`.

    Parameters
    ----------
    betas : (N,) array
        In (0, 1).
    name : str, optional
        For ``repr``.

    See Also
    --------
    DiscreteVP.ddpm_linear, DiscreteVP.scaled_linear
    """

    def __init__(self, betas, name: str = "custom"):
        b = as_float_array("betas", betas, ndim=1)
        if b.size < 2:
            raise ValueError("betas: must have at least 2 entries")
        if np.any(b <= 0) or np.any(b >= 1):
            raise ValueError("betas: must lie in (0, 1)")
        self.betas = b
        self.name = name
        self.alphas_cumprod = np.cumprod(1.0 - b)
        log_acp = np.cumsum(np.log1p(-b))
        # sqrt((1 - acp)/acp) = sqrt(expm1(-log acp))
        self.sigmas_ve = np.sqrt(np.expm1(-log_acp))
        if np.any(np.diff(self.sigmas_ve) <= 0):
            raise ValueError("betas: must give strictly increasing noise levels")
        self._grid = np.arange(b.size, dtype=float)

    @classmethod
    def ddpm_linear(cls, num_steps: int = 1000, beta_start: float = 1e-4,
                    beta_end: float = 0.02) -> "DiscreteVP":
        """DDPM's linear schedule."""
        return cls(ddpm_linear_betas(num_steps, beta_start, beta_end), name="ddpm_linear")

    @classmethod
    def scaled_linear(cls, num_steps: int = 1000, beta_start: float = 0.00085,
                      beta_end: float = 0.012) -> "DiscreteVP":
        """Stable Diffusion's "scaled_linear" schedule."""
        return cls(scaled_linear_betas(num_steps, beta_start, beta_end), name="scaled_linear")

    def __repr__(self):
        return f"DiscreteVP({self.name}, N={self.betas.size})"

    t_min = property(lambda self: 0.0)
    t_max = property(lambda self: float(self.betas.size - 1))

    def _sigma_ve(self, t):
        return np.interp(t, self._grid, self.sigmas_ve)

    def _log_alpha(self, t):
        return -0.5 * np.log1p(self._sigma_ve(t) ** 2)

    def _log_snr(self, t):
        return -np.log(self._sigma_ve(t))

    def _t_from_log_snr(self, lam):
        return np.interp(np.exp(-lam), self.sigmas_ve, self._grid)

    def _slope(self, t):
        idx = np.clip(np.floor(t).astype(int), 0, self.betas.size - 2)
        return self.sigmas_ve[idx + 1] - self.sigmas_ve[idx]

    def _d_log_alpha(self, t):
        s = self._sigma_ve(t)
        return -s * self._slope(t) / (1 + s**2)

    def _d_log_sigma(self, t):
        s = self._sigma_ve(t)
        return self._slope(t) / s + self._d_log_alpha(t)


class VE(NoiseSchedule):
    """SMLD / VE schedule: :math:`\\alpha = 1`, :math:`\\sigma(t) = \\sigma_{min}
    (\\sigma_{max}/\\sigma_{min})^t`, :math:`t \\in [0, 1]` (Song et al. 2021)."""

    variance_preserving = False

    def __init__(self, sigma_min: float = 0.01, sigma_max: float = 50.0):
        self.sigma_min = check_real("sigma_min", sigma_min, low=0.0, low_open=True)
        self.sigma_max = check_real("sigma_max", sigma_max, low=0.0, low_open=True)
        if self.sigma_max <= self.sigma_min:
            raise ValueError(f"sigma_max: must be > sigma_min = {self.sigma_min}")
        self._log_ratio = math.log(self.sigma_max / self.sigma_min)

    def __repr__(self):
        return f"VE(sigma_min={self.sigma_min}, sigma_max={self.sigma_max})"

    t_min = property(lambda self: 0.0)
    t_max = property(lambda self: 1.0)

    def _log_alpha(self, t):
        return np.zeros_like(t)

    def _log_snr(self, t):
        return -(math.log(self.sigma_min) + t * self._log_ratio)

    def _t_from_log_snr(self, lam):
        return (-lam - math.log(self.sigma_min)) / self._log_ratio

    def _d_log_alpha(self, t):
        return np.zeros_like(t)

    def _d_log_sigma(self, t):
        return np.full_like(t, self._log_ratio)


class EDM(NoiseSchedule):
    """Karras et al.'s schedule: :math:`\\alpha = 1`, :math:`\\sigma(t) = t`,
    :math:`t \\in [0, \\sigma_{max}]` ("Elucidating the Design Space of
    Diffusion-Based Generative Models", Table 1)."""

    variance_preserving = False

    def __init__(self, sigma_max: float = 80.0):
        self.sigma_max = check_real("sigma_max", sigma_max, low=0.0, low_open=True)

    def __repr__(self):
        return f"EDM(sigma_max={self.sigma_max})"

    t_min = property(lambda self: 0.0)
    t_max = property(lambda self: self.sigma_max)

    def _log_alpha(self, t):
        return np.zeros_like(t)

    def _log_snr(self, t):
        with np.errstate(divide="ignore"):
            return -np.log(t)

    def _t_from_log_snr(self, lam):
        return np.exp(-lam)

    def _d_log_alpha(self, t):
        return np.zeros_like(t)

    def _d_log_sigma(self, t):
        with np.errstate(divide="ignore"):
            return 1.0 / t

    def diffusion_sq(self, t):
        """:math:`g^2 = d\\sigma^2/dt = 2t`."""
        return 2 * self.check_t(t)


def karras_sigmas(n: int, sigma_min: float = 0.002, sigma_max: float = 80.0,
                  rho: float = 7.0, append_zero: bool = True) -> np.ndarray:
    """The EDM/Karras grid of noise levels.

    .. math:: \\sigma_i = \\big(\\sigma_{max}^{1/\\rho} + \\tfrac{i}{n-1}
              (\\sigma_{min}^{1/\\rho} - \\sigma_{max}^{1/\\rho})\\big)^\\rho,
              \\quad i = 0, \\dots, n-1

    followed by :math:`\\sigma_n = 0` when ``append_zero`` ("Elucidating the
    Design Space of Diffusion-Based Generative Models", eq. 5).

    Returns
    -------
    (n,) or (n + 1,) array, decreasing.
    """
    n = check_int("n", n, low=2)
    sigma_min = check_real("sigma_min", sigma_min, low=0.0, low_open=True)
    sigma_max = check_real("sigma_max", sigma_max, low=0.0, low_open=True)
    if sigma_max <= sigma_min:
        raise ValueError(f"sigma_max: must be > sigma_min = {sigma_min}")
    rho = check_real("rho", rho, low=0.0, low_open=True)
    ramp = np.linspace(0.0, 1.0, n)
    hi, lo = sigma_max ** (1 / rho), sigma_min ** (1 / rho)
    sig = (hi + ramp * (lo - hi)) ** rho
    sig[0], sig[-1] = sigma_max, sigma_min
    return np.append(sig, 0.0) if append_zero else sig
