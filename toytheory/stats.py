"""Calibrated statistical tests for simulated witnesses.

Every test returns a :class:`TestResult`: the statistic, the p-value, the
level it was held to, and a verdict (``"reject"`` or ``"accept"``, the latter
meaning "no evidence against the null at this level"). Tests on discrete data
take *counts*; proportions are refused with a :class:`ValueError`, because a
chi-square statistic computed on proportions is divided by the sample size
and almost never rejects (DPPy's sampler tests made this mistake).

Conventions used across toytheory:

- anything in CI runs at level ``1e-6`` or smaller, Bonferroni or Holm across
  a family (:func:`bonferroni`, :func:`holm`);
- every random input is seeded, so a rejection is reproducible.

Which test for which data
-------------------------
A test at level 1e-6 is only as good as its null law *that far out in the tail*.
What each test here needs of the data:

======================================  ==========================================  ============
data                                    test                                        valid for
======================================  ==========================================  ============
one count of successes in n trials      :func:`binomial_test`,                      any n
                                        :func:`exact_binomial_interval`             (exact)
same, a rough interval for display      :func:`wilson_interval`                     approximate:
                                                                                    not for
                                                                                    verdicts
counts over k categories                :func:`chisquare_gof`,                      asymptotic:
                                        :func:`chisquare_two_sample`                expected
                                                                                    counts >= 5
                                                                                    (pooled)
a continuous 1-d sample, a known law    :func:`ks_1samp`                            any
                                                                                    continuous
                                                                                    law, heavy
                                                                                    tails
                                                                                    included
two continuous 1-d samples              :func:`ks_2samp`                            same
two samples in R^d                      :func:`energy_two_sample_test`              any law
                                                                                    (permutation
                                                                                    p-value)
the mean of i.i.d. values in [a, b]     :func:`bounded_mean_test`,                  any law on
                                        :func:`bounded_mean_interval`               [a, b], any
                                        (Hoeffding or empirical Bernstein)          n
paired values, "A > B at most pairs"    :func:`paired_sign_interval` (sign test,    any joint
                                        Clopper–Pearson)                            law (exact)
the median of a continuous 1-d sample   :func:`median_interval` (binomial order     any
                                        statistics)                                 continuous
                                                                                    law (exact)
the mean of Y'Y, Y Gaussian (known      :func:`gaussian_quadratic_mean_test`        exact level
covariance): a Gaussian quadratic form  (Laurent–Massart Chernoff bound)            (finite n)
the mean of light-tailed values         :func:`mean_test` (Student's t)             light tails
                                                                                    only
======================================  ==========================================  ============

Heavy tails. The t-test's level rests on the central limit theorem reaching
1e-6 into the tail; on skewed or heavy-tailed values (a ratio with rare huge
values, rare-event indicators, anything with large kurtosis) it rejects a true
mean far more often than its level (issue 14 measured 23-38% at 1e-6 for a
volume-sampling loss ratio; on a Bernoulli(0.002) sample of 200 it rejects 67%
of the time, because the sample is all zeros). KS and the permutation energy
test depend on the data only through ranks or exchangeability, so their
levels hold for any tail. For a mean of heavy-tailed values use, in order of
preference: the exact law (enumerate it: the expectation is then computed, not
tested); a bounded statistic with :func:`bounded_mean_test` (clip at a known
bound, or test an indicator); a count with :func:`binomial_test` (e.g. the
sign test of a median or quantile). :func:`mean_test` reports the largest
single term's share of the sum of squares (``details["max_share"]``) as a
warning sign: above a few percent the t approximation at 1e-6 is not to be
trusted.

Paired comparisons with unbounded per-point values (a solver's squared error at
Gaussian starting points) have no finite-sample interval for the *mean*
difference without an assumed bound. The catalog then holds the statement
"A's error is below B's at more than half of the points", P(B > A) > 1/2, by
:func:`paired_sign_interval`, records the relative MSE gain without an
interval, and says so in the claim's reading. A log-log exponent of medians
(``sampling.wls.quasi_optimality_m_log_m``) is held by the range of the
least-squares slope over exact simultaneous order-statistic intervals of the
medians (:func:`box_slope_interval`), not by an OLS t-interval; so are the
exponents of ``adaptive.overfitting.empirical_error_grows_like_sqrt_m_over_n``
(median worst error; the mean's delta-method fit is recorded, not held: an
exact empirical-Bernstein box for the means would need about 2e4 seeds per
point at 1e-6). ``diffusion.exact.teleportation_skip_fraction_64d`` holds its
FID cost by an order-statistic median interval and reads the FID's seed-to-seed
spread from its 10% and 90% quantiles, each held by an exact order-statistic
interval (:func:`toytheory.sampling.bounds.quantile_interval`), not by a
chi-square interval for a standard deviation.

Statements that remain approximate or model-based (issue 14)
------------------------------------------------------------
- ``sampling.sample_complexity.*`` exponents: held by :func:`sen_slope_interval`
  (Theil–Sen with the exact stratified Kendall interval) instead of the OLS
  t-interval. No normality is left, but a model is: log m_eps linear in log x
  with errors i.i.d. within a family and independent of x (a spread of the
  measurement noise that changes with x would break the exact level).
- Witness ``ev.test(stats.mean_test(...))`` uses in other catalog files
  (gaussian laws' KL, data_diversify, rl_tabular, reusable_holdout, difftpt,
  imperfect_quantisation) are witnesses, outside this note's scope.

References
----------
Pearson's chi-square with pooled cells: Cochran (1954), "Some methods for
strengthening the common chi-square tests". Wilson (1927) score interval.
Energy distance: Székely & Rizzo (2004), "Testing for equal distributions in
high dimension". Sequential Monte Carlo p-values: Besag & Clifford (1991),
"Sequential Monte Carlo p-values", Biometrika 78(2). Clopper & Pearson (1934),
Biometrika 26(4). Laurent & Massart (2000), "Adaptive estimation of a quadratic
functional by model selection", Ann. Statist. 28(5), Lemma 1. Sen (1968),
"Estimates of the regression coefficient based on Kendall's tau", JASA 63(324).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np

from ._random import as_generator
from ._validation import as_float_array, check_counts, check_int, check_level, check_real

__all__ = [
    "quantile_interval",
    "TestResult",
    "FamilyResult",
    "chisquare_gof",
    "chisquare_two_sample",
    "pool_small_cells",
    "ks_1samp",
    "ks_2samp",
    "binomial_test",
    "wilson_interval",
    "exact_binomial_interval",
    "paired_sign_interval",
    "median_interval",
    "sign_detectable",
    "sign_interval_decide_n",
    "box_slope_interval",
    "sen_slope_interval",
    "local_box_slopes",
    "local_sen_slopes",
    "gaussian_quadratic_mean_test",
    "mean_test",
    "bounded_mean_interval",
    "bounded_mean_test",
    "energy_distance",
    "energy_two_sample_test",
    "bonferroni",
    "holm",
]


@dataclass(frozen=True)
class TestResult:
    """The outcome of one hypothesis test.

    Attributes
    ----------
    test : str
        Name of the test.
    statistic : float
        The test statistic.
    pvalue : float
        The p-value (for a Monte Carlo test, a valid, super-uniform one).
    level : float
        The level alpha the test is held to.
    reject : bool
        ``pvalue <= level``.
    details : dict
        Test-specific facts (degrees of freedom, pooled cells, permutations).
    """

    __test__ = False  # not a pytest test class

    test: str
    statistic: float
    pvalue: float
    level: float
    reject: bool
    details: dict = field(default_factory=dict)

    @property
    def verdict(self) -> str:
        """``"reject"`` or ``"accept"`` (no evidence against the null at ``level``)."""
        return "reject" if self.reject else "accept"

    def as_dict(self) -> dict:
        return {
            "test": self.test,
            "statistic": float(self.statistic),
            "pvalue": float(self.pvalue),
            "level": float(self.level),
            "verdict": self.verdict,
            "details": _jsonable(self.details),
        }


def _jsonable(obj):
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return _jsonable(obj.tolist())
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, (np.floating,)):
        return float(obj)
    return obj


def _result(test, statistic, pvalue, level, **details) -> TestResult:
    pvalue = float(min(max(pvalue, 0.0), 1.0))
    return TestResult(test, float(statistic), pvalue, float(level), pvalue <= level, details)


# --------------------------------------------------------------------------- chi-square

def pool_small_cells(expected: np.ndarray, min_expected: float) -> list[np.ndarray]:
    """Group cells so that every group has expected count at least ``min_expected``.

    Cells at or above ``min_expected`` stay alone. The small cells are sorted
    by expected count and merged greedily, smallest first, into groups that
    reach ``min_expected``; a remainder that does not reach it joins the
    smallest group formed so far (or the smallest large cell). Cells with zero
    expected count are handled by the caller (an observation there is an
    impossible event, not a chi-square contribution).

    Parameters
    ----------
    expected : (k,) array
        Expected counts, all positive.
    min_expected : float
        The smallest expected count a group may have (Cochran's rule: 5).

    Returns
    -------
    list of int arrays
        The indices of the cells in each group.
    """
    order = np.argsort(expected, kind="stable")
    groups: list[list[int]] = []
    current: list[int] = []
    current_sum = 0.0
    large = [int(i) for i in order if expected[i] >= min_expected]
    for i in order:
        if expected[i] >= min_expected:
            break
        current.append(int(i))
        current_sum += float(expected[i])
        if current_sum >= min_expected:
            groups.append(current)
            current, current_sum = [], 0.0
    singles = [[i] for i in large]
    if current:
        if groups:
            smallest = min(range(len(groups)), key=lambda g: expected[groups[g]].sum())
            groups[smallest].extend(current)
        elif singles:
            singles[0].extend(current)  # singles are sorted: [0] is the smallest large cell
        else:
            groups.append(current)
    return [np.asarray(g, dtype=np.int64) for g in groups + singles]


def chisquare_gof(counts, probabilities, level: float, *, min_expected: float = 5.0,
                  ddof: int = 0) -> TestResult:
    """Pearson's chi-square goodness of fit of ``counts`` to ``probabilities``.

    .. math:: X^2 = \\sum_j (O_j - N p_j)^2 / (N p_j), \\quad X^2 \\sim \\chi^2_{k-1-\\mathrm{ddof}}

    Cells with expected count below ``min_expected`` are pooled
    (:func:`pool_small_cells`). A count in a cell of probability zero is an
    impossible event: the test rejects with p-value 0.

    Parameters
    ----------
    counts : (k,) array of int
        Observed counts. Proportions or frequencies raise ``ValueError``.
    probabilities : (k,) array
        The null law; non-negative, summing to one within 1e-9.
    level : float
        The level alpha in (0, 1).
    min_expected : float, default 5
        Pooling threshold.
    ddof : int, default 0
        Parameters estimated from the data.
    """
    counts = check_counts("counts", counts)
    p = as_float_array("probabilities", probabilities, ndim=1)
    if p.shape != counts.shape:
        raise ValueError(
            f"probabilities: must have the shape of counts {counts.shape} (got {p.shape})")
    if np.any(p < 0):
        raise ValueError("probabilities: must be non-negative")
    if abs(p.sum() - 1.0) > 1e-9:
        raise ValueError(f"probabilities: must sum to one (got sum {p.sum()!r})")
    level = check_level("level", level)
    min_expected = check_real("min_expected", min_expected, low=0.0, low_open=True)
    n = int(counts.sum())
    if n == 0:
        raise ValueError("counts: must contain at least one observation")
    impossible = (p == 0) & (counts > 0)
    if np.any(impossible):
        return _result("chi-square goodness of fit", math.inf, 0.0, level,
                       impossible_cells=np.flatnonzero(impossible).tolist(), n=n)
    support = p > 0
    expected = n * p[support]
    observed = counts[support]
    groups = pool_small_cells(expected, min_expected)
    obs_g = np.array([observed[g].sum() for g in groups], dtype=float)
    exp_g = np.array([expected[g].sum() for g in groups], dtype=float)
    df = len(groups) - 1 - int(ddof)
    if df < 1:
        raise ValueError(
            f"counts: too few observations for a chi-square test: {len(groups)} cell(s) after "
            f"pooling to expected count >= {min_expected:g} leave {df} degrees of freedom")
    from scipy import stats

    statistic = float(np.sum((obs_g - exp_g) ** 2 / exp_g))
    pvalue = float(stats.chi2.sf(statistic, df))
    return _result("chi-square goodness of fit", statistic, pvalue, level, df=df,
                   cells=int(p.size), pooled_cells=len(groups), n=n)


def chisquare_two_sample(counts_a, counts_b, level: float, *,
                         min_expected: float = 5.0) -> TestResult:
    """Chi-square test that two count vectors come from the same categorical law.

    The 2 x k contingency test of homogeneity; cells whose pooled expected
    count is below ``min_expected`` are merged first.
    """
    a = check_counts("counts_a", counts_a)
    b = check_counts("counts_b", counts_b)
    if a.shape != b.shape:
        raise ValueError(f"counts_b: must have the shape of counts_a {a.shape} (got {b.shape})")
    level = check_level("level", level)
    if a.sum() == 0 or b.sum() == 0:
        raise ValueError("counts_a, counts_b: each must contain at least one observation")
    total = a + b
    keep = total > 0
    a, b, total = a[keep], b[keep], total[keep]
    na, nb = a.sum(), b.sum()
    expected_min = np.minimum(total * na, total * nb) / (na + nb)
    groups = pool_small_cells(expected_min, min_expected)
    table = np.array([[a[g].sum() for g in groups], [b[g].sum() for g in groups]], dtype=float)
    if table.shape[1] < 2:
        raise ValueError("counts_a, counts_b: too few observations for a chi-square test")
    from scipy import stats

    res = stats.chi2_contingency(table, correction=False)
    return _result("chi-square two-sample (homogeneity)", res.statistic, res.pvalue, level,
                   df=int(res.dof), pooled_cells=table.shape[1], n_a=int(na), n_b=int(nb))


# --------------------------------------------------------------------------- KS

def ks_1samp(x, cdf: Callable[[np.ndarray], np.ndarray], level: float) -> TestResult:
    """One-sample Kolmogorov–Smirnov test of ``x`` against a continuous ``cdf``.

    Parameters
    ----------
    x : (n,) array
        The sample.
    cdf : callable
        Vectorised CDF of the null law.
    level : float
        The level alpha.
    """
    x = as_float_array("x", x, ndim=1)
    if x.size < 1:
        raise ValueError("x: must contain at least one point")
    level = check_level("level", level)
    from scipy import stats

    res = stats.kstest(x, cdf)
    return _result("Kolmogorov-Smirnov one-sample", res.statistic, res.pvalue, level, n=x.size)


def ks_2samp(x, y, level: float) -> TestResult:
    """Two-sample Kolmogorov–Smirnov test that ``x`` and ``y`` share a continuous law."""
    x = as_float_array("x", x, ndim=1)
    y = as_float_array("y", y, ndim=1)
    if x.size < 1 or y.size < 1:
        raise ValueError("x, y: must each contain at least one point")
    level = check_level("level", level)
    from scipy import stats

    res = stats.ks_2samp(x, y)
    return _result("Kolmogorov-Smirnov two-sample", res.statistic, res.pvalue, level,
                   n_x=x.size, n_y=y.size)


# --------------------------------------------------------------------------- binomial

def binomial_test(k: int, n: int, p: float, level: float, *,
                  alternative: str = "two-sided") -> TestResult:
    """Exact binomial test that ``k`` successes in ``n`` trials have probability ``p``."""
    k = check_int("k", k, low=0)
    n = check_int("n", n, low=1)
    if k > n:
        raise ValueError(f"k: must be <= n = {n} (got {k})")
    p = check_real("p", p, low=0.0, high=1.0)
    level = check_level("level", level)
    if alternative not in ("two-sided", "less", "greater"):
        raise ValueError(
            f"alternative: must be 'two-sided', 'less' or 'greater' (got {alternative!r})")
    from scipy import stats

    res = stats.binomtest(k, n, p, alternative=alternative)
    return _result("exact binomial", k / n, res.pvalue, level, k=k, n=n, p=p,
                   alternative=alternative)


def wilson_interval(k: int, n: int, level: float) -> tuple[float, float]:
    """Wilson score interval for a binomial proportion, coverage ``1 - level``."""
    k = check_int("k", k, low=0)
    n = check_int("n", n, low=1)
    if k > n:
        raise ValueError(f"k: must be <= n = {n} (got {k})")
    level = check_level("level", level)
    from scipy import stats

    z = float(stats.norm.isf(level / 2))
    phat = k / n
    denom = 1 + z * z / n
    centre = (phat + z * z / (2 * n)) / denom
    half = z * math.sqrt(phat * (1 - phat) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def exact_binomial_interval(k: int, n: int, level: float) -> tuple[float, float]:
    """Clopper–Pearson interval for a binomial proportion, coverage at least ``1 - level``."""
    k = check_int("k", k, low=0)
    n = check_int("n", n, low=1)
    if k > n:
        raise ValueError(f"k: must be <= n = {n} (got {k})")
    level = check_level("level", level)
    from scipy import stats

    ci = stats.binomtest(k, n).proportion_ci(confidence_level=1 - level, method="exact")
    return float(ci.low), float(ci.high)


def paired_sign_interval(a, b, level: float) -> tuple[float, tuple[float, float], int, int]:
    r"""Exact interval for :math:`P(A > B)` from i.i.d. pairs ``(a_i, b_i)`` (sign test).

    With :math:`k = \#\{i : a_i > b_i\}` (ties count as *not* greater), the
    Clopper–Pearson interval for the binomial proportion :math:`q = P(A > B)`
    at ``level``: coverage at least ``1 - level`` for every joint law of the
    pairs, heavy tails included (the data enter only through signs). Use it for
    a paired comparison whose per-pair differences are unbounded, where no
    finite-sample mean interval exists without a bound: the statement it holds
    is "A exceeds B on more than half of the pairs" (:math:`q > 1/2`), not
    "A's mean exceeds B's".

    Parameters
    ----------
    a, b : (n,) arrays
        Paired values, ``n >= 1``, finite.
    level : float

    Returns
    -------
    (estimate, (lo, hi), k, n) : float, tuple of float, int, int
        ``k / n``, the interval, the count ``k`` and ``n``.
    """
    a = as_float_array("a", a, ndim=1)
    b = as_float_array("b", b, ndim=1)
    if a.shape != b.shape:
        raise ValueError(f"b: must have the shape of a {a.shape} (got {b.shape})")
    if a.size < 1:
        raise ValueError("a: must contain at least 1 value (got 0)")
    level = check_level("level", level)
    n = int(a.size)
    k = int(np.count_nonzero(a > b))
    return k / n, exact_binomial_interval(k, n, level), k, n


def median_interval(x, level: float) -> tuple[float, float]:
    r"""Distribution-free interval for the median of i.i.d. continuous data (order statistics).

    With :math:`x_{(1)} \le \dots \le x_{(n)}` the sorted sample and :math:`m` the
    median of a continuous law, the number of values below :math:`m` is
    :math:`B \sim \mathrm{Bin}(n, 1/2)`, so

    .. math:: P\bigl(x_{(k)} \le m \le x_{(n+1-k)}\bigr)
              = 1 - 2\,P(B \le k - 1) \ge 1 - \text{level}

    for the largest :math:`k` with :math:`P(\mathrm{Bin}(n, 1/2) \le k - 1) \le`
    ``level / 2``. The interval is :math:`(x_{(k)}, x_{(n+1-k)})`; its coverage holds for
    every continuous law, whatever its tails (the data enter only through ranks). This
    is the classical binomial order-statistic interval (the inverted sign test), e.g.
    David and Nagaraja, "Order Statistics" (3rd ed., 2003), Section 7.1.

    Parameters
    ----------
    x : (n,) array
        The data (finite).
    level : float in (0, 1)
        The interval's error probability (coverage at least ``1 - level``).

    Returns
    -------
    (float, float)
        :math:`(x_{(k)}, x_{(n+1-k)})`.

    Raises
    ------
    ValueError
        Bad ``level``; too few values for any interval at that level
        (:math:`2^{-n} > \text{level}/2`).
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


def sign_detectable(n: int, level: float, threshold: float = 0.5) -> float | None:
    """Smallest proportion ``k / n`` whose Clopper–Pearson interval lies above ``threshold``.

    The smallest win rate a sign test on ``n`` pairs at ``level`` can tell from
    ``threshold`` (for ``detectable=``); ``None`` when even ``k = n`` cannot.
    """
    n = check_int("n", n, low=1)
    level = check_level("level", level)
    threshold = check_real("threshold", threshold, low=0.0, high=1.0)
    if exact_binomial_interval(n, n, level)[0] <= threshold:
        return None
    lo_k, hi_k = int(math.floor(threshold * n)), n  # invariant: hi_k decides, lo_k does not
    while hi_k - lo_k > 1:
        mid = (lo_k + hi_k) // 2
        if exact_binomial_interval(mid, n, level)[0] > threshold:
            hi_k = mid
        else:
            lo_k = mid
    return hi_k / n


def sign_interval_decide_n(estimate: float, level: float, threshold: float = 0.5, *,
                           n_max: int = 10**7) -> int | None:
    """Smallest ``n`` (doubling from 8) at which a proportion ``estimate`` would be decided.

    The Clopper–Pearson interval at ``level`` around ``round(estimate * n)``
    successes out of ``n`` then excludes ``threshold``. ``None`` when
    ``estimate == threshold`` or no ``n <= n_max`` decides it (undecidable at
    this effect). A planning number for ``decide_n=``, not a guarantee.
    """
    estimate = check_real("estimate", estimate, low=0.0, high=1.0)
    threshold = check_real("threshold", threshold, low=0.0, high=1.0)
    level = check_level("level", level)
    n_max = check_int("n_max", n_max, low=8)
    if estimate == threshold:
        return None
    n = 8
    while n <= n_max:
        lo, hi = exact_binomial_interval(int(round(estimate * n)), n, level)
        if lo > threshold or hi < threshold:
            return n
        n *= 2
    return None


def box_slope_interval(x, boxes, *, groups=None) -> tuple[float, float]:
    r"""Range of the least-squares slope of :math:`\log y` on :math:`\log x` over a box of y.

    The fit has one intercept per group (one overall when ``groups`` is None) and a common
    slope. The slope is linear in :math:`\log y`, :math:`\hat b = \sum_i w_i \log y_i`, so
    over the box :math:`y_i \in [l_i, h_i]` its range has ends :math:`\sum_i w_i \log c_i`,
    :math:`c_i` = :math:`h_i` or :math:`l_i` as the sign of :math:`w_i` asks. Fed with
    simultaneous intervals for the true :math:`y_i` (joint coverage ``1 - level``, e.g.
    order-statistic median intervals with Bonferroni), the range covers the least-squares
    slope of the true values with the same probability: no model of the errors, any tail.

    Parameters
    ----------
    x : (k,) array of positive values
    boxes : sequence of k pairs (l_i, h_i), 0 < l_i <= h_i
    groups : (k,) array of labels, optional

    Returns
    -------
    (lo, hi) : tuple of float
    """
    x = as_float_array("x", x, ndim=1)
    b = as_float_array("boxes", boxes, ndim=2)
    if b.shape != (x.size, 2):
        raise ValueError(f"boxes: must have shape ({x.size}, 2) (got {b.shape})")
    if np.any(x <= 0):
        raise ValueError("x: must be positive")
    if np.any(b[:, 0] <= 0) or np.any(b[:, 1] < b[:, 0]):
        raise ValueError("boxes: must satisfy 0 < low <= high")
    labels = (np.zeros(x.size, dtype=np.int64) if groups is None
              else np.unique(np.asarray(groups), return_inverse=True)[1].ravel())
    if labels.size != x.size:
        raise ValueError("groups: must have the length of x")
    lx = np.log(x)
    design = np.zeros((x.size, int(labels.max()) + 2))
    design[np.arange(x.size), labels] = 1.0
    design[:, -1] = lx
    if np.linalg.matrix_rank(design) < design.shape[1]:
        raise ValueError("x: must vary within at least one group (slope not identified)")
    w = np.linalg.pinv(design)[-1]  # slope = w @ log y
    lo, hi = np.log(b[:, 0]), np.log(b[:, 1])
    return (float(np.sum(np.where(w > 0, w * lo, w * hi))),
            float(np.sum(np.where(w > 0, w * hi, w * lo))))


def _mul_qint(poly: list, k: int) -> list:
    """``poly * (1 + q + ... + q^(k-1))`` on exact integer coefficients (a sliding sum)."""
    out, run = [], 0
    for i in range(len(poly) + k - 1):
        run += poly[i] if i < len(poly) else 0
        if i >= k:
            run -= poly[i - k]
        out.append(run)
    return out


def _div_qint(poly: list, k: int) -> list:
    """``poly / (1 + q + ... + q^(k-1))``, exact: times ``(1 - q)``, then over ``1 - q^k``."""
    c = [(poly[i] if i < len(poly) else 0) - (poly[i - 1] if i else 0)
         for i in range(len(poly) + 1)]
    out = []
    for i in range(len(c) - k):
        out.append(c[i] + (out[i - k] if i >= k else 0))
    return out


def _restricted_inversion_pmf(tie_sizes) -> np.ndarray:
    """Law of the number of inversions between distinct x-values under a random order.

    Ranks of i.i.d. continuous residuals against ``x`` with ties of sizes ``tie_sizes``:
    the generating function is the q-multinomial coefficient
    :math:`[n; n_1, \\dots, n_t]_q` (exact integers), normalised.
    """
    poly = [1]
    for k in range(1, sum(tie_sizes) + 1):
        poly = _mul_qint(poly, k)
    for t in tie_sizes:
        for k in range(1, t + 1):
            poly = _div_qint(poly, k)
    total = sum(poly)
    return np.array([c / total for c in poly])


def sen_slope_interval(x, y, level: float, *, groups=None) -> tuple[float, tuple[float, float]]:
    r"""Theil–Sen slope and its exact Kendall interval, one intercept per group (Sen 1968).

    Model: :math:`y_i = a_{g(i)} + b x_i + e_i` with the errors i.i.d. continuous within
    each group and independent of ``x`` (no normality, any tail). For a trial slope
    :math:`b_0` the residuals' order against ``x`` is then a uniformly random permutation
    within each group, so :math:`N(b_0)` = the number of within-group pairwise slopes
    :math:`(y_j - y_i)/(x_j - x_i)` (pairs with :math:`x_i \ne x_j`) below :math:`b_0`
    has the exact law of inversions between distinct x-values: a convolution over groups
    of q-multinomial coefficients (ties in ``x`` included). The interval is
    :math:`[s_{(k)}, s_{(P+1-k)}]` of the sorted pairwise slopes, ``k`` the largest with
    :math:`P(N \le k-1) \le` ``level / 2``: coverage at least ``1 - level``.

    Parameters
    ----------
    x, y : (n,) arrays
        On the scale of the fit (pass logs for a log-log exponent).
    level : float
    groups : (n,) array of labels, optional

    Returns
    -------
    (slope, (lo, hi))
        The Theil–Sen estimate (median of the within-group pairwise slopes) and the
        interval (``(-inf, inf)`` when too few pairs exist to reach ``level``).
    """
    x = as_float_array("x", x, ndim=1)
    y = as_float_array("y", y, ndim=1)
    if x.shape != y.shape:
        raise ValueError(f"y: must have the shape of x {x.shape} (got {y.shape})")
    level = check_level("level", level)
    labels = (np.zeros(x.size, dtype=np.int64) if groups is None
              else np.unique(np.asarray(groups), return_inverse=True)[1].ravel())
    if labels.size != x.size:
        raise ValueError("groups: must have the length of x")
    slopes, pmf = [], np.ones(1)
    for lab in np.unique(labels):
        xs, ys = x[labels == lab], y[labels == lab]
        i, j = np.triu_indices(xs.size, 1)
        keep = xs[i] != xs[j]
        slopes.append((ys[j][keep] - ys[i][keep]) / (xs[j][keep] - xs[i][keep]))
        _, counts = np.unique(xs, return_counts=True)
        pmf = np.convolve(pmf, _restricted_inversion_pmf([int(c) for c in counts]))
    pairs = np.sort(np.concatenate(slopes))
    if pairs.size == 0:
        raise ValueError("x: must vary within at least one group (no pairwise slope)")
    est = float(np.median(pairs))
    k = int(np.searchsorted(np.cumsum(pmf), level / 2, side="right"))
    if k < 1:
        return est, (-math.inf, math.inf)
    return est, (float(pairs[k - 1]), float(pairs[pairs.size - k]))


def _half_masks(x):
    """Lower and upper half of ``x`` (positive), split at the median of log x; a point at
    the median belongs to both halves."""
    lx = np.log(x)
    med = float(np.median(np.unique(lx)))
    return lx <= med, lx >= med


def _agreement(lower, upper) -> dict:
    gap = max(lower[0], upper[0]) - min(lower[1], upper[1])
    return {"lower": (float(lower[0]), float(lower[1])),
            "upper": (float(upper[0]), float(upper[1])), "gap": float(gap),
            "agree": bool(gap <= 0.0)}


def local_box_slopes(x, boxes, *, groups=None) -> dict:
    r"""The log-linearity check for :func:`box_slope_interval`: the same box, each half of x.

    A log-log exponent read off one least-squares slope assumes :math:`\log y` linear in
    :math:`\log x` over the whole range. This refits the slope over the lower and over the
    upper half of the ``x`` values (split at the median of the distinct :math:`\log x`, the
    middle value in both) with the same simultaneous box. If the true values are exactly
    log-linear, both halves' least-squares slopes equal the exponent, and the box covers
    the true values with its joint coverage ``1 - level``; so the two ranges overlap with
    probability at least ``1 - level``, no model of the errors. Disjoint ranges mean the
    local slopes differ: the single exponent is not what the data show.

    Returns
    -------
    dict
        ``lower``, ``upper`` (each a slope range), ``gap`` (``max`` of the lower ends minus
        ``min`` of the upper ends; ``<= 0`` when they overlap) and ``agree``.
    """
    x = as_float_array("x", x, ndim=1)
    if np.any(x <= 0):
        raise ValueError("x: must be positive")
    b = as_float_array("boxes", boxes, ndim=2)
    g = None if groups is None else np.asarray(groups)
    if np.unique(x).size < 3:
        raise ValueError("x: needs at least 3 distinct values to compare two halves")
    halves = []
    for mask in _half_masks(x):
        halves.append(box_slope_interval(x[mask], b[mask], groups=None if g is None
                                         else g[mask]))
    return _agreement(*halves)


def local_sen_slopes(x, y, level: float, *, groups=None) -> dict:
    r"""The log-linearity check for :func:`sen_slope_interval`: each half of ``x`` alone.

    Theil–Sen intervals at ``level / 2`` over the lower and the upper half of ``x`` (split
    at the median of the distinct ``x``, the middle value in both; pass logs as for
    :func:`sen_slope_interval`). Under the linear model on the whole range both cover the
    one slope, so they overlap with probability at least ``1 - level`` (Bonferroni);
    disjoint intervals show the local slopes differ. A half with too few pairs gives
    ``(-inf, inf)``, which cannot disagree: ``checkable`` is then False.

    Returns
    -------
    dict
        ``lower``, ``upper``, ``gap``, ``agree`` as :func:`local_box_slopes`, and
        ``checkable``.
    """
    x = as_float_array("x", x, ndim=1)
    y = as_float_array("y", y, ndim=1)
    level = check_level("level", level)
    if x.shape != y.shape:
        raise ValueError(f"y: must have the shape of x {x.shape} (got {y.shape})")
    if np.unique(x).size < 3:
        raise ValueError("x: needs at least 3 distinct values to compare two halves")
    g = None if groups is None else np.asarray(groups)
    med = float(np.median(np.unique(x)))
    halves = []
    for mask in (x <= med, x >= med):
        halves.append(sen_slope_interval(x[mask], y[mask], level / 2,
                                         groups=None if g is None else g[mask])[1])
    out = _agreement(*halves)
    out["checkable"] = bool(all(np.isfinite(h).all() for h in halves))
    return out


# --------------------------------------------------------------------------- means

def mean_test(samples, mean: float, level: float) -> TestResult:
    """Student's t-test that i.i.d. ``samples`` have expectation ``mean``.

    For Monte Carlo estimates of a continuous, *light-tailed* quantity (a
    Gaussian second moment, a bounded loss of moderate skew), where no count is
    available. ``n >= 30`` is required so that the t approximation is
    trustworthy at small levels for light-tailed data.

    Not valid for heavy-tailed or strongly skewed values: at level 1e-6 its
    rejection rate under the null can be orders of magnitude above the level
    (see the module notes). Use the exact law, :func:`bounded_mean_test`, or a
    count there. ``details["max_share"]`` is the largest
    :math:`(x_i - \\bar x)^2 / \\sum_j (x_j - \\bar x)^2`: a value far above
    :math:`1/n` flags a sample dominated by a few terms.
    """
    x = as_float_array("samples", samples, ndim=1)
    if x.size < 30:
        raise ValueError(f"samples: must contain at least 30 values (got {x.size})")
    mean = check_real("mean", mean)
    level = check_level("level", level)
    sd = float(np.std(x, ddof=1))
    if sd == 0.0:
        pvalue = 1.0 if float(x[0]) == mean else 0.0
        return _result("one-sample t", 0.0 if pvalue else math.inf, pvalue, level, n=x.size)
    from scipy import stats

    res = stats.ttest_1samp(x, mean)
    dev2 = (x - np.mean(x)) ** 2
    return _result("one-sample t", res.statistic, res.pvalue, level, n=x.size,
                   sample_mean=float(np.mean(x)), standard_error=sd / math.sqrt(x.size),
                   max_share=float(dev2.max() / dev2.sum()))


def _bounded_sample(samples, low, high):
    x = as_float_array("samples", samples, ndim=1)
    low = check_real("low", low)
    high = check_real("high", high)
    if not high > low:
        raise ValueError(f"high: must be > low = {low!r} (got {high!r})")
    if x.size < 2:
        raise ValueError(f"samples: must contain at least 2 values (got {x.size})")
    if np.any(x < low) or np.any(x > high):
        bad = x[(x < low) | (x > high)][0]
        raise ValueError(f"samples: must lie in [low, high] = [{low!r}, {high!r}] "
                         f"(got {float(bad)!r})")
    return x, low, high


_BOUNDED_METHODS = ("bernstein", "hoeffding")


def _check_method(method):
    if method not in _BOUNDED_METHODS:
        raise ValueError(f"method: must be one of {', '.join(_BOUNDED_METHODS)} "
                         f"(got {method!r})")
    return method


def _bounded_half_width(z: np.ndarray, level: float, method: str) -> float:
    """Half-width, on the [0, 1] scale, of the two-sided interval at ``level``."""
    n = z.size
    log_term = math.log(4.0 / level)  # each side at level / 2: ln(2 / (level / 2))
    if method == "hoeffding":
        return math.sqrt(math.log(2.0 / level) / (2.0 * n))
    var = float(np.var(z, ddof=1))
    return math.sqrt(2.0 * var * log_term / n) + 7.0 * log_term / (3.0 * (n - 1))


def bounded_mean_interval(samples, low: float, high: float, level: float, *,
                          method: str = "bernstein") -> tuple[float, float]:
    """Confidence interval for the mean of i.i.d. values in ``[low, high]``, any law.

    Coverage at least ``1 - level`` for every law on ``[low, high]`` and every
    ``n >= 2`` (no normal approximation: valid for skewed and rare-event data).
    With :math:`z_i = (x_i - a)/(b - a)`, :math:`\\bar z` their mean and
    :math:`V_n` their sample variance:

    - ``"hoeffding"`` (Hoeffding 1963):
      :math:`\\bar z \\pm \\sqrt{\\ln(2/\\alpha) / (2n)}`;
    - ``"bernstein"`` (Maurer & Pontil 2009, "Empirical Bernstein bounds and
      sample variance penalization", Theorem 4, each side at :math:`\\alpha/2`):
      :math:`\\bar z \\pm \\big(\\sqrt{2 V_n \\ln(4/\\alpha) / n}
      + 7 \\ln(4/\\alpha) / (3(n-1))\\big)`, much narrower than Hoeffding
      when the variance is small;

    mapped back to ``[low, high]`` and clipped to it.

    Parameters
    ----------
    samples : (n,) array
        i.i.d. values, all in ``[low, high]``; ``n >= 2``.
    low, high : float
        A bound on the values that holds for the law, not one read off the sample.
    level : float
        ``alpha`` in (0, 1).
    method : {"bernstein", "hoeffding"}

    Returns
    -------
    (lo, hi) : tuple of float
    """
    x, low, high = _bounded_sample(samples, low, high)
    level = check_level("level", level)
    method = _check_method(method)
    z = (x - low) / (high - low)
    half = _bounded_half_width(z, level, method)
    centre = float(np.mean(z))
    lo, hi = max(0.0, centre - half), min(1.0, centre + half)
    return low + (high - low) * lo, low + (high - low) * hi


def bounded_mean_test(samples, mean: float, low: float, high: float, level: float, *,
                      method: str = "bernstein") -> TestResult:
    """Test that i.i.d. values in ``[low, high]`` have expectation ``mean``, any law.

    Rejects exactly when ``mean`` lies outside :func:`bounded_mean_interval` at
    ``level``. The p-value is the smallest level at which it would: the
    intervals are nested in the level, so :math:`P(p \\le \\alpha) \\le \\alpha`
    under the null for every law on ``[low, high]`` (valid, usually
    conservative). With :math:`d = |\\bar z - z_0|` on the [0, 1] scale:
    Hoeffding :math:`p = 2 e^{-2 n d^2}`; empirical Bernstein
    :math:`p = 4 e^{-L}`, :math:`\\sqrt L` the positive root of
    :math:`\\tfrac{7}{3(n-1)} s^2 + \\sqrt{2V_n/n}\\, s = d`.

    Parameters
    ----------
    samples : (n,) array
        i.i.d. values in ``[low, high]``.
    mean : float
        The null expectation.
    low, high : float
        Bounds that hold for the law.
    level : float
    method : {"bernstein", "hoeffding"}
    """
    x, low, high = _bounded_sample(samples, low, high)
    mean = check_real("mean", mean)
    level = check_level("level", level)
    method = _check_method(method)
    z = (x - low) / (high - low)
    z0 = (mean - low) / (high - low)
    n = z.size
    d = abs(float(np.mean(z)) - z0)
    if not 0.0 <= z0 <= 1.0:
        pvalue = 0.0  # a mean outside [low, high] is impossible for such a law
    elif method == "hoeffding":
        pvalue = 2.0 * math.exp(-2.0 * n * d * d)
    else:
        a = 7.0 / (3.0 * (n - 1))
        b = math.sqrt(2.0 * float(np.var(z, ddof=1)) / n)
        root = (-b + math.sqrt(b * b + 4.0 * a * d)) / (2.0 * a)
        pvalue = 4.0 * math.exp(-root * root)
    lo, hi = bounded_mean_interval(x, low, high, level, method=method)
    reject = not (lo <= mean <= hi)
    # the p-value and the interval are the same inequality; keep them consistent at the
    # boundary (rounding) by deciding with the interval
    pvalue = min(max(pvalue, 0.0), 1.0)
    if reject and pvalue > level:
        pvalue = level
    if not reject and pvalue <= level:
        pvalue = math.nextafter(level, 1.0)
    return TestResult(f"bounded mean ({method})", float(np.mean(x)), float(pvalue),
                      float(level), reject,
                      {"n": n, "method": method, "interval": (lo, hi), "low": low,
                       "high": high})


def gaussian_quadratic_mean_test(samples, mean: float, cov, mu, level: float) -> TestResult:
    r"""Test i.i.d. samples of :math:`|Y|^2`, :math:`Y \sim N(\mu, \Sigma)` for mean ``mean``.

    Exact finite-sample level, no normal approximation: for such a Gaussian
    quadratic form (sub-exponential, never bounded) the sum of ``n`` copies is
    :math:`\sum_j a_j (Z_j + b_j)^2`, the eigenvalues :math:`\lambda` of
    :math:`\Sigma` repeated ``n`` times, and its log-MGF is at most
    :math:`D t^2 / (1 - 2 \lambda_{\max} t)` above and :math:`D t^2` below,
    with :math:`D = n(\operatorname{tr}\Sigma^2 + 2 \mu^\top \Sigma \mu)`
    (Laurent & Massart 2000, "Adaptive estimation of a quadratic functional by
    model selection", Lemma 1, extended to the non-central terms by the same
    computation). Chernoff then gives, with :math:`x = \ln(2/\alpha)` and
    :math:`\bar c` the sample mean,

    .. math:: P\big(\bar c - E \ge 2\sqrt{D x}/n + 2\lambda_{\max} x / n\big)
              \le e^{-x}, \qquad
              P\big(\bar c - E \le -2\sqrt{D x}/n\big) \le e^{-x}.

    The test rejects when ``mean`` lies outside the interval these give (level
    at most ``alpha``, usually conservative). ``cov`` and ``mu`` describe the
    law of ``Y`` under the null (they set the width only); ``mean`` is the
    value under test (e.g. a closed form computed independently of them).

    Parameters
    ----------
    samples : (n,) array
        i.i.d. values :math:`|Y_i|^2`, ``n >= 2``.
    mean : float
    cov : (d, d) array
        Symmetric positive semi-definite :math:`\Sigma`.
    mu : (d,) array
    level : float

    Returns
    -------
    TestResult
        ``details["interval"]`` is the interval for the mean at ``level``.
    """
    x = as_float_array("samples", samples, ndim=1)
    if x.size < 2:
        raise ValueError(f"samples: must contain at least 2 values (got {x.size})")
    mean = check_real("mean", mean)
    cov = as_float_array("cov", cov, ndim=2)
    mu = as_float_array("mu", mu, ndim=1)
    if cov.shape != (mu.size, mu.size):
        raise ValueError(f"cov: must have shape ({mu.size}, {mu.size}) (got {cov.shape})")
    if not np.allclose(cov, cov.T, rtol=1e-10, atol=1e-12 * max(1.0, float(np.abs(cov).max()))):
        raise ValueError("cov: must be symmetric")
    lam = np.linalg.eigvalsh((cov + cov.T) / 2)
    if lam.min() < -1e-10 * max(1.0, float(lam.max())):
        raise ValueError(f"cov: must be positive semi-definite (eigenvalue {lam.min():.3g})")
    lam = np.clip(lam, 0.0, None)
    level = check_level("level", level)
    n = x.size
    d_var = float(np.sum(lam ** 2) + 2.0 * mu @ cov @ mu)
    top = float(lam.max())
    xl = math.log(2.0 / level)
    c_bar = float(np.mean(x))
    up = 2.0 * math.sqrt(d_var * xl / n) + 2.0 * top * xl / n  # c_bar - E above this: rare
    down = 2.0 * math.sqrt(d_var * xl / n)  # c_bar - E below -down: rare
    lo, hi = c_bar - up, c_bar + down
    reject = not (lo <= mean <= hi)
    dev = c_bar - mean
    if d_var == 0.0:
        pvalue = 0.0 if dev != 0.0 else 1.0
    elif dev >= 0.0:
        # 2 sqrt(D/n) s + (2 top / n) s^2 = dev, s = sqrt(x)
        a_, b_ = 2.0 * top / n, 2.0 * math.sqrt(d_var / n)
        s_root = dev / b_ if a_ == 0.0 else (-b_ + math.sqrt(b_ * b_ + 4 * a_ * dev)) / (2 * a_)
        pvalue = 2.0 * math.exp(-s_root * s_root)
    else:
        pvalue = 2.0 * math.exp(-n * dev * dev / (4.0 * d_var))
    pvalue = min(max(pvalue, 0.0), 1.0)
    if reject and pvalue > level:
        pvalue = level
    if not reject and pvalue <= level:
        pvalue = math.nextafter(level, 1.0)
    return TestResult("Gaussian quadratic form mean (Laurent-Massart)", c_bar, float(pvalue),
                      float(level), reject, {"n": n, "interval": (lo, hi), "D": d_var,
                                             "lambda_max": top})


# --------------------------------------------------------------------------- energy distance

def _pairwise_distances(z: np.ndarray) -> np.ndarray:
    sq = np.einsum("ij,ij->i", z, z)
    d2 = sq[:, None] + sq[None, :] - 2.0 * (z @ z.T)
    np.maximum(d2, 0.0, out=d2)
    np.fill_diagonal(d2, 0.0)
    return np.sqrt(d2)


def energy_distance(x, y) -> float:
    """Energy distance :math:`2E\\|X-Y\\| - E\\|X-X'\\| - E\\|Y-Y'\\|` (V-statistic).

    Parameters
    ----------
    x : (n, d) array
    y : (m, d) array
    """
    x = as_float_array("x", x, ndim=(1, 2))
    y = as_float_array("y", y, ndim=(1, 2))
    x = x[:, None] if x.ndim == 1 else x
    y = y[:, None] if y.ndim == 1 else y
    if x.shape[1] != y.shape[1]:
        raise ValueError(f"y: must have {x.shape[1]} columns like x (got {y.shape[1]})")
    dist = _pairwise_distances(np.vstack([x, y]))
    n = len(x)
    z = np.zeros(len(dist))
    z[:n] = 1.0
    return float(_energy_from_sums(dist, z[:, None], n, len(y), dist.sum())[0])


def _energy_from_sums(dist, indicators, n, m, total):
    # indicators: (n+m, B) 0/1 matrix of "belongs to the first sample"
    dz = dist @ indicators
    s_xx = np.einsum("ib,ib->b", indicators, dz)
    row = dist.sum(axis=1)
    s_x_all = row @ indicators
    s_xy = s_x_all - s_xx
    s_yy = total - 2.0 * s_xy - s_xx
    return 2.0 * s_xy / (n * m) - s_xx / n**2 - s_yy / m**2


def energy_two_sample_test(x, y, level: float, *, rng=None, max_permutations: int | None = None,
                           exceedances: int = 20, batch: int = 256) -> TestResult:
    """Permutation test of equal laws with the energy distance statistic.

    The p-value is Besag & Clifford's sequential Monte Carlo p-value: label
    permutations are drawn until ``exceedances`` permuted statistics reach the
    observed one (then ``p = exceedances / permutations drawn``) or until
    ``max_permutations`` are drawn (then ``p = (1 + #exceedances) / (1 +
    max_permutations)``). The p-value is valid (super-uniform under the null)
    and cheap when the null holds; rejection at level alpha needs
    ``max_permutations >= 1/alpha - 1`` draws, which are made as batched
    matrix products against the pooled distance matrix.

    Parameters
    ----------
    x : (n, d) array
    y : (m, d) array
    level : float
        The level alpha.
    rng : Generator, int or None
        The permutation stream.
    max_permutations : int, optional
        Default ``ceil(2 / level)``. Values below ``1/level - 1`` raise
        ``ValueError``: such a test could never reject.
    exceedances : int, default 20
        Stop once this many permuted statistics reach the observed one.
    batch : int, default 256
        Permutations per matrix product.

    Notes
    -----
    Cost: O((n + m)^2 d) once, then O((n + m)^2) per permutation. Keep
    ``n + m`` to a few thousand.
    """
    x = as_float_array("x", x, ndim=(1, 2))
    y = as_float_array("y", y, ndim=(1, 2))
    x = x[:, None] if x.ndim == 1 else x
    y = y[:, None] if y.ndim == 1 else y
    if x.shape[1] != y.shape[1]:
        raise ValueError(f"y: must have {x.shape[1]} columns like x (got {y.shape[1]})")
    if len(x) < 2 or len(y) < 2:
        raise ValueError("x, y: must each contain at least two points")
    level = check_level("level", level)
    if max_permutations is None:
        max_permutations = int(math.ceil(2.0 / level))
    max_permutations = check_int("max_permutations", max_permutations, low=1)
    if (1 + max_permutations) * level < 1:
        raise ValueError(
            f"max_permutations: must be >= 1/level - 1 = {math.ceil(1 / level - 1)} for the "
            f"test to be able to reject at level {level:g} (got {max_permutations})")
    exceedances = check_int("exceedances", exceedances, low=1)
    batch = check_int("batch", batch, low=1)
    gen = as_generator(rng)
    n, m = len(x), len(y)
    dist = _pairwise_distances(np.vstack([x, y]))
    total = float(dist.sum())
    base = np.zeros(n + m)
    base[:n] = 1.0
    observed = float(_energy_from_sums(dist, base[:, None], n, m, total)[0])
    # Ties at the observed value count as exceedances (conservative); a relative
    # slack of 1e-12 absorbs summation-order rounding.
    threshold = observed - 1e-12 * max(abs(observed), 1.0)
    drawn = hits = 0
    while drawn < max_permutations and hits < exceedances:
        b = min(batch, max_permutations - drawn)
        keys = gen.random((n + m, b))
        ranks = np.argsort(keys, axis=0)
        indicators = (ranks < n).astype(np.float64)
        stats_b = _energy_from_sums(dist, indicators, n, m, total)
        hit_idx = np.flatnonzero(stats_b >= threshold)
        if hits + hit_idx.size >= exceedances:
            # stop at the permutation that produced the last needed exceedance
            stop = int(hit_idx[exceedances - hits - 1]) + 1
            drawn += stop
            hits = exceedances
            break
        hits += int(hit_idx.size)
        drawn += b
    if hits >= exceedances:
        pvalue = hits / drawn
        rule = "stopped at exceedances"
    else:
        pvalue = (1 + hits) / (1 + drawn)
        rule = "all permutations drawn"
    return _result("energy distance permutation", observed, pvalue, level, n_x=n, n_y=m,
                   permutations=drawn, exceedances=hits, rule=rule)


# --------------------------------------------------------------------------- families

@dataclass(frozen=True)
class FamilyResult:
    """A family of tests corrected for multiplicity.

    Attributes
    ----------
    method : str
        ``"bonferroni"`` or ``"holm"``.
    level : float
        The family-wise error level.
    pvalues, adjusted : tuple of float
        Raw and adjusted p-values, in the input order.
    rejects : tuple of bool
        Which hypotheses are rejected at the family level.
    """

    method: str
    level: float
    pvalues: tuple[float, ...]
    adjusted: tuple[float, ...]
    rejects: tuple[bool, ...]

    @property
    def reject(self) -> bool:
        """Whether any hypothesis in the family is rejected."""
        return any(self.rejects)

    @property
    def verdict(self) -> str:
        return "reject" if self.reject else "accept"

    @property
    def pvalue(self) -> float:
        """The family's p-value: the smallest adjusted p-value."""
        return min(self.adjusted)

    def as_dict(self) -> dict:
        return {"method": self.method, "level": self.level, "pvalues": list(self.pvalues),
                "adjusted": list(self.adjusted), "rejects": list(self.rejects),
                "verdict": self.verdict}


def _family_pvalues(pvalues: Sequence) -> np.ndarray:
    values = [r.pvalue if isinstance(r, TestResult) else r for r in pvalues]
    p = as_float_array("pvalues", values, ndim=1)
    if p.size == 0:
        raise ValueError("pvalues: must be non-empty")
    if np.any((p < 0) | (p > 1)):
        raise ValueError("pvalues: must lie in [0, 1]")
    return p


def bonferroni(pvalues: Sequence, level: float) -> FamilyResult:
    """Bonferroni correction: reject ``H_i`` when ``m p_i <= level``."""
    p = _family_pvalues(pvalues)
    level = check_level("level", level)
    adjusted = np.minimum(1.0, p * p.size)
    return FamilyResult("bonferroni", level, tuple(map(float, p)), tuple(map(float, adjusted)),
                        tuple(bool(a <= level) for a in adjusted))


def holm(pvalues: Sequence, level: float) -> FamilyResult:
    """Holm's step-down correction (uniformly more powerful than Bonferroni)."""
    p = _family_pvalues(pvalues)
    level = check_level("level", level)
    m = p.size
    order = np.argsort(p, kind="stable")
    stepped = np.minimum(1.0, (m - np.arange(m)) * p[order])
    stepped = np.maximum.accumulate(stepped)
    adjusted = np.empty(m)
    adjusted[order] = stepped
    return FamilyResult("holm", level, tuple(map(float, p)), tuple(map(float, adjusted)),
                        tuple(bool(a <= level) for a in adjusted))
