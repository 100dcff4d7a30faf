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
"""

from __future__ import annotations

import numpy as np

from .._validation import as_float_array, check_level

__all__ = ["empirical_bernstein_interval"]


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
    from ..stats import bounded_mean_interval

    x = as_float_array("x", x, ndim=1)
    if x.size < 2:
        raise ValueError(f"x: must contain at least 2 values (got {x.size})")
    if np.any(x < low) or np.any(x > high):
        raise ValueError(f"x: every value must lie in [low, high] = [{low}, {high}] "
                         f"(got range [{x.min()}, {x.max()}])")
    return bounded_mean_interval(x, low, high, level, method="bernstein")


def median_interval(x, level: float) -> tuple[float, float]:
    """Distribution-free interval for the median of i.i.d. continuous data (order statistics).

    ``(x_(k), x_(n+1-k))`` with the largest ``k`` such that
    :math:`P(\\mathrm{Bin}(n, 1/2) \\le k - 1) \\le` ``level / 2``: coverage at least
    ``1 - level`` for every continuous law, whatever its tails.

    Raises
    ------
    ValueError
        Bad ``level``; too few values for any interval at that level.
    """
    from scipy import stats as sps

    x = np.sort(as_float_array("x", x, ndim=1))
    level = check_level("level", level)
    n = x.size
    k = int(sps.binom.ppf(level / 2.0, n, 0.5))     # P(B <= k) >= level/2 at this k
    while k >= 1 and sps.binom.cdf(k - 1, n, 0.5) > level / 2.0:
        k -= 1
    if k < 1:
        raise ValueError(f"x: {n} values are too few for a median interval at level {level}")
    return float(x[k - 1]), float(x[n - k])


__all__ += ["median_interval"]


def quantile_interval(x, p: float, level: float) -> tuple[float, float]:
    """Distribution-free interval for the ``p``-quantile of i.i.d. continuous data.

    ``(x_(l), x_(u))`` with the largest ``l`` such that
    :math:`P(\\mathrm{Bin}(n, p) \\ge l) \\ge 1 -` ``level / 2`` (so
    :math:`P(x_{(l)} > Q_p) = P(\\mathrm{Bin}(n, p) \\le l - 1) \\le` ``level / 2``) and the
    smallest ``u`` such that :math:`P(\\mathrm{Bin}(n, p) \\ge u) \\le` ``level / 2``: coverage
    at least ``1 - level`` for every continuous law, whatever its tails (the count of values
    below :math:`Q_p` is exactly binomial). ``p = 1/2`` gives :func:`median_interval`.

    Parameters
    ----------
    x : (n,) array
    p : float in (0, 1)
    level : float in (0, 1)

    Raises
    ------
    ValueError
        Bad ``p`` or ``level``; too few values for an interval at that level.
    """
    from scipy import stats as sps

    from .._validation import check_real

    x = np.sort(as_float_array("x", x, ndim=1))
    p = check_real("p", p, low=0.0, high=1.0, low_open=True, high_open=True)
    level = check_level("level", level)
    n = x.size
    lo = int(sps.binom.ppf(level / 2.0, n, p))
    while lo >= 1 and sps.binom.cdf(lo - 1, n, p) > level / 2.0:
        lo -= 1
    hi = max(int(sps.binom.isf(level / 2.0, n, p)), 0) + 1
    while hi > 1 and sps.binom.sf(hi - 2, n, p) <= level / 2.0:
        hi -= 1
    while hi <= n and sps.binom.sf(hi - 1, n, p) > level / 2.0:
        hi += 1
    if lo < 1 or hi > n:
        raise ValueError(f"x: {n} values are too few for a {p:g}-quantile interval at level "
                         f"{level}")
    return float(x[lo - 1]), float(x[hi - 1])


__all__ += ["quantile_interval"]
