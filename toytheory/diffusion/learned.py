r"""Small trained denoisers: a torch MLP :math:`\varepsilon`-model with the DDPM objective.

The model :math:`\varepsilon_\theta(x_t, t)` is trained on a finite training set
:math:`\{x_0^{(j)}\}_{j \le n}` drawn from a known diagonal Gaussian mixture by the DDPM
loss (Ho et al. 2020, Algorithm 1)

.. math:: L(\theta) = E_{j, t, \varepsilon}\,\big\|\varepsilon - \varepsilon_\theta\big(
          \sqrt{\bar\alpha_t}\,x_0^{(j)} + \sqrt{1 - \bar\alpha_t}\,\varepsilon,\; t\big)\big\|^2,
          \qquad t \sim U\{0, \dots, T-1\}

on DDPM's linear betas (:class:`toytheory.diffusion.schedules.DiscreteVP`, so the
exact oracle of the same law and schedule is the truth it is measured against). Its
score is :math:`s_\theta = -\varepsilon_\theta/\sigma_t`.

Determinism: training runs in float32 on the CPU with one thread and
``torch.use_deterministic_algorithms(True)`` (both restored afterwards), from a
``torch.Generator`` seeded by ``TrainConfig.seed``; the same configuration gives
bit-identical weights. Trained weights are cached on disk keyed by a hash of the
configuration (and the torch version): ``$TOYTHEORY_CACHE_DIR`` if set, else
``$XDG_CACHE_HOME/toytheory/learned``, else ``~/.cache/toytheory/learned``.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from .._validation import as_float_array, check_int, check_real
from .laws import GaussianMixture
from .schedules import DiscreteVP

__all__ = ["CachedTrainingConfig", "TrainConfig", "LearnedEpsModel", "train_eps_mlp",
           "default_cache_dir", "score_error_by_level", "excess_ddpm_loss", "exact_eps_diagonal", "CACHE_ENV"]

CACHE_ENV = "TOYTHEORY_CACHE_DIR"
_FORMAT = 1  # bump when the architecture or training loop changes (invalidates the cache)


def default_cache_dir() -> Path:
    """``$TOYTHEORY_CACHE_DIR``, else ``$XDG_CACHE_HOME/toytheory/learned``, else
    ``~/.cache/toytheory/learned``."""
    env = os.environ.get(CACHE_ENV)
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "toytheory" / "learned"


def _writable_cache(cache_dir) -> Path:
    path = default_cache_dir() if cache_dir is None else Path(cache_dir)
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path, prefix=".probe-"):
            pass
    except OSError as err:
        raise ValueError(
            f"cache_dir: cannot write trained models to {str(path)!r} ({err.strerror or err}); "
            f"pass cache_dir=<a writable folder> (or cache_dir=False for no cache), or set "
            f"the environment variable {CACHE_ENV}") from None
    return path


class CachedTrainingConfig:
    """What the frozen-dataclass configurations of toytheory's trained models share.

    A subclass is a frozen dataclass whose fields are everything the trained model is a
    function of, among them the training fields ``n_train, steps, batch, lr, width, depth``
    (:meth:`check_training` checks them) and ``seed``. :meth:`key` hashes every field (and
    the torch version): the disk cache's key. The mixin adds no field, so a subclass's key
    is that of its own fields alone (unchanged by the mixin). The training itself shares
    :func:`_cache_path`, :func:`_load_cached`, :func:`_store_cached`, :func:`_seeded_init`
    and :func:`_fit_adam_cosine`.
    """

    def key(self) -> str:
        """A 20-hex-digit hash of the fields (sorted JSON) and the torch version."""
        import torch

        text = json.dumps(asdict(self), sort_keys=True) + "|torch " + torch.__version__
        return hashlib.sha256(text.encode()).hexdigest()[:20]

    def check_training(self, n_train_low: int = 1) -> None:
        """``ValueError`` naming the field unless ``n_train >= n_train_low``, ``steps``,
        ``batch``, ``width``, ``depth >= 1`` and ``lr > 0``."""
        check_int("n_train", self.n_train, low=n_train_low)
        check_int("steps", self.steps, low=1)
        check_int("batch", self.batch, low=1)
        check_real("lr", self.lr, low=0.0, low_open=True)
        check_int("width", self.width, low=1)
        check_int("depth", self.depth, low=1)


@dataclass(frozen=True)
class TrainConfig(CachedTrainingConfig):
    """What a trained model is a function of (the cache key).

    Attributes
    ----------
    weights, means, variances : tuples
        The data law, a diagonal Gaussian mixture: K weights, K x d means and variances.
    n_train : int
        Training-set size (drawn once from the law with ``seed``).
    steps, batch, lr : int, int, float
        Adam steps, batch size and learning rate (cosine-decayed to 0).
    width, depth : int
        Hidden width and number of hidden layers (SiLU).
    num_timesteps : int
        T of DDPM's linear betas (1e-4 to 0.02).
    seed : int
        Training set, initialisation and minibatches.
    """

    weights: tuple
    means: tuple
    variances: tuple
    n_train: int = 20_000
    steps: int = 3000
    batch: int = 512
    lr: float = 3e-3
    width: int = 64
    depth: int = 3
    num_timesteps: int = 1000
    seed: int = 0
    format: int = field(default=_FORMAT)

    def __post_init__(self):
        w = np.asarray(self.weights, float)
        m = np.asarray(self.means, float)
        v = np.asarray(self.variances, float)
        if w.ndim != 1 or m.ndim != 2 or m.shape[0] != w.size or v.shape != m.shape:
            raise ValueError("weights, means, variances: must have shapes (K,), (K, d), (K, d)")
        self.check_training()
        check_int("num_timesteps", self.num_timesteps, low=2)
        check_int("seed", self.seed, low=0)

    @classmethod
    def for_law(cls, law: GaussianMixture, **kw) -> "TrainConfig":
        """A configuration for a diagonal mixture ``law`` (``kw``: the other fields)."""
        if law.eigvecs is not None:
            raise ValueError("law: must have diagonal covariances")
        return cls(tuple(float(v) for v in law.weights),
                   tuple(tuple(float(v) for v in row) for row in law.means),
                   tuple(tuple(float(v) for v in row) for row in law.eigvals), **kw)

    @property
    def law(self) -> GaussianMixture:
        return GaussianMixture.diagonal(np.asarray(self.weights), np.asarray(self.means),
                                        np.asarray(self.variances))

    @property
    def schedule(self) -> DiscreteVP:
        return DiscreteVP.ddpm_linear(self.num_timesteps)

    def training_set(self) -> np.ndarray:
        """The ``n_train`` training points (n_train, d), drawn with ``seed``."""
        return self.law.sample_data(self.n_train, rng=np.random.default_rng([self.seed, 17]))


@contextlib.contextmanager
def deterministic_cpu():
    """One thread and deterministic algorithms inside; the previous settings after."""
    import torch

    threads = torch.get_num_threads()
    det = torch.are_deterministic_algorithms_enabled()
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(det)
        torch.set_num_threads(threads)


def _cache_path(cache_dir, prefix: str, config: CachedTrainingConfig):
    """``<folder>/<prefix>_<config.key()>.pt`` in the writable cache folder (``cache_dir``
    None: :func:`default_cache_dir`), or None for ``cache_dir=False`` (no cache)."""
    if cache_dir is False:
        return None
    return _writable_cache(cache_dir) / f"{prefix}_{config.key()}.pt"


def _load_cached(path, build):
    """``(net, final_loss)`` from the cache file ``path`` into the network ``build()``
    makes, or None when there is no path or file, or the file cannot be loaded (corrupt or
    foreign: the caller retrains and overwrites it)."""
    import torch

    if path is None or not path.exists():
        return None
    try:
        blob = torch.load(path, map_location="cpu", weights_only=True)
        net = build()
        net.load_state_dict(blob["state"])
        return net, float(blob["final_loss"])
    except Exception:  # a corrupt or foreign file: retrain and overwrite it
        return None


def _store_cached(path, net, final_loss: float, **extra) -> None:
    """Write ``net``'s state and ``final_loss`` (and ``extra``) to ``path`` atomically
    (nothing for a None path)."""
    import torch

    if path is None:
        return
    tmp = path.with_suffix(f".tmp{os.getpid()}")
    torch.save({"state": net.state_dict(), "final_loss": final_loss, **extra}, tmp)
    os.replace(tmp, path)


def _seeded_init(seed: int, build):
    """``build()`` under ``torch.manual_seed(seed)``, the global torch generator's state
    restored after (the initialisation is a function of ``seed`` alone)."""
    import torch

    state = torch.random.get_rng_state()
    torch.manual_seed(seed)
    net = build()
    torch.random.set_rng_state(state)
    return net


def _fit_adam_cosine(net, steps: int, lr: float, batch_loss) -> float:
    """``steps`` Adam steps at learning rate ``lr`` cosine-decayed to 0, on the loss tensor
    ``batch_loss()`` returns at each step; returns the loss averaged over the last 10% of
    the steps (at least one)."""
    import torch

    opt = torch.optim.Adam(net.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps)
    tail = max(1, steps // 10)
    tail_sum = 0.0
    for step in range(steps):
        loss = batch_loss()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        if step >= steps - tail:
            tail_sum += float(loss.detach())
    return tail_sum / tail


def _build_net(d: int, width: int, depth: int, n_freq: int = 8):
    import torch
    from torch import nn

    class EpsMLP(nn.Module):
        """MLP on ``[x, sin/cos(2^k pi t/T)]`` (k < n_freq), SiLU, predicting eps."""

        def __init__(self):
            super().__init__()
            layers, fan_in = [], d + 2 * n_freq
            for _ in range(depth):
                layers += [nn.Linear(fan_in, width), nn.SiLU()]
                fan_in = width
            layers.append(nn.Linear(fan_in, d))
            self.net = nn.Sequential(*layers)
            self.register_buffer("freqs", math.pi * 2.0 ** torch.arange(n_freq) / 2.0)

        def forward(self, x, tau):  # tau = t / T in [0, 1)
            ang = tau[:, None] * self.freqs[None, :]
            return self.net(torch.cat([x, torch.sin(ang), torch.cos(ang)], dim=1))

    return EpsMLP()


class LearnedEpsModel:
    """A trained :math:`\\varepsilon_\\theta` on DDPM's discrete timesteps.

    Call :meth:`eps` / :meth:`score` / :meth:`x0` with numpy points (n, d) and an integer
    timestep (or one per point); results are float64 numpy arrays.

    Attributes
    ----------
    config : TrainConfig
    final_loss : float
        The DDPM loss averaged over the last 10% of the steps.
    from_cache : bool
    """

    def __init__(self, config: TrainConfig, net, final_loss: float, from_cache: bool):
        self.config = config
        self.net = net.eval()
        self.final_loss = float(final_loss)
        self.from_cache = bool(from_cache)
        self.schedule = config.schedule
        self._acp = self.schedule.alphas_cumprod

    def __repr__(self):
        return (f"LearnedEpsModel(n_train={self.config.n_train}, steps={self.config.steps}, "
                f"loss={self.final_loss:.4f})")

    def _t(self, t, n):
        t = np.broadcast_to(np.asarray(t), (n,)).astype(np.int64)
        if np.any(t < 0) or np.any(t >= self.config.num_timesteps):
            raise ValueError(f"t: timesteps must lie in [0, {self.config.num_timesteps - 1}]")
        return t

    def eps(self, x, t) -> np.ndarray:
        """:math:`\\varepsilon_\\theta(x, t)`, shape (n, d)."""
        import torch

        x = as_float_array("x", x, ndim=2)
        t = self._t(t, x.shape[0])
        with torch.no_grad(), deterministic_cpu():
            out = self.net(torch.as_tensor(x, dtype=torch.float32),
                           torch.as_tensor(t / self.config.num_timesteps, dtype=torch.float32))
        return out.double().numpy()

    def alpha_sigma(self, t):
        acp = self._acp[np.asarray(t, dtype=np.int64)]
        return np.sqrt(acp), np.sqrt(1.0 - acp)

    def score(self, x, t) -> np.ndarray:
        """:math:`-\\varepsilon_\\theta/\\sigma_t`."""
        _, s = self.alpha_sigma(t)
        return -self.eps(x, t) / np.reshape(s, (-1, 1))

    def x0(self, x, t) -> np.ndarray:
        """:math:`\\hat x_0 = (x - \\sigma_t\\varepsilon_\\theta)/\\alpha_t`."""
        a, s = self.alpha_sigma(t)
        a, s = np.reshape(a, (-1, 1)), np.reshape(s, (-1, 1))
        return (np.asarray(x, float) - s * self.eps(x, t)) / a


def train_eps_mlp(config: TrainConfig, *, cache_dir=None, device: str = "cpu"
                  ) -> LearnedEpsModel:
    """Train (or load from the cache) an MLP :math:`\\varepsilon`-model with the DDPM loss.

    Parameters
    ----------
    config : TrainConfig
    cache_dir : path, None or False
        ``None``: :func:`default_cache_dir`; ``False``: train without caching.
    device : str
        ``"cpu"`` (deterministic) or a torch device for training (the returned model is on
        the CPU either way).

    Raises
    ------
    ValueError
        ``config: ...`` when not a TrainConfig; ``cache_dir: ...`` when the folder cannot be
        written (the message says where and how to change it).
    """
    import torch

    if not isinstance(config, TrainConfig):
        raise ValueError(f"config: must be a TrainConfig (got {type(config).__name__})")
    d = len(config.means[0])

    def build():
        return _build_net(d, config.width, config.depth)

    path = _cache_path(cache_dir, "eps_mlp", config)
    cached = _load_cached(path, build)
    if cached is not None:
        return LearnedEpsModel(config, *cached, True)
    data = torch.as_tensor(config.training_set(), dtype=torch.float32)
    acp = torch.as_tensor(config.schedule.alphas_cumprod, dtype=torch.float32)
    T = config.num_timesteps
    with deterministic_cpu():
        gen = torch.Generator().manual_seed(config.seed)
        net = _seeded_init(config.seed, build).to(device)

        def batch_loss():
            idx = torch.randint(0, data.shape[0], (config.batch,), generator=gen)
            t = torch.randint(0, T, (config.batch,), generator=gen)
            noise = torch.randn(config.batch, d, generator=gen)
            a = acp[t].sqrt()[:, None]
            s = (1 - acp[t]).sqrt()[:, None]
            xt = (a * data[idx] + s * noise).to(device)
            return ((net(xt, (t.float() / T).to(device)) - noise.to(device)) ** 2).mean()

        final = _fit_adam_cosine(net, config.steps, config.lr, batch_loss)
        net = net.cpu()
    _store_cached(path, net, final, config=asdict(config))
    return LearnedEpsModel(config, net, final, False)


def score_error_by_level(model: LearnedEpsModel, timesteps, n: int, rng) -> dict:
    """Relative score error of a trained model against the exact score, per noise level.

    .. math:: e(t) = \\frac{E_{x \\sim p_t}\\|s_\\theta(x, t) - \\nabla\\log p_t(x)\\|^2}
                          {E_{x \\sim p_t}\\|\\nabla\\log p_t(x)\\|^2}
              = \\frac{E\\|\\varepsilon_\\theta - \\varepsilon^*\\|^2}{E\\|\\varepsilon^*\\|^2}

    estimated from ``n`` draws of the exact marginal :math:`p_t` of the model's data law
    (not the training set), with :math:`\\varepsilon^*` the exact conditional-mean noise.

    Returns
    -------
    dict
        ``t``, ``sigma`` (arrays) and ``relative_error`` (array, one per timestep).
    """
    n = check_int("n", n, low=2)
    ts = np.atleast_1d(np.asarray(timesteps, dtype=np.int64))
    law = model.config.law
    out = []
    for t in ts:
        a, s = model.alpha_sigma(t)
        x = law.sample(n, float(a), float(s), rng=rng)
        exact = law.predict(x, float(a), float(s), "eps")
        learned = model.eps(x, int(t))
        out.append(float(np.sum((learned - exact) ** 2) / np.sum(exact ** 2)))
    sig = np.array([model.alpha_sigma(t)[1] for t in ts])
    return {"t": ts, "sigma": sig, "relative_error": np.array(out)}


def exact_eps_diagonal(law: GaussianMixture, x, alpha, sigma) -> np.ndarray:
    r"""Exact :math:`\varepsilon^*(x) = E[\varepsilon \mid x_t = x]` of a diagonal mixture,
    with one :math:`(\alpha, \sigma)` per point (vectorised over noise levels).

    .. math:: \varepsilon^* = \sigma \sum_k r_k(x)\,\frac{x - \alpha\mu_k}
              {\alpha^2 v_k + \sigma^2}, \qquad
              r_k \propto \pi_k\,N(x;\, \alpha\mu_k,\, \alpha^2 v_k + \sigma^2)

    ``x`` (n, d), ``alpha`` and ``sigma`` (n,).
    """
    x = as_float_array("x", x, ndim=2)
    a = np.reshape(np.asarray(alpha, float), (-1, 1, 1))
    s = np.reshape(np.asarray(sigma, float), (-1, 1, 1))
    if a.shape[0] != x.shape[0] or s.shape[0] != x.shape[0]:
        raise ValueError("alpha, sigma: must have one value per point")
    if law.eigvecs is not None:
        raise ValueError("law: must have diagonal covariances")
    var = a * a * law.eigvals[None] + s * s                       # (n, K, d)
    diff = x[:, None, :] - a * law.means[None]                     # (n, K, d)
    logp = (np.log(law.weights)[None] - 0.5 * np.sum(diff * diff / var + np.log(var), -1))
    r = np.exp(logp - logp.max(axis=1, keepdims=True))
    r /= r.sum(axis=1, keepdims=True)
    return s[:, 0] * np.einsum("nk,nkd->nd", r, diff / var)


def excess_ddpm_loss(model: LearnedEpsModel, n: int, rng) -> float:
    r"""Excess of the trained model's DDPM loss over the exact (Bayes) loss, per coordinate.

    .. math:: \frac1d\,E_{t \sim U\{0..T-1\}}\,E_{x \sim p_t}
              \|\varepsilon_\theta(x, t) - \varepsilon^*(x, t)\|^2
              = L(\theta) - L^*,

    since the exact :math:`\varepsilon^* = E[\varepsilon \mid x_t]` makes the cross term
    vanish. Estimated from ``n`` fresh draws of the data law (not the training set) at
    timesteps drawn uniformly.
    """
    n = check_int("n", n, low=1)
    from .._random import as_generator

    gen = as_generator(rng)
    law = model.config.law
    ts = gen.integers(0, model.config.num_timesteps, n)
    a, s = model.alpha_sigma(ts)
    x0 = law.sample_data(n, gen)
    x = a[:, None] * x0 + s[:, None] * gen.standard_normal(x0.shape)
    diff = model.eps(x, ts) - exact_eps_diagonal(law, x, a, s)
    return float(np.sum(diff ** 2) / (n * law.dim))
