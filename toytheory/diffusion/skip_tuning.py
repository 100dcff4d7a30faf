r"""Skip-tuning on Gaussian data, exactly.

"The Surprising Effectiveness of Skip-Tuning in Diffusion Sampling" scales the skip
connections of a pretrained EDM network at sampling time. On Gaussian data
:math:`x_0 \sim N(0, \operatorname{diag}(\lambda))` (any Gaussian, in its eigenbasis)
EDM's denoiser splits exactly into its skip path and its main path,

.. math:: D(x; \sigma) = \underbrace{c_{skip}(\sigma)\,x}_{\text{skip}}
          + \underbrace{\big(\tfrac{\lambda}{\lambda + \sigma^2} - c_{skip}(\sigma)\big)x}
          _{\text{main}},
          \qquad c_{skip} = \frac{\sigma_{data}^2}{\sigma^2 + \sigma_{data}^2}

(Karras et al. 2022, Table 1; :math:`\sigma_{data}^2` = the mean of :math:`\lambda`), and
skip-tuning by :math:`\rho` is :math:`D_\rho = \rho\,c_{skip}x + \text{main}` (the toy's
reading of scaling the skip connections: the identity component, the only skip a linear
denoiser has). Every EDM Euler/Heun step is then a per-coordinate gain, so the sampler
maps :math:`x_T \sim N(0, \sigma_{max}^2 I)` to :math:`N(0, \operatorname{diag}(v))`
exactly and

- :func:`frechet_after_sampling`: the Fréchet distance (the FID analogue) of the output
  to the data, :math:`\sum_i(\sqrt{v_i} - \sqrt{\lambda_i})^2`;
- :func:`denoising_loss`: :math:`E\|D_\rho(x_0 + \sigma\varepsilon;\sigma) - x_0\|^2
  = \sum_i (g_i - 1)^2\lambda_i + g_i^2\sigma^2`, :math:`g_i` the gain of
  :math:`D_\rho` (minimal at :math:`\rho = 1`: the exact denoiser is the posterior mean).
"""

from __future__ import annotations

import numpy as np

from .._validation import as_float_array, check_int, check_real
from .schedules import karras_sigmas

__all__ = ["default_spectrum", "skip_gain", "sampler_gains", "frechet_after_sampling",
           "denoising_loss", "skip_tuning_curves", "skip_tuned_heun"]


def default_spectrum(d: int = 16, top: float = 4.0, decay: float = 1.5) -> np.ndarray:
    """:math:`\\lambda_i = \\text{top}\\, i^{-\\text{decay}}`, i = 1..d."""
    d = check_int("d", d, low=1)
    return check_real("top", top, low=0.0, low_open=True) * np.arange(1, d + 1) ** (
        -check_real("decay", decay, low=0.0))


def _check_rho(rho) -> float:
    return check_real("rho", rho, low=0.0)


def skip_gain(lam, sigma: float, rho: float, sigma_data: float | None = None) -> np.ndarray:
    """Per-coordinate gain of :math:`D_\\rho(\\cdot;\\sigma)` (shape of ``lam``)."""
    lam = as_float_array("lam", lam, ndim=1)
    rho = _check_rho(rho)
    s2 = float(sigma) ** 2
    sd2 = float(np.mean(lam)) if sigma_data is None else float(sigma_data) ** 2
    c_skip = sd2 / (s2 + sd2)
    return lam / (lam + s2) + (rho - 1.0) * c_skip


def sampler_gains(lam, rho: float, n_steps: int, *, method: str = "heun",
                  sigma_min: float = 0.002, sigma_max: float = 80.0) -> np.ndarray:
    """Per-coordinate factor :math:`M_i` of the EDM sampler, :math:`x_{out} = M x_T`.

    Karras grid with ``n_steps`` noise levels ending at 0 (so ``n_steps`` steps; Heun:
    NFE = 2 n_steps - 1, Euler into zero). ``method``: ``"heun"`` or ``"euler"``.
    """
    lam = as_float_array("lam", lam, ndim=1)
    rho = _check_rho(rho)
    n = check_int("n_steps", n_steps, low=1)
    if method not in ("heun", "euler"):
        raise ValueError(f"method: must be 'heun' or 'euler' (got {method!r})")
    sig = karras_sigmas(n, sigma_min, sigma_max) if n > 1 else np.array([sigma_max, 0.0])
    m = np.ones_like(lam)
    for i in range(len(sig) - 1):
        s, s_next = sig[i], sig[i + 1]
        h = s_next - s
        k = (1.0 - skip_gain(lam, s, rho)) / s
        if method == "euler" or s_next == 0.0:
            m = m * (1.0 + h * k)
        else:
            k2 = (1.0 - skip_gain(lam, s_next, rho)) / s_next
            m = m * (1.0 + 0.5 * h * (k + k2 * (1.0 + h * k)))
    return m


def frechet_after_sampling(lam, rho: float, n_steps: int, *, method: str = "heun",
                           sigma_max: float = 80.0) -> float:
    """Squared Fréchet distance between the sampler's output law and :math:`N(0,\\mathrm{diag}\\lambda)`."""
    lam = as_float_array("lam", lam, ndim=1)
    m = sampler_gains(lam, rho, n_steps, method=method, sigma_max=sigma_max)
    v = (sigma_max * m) ** 2
    return float(np.sum((np.sqrt(v) - np.sqrt(lam)) ** 2))


def denoising_loss(lam, sigma: float, rho: float) -> float:
    """:math:`E\\|D_\\rho(x_0 + \\sigma\\varepsilon; \\sigma) - x_0\\|^2`, exact."""
    lam = as_float_array("lam", lam, ndim=1)
    s = check_real("sigma", sigma, low=0.0, low_open=True)
    g = skip_gain(lam, s, rho)
    return float(np.sum((g - 1.0) ** 2 * lam + g ** 2 * s * s))


def skip_tuning_curves(rhos, nfe_steps=(3, 5, 10), lam=None, method: str = "heun") -> dict:
    """Fréchet error per (steps, rho) and the denoising loss (mean over the sampler's
    noise levels of the 10-step grid) per rho."""
    lam = default_spectrum() if lam is None else as_float_array("lam", lam, ndim=1)
    rhos = as_float_array("rhos", rhos, ndim=1)
    fr = np.array([[frechet_after_sampling(lam, r, n, method=method) for r in rhos]
                   for n in nfe_steps])
    sig = karras_sigmas(10, 0.002, 80.0, append_zero=False)
    loss = np.array([np.mean([denoising_loss(lam, s, r) for s in sig]) for r in rhos])
    return {"frechet": fr, "loss": loss}


def skip_tuned_heun(law, x_T, rho: float, n_steps: int, *, sigma_max: float = 80.0):
    """EDM Heun with the skip-tuned exact denoiser of any (mixture) ``law`` (VE, alpha = 1):
    :math:`D_\\rho = D + (\\rho - 1)c_{skip}x`, :math:`\\sigma_{data}^2` = the mean of the
    law's coordinate variances. Simulation: returns the samples from ``x_T`` (n, d)."""
    rho = _check_rho(rho)
    n = check_int("n_steps", n_steps, low=2)
    x = as_float_array("x_T", x_T, ndim=2).copy()
    sd2 = float(np.trace(law.covariance()) / law.dim)
    sig = karras_sigmas(n, 0.002, sigma_max)

    def den(v, s):
        return law.denoise(v, 1.0, s) + (rho - 1.0) * sd2 / (s * s + sd2) * v

    for s, s_next in zip(sig[:-1], sig[1:]):
        dx = (x - den(x, s)) / s
        x_e = x + (s_next - s) * dx
        if s_next == 0.0:
            x = x_e
        else:
            x = x + 0.5 * (s_next - s) * (dx + (x_e - den(x_e, s_next)) / s_next)
    return x
