r"""A Gaussian-mixture signal prior learned by an MLP only through projections: the GMM
case of "Diffusion with Forward Models: Solving Stochastic Inverse Problems Without Direct
Supervision" (Tewari et al., NeurIPS 2023).

Signals :math:`x \sim p = \sum_k w_k N(\mu_k, \Sigma_k)` in :math:`\mathbb R^2` are never
seen: each training example is one observation :math:`y = a_\phi^Tx` through a forward
model drawn from a family of directions :math:`a_\phi = (\cos\phi, \sin\phi)`,
:math:`\phi \in \Phi` (a 1-D projection: a two-pixel "camera" of the plane). The model is
the paper's: a network that, given a noisy observation :math:`u = y + \sigma\varepsilon` and
the forward model :math:`\phi`, returns a *signal* estimate :math:`\hat x_\theta(u, \phi,
\sigma) \in \mathbb R^2`, rendered through the forward model and scored against the clean
observation,

.. math:: L(\theta) = E_{(y, \phi), \sigma, \varepsilon}\ \lambda(\sigma)\,
          \big(a_\phi^T\hat x_\theta(y + \sigma\varepsilon, \phi, \sigma) - y\big)^2 .

Its minimiser renders to the Tweedie denoiser of the projected law
:math:`a_\phi^T\hat x = E[a_\phi^Tx \mid a_\phi^Tx + \sigma\varepsilon = u]`, for every
:math:`\phi \in \Phi`: the objective identifies exactly the projected laws
:math:`(a_\phi)_\# p`, :math:`\phi \in \Phi`. The learned prior is judged through them:
observations at direction :math:`\phi` are sampled by the EDM/Heun probability-flow sampler
with the rendered denoiser (:func:`sample_observations`) and compared with the exact
projected law, a 1-D mixture :math:`\sum_k w_k N(a^T\mu_k, a^T\Sigma_ka)`
(:func:`projected_law`), by the 1-D Wasserstein-2 distance (:func:`w2_to_mixture`); its
mean square over :math:`\Phi` is the sliced :math:`W_2^2` restricted to the family.
Directions outside :math:`\Phi` are not identified by the objective (two priors with equal
projections on :math:`\Phi` have equal loss): :func:`product_of_marginals` is the
alternative that the axis family :math:`\{0, \pi/2\}` cannot tell from the truth.

Training is deterministic (float32, one CPU thread, seeded generator) and cached on disk as
:mod:`toytheory.diffusion.learned` does (same folder, same environment variable).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import ndtr

from ..._validation import as_float_array, check_int, check_real
from ..learned import CachedTrainingConfig

__all__ = ["ProjectionConfig", "ProjectionDenoiser", "projected_law", "draw_projections",
           "exact_projected_denoiser", "train_projection_denoiser", "sample_observations",
           "mixture_quantiles", "w2_to_mixture", "w2_between_mixtures",
           "product_of_marginals"]

_FORMAT = 1


def _mixture(weights, means, covs):
    w = as_float_array("weights", weights, ndim=1)
    m = as_float_array("means", means, ndim=2)
    c = as_float_array("covs", covs, ndim=3)
    if m.shape != (w.size, 2) or c.shape != (w.size, 2, 2):
        raise ValueError(f"means, covs: must have shapes ({w.size}, 2) and ({w.size}, 2, 2) "
                         f"(got {m.shape}, {c.shape})")
    if np.any(w < 0) or abs(w.sum() - 1) > 1e-9:
        raise ValueError("weights: must be a probability vector")
    return w, m, c


def _angles(angles):
    a = as_float_array("angles", angles, ndim=1)
    if a.size < 1:
        raise ValueError("angles: must list at least one direction")
    return a


def projected_law(weights, means, covs, angle):
    r"""The law of :math:`a_\phi^Tx` under the mixture: ``(w, m, v)`` of a 1-D mixture,
    :math:`m_k = a^T\mu_k`, :math:`v_k = a^T\Sigma_ka`."""
    w, m, c = _mixture(weights, means, covs)
    phi = check_real("angle", angle)
    a = np.array([np.cos(phi), np.sin(phi)])
    return w, m @ a, np.einsum("i,kij,j->k", a, c, a)


def draw_projections(weights, means, covs, angles, n, rng):
    """``n`` signals, each seen once through a direction drawn uniformly from ``angles``;
    returns ``(y (n,), phi (n,))``. The signals themselves are not returned."""
    w, m, c = _mixture(weights, means, covs)
    phis = _angles(angles)
    n = check_int("n", n, low=1)
    k = rng.choice(w.size, size=n, p=w)
    L = np.linalg.cholesky(c)
    x = m[k] + np.einsum("nij,nj->ni", L[k], rng.standard_normal((n, 2)))
    phi = phis[rng.integers(0, phis.size, size=n)]
    return x[:, 0] * np.cos(phi) + x[:, 1] * np.sin(phi), phi


def exact_projected_denoiser(law, u, sigma):
    r""":math:`E[y \mid y + \sigma\varepsilon = u]` for the 1-D mixture ``law = (w, m, v)``."""
    w, m, v = law
    u = np.asarray(u, float)[..., None]
    s2 = float(sigma) ** 2
    logp = np.log(np.maximum(w, 1e-300)) - 0.5 * (u - m) ** 2 / (v + s2) - 0.5 * np.log(v + s2)
    r = np.exp(logp - logp.max(axis=-1, keepdims=True))
    r /= r.sum(axis=-1, keepdims=True)
    return np.sum(r * (m + v / (v + s2) * (u - m)), axis=-1)


def mixture_quantiles(law, q):
    """Quantiles of the 1-D mixture ``law = (w, m, v)`` at levels ``q`` (bisection)."""
    w, m, v = law
    q = np.asarray(q, float)
    sd = np.sqrt(v)
    lo = np.full(q.shape, float(np.min(m - 12 * sd)))
    hi = np.full(q.shape, float(np.max(m + 12 * sd)))
    for _ in range(80):
        mid = 0.5 * (lo + hi)
        below = ndtr((mid[..., None] - m) / sd) @ w < q
        lo = np.where(below, mid, lo)
        hi = np.where(below, hi, mid)
    return 0.5 * (lo + hi)


def w2_to_mixture(samples, law):
    r"""1-D :math:`W_2` between the empirical law of ``samples`` and the mixture ``law``:
    :math:`(\frac1n\sum_i (y_{(i)} - F^{-1}((i - 1/2)/n))^2)^{1/2}`."""
    y = np.sort(as_float_array("samples", samples, ndim=1))
    if y.size < 2:
        raise ValueError("samples: need at least 2")
    q = mixture_quantiles(law, (np.arange(y.size) + 0.5) / y.size)
    return float(np.sqrt(np.mean((y - q) ** 2)))


def w2_between_mixtures(law_a, law_b, n_grid=20000):
    """1-D :math:`W_2` between two mixtures by the quantile midpoint rule on ``n_grid``."""
    n_grid = check_int("n_grid", n_grid, low=100)
    q = (np.arange(n_grid) + 0.5) / n_grid
    return float(np.sqrt(np.mean((mixture_quantiles(law_a, q)
                                  - mixture_quantiles(law_b, q)) ** 2)))


def product_of_marginals(weights, means, covs):
    """The mixture with the same two coordinate marginals and independent coordinates:
    ``(weights, means, covs)`` with K^2 diagonal components."""
    w, m, c = _mixture(weights, means, covs)
    K = w.size
    ww = np.outer(w, w).ravel()
    mm = np.array([[m[i, 0], m[j, 1]] for i in range(K) for j in range(K)])
    cc = np.array([np.diag([c[i, 0, 0], c[j, 1, 1]]) for i in range(K) for j in range(K)])
    return ww, mm, cc


@dataclass(frozen=True)
class ProjectionConfig(CachedTrainingConfig):
    """What a trained projection denoiser is a function of (the cache key,
    :meth:`~toytheory.diffusion.learned.CachedTrainingConfig.key`).

    Attributes
    ----------
    weights, means, covs : tuples
        The signal law (K,), (K, 2), (K, 2, 2).
    angles : tuple
        The forward-model family (directions in radians).
    n_train : int
        Observations in the training set (drawn once with ``seed``).
    steps, batch, lr, width, depth : int, int, float, int, int
        Adam steps (cosine-decayed), batch size, learning rate, hidden width and layers.
    sigma_data : float
        EDM preconditioning scale.
    seed : int
    """

    weights: tuple
    means: tuple
    covs: tuple
    angles: tuple
    n_train: int = 4000
    steps: int = 1500
    batch: int = 512
    lr: float = 3e-3
    width: int = 64
    depth: int = 3
    sigma_data: float = 2.0
    seed: int = 0
    format: int = _FORMAT

    def __post_init__(self):
        _mixture(self.weights, self.means, self.covs)
        _angles(self.angles)
        self.check_training(n_train_low=2)
        check_real("sigma_data", self.sigma_data, low=0.0, low_open=True)
        check_int("seed", self.seed, low=0)

    @classmethod
    def make(cls, weights, means, covs, angles, **kw):
        """A configuration from arrays (``kw``: the other fields)."""
        w, m, c = _mixture(weights, means, covs)
        return cls(tuple(map(float, w)), tuple(tuple(map(float, r)) for r in m),
                   tuple(tuple(tuple(map(float, r)) for r in ck) for ck in c),
                   tuple(map(float, _angles(angles))), **kw)

    @property
    def law(self):
        return (np.asarray(self.weights), np.asarray(self.means), np.asarray(self.covs))

    def training_set(self):
        """``(y, phi)``: the ``n_train`` observations, drawn with ``seed``."""
        return draw_projections(*self.law, self.angles, self.n_train,
                                np.random.default_rng([self.seed, 171]))


def _build_net(width, depth):
    from torch import nn

    layers, fan_in = [], 5          # (c_in u, cos phi, sin phi, cos 2phi... , log sigma / 4)
    for _ in range(depth):
        layers += [nn.Linear(fan_in, width), nn.SiLU()]
        fan_in = width
    layers.append(nn.Linear(fan_in, 2))
    return nn.Sequential(*layers)


def _render(net, u, phi, sigma, sd):
    """EDM-preconditioned signal estimate, rendered: a^T x_hat (torch tensors)."""
    import torch

    c_skip = sd ** 2 / (sigma ** 2 + sd ** 2)
    c_out = sigma * sd / torch.sqrt(sigma ** 2 + sd ** 2)
    c_in = 1.0 / torch.sqrt(sigma ** 2 + sd ** 2)
    a = torch.stack([torch.cos(phi), torch.sin(phi)], dim=1)
    feats = torch.stack([c_in * u, torch.cos(phi), torch.sin(phi), torch.cos(2 * phi),
                         torch.log(sigma) / 4], dim=1)
    x_hat = c_skip[:, None] * u[:, None] * a + c_out[:, None] * net(feats)   # a signal in R^2
    return (a * x_hat).sum(dim=1)


class ProjectionDenoiser:
    """A trained projection denoiser; :meth:`denoise` is the rendered estimate
    :math:`a_\\phi^T\\hat x_\\theta(u, \\phi, \\sigma)` (numpy in, float64 out)."""

    def __init__(self, config, net, final_loss, from_cache):
        self.config = config
        self.net = net.eval()
        self.final_loss = float(final_loss)
        self.from_cache = bool(from_cache)

    def denoise(self, u, angle, sigma):
        import torch

        from ..learned import deterministic_cpu

        u = as_float_array("u", u, ndim=1)
        phi = check_real("angle", angle)
        s = check_real("sigma", sigma, low=0.0, low_open=True)
        n = u.size
        with torch.no_grad(), deterministic_cpu():
            out = _render(self.net, torch.as_tensor(u, dtype=torch.float32),
                          torch.full((n,), phi, dtype=torch.float32),
                          torch.full((n,), s, dtype=torch.float32), self.config.sigma_data)
        return out.double().numpy()


def train_projection_denoiser(config, *, cache_dir=None):
    """Train (or load from the cache) the projection denoiser on the paper's objective
    (module doc): ``sigma`` log-normal (EDM: ln sigma ~ N(-1.2 + ln(sigma_data/0.5), 1.2^2)),
    EDM loss weight.

    Parameters
    ----------
    config : ProjectionConfig
    cache_dir : path, None or False
        As :func:`toytheory.diffusion.learned.train_eps_mlp`.
    """
    import torch

    from ..learned import (_cache_path, _fit_adam_cosine, _load_cached, _seeded_init,
                           _store_cached, deterministic_cpu)

    if not isinstance(config, ProjectionConfig):
        raise ValueError(f"config: must be a ProjectionConfig (got {type(config).__name__})")

    def build():
        return _build_net(config.width, config.depth)

    path = _cache_path(cache_dir, "proj_denoiser", config)
    cached = _load_cached(path, build)
    if cached is not None:
        return ProjectionDenoiser(config, *cached, True)
    y, phi = config.training_set()
    Y = torch.as_tensor(y, dtype=torch.float32)
    P = torch.as_tensor(phi, dtype=torch.float32)
    sd = config.sigma_data
    p_mean = -1.2 + float(np.log(sd / 0.5))
    with deterministic_cpu():
        gen = torch.Generator().manual_seed(config.seed)
        net = _seeded_init(config.seed, build)

        def batch_loss():
            idx = torch.randint(0, Y.shape[0], (config.batch,), generator=gen)
            sigma = torch.exp(p_mean + 1.2 * torch.randn(config.batch, generator=gen))
            u = Y[idx] + sigma * torch.randn(config.batch, generator=gen)
            weight = (sigma ** 2 + sd ** 2) / (sigma * sd) ** 2
            return (weight * (_render(net, u, P[idx], sigma, sd) - Y[idx]) ** 2).mean()

        final = _fit_adam_cosine(net, config.steps, config.lr, batch_loss)
    _store_cached(path, net, final)
    return ProjectionDenoiser(config, net, final, False)


def sample_observations(denoise, angle, n, rng, *, steps=32, sigma_max=20.0, sigma_min=0.005):
    r"""``n`` observations at direction ``angle`` by the EDM/Heun probability-flow sampler
    (Karras et al. 2022, Algorithm 1) with ``denoise(u, angle, sigma)``, from
    :math:`N(0, \sigma_{max}^2)` down to ``sigma_min``; the last step returns the denoised
    estimate."""
    from ..schedules import karras_sigmas

    n = check_int("n", n, low=1)
    steps = check_int("steps", steps, low=2)
    sig = karras_sigmas(steps, sigma_min, sigma_max, append_zero=False)
    x = sig[0] * rng.standard_normal(n)
    for s, s_next in zip(sig[:-1], sig[1:]):
        d = (x - denoise(x, angle, s)) / s
        x_e = x + (s_next - s) * d
        d2 = (x_e - denoise(x_e, angle, s_next)) / s_next
        x = x + (s_next - s) * 0.5 * (d + d2)
    return denoise(x, angle, sig[-1])
