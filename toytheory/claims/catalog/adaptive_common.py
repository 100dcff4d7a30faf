"""Helpers shared by the adaptive-data-analysis claims (fits and intervals); registers no claim."""

from __future__ import annotations

import math

import numpy as np
from scipy.special import ndtri

from toytheory import stats


def z_two_sided(level: float) -> float:
    """The two-sided normal quantile: P(|Z| > z) = level."""
    return float(-ndtri(level / 2.0))


def power_law_fit(x, samples_by_x):
    """Weighted least-squares fit of log(mean) = a + b log(x), delta-method weights.

    Parameters
    ----------
    x : (p,) array
    samples_by_x : list of (R_i,) arrays
        The per-seed values at each x.

    Returns
    -------
    dict with ``slope``, ``slope_se``, ``intercept``, ``means``, ``ses``, ``chi2``, ``df``
        (``chi2`` of the residuals against the fitted line, ``df = p - 2``).
    """
    lx = np.log(np.asarray(x, dtype=float))
    means = np.array([np.mean(s) for s in samples_by_x])
    ses = np.array([np.std(s, ddof=1) / math.sqrt(len(s)) for s in samples_by_x])
    ly = np.log(means)
    var = (ses / means) ** 2
    w = 1.0 / var
    design = np.column_stack([np.ones_like(lx), lx])
    info = design.T @ (design * w[:, None])
    cov = np.linalg.inv(info)
    coef = cov @ (design.T @ (w * ly))
    resid = ly - design @ coef
    return {"slope": float(coef[1]), "slope_se": float(math.sqrt(cov[1, 1])),
            "intercept": float(coef[0]), "means": means, "ses": ses,
            "chi2": float(np.sum(w * resid ** 2)), "df": int(lx.size - 2)}


def violation_interval(values, bound, level):
    """Count of ``values > bound`` and its Clopper-Pearson interval at ``level``."""
    values = np.asarray(values, dtype=float)
    k = int(np.count_nonzero(values > bound))
    lo, hi = stats.exact_binomial_interval(k, values.size, level)
    return k, lo, hi
