r"""Mode interpolation: mass between modes and the trajectory-variance detector.

"Understanding Hallucinations in Diffusion Models through Mode Interpolation"
(Aithal et al. 2024): a DDPM trained on a mixture of well-separated narrow
Gaussians (1-D means 1, 2, 3, std 0.05; 2-D 5 x 5 grid) samples between the modes,
where the data law has (numerically) no mass, because a smooth network cannot follow
the exact score's jump between modes. The paper's detector: the variance of the
predicted :math:`\hat x_0` over the last reverse steps is large for such samples.

Here:

- :func:`ddpm_sample` runs DDPM's ancestral sampler (Ho et al. 2020, Algorithm 2,
  :math:`\sigma_t^2 = \beta_t`) with any :math:`\varepsilon`-predictor (the exact one of
  :mod:`toytheory.diffusion.laws` or a trained :class:`~.learned.LearnedEpsModel`),
  recording :math:`\hat x_0` over the last ``last`` steps;
- :func:`between_modes` marks points farther than ``width`` from every mode;
- :func:`exact_between_mass` is the exact law's mass there;
- :func:`trajectory_variance` is the detector's statistic, and
  :func:`filter_rates` its removal and retention rates at a threshold.
"""

from __future__ import annotations

import numpy as np
from scipy.stats import norm

from .._random import as_generator
from .._validation import as_float_array, check_int, check_real
from .laws import GaussianMixture
from .schedules import DiscreteVP

__all__ = ["QUICK_TRAIN", "FULL_TRAIN", "QUICK_TRAIN_2D", "FULL_TRAIN_2D", "LOSS_TARGET_2D",
           "trained_1d_model", "trained_2d_model", "paper_1d_law", "paper_2d_law", "ddpm_sample", "exact_eps_fn", "between_modes",
           "exact_between_mass", "trajectory_variance", "filter_rates", "youden_threshold",
           "retrieval_guided_eps"]


QUICK_TRAIN = {"n_train": 20_000, "steps": 4000, "batch": 256, "width": 32, "depth": 3,
               "lr": 1e-2, "seed": 0}
"""The quick tier's training configuration of the 1-D hallucination MLP (about 10 s on an
idle core; cached on disk after the first run)."""
FULL_TRAIN = {"n_train": 50_000, "steps": 12_000, "batch": 512, "width": 64, "depth": 3,
              "lr": 1e-2, "seed": 0}


QUICK_TRAIN_2D = {"n_train": 20_000, "steps": 3000, "batch": 1024, "width": 128, "depth": 3,
                  "lr": 3e-3, "seed": 0}
"""The quick tier's training configuration of the 2-D grid MLP (about 30 s on an idle core,
once: cached on disk). It reaches :data:`LOSS_TARGET_2D` (excess 0.010 at seed 0); under
training seeds 0..9, seed 1 does not (excess 0.040, training loss 0.344, and its DDPM puts
35% of its samples between modes), the other nine do (excess 0.007 to 0.012).

Why seed 1 misses (traced every 500 steps): the training has a plateau, an excess near 0.05
to 0.1 while the network has not yet resolved the jumps of the exact score between the 25
narrow modes at small noise, and training seeds leave it at different steps. Seed 1 is
still descending when the cosine schedule ends (excess 0.115, 0.087, 0.065, 0.052, 0.046,
0.044 at steps 500..3000). No equally cheap configuration fixes every seed: lr 1e-3 is
worse (0.107 at 2500 steps); lr 1e-2 brings seed 1 to 0.028 but leaves seed 2 at 0.042 (34%
between modes) and changes seed 0's model (excess 0.004, 0.2% between modes); lr 1e-2 with
4000 steps brings seed 1 to 0.005 (a third more training). The claims keep training seed
0 and check the loss target as a witness, so a missed target shows as ``fails``, never as
a verdict on the paper."""
FULL_TRAIN_2D = {"n_train": 50_000, "steps": 12_000, "batch": 1024, "width": 128, "depth": 3,
                 "lr": 3e-3, "seed": 0}
LOSS_TARGET_2D = 0.03
"""Loss target of the 2-D grid MLP: its excess DDPM loss over the exact (Bayes) loss,
:func:`toytheory.diffusion.learned.excess_ddpm_loss`, at most this (per coordinate)."""


def trained_2d_model(train=None, cache_dir=None):
    """The trained eps-MLP of the paper's 2-D 5 x 5 grid (``train``: TrainConfig fields,
    default :data:`QUICK_TRAIN_2D`)."""
    from .learned import TrainConfig, train_eps_mlp

    return train_eps_mlp(TrainConfig.for_law(paper_2d_law(), **(train or QUICK_TRAIN_2D)),
                         cache_dir=cache_dir)


def trained_1d_model(train=None, cache_dir=None):
    """The trained eps-MLP of the paper's 1-D set-up (``train``: TrainConfig fields,
    default :data:`QUICK_TRAIN`)."""
    from .learned import TrainConfig, train_eps_mlp

    return train_eps_mlp(TrainConfig.for_law(paper_1d_law(), **(train or QUICK_TRAIN)),
                         cache_dir=cache_dir)


def paper_1d_law(std: float = 0.05) -> GaussianMixture:
    """:math:`\\tfrac13\\sum_{m \\in \\{1, 2, 3\\}} N(m, \\text{std}^2)` (the paper's 1-D set-up)."""
    sd = check_real("std", std, low=0.0, low_open=True)
    return GaussianMixture.diagonal(np.full(3, 1 / 3), [[1.0], [2.0], [3.0]],
                                    np.full((3, 1), sd * sd))


def paper_2d_law(spacing: float = 2.0, std: float = 0.05, k: int = 5) -> GaussianMixture:
    r"""Equal-weight mixture of :math:`N(\mu, \text{std}^2 I_2)` over the ``k`` x ``k`` grid
    of means with the given ``spacing``, centred at 0 (the paper's 2-D set-up: 5 x 5,
    spacing 2, std 0.05)."""
    sd = check_real("std", std, low=0.0, low_open=True)
    h = check_real("spacing", spacing, low=0.0, low_open=True)
    k = check_int("k", k, low=1)
    g = (np.arange(k) - (k - 1) / 2) * h
    means = np.array([[a, b] for a in g for b in g])
    return GaussianMixture.diagonal(np.full(k * k, 1 / (k * k)), means,
                                    np.full((k * k, 2), sd * sd))


def exact_eps_fn(law: GaussianMixture, schedule: DiscreteVP):
    """``eps(x, t)`` of the exact law on a discrete schedule (timestep ``t`` an int)."""
    acp = schedule.alphas_cumprod

    def eps(x, t):
        return law.predict(x, float(np.sqrt(acp[t])), float(np.sqrt(1 - acp[t])), "eps")

    return eps


def ddpm_sample(eps_fn, schedule: DiscreteVP, n: int, d: int, rng, *, last: int = 10):
    """DDPM ancestral sampling; returns the samples and :math:`\\hat x_0` of the last steps.

    .. math:: x_{t-1} = \\frac{1}{\\sqrt{1-\\beta_t}}\\Big(x_t - \\frac{\\beta_t}
              {\\sqrt{1-\\bar\\alpha_t}}\\varepsilon(x_t, t)\\Big) + \\sqrt{\\beta_t}\\,z
              \\quad(z = 0 \\text{ at } t = 0),
              \\qquad \\hat x_0 = \\frac{x_t - \\sqrt{1-\\bar\\alpha_t}\\,
              \\varepsilon(x_t, t)}{\\sqrt{\\bar\\alpha_t}}

    Parameters
    ----------
    eps_fn : callable
        ``eps_fn(x (n, d), t int) -> (n, d)``.
    schedule : DiscreteVP
    n, d : int
    rng : Generator or int
    last : int
        Number of final reverse steps whose :math:`\\hat x_0` is kept.

    Returns
    -------
    samples : (n, d) array
    x0_path : (last, n, d) array
        :math:`\\hat x_0` at timesteps ``last - 1, ..., 0``.
    """
    if not isinstance(schedule, DiscreteVP):
        raise ValueError("schedule: must be a DiscreteVP")
    n = check_int("n", n, low=1)
    d = check_int("d", d, low=1)
    T = schedule.betas.size
    last = check_int("last", last, low=1, high=T)
    gen = as_generator(rng)
    betas, acp = schedule.betas, schedule.alphas_cumprod
    x = gen.standard_normal((n, d))
    path = np.empty((last, n, d))
    for t in range(T - 1, -1, -1):
        e = np.asarray(eps_fn(x, t), float)
        if t < last:
            path[last - 1 - t] = (x - np.sqrt(1 - acp[t]) * e) / np.sqrt(acp[t])
        x = (x - betas[t] / np.sqrt(1 - acp[t]) * e) / np.sqrt(1 - betas[t])
        if t > 0:
            x = x + np.sqrt(betas[t]) * gen.standard_normal((n, d))
    return x, path


def between_modes(x, modes, width: float) -> np.ndarray:
    """Boolean (n,): the point is farther than ``width`` (Euclidean) from every mode."""
    x = as_float_array("x", x, ndim=2)
    m = as_float_array("modes", modes, ndim=2)
    w = check_real("width", width, low=0.0, low_open=True)
    dist = np.sqrt(((x[:, None, :] - m[None, :, :]) ** 2).sum(-1)).min(axis=1)
    return dist > w


def exact_between_mass(law: GaussianMixture, width: float) -> float:
    r"""Exact mass, under a mixture, of the points farther than ``width`` from every mean.

    .. math:: 1 - \sum_k \pi_k \sum_j P\big(\|N(\mu_k, \sigma_k^2 I) - \mu_j\|
              \le w\big), \qquad
              P(\cdot) = F_{\chi'^2_d(\|\mu_j - \mu_k\|^2/\sigma_k^2)}(w^2/\sigma_k^2)

    (non-central chi-square; a 1-D mixture may have any variances, a d-dimensional one
    needs isotropic components). ``width`` must be less than half the smallest distance
    between means (so the balls around the means are disjoint).
    """
    from scipy.stats import chi2, ncx2

    w = check_real("width", width, low=0.0, low_open=True)
    mu = law.means
    gaps = np.sqrt(((mu[:, None, :] - mu[None, :, :]) ** 2).sum(-1))
    if mu.shape[0] > 1 and np.min(gaps[np.triu_indices(mu.shape[0], 1)]) <= 2 * w:
        raise ValueError("width: the windows around the modes must not overlap")
    var = np.array([np.diag(c) for c in law.covs])          # (K, d)
    if law.dim > 1 and (law.eigvecs is not None or np.ptp(var, axis=1).max() > 0):
        raise ValueError("law: a multi-dimensional mixture must have isotropic components")
    inside = 0.0
    for k in range(mu.shape[0]):
        s2 = var[k, 0]
        for j in range(mu.shape[0]):
            nc = gaps[j, k] ** 2 / s2
            inside += law.weights[k] * float(
                chi2.cdf(w * w / s2, law.dim) if nc == 0 else ncx2.cdf(w * w / s2, law.dim, nc))
    return float(max(0.0, 1.0 - inside))


def trajectory_variance(x0_path) -> np.ndarray:
    """The detector's statistic: variance of :math:`\\hat x_0` over the recorded steps,
    summed over coordinates, shape (n,)."""
    p = as_float_array("x0_path", x0_path, ndim=3)
    return p.var(axis=0).sum(axis=-1)


def filter_rates(score, hallucinated, threshold: float) -> dict:
    """Counts of the filter "remove when ``score > threshold``".

    Returns
    -------
    dict
        ``removed_halluc``, ``n_halluc``, ``kept_support``, ``n_support`` (ints).
    """
    s = as_float_array("score", score, ndim=1)
    h = np.asarray(hallucinated, bool)
    if h.shape != s.shape:
        raise ValueError("hallucinated: must have one flag per score")
    thr = check_real("threshold", threshold)
    return {"removed_halluc": int(np.sum(h & (s > thr))), "n_halluc": int(h.sum()),
            "kept_support": int(np.sum(~h & (s <= thr))), "n_support": int((~h).sum())}


def youden_threshold(score, hallucinated) -> float:
    """The cut that maximises removed-hallucination rate + kept-support rate (Youden's J)
    on a calibration batch: the natural reading of a threshold picked from the two
    histograms."""
    s = as_float_array("score", score, ndim=1)
    h = np.asarray(hallucinated, bool)
    if h.shape != s.shape or h.all() or not h.any():
        raise ValueError("hallucinated: needs both hallucinated and in-support points")
    cuts = np.unique(s)
    order = np.argsort(s)
    ss, hh = s[order], h[order]
    # at cut c = ss[i]: kept = support with s <= c, removed = halluc with s > c
    kept = np.cumsum(~hh) / (~hh).sum()
    removed = 1.0 - np.cumsum(hh) / hh.sum()
    j = kept + removed
    i = int(np.argmax(j))
    nxt = ss[i + 1] if i + 1 < ss.size else ss[i] * 2 + 1
    del cuts
    return float(0.5 * (ss[i] + nxt))


def retrieval_guided_eps(eps_fn, schedule: DiscreteVP, database, gamma: float,
                         t_start: int):
    """RAGDiffusion-style retrieval anchoring (the toy's reading of its "hard guidance").

    At timesteps ``t < t_start`` the prediction :math:`\\hat x_0` is pulled towards the
    nearest database entry ("retrieved anchor") :math:`y^*(\\hat x_0)`:
    :math:`\\tilde x_0 = (1-\\gamma)\\hat x_0 + \\gamma y^*`, and the returned
    :math:`\\tilde\\varepsilon = (x - \\alpha_t\\tilde x_0)/\\sigma_t` is what the sampler
    uses. ``gamma = 0`` (or ``t_start = 0``) gives ``eps_fn`` back unchanged.
    """
    db = as_float_array("database", database, ndim=2)
    g = check_real("gamma", gamma, low=0.0, high=1.0)
    t_start = check_int("t_start", t_start, low=0)
    acp = schedule.alphas_cumprod
    if db.shape[1] == 1:
        sorted_db = np.sort(db[:, 0])

        def nearest(x0):
            i = np.clip(np.searchsorted(sorted_db, x0[:, 0]), 1, sorted_db.size - 1)
            lo, hi = sorted_db[i - 1], sorted_db[i]
            return np.where(np.abs(x0[:, 0] - lo) <= np.abs(hi - x0[:, 0]), lo, hi)[:, None]
    else:
        def nearest(x0):
            d2 = ((x0[:, None, :] - db[None, :, :]) ** 2).sum(-1)
            return db[np.argmin(d2, axis=1)]

    def eps(x, t):
        e = np.asarray(eps_fn(x, t), float)
        if t >= t_start or g == 0.0:
            return e
        a, s = np.sqrt(acp[t]), np.sqrt(1 - acp[t])
        x0 = (x - s * e) / a
        x0g = (1 - g) * x0 + g * nearest(x0)
        return (x - a * x0g) / s

    return eps
