r"""Region-adaptive caching ("Region-Adaptive Sampling for Diffusion Transformers", RAS).

Toy: Gaussian data in :math:`d` coordinates, a few *structured* coordinates with large
variance and the rest a near-constant background (mean :math:`b`, variance
:math:`10^{-4}`), sampled by DDIM (deterministic, VP linear schedule) with the exact
:math:`\varepsilon`-predictor. In the toy each coordinate's prediction depends on that
coordinate only (diagonal covariance), so evaluating the model on a subset of coordinates
(RAS's "regions in focus") is exact for that subset.

RAS (:func:`ras_sample`): the first ``warmup`` steps evaluate every coordinate; after
that a step re-evaluates only the fraction ``fraction`` of coordinates in *focus*, the
largest predicted change of their cached prediction,

.. math:: \text{score}_i = \text{age}_i\cdot
          \frac{|\hat\varepsilon_i^{(\text{last})} - \hat\varepsilon_i^{(\text{previous})}|}
               {\text{gap}_i},

(the change per step between the coordinate's last two evaluations, times the steps since
the last one), and the other coordinates reuse their cached :math:`\hat\varepsilon`. The
cost is the number of coordinate evaluations over :math:`d` (full steps cost 1).
:func:`caching_sweep` compares RAS's output with the full sampler's from the same
:math:`x_T` and with uniform DDIM of equal cost.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._random import as_generator
from .._validation import check_int, check_real
from .schedules import VPLinear

__all__ = ["RegionToy", "toy_problem", "ddim_sample", "ras_sample", "caching_sweep",
           "jaccard", "focus_continuity"]


@dataclass(frozen=True)
class RegionToy:
    """Diagonal Gaussian data: ``mean`` (d,), ``var`` (d,), and the structured mask."""

    mean: np.ndarray
    var: np.ndarray
    structured: np.ndarray

    @property
    def d(self) -> int:
        return self.mean.size


def toy_problem(d: int = 128, structured: int = 16, background: float = 0.5,
                background_var: float = 1e-4, seed: int = 0) -> RegionToy:
    """``structured`` coordinates with variances 0.01..4 (log-spaced) and means in [-1, 1],
    the rest background ``N(background, background_var)``; positions drawn with ``seed``."""
    d = check_int("d", d, low=2)
    k = check_int("structured", structured, low=1, high=d - 1)
    check_real("background_var", background_var, low=0.0, low_open=True)
    rng = np.random.default_rng(seed)
    idx = rng.choice(d, size=k, replace=False)
    mean = np.full(d, float(background))
    var = np.full(d, float(background_var))
    mean[idx] = rng.uniform(-1, 1, k)
    var[idx] = np.geomspace(0.01, 4.0, k)
    mask = np.zeros(d, bool)
    mask[idx] = True
    return RegionToy(mean, var, mask)


def _grid(n_steps: int, schedule=None):
    sched = VPLinear() if schedule is None else schedule
    t = np.linspace(sched.t_max, 1e-3, n_steps + 1)
    return sched.alpha(t), sched.sigma(t)


def _eps(prob: RegionToy, x, a, s, cols=None):
    if cols is None:
        return s * (x - a * prob.mean) / (a * a * prob.var + s * s)
    return s * (x[:, cols] - a * prob.mean[cols]) / (a * a * prob.var[cols] + s * s)


def ddim_sample(prob: RegionToy, x_T, n_steps: int) -> np.ndarray:
    """Uniform DDIM with ``n_steps`` steps (the full-cost reference), exact eps."""
    n_steps = check_int("n_steps", n_steps, low=1)
    alpha, sigma = _grid(n_steps)
    x = np.array(x_T, float)
    for i in range(n_steps):
        e = _eps(prob, x, alpha[i], sigma[i])
        x0 = (x - sigma[i] * e) / alpha[i]
        x = alpha[i + 1] * x0 + sigma[i + 1] * e
    return (x - 0.0) / 1.0


def jaccard(a: np.ndarray, b: np.ndarray) -> float:
    r"""The Jaccard index :math:`|A \cap B| / |A \cup B|` of two boolean masks (1 when both are empty)."""
    union = np.sum(a | b)
    return float(np.sum(a & b) / union) if union else 1.0


def ras_sample(prob: RegionToy, x_T, n_steps: int, fraction: float, *, warmup: int = 2):
    """RAS with exact eps; returns ``(x, cost, overlaps)``.

    ``fraction`` in (0, 1]: share of coordinates re-evaluated per step after ``warmup``
    full steps (rounded up, at least one). The focus set is chosen once per step for the
    whole batch (by the batch-mean score), as a DiT drops the same tokens... per image; here
    per sample would be the same for a diagonal law up to the noise draw. ``cost``: total
    evaluations / d. ``overlaps``: Jaccard overlap of consecutive focus sets.
    """
    n_steps = check_int("n_steps", n_steps, low=1)
    f = check_real("fraction", fraction, low=0.0, high=1.0, low_open=True)
    warmup = check_int("warmup", warmup, low=2)
    alpha, sigma = _grid(n_steps)
    x = np.array(x_T, float)
    d = prob.d
    k = max(1, int(np.ceil(f * d)))
    cache = last = prev = None
    age = np.zeros(d)
    gap = np.ones(d)
    cost, overlaps, focus_prev = 0.0, [], None
    for i in range(n_steps):
        a, s = alpha[i], sigma[i]
        if i < warmup or k >= d:
            e = _eps(prob, x, a, s)
            prev, last = last, e
            gap[:] = 1.0
            age[:] = 1.0
            cost += 1.0
        else:
            rate = np.abs(last - prev).mean(axis=0) / gap
            score = age * rate
            cols = np.sort(np.argsort(-score, kind="stable")[:k])
            focus = np.zeros(d, bool)
            focus[cols] = True
            if focus_prev is not None:
                overlaps.append(jaccard(focus, focus_prev))
            focus_prev = focus
            e = last.copy()
            e[:, cols] = _eps(prob, x, a, s, cols)
            prev = prev.copy()
            prev[:, cols] = last[:, cols]
            gap[cols] = age[cols]
            last = e
            age += 1.0
            age[cols] = 1.0
            cost += k / d
        cache = e
        x0 = (x - s * cache) / a
        x = alpha[i + 1] * x0 + sigma[i + 1] * cache
    return x, cost, overlaps


def caching_sweep(prob: RegionToy, fractions, *, n: int = 512, n_steps: int = 50,
                  rng=None) -> dict:
    """Mean squared output error against the full ``n_steps`` DDIM from the same
    :math:`x_T`, for RAS at each fraction and for uniform DDIM of equal (rounded) cost.

    Returns
    -------
    dict
        ``ras``, ``uniform`` (relative mean squared errors), ``cost``, ``uniform_steps``,
        ``overlap`` (mean consecutive Jaccard), ``ras_per_sample``, ``uniform_per_sample``
        (lists of (n,) arrays).
    """
    fr = [check_real("fraction", v, low=0.0, high=1.0, low_open=True) for v in fractions]
    n = check_int("n", n, low=1)
    x_T = as_generator(rng).standard_normal((n, prob.d))
    ref = ddim_sample(prob, x_T, n_steps)
    scale = np.mean(np.sum((ref - ref.mean(0)) ** 2, axis=1))
    out = {k: [] for k in ("ras", "uniform", "cost", "uniform_steps", "overlap",
                           "ras_per_sample", "uniform_per_sample")}
    for f in fr:
        x, cost, ov = ras_sample(prob, x_T, n_steps, f)
        steps = max(1, int(round(cost)))
        y = ddim_sample(prob, x_T, steps)
        er = np.sum((x - ref) ** 2, axis=1)
        eu = np.sum((y - ref) ** 2, axis=1)
        out["ras"].append(float(er.mean() / scale))
        out["uniform"].append(float(eu.mean() / scale))
        out["cost"].append(cost)
        out["uniform_steps"].append(steps)
        out["overlap"].append(float(np.mean(ov)) if ov else 1.0)
        out["ras_per_sample"].append(er)
        out["uniform_per_sample"].append(eu)
    return out


def focus_continuity(prob: RegionToy, x_T, n_steps: int, fraction: float) -> np.ndarray:
    """Per sample, the mean Jaccard overlap of consecutive *true* focus sets.

    With every coordinate evaluated at every step (full DDIM from ``x_T``), the focus at
    step i is the ``ceil(fraction d)`` coordinates with the largest change
    :math:`|\\hat\\varepsilon_i(t_{i+1}) - \\hat\\varepsilon_i(t_i)|` of the exact
    prediction along the sample's own trajectory: the paper's "focus of the model", free
    of any caching rule. Returns shape (n,), values in [0, 1].
    """
    n_steps = check_int("n_steps", n_steps, low=3)
    f = check_real("fraction", fraction, low=0.0, high=1.0, low_open=True)
    alpha, sigma = _grid(n_steps)
    x = np.array(x_T, float)
    k = max(1, int(np.ceil(f * prob.d)))
    eps_prev, focus_prev, total = None, None, np.zeros(x.shape[0])
    count = 0
    for i in range(n_steps):
        e = _eps(prob, x, alpha[i], sigma[i])
        if eps_prev is not None:
            change = np.abs(e - eps_prev)
            top = np.argsort(-change, axis=1, kind="stable")[:, :k]
            focus = np.zeros_like(x, dtype=bool)
            np.put_along_axis(focus, top, True, axis=1)
            if focus_prev is not None:
                inter = np.sum(focus & focus_prev, axis=1)
                total += inter / (2 * k - inter)
                count += 1
            focus_prev = focus
        eps_prev = e
        x0 = (x - sigma[i] * e) / alpha[i]
        x = alpha[i + 1] * x0 + sigma[i + 1] * e
    return total / count
