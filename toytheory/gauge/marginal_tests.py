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

from .._validation import as_float_array, check_level

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
    """``count`` unit directions in :math:`\\mathbb{R}^d`: equally spaced angles in 2-D, the
    coordinate axes then random ones otherwise. Shape (count, d)."""
    from .._random import as_generator

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
    """
    from .. import stats

    level = check_level("level", level)
    dirs = as_float_array("directions", directions, ndim=2)
    results, records = [], []
    for t, x in samples.items():
        x = as_float_array("samples", x, ndim=2)
        a, s = schedule.marginal(float(t))
        marginal = law.marginal(float(a), float(s))
        for u in dirs:
            res = stats.ks_1samp(x @ u, projected_mixture_cdf(marginal, u), level)
            results.append(res)
            records.append({"t": float(t), "direction": u.tolist(), "statistic": res.statistic,
                            "pvalue": res.pvalue})
    return stats.bonferroni(results, level), records
