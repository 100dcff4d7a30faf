r"""Post-training quantisation of the exact linear denoiser on Gaussian data.

"Post-training Quantization on Diffusion Models" (PTQ4DM, Shang et al. 2023). Toy: data
:math:`N(\mu, \operatorname{diag}\lambda)`, DDIM (deterministic, VP linear schedule),
and the exact :math:`\varepsilon`-network, which is linear:

.. math:: \hat\varepsilon(x, t) = w(t)\odot x + c(t), \qquad
          w = \frac{\sigma_t}{\alpha_t^2\lambda + \sigma_t^2}, \quad c = -w\,\alpha_t\mu .

Quantisation to ``b`` bits (symmetric, uniform, round-to-nearest, :math:`q = 2^{b-1}-1`
levels each side):

- weights, per tensor and time step: :math:`\Delta_w = \max|w|/q`,
  :math:`\tilde w = \Delta_w\operatorname{round}(w/\Delta_w)` (and the same for :math:`c`);
- activations (the network's input :math:`x`), one range :math:`r` for all steps, from a
  calibration set: :math:`\tilde x = \Delta_a\operatorname{clip}(\operatorname{round}
  (x/\Delta_a), -q, q)`, :math:`\Delta_a = r/q`.

The calibration range minimises the mean squared activation quantisation error under the
full-precision sampler's own trajectory law (PTQ4DM draws calibration inputs from the
full-precision model's denoising process), pooled over the calibration time steps:

``"single"``
    the first sampling step only (pure noise; a single-time-step calibration);
``"uniform"``
    every sampling step, equally weighted;
``"time-aware"``
    steps weighted by a normal law over the step index (PTQ4DM's Normally Distributed
    Time-step Calibration; mean at the middle of the trajectory and standard deviation a
    quarter of it are this toy's reading).

That trajectory law is exact: the full-precision DDIM is affine per coordinate, so
:math:`x_i = g_i z + h_i` with :math:`z = x_T \sim N(0, I)`. The quantised sampler is a
per-coordinate piecewise-affine map of :math:`z`; its output mean and variance are
integrals against the normal density, computed by the trapezoid rule on a fine grid
(:func:`output_moments`), and the Fréchet distance (FID's moment formula) follows.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.stats import norm

from .._validation import as_float_array, check_int, check_real
from .schedules import VPLinear

__all__ = ["QuantToy", "toy_problem", "CALIBRATIONS", "quantise", "calibration_range",
           "run_sampler", "output_moments", "output_bound", "quantised_frechet"]

CALIBRATIONS = ("single", "uniform", "time-aware")


@dataclass(frozen=True)
class QuantToy:
    mean: np.ndarray
    var: np.ndarray
    n_steps: int
    alpha: np.ndarray
    sigma: np.ndarray

    @property
    def d(self) -> int:
        return self.mean.size


def toy_problem(d: int = 8, n_steps: int = 50) -> QuantToy:
    """Means in [-2, 2], variances 0.01..4 (log-spaced); DDIM grid on VP linear, t from 1
    to 1e-3 in ``n_steps`` uniform steps."""
    d = check_int("d", d, low=1)
    n_steps = check_int("n_steps", n_steps, low=1)
    mean = np.linspace(-2.0, 2.0, d)
    var = np.geomspace(0.01, 4.0, d)
    sched = VPLinear()
    t = np.linspace(1.0, 1e-3, n_steps + 1)
    return QuantToy(mean, var, n_steps, sched.alpha(t), sched.sigma(t))


def _levels(bits) -> int:
    b = check_int("bits", bits, low=2)
    return 2 ** (b - 1) - 1


def quantise(values, bits: int, scale_max: float | None = None, clip: bool = True):
    """Symmetric uniform round-to-nearest quantisation to ``bits`` bits.

    ``scale_max``: the range (default ``max|values|``); values beyond it are clipped.
    """
    v = np.asarray(values, float)
    q = _levels(bits)
    r = float(np.max(np.abs(v))) if scale_max is None else check_real(
        "scale_max", scale_max, low=0.0, low_open=True)
    if r == 0.0:
        return v.copy()
    step = r / q
    k = np.round(v / step)
    if clip:
        k = np.clip(k, -q, q)
    return k * step


def _weights(prob: QuantToy, i: int):
    a, s = prob.alpha[i], prob.sigma[i]
    w = s / (a * a * prob.var + s * s)
    return w, -w * a * prob.mean


def _fp_affine(prob: QuantToy):
    """Per step i, the affine law of the full-precision state: x_i = g_i z + h_i."""
    g, h = np.ones(prob.d), np.zeros(prob.d)
    out = []
    for i in range(prob.n_steps):
        out.append((g.copy(), h.copy()))
        w, c = _weights(prob, i)
        a, s, a2, s2 = prob.alpha[i], prob.sigma[i], prob.alpha[i + 1], prob.sigma[i + 1]
        # x' = a2 (x - s e)/a + s2 e,  e = w x + c
        k = a2 / a + (s2 - a2 * s / a) * w
        g, h = k * g, k * h + (s2 - a2 * s / a) * c
    out.append((g, h))
    return out


def _calibration_laws(prob: QuantToy, calibration: str):
    if calibration not in CALIBRATIONS:
        raise ValueError(f"calibration: must be one of {CALIBRATIONS} (got {calibration!r})")
    laws = _fp_affine(prob)[:prob.n_steps]
    n = prob.n_steps
    idx = np.arange(n)
    if calibration == "single":
        wts = (idx == 0).astype(float)
    elif calibration == "uniform":
        wts = np.ones(n)
    else:
        wts = norm.pdf(idx, loc=(n - 1) / 2, scale=n / 4)
    wts = wts / wts.sum()
    g = np.array([a for a, _ in laws])            # (n, d)
    h = np.array([b for _, b in laws])
    return wts, h, np.abs(g)


def calibration_range(prob: QuantToy, calibration: str, bits: int = 8,
                      rule: str = "mse", tail: float = 1e-4) -> float:
    """The activation range :math:`r` from the pooled calibration law (a mixture of normals
    over the calibration steps).

    ``rule="mse"`` (default): the :math:`r` minimising the calibration law's mean squared
    activation quantisation error :math:`E\\|\\tilde x - x\\|^2` at ``bits`` (a search over
    120 log-spaced ranges, each expectation by the trapezoid rule); ``rule="quantile"``:
    the largest coordinate's ``1 - tail`` quantile of :math:`|x|` (min-max style).
    """
    wts, h, sd = _calibration_laws(prob, calibration)
    if rule == "mse":
        bits = check_int("bits", bits, low=2)
        z = np.linspace(-8, 8, 401)
        pz = norm.pdf(z)
        pz /= np.trapezoid(pz, z)
        keep = wts > 1e-12
        x = h[keep][:, :, None] + sd[keep][:, :, None] * z           # (m, d, z)
        top = float(np.max(np.abs(x)))
        best = (np.inf, top)
        for r in np.geomspace(top / 50, top, 120):
            err = (quantise(x, bits, scale_max=r) - x) ** 2
            mse = float(wts[keep] @ np.trapezoid(err * pz, z, axis=-1).sum(axis=1))
            if mse < best[0]:
                best = (mse, r)
        return float(best[1])
    if rule != "quantile":
        raise ValueError(f"rule: must be 'mse' or 'quantile' (got {rule!r})")
    tail = check_real("tail", tail, low=0.0, high=1.0, low_open=True, high_open=True)

    def exceed(r):  # P(|x| > r) for each coordinate, pooled: (d,)
        p = norm.sf((r - h) / sd) + norm.cdf((-r - h) / sd)
        return wts @ p

    hi = float(np.max(np.abs(h) + 10 * sd))
    lo = 0.0
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if np.max(exceed(mid)) > tail:
            lo = mid
        else:
            hi = mid
    return hi


def run_sampler(prob: QuantToy, z, bits: int | None = None, act_range: float | None = None):
    """DDIM from ``x_T = z`` (shape (..., d)) with the (optionally quantised) network."""
    x = np.array(z, float)
    for i in range(prob.n_steps):
        w, c = _weights(prob, i)
        if bits is not None:
            w, c = quantise(w, bits), quantise(c, bits)
            xin = quantise(x, bits, scale_max=act_range)
        else:
            xin = x
        e = w * xin + c
        a, s, a2, s2 = prob.alpha[i], prob.sigma[i], prob.alpha[i + 1], prob.sigma[i + 1]
        x = a2 * (x - s * e) / a + s2 * e
    return x


def output_bound(prob: QuantToy, bits: int | None = None, act_range: float | None = None,
                 zmax: float = 7.5) -> np.ndarray:
    r"""Per-coordinate bound :math:`B` with :math:`|x_{\text{out}}| \le B` whenever
    :math:`|x_T| \le z_{max}` coordinate-wise (interval arithmetic through the sampler).

    One DDIM step is :math:`x' = A x - C\,(\tilde w\,\tilde x + \tilde c)` with
    :math:`A = \alpha'/\alpha`, :math:`C = \alpha'\sigma/\alpha - \sigma'`, i.e.
    :math:`x' = (A - C\tilde w)x - C\tilde w(\tilde x - x) - C\tilde c`; the input's
    quantisation error obeys :math:`|\tilde x - x| \le \max(\Delta_a/2, |x| - r)` (round
    to nearest inside the range :math:`r`, clipped outside), so :math:`|x| \le B` gives
    :math:`|x'| \le |A - C\tilde w|B + |C\tilde w|\max(\Delta_a/2, B - r) + |C\tilde c|`.
    The bound makes the simulated outputs (with :math:`x_T` clipped to
    :math:`[-z_{max}, z_{max}]`) bounded data for :func:`toytheory.stats.bounded_mean_test`.
    """
    zmax = check_real("zmax", zmax, low=0.0, low_open=True)
    bound = np.full(prob.d, zmax)
    if bits is not None:
        q = _levels(bits)
        if act_range is None:
            raise ValueError("act_range: must be given with bits (the clipping range)")
        r = check_real("act_range", act_range, low=0.0, low_open=True)
    for i in range(prob.n_steps):
        w, c = _weights(prob, i)
        if bits is not None:
            w, c = quantise(w, bits), quantise(c, bits)
            err = np.maximum(0.5 * r / q, bound - r)
        else:
            err = np.zeros(prob.d)
        a, s, a2, s2 = prob.alpha[i], prob.sigma[i], prob.alpha[i + 1], prob.sigma[i + 1]
        big_c = a2 * s / a - s2
        bound = (np.abs(a2 / a - big_c * w) * bound + np.abs(big_c * w) * err
                 + np.abs(big_c * c))
    return bound


def output_moments(prob: QuantToy, bits: int | None = None, act_range: float | None = None,
                   n_grid: int = 200_001, zmax: float = 9.0):
    """Per-coordinate output mean and variance for :math:`x_T \\sim N(0, I)`, by the
    trapezoid rule over :math:`z \\in [-z_{max}, z_{max}]` (coordinates are independent)."""
    n_grid = check_int("n_grid", n_grid, low=101)
    z = np.linspace(-zmax, zmax, n_grid)
    out = run_sampler(prob, np.repeat(z[:, None], prob.d, axis=1), bits, act_range)
    wts = norm.pdf(z)
    wts = wts / np.trapezoid(wts, z)
    m = np.trapezoid(out * wts[:, None], z, axis=0)
    v = np.trapezoid((out - m) ** 2 * wts[:, None], z, axis=0)
    return m, v


def quantised_frechet(prob: QuantToy, bits: int | None, calibration: str = "time-aware",
                      n_grid: int = 200_001) -> float:
    """Squared Fréchet distance (moment formula) of the sampler's output to the data;
    ``bits=None``: full precision."""
    r = None if bits is None else calibration_range(prob, calibration, bits)
    m, v = output_moments(prob, bits, r, n_grid)
    return float(np.sum((m - prob.mean) ** 2 + (np.sqrt(v) - np.sqrt(prob.var)) ** 2))
