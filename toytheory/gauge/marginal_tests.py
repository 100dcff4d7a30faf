r"""Distribution tests of simulated samples against an exact diffused Gaussian mixture.

The projection :math:`u^T X` of :math:`X \sim \sum_k\pi_k N(\mu_k, \Sigma_k)` is the
1-D mixture :math:`\sum_k\pi_k N(u^T\mu_k, u^T\Sigma_k u)`, whose CDF is exact. A
family of one-sample Kolmogorov–Smirnov tests (several directions, several
times), Bonferroni-corrected, compares simulated points with the exact
marginal :math:`p_t` without any binning.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np

from .._validation import as_float_array, check_int, check_level, check_real

__all__ = ["projected_mixture_cdf", "projection_ks_family", "unit_directions"]


def projected_mixture_cdf(law, direction):
    """The exact CDF of :math:`u^T X` for :math:`X \\sim` ``law`` (a GaussianMixture).

    Parameters
    ----------
    law : toytheory.diffusion.laws.GaussianMixture
    direction : (d,) array, non-zero

    Returns
    -------
    callable
        ``cdf(z)`` for a 1-D array ``z``.
    """
    from scipy.special import ndtr

    u = as_float_array("direction", direction, ndim=1)
    if u.shape != (law.dim,):
        raise ValueError(f"direction: must have shape ({law.dim},) (got {u.shape})")
    if not np.any(u):
        raise ValueError("direction: must be non-zero")
    mu = law.means @ u
    sd = np.sqrt(np.einsum("i,kij,j->k", u, law.covs, u))
    if np.any(sd <= 0):
        raise ValueError("direction: the projected law has a zero-variance component")
    w = law.weights

    def cdf(z):
        z = np.asarray(z, float)
        return np.sum(w[None, :] * ndtr((z[:, None] - mu[None, :]) / sd[None, :]), axis=1)

    return cdf


def unit_directions(d: int, count: int, rng=None) -> np.ndarray:
    """``count`` unit directions in :math:`\\mathbb{R}^d`.

    Equally spaced angles in :math:`[0, \\pi)` in 2-D; otherwise the coordinate
    axes, then random directions.

    Parameters
    ----------
    d : int
        The dimension, at least 1.
    count : int
        The number of directions, at least 1.
    rng : numpy.random.Generator, int or None
        For the random directions (d != 2, count > d).

    Returns
    -------
    (count, d) array
        Unit rows.

    Raises
    ------
    ValueError
        ``d: ...`` or ``count: ...`` unless each is an integer >= 1.
    """
    from .._random import as_generator

    d = check_int("d", d, low=1)
    count = check_int("count", count, low=1)
    if d == 2:
        th = np.linspace(0.0, np.pi, count, endpoint=False)
        return np.stack([np.cos(th), np.sin(th)], axis=1)
    g = as_generator(rng)
    out = list(np.eye(d)[:min(count, d)])
    while len(out) < count:
        v = g.standard_normal(d)
        out.append(v / np.linalg.norm(v))
    return np.asarray(out)


def projection_ks_family(samples: Mapping[float, np.ndarray], law, schedule,
                         directions: Sequence, level: float):
    """KS tests of ``samples[t]`` against the exact :math:`p_t` of ``law`` along ``directions``.

    Parameters
    ----------
    samples : mapping t -> (n, d) array
    law : GaussianMixture
        The data law; :math:`p_t` is ``law.marginal(alpha_t, sigma_t)``.
    schedule : NoiseSchedule
    directions : (m, d) array
    level : float
        The family-wise level (Bonferroni over times x directions).

    Returns
    -------
    (toytheory.stats.FamilyResult, list of dict)
        The family and one record per test (t, direction, statistic, p-value).

    Raises
    ------
    ValueError
        Naming the argument: ``samples`` not a non-empty mapping of times in
        the schedule's range to finite (n, d) arrays with n >= 1 and d the
        law's dimension; ``law`` without ``dim`` and ``marginal``; ``schedule``
        not a NoiseSchedule; ``directions`` not a finite (m, d) array of
        non-zero rows with m >= 1 and the law's d; ``level`` outside (0, 1).
    """
    from .. import stats
    from ..diffusion.schedules import NoiseSchedule

    level = check_level("level", level)
    if not (hasattr(law, "dim") and hasattr(law, "marginal")):
        raise ValueError(f"law: must be a GaussianMixture (got {type(law).__name__})")
    if not isinstance(schedule, NoiseSchedule):
        raise ValueError(f"schedule: must be a NoiseSchedule (got {type(schedule).__name__})")
    d = law.dim
    dirs = as_float_array("directions", directions, ndim=2)
    if dirs.shape[0] < 1 or dirs.shape[1] != d:
        raise ValueError(f"directions: must have shape (m, {d}) with m >= 1, one row per "
                         f"direction in the law's dimension d = {d} (got shape {dirs.shape})")
    if np.any(~np.any(dirs != 0, axis=1)):
        raise ValueError("directions: every row must be non-zero")
    if not isinstance(samples, Mapping):
        raise ValueError(f"samples: must be a mapping t -> (n, {d}) array "
                         f"(got {type(samples).__name__})")
    if len(samples) == 0:
        raise ValueError("samples: must contain at least one time (got an empty mapping)")
    checked = {}
    for t, x in samples.items():
        t = check_real("samples", t)
        schedule.check_t(t, "samples")
        x = as_float_array("samples", x, ndim=2)
        if x.shape[0] < 1 or x.shape[1] != d:
            raise ValueError(f"samples: the array at t = {t:g} must have shape (n, {d}) with "
                             f"n >= 1, matching the law's dimension d = {d} and the "
                             f"directions (got shape {x.shape})")
        checked[t] = x
    results, records = [], []
    for t, x in checked.items():
        a, s = schedule.marginal(t)
        marginal = law.marginal(float(a), float(s))
        for u in dirs:
            res = stats.ks_1samp(x @ u, projected_mixture_cdf(marginal, u), level)
            results.append(res)
            records.append({"t": float(t), "direction": u.tolist(), "statistic": res.statistic,
                            "pvalue": res.pvalue})
    return stats.bonferroni(results, level), records
