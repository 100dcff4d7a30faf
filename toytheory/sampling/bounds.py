r"""Confidence intervals for bounded i.i.d. data and medians, valid at any level.

:func:`empirical_bernstein_interval` (an alias of
:func:`toytheory.stats.bounded_mean_interval` with ``method="bernstein"``) is Maurer and Pontil's empirical
Bernstein bound (Theorem 4 of "Empirical Bernstein Bounds and Sample
Variance Penalization", COLT 2009): for i.i.d. :math:`X_i \in [a, b]`, with
probability at least :math:`1 - \delta`,

.. math:: \mu \le \bar X + \sqrt{2 V_n \log(2/\delta) / n}
          + 7 (b - a) \log(2/\delta) / (3 (n - 1)),

with :math:`V_n` the sample variance; applied to both tails at
:math:`\delta = \text{level}/2` each. Unlike a t-interval, its coverage holds
for every law on :math:`[a, b]`, however skewed.

:func:`median_interval` and :func:`quantile_interval` (distribution-free order-statistic
intervals for a median and a quantile) live in :mod:`toytheory.stats` and are re-exported
here for the callers that import them from this module.
"""

from __future__ import annotations

import numpy as np

from .._validation import as_float_array
from ..stats import bounded_mean_interval
from ..stats import median_interval, quantile_interval  # noqa: F401  (re-exported)

__all__ = ["empirical_bernstein_interval", "median_interval", "quantile_interval"]


def empirical_bernstein_interval(x, low: float, high: float, level: float) -> tuple[float, float]:
    """Two-sided interval for the mean of i.i.d. data known to lie in ``[low, high]``.

    Parameters
    ----------
    x : (n,) array, n >= 2
        The data; every value must lie in ``[low, high]``.
    low, high : float
        The known range (``low < high``).
    level : float in (0, 1)
        The interval's error probability (coverage at least ``1 - level``).

    Returns
    -------
    (float, float)
        The interval, clipped to ``[low, high]``.

    Raises
    ------
    ValueError
        Fewer than two values; ``low >= high``; a value outside the range; bad level.
    """
    x = as_float_array("x", x, ndim=1)
    if x.size < 2:
        raise ValueError(f"x: must contain at least 2 values (got {x.size})")
    if np.any(x < low) or np.any(x > high):
        raise ValueError(f"x: every value must lie in [low, high] = [{low}, {high}] "
                         f"(got range [{x.min()}, {x.max()}])")
    return bounded_mean_interval(x, low, high, level, method="bernstein")

