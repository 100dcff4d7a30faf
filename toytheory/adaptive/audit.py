"""Auditing differential privacy by histograms, and the exact answer for Laplace.

A mechanism ``M`` is :math:`(\\varepsilon, \\delta)`-DP when, for neighbouring
datasets ``D`` and ``D'`` and every event ``E``,
:math:`P(M(D) \\in E) \\le e^{\\varepsilon} P(M(D') \\in E) + \\delta`. DP
libraries test their mechanisms empirically (REFERENCE.md section 7): draw
``N`` outputs on each dataset, bin them, and check

.. math:: \\hat\\delta = \\max_{(a, b)} \\sum_{\\text{bins}} \\max\\Big(0, \\frac{c_a}{N_a}
          - e^{\\varepsilon}\\frac{c_b}{N_b}\\Big) \\le \\delta + \\text{tolerance},

over both orders :math:`(a, b) = (D, D'), (D', D)`.

The tolerance (**[derived]**, from counts): binning is post-processing, so the
binned laws :math:`p_a, p_b` satisfy :math:`\\sum \\max(0, p_a - e^\\varepsilon p_b) \\le
\\delta`; and :math:`\\max(0, x + y) \\le \\max(0, x) + |y|` gives
:math:`\\hat\\delta \\le \\delta + \\|\\hat p_a - p_a\\|_1 + e^{\\varepsilon}\\|\\hat p_b - p_b\\|_1`.
For ``K`` bins, :math:`\\mathbb{E}\\|\\hat p - p\\|_1 \\le \\sqrt{K/N}` (Cauchy-Schwarz)
and :math:`\\|\\hat p - p\\|_1` changes by at most :math:`2/N` when one draw
changes, so McDiarmid gives :math:`P(\\|\\hat p - p\\|_1 > \\sqrt{K/N} + t) \\le e^{-Nt^2/2}`.
With probability at least :math:`1 - \\text{level}`:

.. math:: \\hat\\delta \\le \\delta + \\Big(\\sqrt{\\tfrac{K}{N_a}} + \\sqrt{\\tfrac{2\\ln(2/\\text{level})}{N_a}}\\Big)
          + e^{\\varepsilon}\\Big(\\sqrt{\\tfrac{K}{N_b}} + \\sqrt{\\tfrac{2\\ln(2/\\text{level})}{N_b}}\\Big),

taking the larger of the two orders' tolerances. A correct mechanism fails
the audit with probability at most ``level``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .._validation import as_float_array, check_int, check_level, check_real

__all__ = ["audit_edges", "histogram_dp_statistic", "histogram_audit_tolerance", "AuditResult",
           "audit_dp", "laplace_binned_hockey_stick"]


def audit_edges(value_a: float, value_b: float, scale: float, bins: int = 40,
                span: float = 6.0) -> np.ndarray:
    """Bin edges for auditing a noise mechanism centred at ``value_a`` and ``value_b``.

    ``bins`` equal bins on each side (``span`` scales beyond the two centres),
    the interval between the centres cut in four, and two infinite tails; the
    centres themselves are edges (where the Laplace privacy loss has its kinks).
    """
    lo, hi = sorted((check_real("value_a", value_a), check_real("value_b", value_b)))
    scale = check_real("scale", scale, low=0.0, low_open=True)
    bins = check_int("bins", bins, low=2)
    span = check_real("span", span, low=0.0, low_open=True)
    half = max(bins // 2, 1)
    left = np.linspace(lo - span * scale, lo, half + 1)
    middle = np.linspace(lo, hi, 5)[1:-1] if hi > lo else np.array([])
    right = np.linspace(hi, hi + span * scale, half + 1)
    edges = np.unique(np.concatenate([[-np.inf], left, middle, right, [np.inf]]))
    return edges


def _check_edges(edges) -> np.ndarray:
    """Bin edges: a 1-D array of at least two real numbers, strictly increasing.

    Infinite ends (``-inf``, ``inf``) are allowed, NaN is not; equal or
    decreasing neighbours are refused (``[-inf, -inf, ...]`` included).
    """
    raw = np.asarray(edges)
    if raw.dtype.kind not in "biuf":
        raise ValueError(f"edges: must be real numbers (got dtype {raw.dtype})")
    e = raw.astype(np.float64)
    if e.ndim != 1 or e.size < 2:
        raise ValueError(f"edges: must be a 1-D array of at least two edges (got shape "
                         f"{e.shape})")
    if np.isnan(e).any():
        raise ValueError("edges: must not contain NaN")
    if not np.all(e[1:] > e[:-1]):
        i = int(np.flatnonzero(~(e[1:] > e[:-1]))[0])
        raise ValueError(f"edges: must be strictly increasing (got edges[{i}] = {e[i]!r} >= "
                         f"edges[{i + 1}] = {e[i + 1]!r})")
    return e


def _epsilon(epsilon) -> float:
    return check_real("epsilon", epsilon, low=0.0, low_open=True)


def _counts(samples, edges):
    x = as_float_array("samples", samples, ndim=1)
    idx = np.searchsorted(edges, x, side="right") - 1
    return np.bincount(np.clip(idx, 0, len(edges) - 2), minlength=len(edges) - 1)


def histogram_dp_statistic(samples_a, samples_b, edges, epsilon: float) -> float:
    """:math:`\\hat\\delta`: the larger of :math:`\\sum\\max(0, c_a/N_a - e^\\varepsilon c_b/N_b)` over both orders.

    Parameters
    ----------
    samples_a, samples_b : (N_a,), (N_b,) arrays
        Finite outputs on the two neighbouring datasets (non-empty).
    edges : (K + 1,) array
        Strictly increasing bin edges; a sample beyond the ends is counted in
        the end bin (still a fixed binning, so still post-processing).
    epsilon : float
        The epsilon claimed (finite, > 0).

    Returns
    -------
    float

    Raises
    ------
    ValueError
        Naming ``epsilon``, ``edges``, ``samples_a`` or ``samples_b``.
    """
    epsilon = _epsilon(epsilon)
    edges = _check_edges(edges)
    ca, cb = _counts(samples_a, edges), _counts(samples_b, edges)
    for name, c in (("samples_a", ca), ("samples_b", cb)):
        if c.sum() == 0:
            raise ValueError(f"{name}: must contain at least one sample")
    pa, pb = ca / ca.sum(), cb / cb.sum()
    e = math.exp(epsilon)
    return float(max(np.maximum(0.0, pa - e * pb).sum(), np.maximum(0.0, pb - e * pa).sum()))


def histogram_audit_tolerance(n_a: int, n_b: int, n_bins: int, epsilon: float,
                              level: float) -> float:
    """The count-based tolerance of the module docstring (the larger of the two orders).

    Parameters
    ----------
    n_a, n_b : int
        Sample sizes (>= 1).
    n_bins : int
        ``K`` (>= 1).
    epsilon : float
        The epsilon claimed (finite, > 0).
    level : float
        In ``(0, 1)``.

    Returns
    -------
    float
    """
    n_a = check_int("n_a", n_a, low=1)
    n_b = check_int("n_b", n_b, low=1)
    n_bins = check_int("n_bins", n_bins, low=1)
    epsilon = _epsilon(epsilon)
    level = check_level("level", level)

    def dev(n):
        return math.sqrt(n_bins / n) + math.sqrt(2.0 * math.log(2.0 / level) / n)

    e = math.exp(epsilon)
    return max(dev(n_a) + e * dev(n_b), dev(n_b) + e * dev(n_a))


@dataclass(frozen=True)
class AuditResult:
    """Outcome of :func:`audit_dp`: ``passed`` when ``statistic <= delta + tolerance``."""

    statistic: float
    tolerance: float
    delta: float
    epsilon: float
    level: float
    n_a: int
    n_b: int
    n_bins: int

    @property
    def passed(self) -> bool:
        return self.statistic <= self.delta + self.tolerance


def audit_dp(samples_a, samples_b, epsilon: float, edges, *, delta: float = 0.0,
             level: float = 1e-6) -> AuditResult:
    """Histogram audit of :math:`(\\varepsilon, \\delta)`-DP from outputs on two neighbouring datasets.

    Parameters
    ----------
    samples_a, samples_b : (N_a,), (N_b,) arrays
        Independent outputs of the mechanism on ``D`` and on ``D'``.
    epsilon : float
        The epsilon claimed (finite, > 0).
    edges : (K + 1,) array
        Strictly increasing bin edges (``-inf`` and ``inf`` at the ends to catch all).
    delta : float
        The delta claimed, in ``[0, 1)``.
    level : float
        The probability that a correct mechanism fails the audit is at most this.

    Returns
    -------
    AuditResult

    Raises
    ------
    ValueError
        Naming the argument: ``epsilon <= 0`` or not finite, ``delta`` outside
        ``[0, 1)``, edges not strictly increasing, empty or non-finite samples.
    """
    a = as_float_array("samples_a", samples_a, ndim=1)
    b = as_float_array("samples_b", samples_b, ndim=1)
    for name, x in (("samples_a", a), ("samples_b", b)):
        if x.size == 0:
            raise ValueError(f"{name}: must contain at least one sample")
    e = _check_edges(edges)
    epsilon = _epsilon(epsilon)
    delta = check_real("delta", delta, low=0.0, high=1.0, high_open=True)
    stat = histogram_dp_statistic(a, b, e, epsilon)
    tol = histogram_audit_tolerance(a.size, b.size, e.size - 1, epsilon, level)
    return AuditResult(stat, tol, delta, epsilon, level, a.size, b.size, e.size - 1)


def _laplace_bin_masses(edges, loc, scale) -> np.ndarray:
    """Masses of ``Lap(loc, scale)`` on the bins ``[e_i, e_{i+1}]``, accurate in both tails.

    A difference of CDF values near 1 loses the mass of a thin right-tail bin to
    cancellation (relative error ``1e-16 / p``). Here each bin's mass is written
    from the tail it lies in: right of ``loc``,
    :math:`S(l) - S(r) = -\\tfrac12 e^{-z_l}\\,\\mathrm{expm1}(z_l - z_r)`; left of
    ``loc``, :math:`F(r) - F(l) = -\\tfrac12 e^{z_r}\\,\\mathrm{expm1}(z_l - z_r)`;
    a bin that contains ``loc``: :math:`1 - \\tfrac12 e^{z_l} - \\tfrac12 e^{-z_r}`.
    Each mass then has a relative error of a few ulps.
    """
    e = np.asarray(edges, dtype=float)
    z = (e - loc) / scale
    zl, zr = z[:-1], z[1:]
    # the width from the edges themselves (not zl - zr, which loses digits when the bin is
    # thin and far out): the same factor for every location, so ratios of masses are exact
    with np.errstate(invalid="ignore"):
        width = np.where(np.isfinite(e[:-1]) & np.isfinite(e[1:]),
                         (e[:-1] - e[1:]) / scale, -np.inf)
    with np.errstate(over="ignore", invalid="ignore"):
        right = -0.5 * np.exp(-np.maximum(zl, 0.0)) * np.expm1(width)
        left = -0.5 * np.exp(np.minimum(zr, 0.0)) * np.expm1(width)
        middle = 1.0 - 0.5 * np.exp(np.minimum(zl, 0.0)) - 0.5 * np.exp(-np.maximum(zr, 0.0))
    return np.where(zl >= 0.0, right, np.where(zr <= 0.0, left, middle))


def laplace_binned_hockey_stick(epsilon: float, loc_a: float, loc_b: float, scale: float,
                                edges) -> float:
    """Exact :math:`\\max_{(a,b)}\\sum_{\\text{bins}}\\max(0, p_a - e^\\varepsilon p_b)` for two Laplace laws.

    ``p_a``, ``p_b`` are the bin probabilities of :math:`\\mathrm{Lap}(\\text{loc}_a, b)`
    and :math:`\\mathrm{Lap}(\\text{loc}_b, b)`, each taken from the tail it lies in
    (a survival-function difference on the right, a CDF difference on the left, both
    through ``expm1``), so thin tail bins keep their relative precision. For
    :math:`|\\text{loc}_a - \\text{loc}_b|/b \\le \\varepsilon` it is 0 (the Laplace
    mechanism is :math:`\\varepsilon`-DP, binning is post-processing); above, it is positive.

    Parameters
    ----------
    epsilon : float
        Finite, > 0.
    loc_a, loc_b : float
        The two centres (finite).
    scale : float
        The Laplace scale ``b`` (finite, > 0).
    edges : (K + 1,) array
        Strictly increasing bin edges (infinite ends allowed).

    Returns
    -------
    float
    """
    epsilon = _epsilon(epsilon)
    scale = check_real("scale", scale, low=0.0, low_open=True)
    e = _check_edges(edges)
    pa = _laplace_bin_masses(e, check_real("loc_a", loc_a), scale)
    pb = _laplace_bin_masses(e, check_real("loc_b", loc_b), scale)
    k = math.exp(epsilon)
    return float(max(np.maximum(0.0, pa - k * pb).sum(), np.maximum(0.0, pb - k * pa).sum()))
