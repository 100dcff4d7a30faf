r"""Soft value-based decoding (SVDD) on 1-D Gaussian-mixture data, with exact soft values.

The paper: Li et al., "Derivative-Free Guidance in Continuous and Discrete Diffusion Models
with Soft Value-Based Decoding". Its target is the reward-tilted law
:math:`p^{(\alpha)}(x_0) \propto p(x_0)\exp(r(x_0)/\alpha)`, and its soft value at a noisy
state is

.. math:: v_i(x) = \alpha\log E[\exp(r(x_0)/\alpha) \mid x_i = x].

The chain here is a discretised VP diffusion :math:`x_i = a_i x_0 + s_i\varepsilon` at levels
``i = 0..n`` (``i = 0`` the data, :math:`a_0 = 1, s_0 = 0`). For data
:math:`\sum_k\pi_k N(\mu_k, v_k)` everything is exact:

- the *pretrained* reverse kernel :math:`p(x_{i-1}\mid x_i)` (a mixture over components of
  Gaussian conditionals: a perfectly trained model, no discretisation error);
- the posterior :math:`x_0\mid x_i` (a mixture of Gaussians), hence the soft value for a
  linear reward :math:`r = a x_0` (:math:`E = \sum_k w_k e^{a m_k/\alpha + a^2 V_k/2\alpha^2}`)
  and for the indicator :math:`r = 1\{x_0 \ge c\}`
  (:math:`E = 1 + (e^{1/\alpha} - 1)\sum_k w_k\Phi((m_k - c)/\sqrt{V_k})`), which is not
  differentiable.

SVDD (the paper's Algorithm 1, importance-sampling selection): at each level draw ``M``
candidates from the pretrained kernel and keep one with probability
:math:`\propto\exp(v_{i-1}/\alpha)`; here the initial state is selected the same way among
``M`` draws of :math:`p_n`. With ``M = 1`` it is the pretrained sampler; as
:math:`M\to\infty` each step samples :math:`p(x_{i-1}|x_i)e^{v_{i-1}/\alpha}/e^{v_i/\alpha}`,
whose product telescopes to the exact tilted law.

DPS-style gradient guidance (Chung et al.) adds
:math:`(q_i^2/\rho_i)\nabla_{x_i} r(\hat x_0(x_i))/\alpha` to each pretrained step
(:math:`\rho_i = a_i/a_{i-1}`, :math:`q_i^2` the forward step's variance: the discretised
:math:`g^2\nabla\log h` drift), with the exact Tweedie derivative
:math:`d\hat x_0/dx = (a_i/s_i^2)\mathrm{Var}(x_0\mid x_i)`. For the indicator its gradient
is zero almost everywhere, so it is the pretrained sampler.
"""

from __future__ import annotations

import numpy as np
from scipy.special import log_ndtr, logsumexp

from .._validation import as_float_array, check_int, check_real
from .schedules import NoiseSchedule, VPLinear

__all__ = ["MixtureChain1D", "LinearReward", "IndicatorReward", "svdd_sample", "dps_sample",
           "tilted_cdf"]


class MixtureChain1D:
    """Exact discrete-time diffusion of a 1-D Gaussian mixture.

    Parameters
    ----------
    weights, means, stds : (K,) arrays
        The data law :math:`\\sum_k\\pi_k N(\\mu_k, s_k^2)`, ``stds > 0``.
    n_steps : int >= 1
        Levels ``1..n_steps`` at times ``t_i = i T/n`` of ``schedule`` (level 0 is the data).
    schedule : NoiseSchedule, optional
        VP schedule (default ``VPLinear()``).
    """

    def __init__(self, weights, means, stds, n_steps: int, schedule: NoiseSchedule | None = None):
        self.pi = as_float_array("weights", weights, ndim=1)
        if np.any(self.pi < 0) or abs(self.pi.sum() - 1) > 1e-9:
            raise ValueError("weights: must be non-negative and sum to one")
        self.mu = as_float_array("means", means, ndim=1)
        sd = as_float_array("stds", stds, ndim=1)
        if not (self.pi.shape == self.mu.shape == sd.shape) or np.any(sd <= 0):
            raise ValueError("stds: must be > 0, one per component (like weights and means)")
        self.v = sd ** 2
        self.n_steps = check_int("n_steps", n_steps, low=1)
        schedule = VPLinear() if schedule is None else schedule
        if not isinstance(schedule, NoiseSchedule):
            raise ValueError("schedule: must be a NoiseSchedule")
        t = np.linspace(0.0, float(schedule.t_max), self.n_steps + 1)
        a, s = (np.asarray(u, float) for u in schedule.marginal(t))
        a[0], s[0] = 1.0, 0.0
        self.a, self.s = a, s

    # -------------------------------------------------------------- posteriors
    def _check_level(self, i, low=0):
        return check_int("level", i, low=low, high=self.n_steps)

    def log_marginal(self, x, i):
        """:math:`\\log p_i(x)`, ``x`` any shape."""
        i = self._check_level(i)
        x = np.asarray(x, float)[..., None]
        var = self.a[i] ** 2 * self.v + self.s[i] ** 2
        return logsumexp(np.log(self.pi) - 0.5 * ((x - self.a[i] * self.mu) ** 2 / var
                                                   + np.log(2 * np.pi * var)), axis=-1)

    def component_posterior(self, x, i):
        """:math:`P(k \\mid x_i = x)`, shape ``x.shape + (K,)``."""
        i = self._check_level(i)
        x = np.asarray(x, float)[..., None]
        var = self.a[i] ** 2 * self.v + self.s[i] ** 2
        lg = np.log(self.pi) - 0.5 * ((x - self.a[i] * self.mu) ** 2 / var + np.log(var))
        return np.exp(lg - logsumexp(lg, axis=-1, keepdims=True))

    def x0_posterior(self, x, i):
        """``(w, m, V)``: :math:`x_0 \\mid x_i = x` is :math:`\\sum_k w_k N(m_k, V_k)`
        (shapes ``x.shape + (K,)``, same, ``(K,)``); at level 0 a point mass at ``x``."""
        i = self._check_level(i)
        x = np.asarray(x, float)
        if i == 0:
            K = self.pi.size
            return (np.full(x.shape + (K,), 1.0 / K), np.repeat(x[..., None], K, -1),
                    np.zeros(K))
        a, s = self.a[i], self.s[i]
        V = 1.0 / (1.0 / self.v + a * a / (s * s))
        m = V * (self.mu / self.v + a * x[..., None] / (s * s))
        return self.component_posterior(x, i), m, V

    def denoise(self, x, i):
        """Tweedie's :math:`\\hat x_0 = E[x_0 \\mid x_i = x]`."""
        w, m, _ = self.x0_posterior(x, i)
        return (w * m).sum(-1)

    def denoise_grad(self, x, i):
        """:math:`d\\hat x_0/dx = (a_i/s_i^2)\\mathrm{Var}(x_0 \\mid x_i = x)` (``i >= 1``)."""
        i = self._check_level(i, low=1)
        w, m, V = self.x0_posterior(x, i)
        mean = (w * m).sum(-1)
        var = (w * (V + m * m)).sum(-1) - mean ** 2
        return self.a[i] / self.s[i] ** 2 * var

    # -------------------------------------------------------------- sampling
    def sample_level(self, n_shape, i, rng):
        """Draws of :math:`p_i`, shape ``n_shape``."""
        i = self._check_level(i)
        k = rng.choice(self.pi.size, size=n_shape, p=self.pi)
        sd = np.sqrt(self.a[i] ** 2 * self.v + self.s[i] ** 2)
        return self.a[i] * self.mu[k] + sd[k] * rng.standard_normal(n_shape)

    def kernel(self, x, i):
        """The exact reverse kernel :math:`p(x_{i-1}\\mid x_i = x)`:
        ``(w, m, var)`` of the mixture :math:`\\sum_k w_k N(m_k, var_k)`."""
        i = self._check_level(i, low=1)
        x = np.asarray(x, float)
        rho = self.a[i] / self.a[i - 1]
        q2 = self.s[i] ** 2 - rho ** 2 * self.s[i - 1] ** 2
        prior_m = self.a[i - 1] * self.mu
        prior_v = self.a[i - 1] ** 2 * self.v + self.s[i - 1] ** 2
        var = 1.0 / (1.0 / prior_v + rho * rho / q2)
        m = var * (prior_m / prior_v + rho * x[..., None] / q2)
        return self.component_posterior(x, i), m, var

    def kernel_sample(self, x, i, rng, n_candidates: int = 1):
        """``n_candidates`` draws of :math:`p(x_{i-1}\\mid x_i)` per point: ``x.shape + (M,)``."""
        w, m, var = self.kernel(x, i)
        u = rng.random(np.shape(x) + (n_candidates, 1))
        k = (np.cumsum(w, -1)[..., None, :] < u).sum(-1).clip(0, self.pi.size - 1)
        mk = np.take_along_axis(m, k, axis=-1) if m.ndim == k.ndim else None
        if mk is None:  # pragma: no cover - shapes always agree
            raise RuntimeError("shape mismatch")
        return mk + np.sqrt(var[k]) * rng.standard_normal(k.shape)

    def step_variance(self, i):
        """``(rho_i, q_i^2)``: :math:`x_i = \\rho_i x_{i-1} + q_i\\eta`."""
        i = self._check_level(i, low=1)
        rho = self.a[i] / self.a[i - 1]
        return rho, self.s[i] ** 2 - rho ** 2 * self.s[i - 1] ** 2


class LinearReward:
    """:math:`r(x_0) = a x_0` (differentiable)."""

    differentiable = True

    def __init__(self, a):
        self.a = check_real("a", a)

    def __call__(self, x0):
        return self.a * np.asarray(x0, float)

    def grad(self, x0):
        return np.full(np.shape(x0), self.a)

    def soft_value(self, chain: MixtureChain1D, x, i, alpha):
        """Exact :math:`v_i(x) = \\alpha\\log\\sum_k w_k e^{a m_k/\\alpha + a^2V_k/2\\alpha^2}`."""
        alpha = check_real("alpha", alpha, low=0.0, low_open=True)
        w, m, V = chain.x0_posterior(x, i)
        lg = np.log(np.maximum(w, 1e-300)) + self.a * m / alpha + 0.5 * self.a ** 2 * V / alpha ** 2
        return alpha * logsumexp(lg, axis=-1)


class IndicatorReward:
    """:math:`r(x_0) = 1\\{x_0 \\ge c\\}` (non-differentiable: zero gradient a.e.)."""

    differentiable = False

    def __init__(self, c):
        self.c = check_real("c", c)

    def __call__(self, x0):
        return (np.asarray(x0, float) >= self.c).astype(float)

    def grad(self, x0):
        return np.zeros(np.shape(x0))

    def soft_value(self, chain: MixtureChain1D, x, i, alpha):
        """Exact :math:`v_i(x) = \\alpha\\log(1 + (e^{1/\\alpha} - 1) P(x_0 \\ge c \\mid x_i))`."""
        alpha = check_real("alpha", alpha, low=0.0, low_open=True)
        if chain._check_level(i) == 0:
            return self(x)
        w, m, V = chain.x0_posterior(x, i)
        p = (w * np.exp(log_ndtr((m - self.c) / np.sqrt(V)))).sum(-1)
        return alpha * np.log1p(np.expm1(1.0 / alpha) * p)


def _check_reward(reward):
    if not isinstance(reward, (LinearReward, IndicatorReward)):
        raise ValueError(f"reward: must be a LinearReward or IndicatorReward "
                         f"(got {type(reward).__name__})")
    return reward


def _select(values, alpha, rng):
    """Index per row, with probability proportional to exp(values / alpha)."""
    lg = values / alpha
    p = np.exp(lg - lg.max(-1, keepdims=True))
    c = np.cumsum(p, -1)
    u = rng.random(values.shape[:-1] + (1,)) * c[..., -1:]
    return (c < u).sum(-1).clip(0, values.shape[-1] - 1)


def svdd_sample(chain: MixtureChain1D, reward, alpha, n_candidates: int, n: int, rng):
    """SVDD with ``n_candidates`` (``M``) candidates per level; ``n`` independent outputs.

    Returns
    -------
    (n,) array
        Draws of :math:`x_0`.
    """
    if not isinstance(chain, MixtureChain1D):
        raise ValueError("chain: must be a MixtureChain1D")
    _check_reward(reward)
    alpha = check_real("alpha", alpha, low=0.0, low_open=True)
    M = check_int("n_candidates", n_candidates, low=1)
    n = check_int("n", n, low=1)
    rows = np.arange(n)
    x = chain.sample_level((n, M), chain.n_steps, rng)
    if M > 1:
        x = x[rows, _select(reward.soft_value(chain, x, chain.n_steps, alpha), alpha, rng)]
    else:
        x = x[:, 0]
    for i in range(chain.n_steps, 0, -1):
        cand = chain.kernel_sample(x, i, rng, M)
        if M > 1:
            x = cand[rows, _select(reward.soft_value(chain, cand, i - 1, alpha), alpha, rng)]
        else:
            x = cand[:, 0]
    return x


def dps_sample(chain: MixtureChain1D, reward, alpha, n: int, rng, scale: float = 1.0):
    """DPS-style gradient guidance: each pretrained step plus
    ``scale * (q_i^2/rho_i) * r'(x0_hat) * dx0_hat/dx / alpha``; ``n`` outputs."""
    if not isinstance(chain, MixtureChain1D):
        raise ValueError("chain: must be a MixtureChain1D")
    _check_reward(reward)
    alpha = check_real("alpha", alpha, low=0.0, low_open=True)
    scale = check_real("scale", scale, low=0.0)
    n = check_int("n", n, low=1)
    x = chain.sample_level(n, chain.n_steps, rng)
    for i in range(chain.n_steps, 0, -1):
        rho, q2 = chain.step_variance(i)
        g = reward.grad(chain.denoise(x, i)) * chain.denoise_grad(x, i) / alpha
        x = chain.kernel_sample(x, i, rng, 1)[:, 0] + scale * q2 / rho * g
    return x


def tilted_cdf(chain: MixtureChain1D, reward, alpha, x):
    """CDF of the exact tilted law :math:`p(x_0)e^{r(x_0)/\\alpha}/Z` at ``x`` (1-D)."""
    from .laws import GaussianMixture
    from .targets import IndicatorTilt, tilt_linear

    _check_reward(reward)
    alpha = check_real("alpha", alpha, low=0.0, low_open=True)
    law = GaussianMixture(chain.pi, chain.mu[:, None], chain.v[:, None, None])
    x = np.atleast_1d(np.asarray(x, float))
    if isinstance(reward, IndicatorReward):
        return IndicatorTilt(law, [1.0], reward.c, alpha).cdf(x)
    tl = tilt_linear(law, [reward.a], alpha)
    from scipy.special import ndtr

    return (tl.weights * ndtr((x[:, None] - tl.means[:, 0]) / np.sqrt(tl.covs[:, 0, 0]))).sum(1)
