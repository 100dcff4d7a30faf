r"""How many sampled rows a (1 ± ε) :math:`\ell_p` subspace embedding needs, measured exactly.

For a matrix ``A``, a score vector ``s`` (sensitivities, root-leverage
scores, leverage scores) and a target ``eps``, the *sample complexity*
:math:`m_\varepsilon(A)` is the expected sample size
:math:`\sum_i \min(1, \alpha s_i)` at which the median distortion over
``reps`` independent samples falls to ``eps`` (log-linear interpolation
between the sizes of a geometric grid). Distortions are exact for
``p in {1, 2}`` and certified brackets otherwise
(:class:`~toytheory.sampling.sensitivity_sampling.DistortionOracle`).

Across matrices, :func:`fit_exponent` regresses
:math:`\log m_\varepsilon` on :math:`\log \mathfrak S` (or on
:math:`\log d`): Woodruff and Yasuda's bounds predict slopes of at most
:math:`2/p` for :math:`1 \le p < 2`, :math:`2 - 2/p` for :math:`p > 2`, and
about 1 in ``d`` for root-leverage sampling.

References
----------
Woodruff and Yasuda, "Sharper Bounds for ell_p Sensitivity Sampling"
(ICML 2023), Section 1 (main results: sample sizes of sensitivity and
root-leverage sampling) and Section 7 (sampling guarantees).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._random import as_generator
from .._validation import as_float_array, check_int, check_level, check_real
from ._checks import check_design, check_p
from .sensitivity_sampling import DistortionOracle, sample_rows

__all__ = ["FAMILIES", "family_matrix", "SampleComplexity", "samples_needed", "ExponentFit",
           "fit_exponent"]

FAMILIES = ("sign", "spiky", "gaussian", "heavy_tailed")


def family_matrix(family: str, n: int, d: int, *, rng=None) -> np.ndarray:
    """An ``(n, d)`` matrix from one of four families with very different sensitivities.

    ``"sign"``
        i.i.d. signs: flat, every row alike (small total sensitivity for
        ``p < 2``, large for ``p > 2``).
    ``"spiky"``
        the ``d`` coordinate vectors plus ``n - d`` Gaussian rows of scale
        ``1/n^2``: a few rows carry the subspace (total sensitivity near ``d``
        for every ``p``).
    ``"gaussian"``
        i.i.d. standard normal entries.
    ``"heavy_tailed"``
        Gaussian rows scaled by Pareto(1.5) factors.
    """
    if family not in FAMILIES:
        raise ValueError(f"family: must be one of {FAMILIES} (got {family!r})")
    d = check_int("d", d, low=1)
    n = check_int("n", n, low=d)
    gen = as_generator(rng)
    if family == "sign":
        while True:
            a = gen.choice([-1.0, 1.0], size=(n, d))
            if np.linalg.matrix_rank(a) == d:
                return a
    if family == "spiky":
        a = gen.standard_normal((n, d)) / n**2
        a[:d] += np.eye(d)
        return a[gen.permutation(n)]
    if family == "gaussian":
        return gen.standard_normal((n, d))
    return gen.standard_normal((n, d)) * (gen.pareto(1.5, size=(n, 1)) + 1.0)


@dataclass(frozen=True)
class SampleComplexity:
    """The measured sample complexity of one matrix and score vector.

    Attributes
    ----------
    m_needed : float
        Interpolated expected size at which the median distortion reaches
        ``eps`` (NaN if no size in the grid reaches it).
    sizes : (k,) array
        The expected sample sizes tried.
    median_distortion : (k,) array
    eps : float
    reps : int
    """

    m_needed: float
    sizes: np.ndarray
    median_distortion: np.ndarray
    eps: float
    reps: int


def samples_needed(a, p, scores, eps, *, sizes, reps: int = 9, rng=None,
                   oracle: DistortionOracle | None = None) -> SampleComplexity:
    r"""Expected sample size at which the median distortion of score sampling reaches ``eps``.

    Parameters
    ----------
    a : (n, d) array
    p : float, >= 1
    scores : (n,) array
        Sampling scores (``q_i = min(1, alpha s_i)``).
    eps : float in (0, 1)
    sizes : increasing sequence of float
        Expected sample sizes to try (at most the number of positive scores).
    reps : int
        Samples per size (the median is taken over them).
    rng : Generator, int or None
    oracle : DistortionOracle, optional
        Reused across calls on the same matrix (built for ``a`` and ``p``).

    Raises
    ------
    ValueError
        Bad ``a``, ``p``, ``eps`` or ``reps``; ``scores`` not ``n``
        non-negative values with a positive one; ``sizes`` not increasing in
        ``(0, #{i : s_i > 0}]``; an ``oracle`` for another matrix or ``p``.
    """
    p = check_p(p)
    a = check_design("a", a)
    n = a.shape[0]
    eps = check_real("eps", eps, low=0.0, high=1.0, low_open=True, high_open=True)
    reps = check_int("reps", reps, low=1)
    scores = as_float_array("scores", scores, ndim=1)
    if scores.shape[0] != n:
        raise ValueError(f"scores: must have one entry per row of a, n = {n} "
                         f"(got {scores.shape[0]})")
    if np.any(scores < 0) or not np.any(scores > 0):
        raise ValueError("scores: must be non-negative with at least one positive entry")
    positive = int(np.sum(scores > 0))
    sizes = as_float_array("sizes", sizes, ndim=1)
    if sizes.size < 2 or np.any(np.diff(sizes) <= 0):
        raise ValueError("sizes: must be at least two increasing values")
    if sizes[0] <= 0 or sizes[-1] > positive:
        raise ValueError(f"sizes: must lie in (0, {positive}], the number of positive scores "
                         f"(got [{sizes[0]:g}, {sizes[-1]:g}])")
    gen = as_generator(rng)
    if oracle is None:
        oracle = DistortionOracle(a, p)
    elif not isinstance(oracle, DistortionOracle):
        raise ValueError(f"oracle: must be a DistortionOracle (got {type(oracle).__name__})")
    elif oracle.p != p or oracle.a.shape != a.shape or not np.array_equal(oracle.a, a):
        raise ValueError(f"oracle: must be built for this a (shape {a.shape}) and p = {p} "
                         f"(got shape {oracle.a.shape}, p = {oracle.p})")
    med = np.empty(sizes.size)
    m_needed = np.nan
    for j, m in enumerate(sizes):
        dist = [oracle(*_draw(scores, p, m, gen)).value for _ in range(reps)]
        med[j] = float(np.median(dist))
        if med[j] <= eps:
            if j == 0:
                m_needed = float(m)
            else:
                x0, x1 = np.log(sizes[j - 1]), np.log(m)
                y0, y1 = np.log(max(med[j - 1], 1e-300)), np.log(max(med[j], 1e-300))
                frac = 1.0 if y1 == y0 else (y0 - np.log(eps)) / (y0 - y1)
                m_needed = float(np.exp(x0 + np.clip(frac, 0.0, 1.0) * (x1 - x0)))
            med[j + 1:] = np.nan
            break
    return SampleComplexity(m_needed, sizes, med, eps, reps)


def _draw(scores, p, m, gen):
    s = sample_rows(scores, p, expected_size=m, rng=gen)
    return s.indices, s.weights


@dataclass(frozen=True)
class ExponentFit:
    """Least-squares fit of ``log y = intercept + slope * log x``.

    Attributes
    ----------
    slope, intercept, stderr : float
    interval : (float, float)
        Two-sided t-interval for the slope at confidence ``1 - level``.
    level : float
    points : int
    """

    slope: float
    intercept: float
    stderr: float
    interval: tuple[float, float]
    level: float
    points: int


def fit_exponent(x, y, *, groups=None, level: float = 0.05) -> ExponentFit:
    """OLS slope of ``log y`` on ``log x`` with its standard error and t-interval.

    Parameters
    ----------
    x, y : (k,) arrays of positive values
    groups : (k,) array of labels, optional
        Fit one intercept per group and a common slope (fixed effects): the
        slope then measures how ``y`` scales with ``x`` within a family of
        matrices, not across families.
    level : float
        The interval has confidence ``1 - level``.

    Returns
    -------
    ExponentFit
        ``intercept`` is the first group's intercept when ``groups`` is given.
    """
    from scipy import stats as sps

    x = as_float_array("x", x, ndim=1)
    y = as_float_array("y", y, ndim=1)
    if x.shape != y.shape:
        raise ValueError("x, y: must have the same length")
    if np.any(x <= 0) or np.any(y <= 0):
        raise ValueError("x, y: must be positive")
    level = check_level("level", level)
    lx, ly = np.log(x), np.log(y)
    if groups is None:
        labels = np.zeros(x.size, dtype=np.int64)
    else:
        g = np.asarray(groups)
        if g.shape != x.shape:
            raise ValueError("groups: must have the length of x")
        _, labels = np.unique(g, return_inverse=True)
    k = int(labels.max()) + 1
    design = np.zeros((x.size, k + 1))
    design[np.arange(x.size), labels] = 1.0
    design[:, k] = lx
    dof = x.size - (k + 1)
    if dof < 1:
        raise ValueError(f"x: needs more than {k + 1} points for {k} group(s) and a slope "
                         f"(got {x.size})")
    if np.linalg.matrix_rank(design) < k + 1:
        raise ValueError("x: must vary within at least one group")
    coef, *_ = np.linalg.lstsq(design, ly, rcond=None)
    resid = ly - design @ coef
    sigma2 = float(resid @ resid) / dof
    cov = sigma2 * np.linalg.inv(design.T @ design)
    se = float(np.sqrt(cov[k, k]))
    t = float(sps.t.ppf(1 - level / 2, dof))
    slope = float(coef[k])
    return ExponentFit(slope, float(coef[0]), se, (slope - t * se, slope + t * se), level,
                       int(x.size))


@dataclass(frozen=True)
class StudyRow:
    """One matrix of a sample-complexity study."""

    family: str
    d: int
    n: int
    total_sensitivity: float
    m_needed: float
    censored: str  # "" (measured), "below" (reached at the smallest size), "above" (never)
    curve: SampleComplexity


def sample_complexity_study(p, *, dims, families=FAMILIES, n: int, eps: float,
                            reps: int = 9, sizes: int = 10, matrices: int = 1,
                            scores: str = "sensitivity", rng=None) -> list[StudyRow]:
    r"""Measure :math:`m_\varepsilon` for matrices of several families and dimensions.

    Parameters
    ----------
    p : float, >= 1
    dims : sequence of int
    families : sequence of str
        From :data:`FAMILIES`.
    n : int
        Rows per matrix.
    eps : float
        Target distortion.
    reps, sizes : int
        Samples per size; number of expected sizes on a geometric grid from
        ``d`` to ``n / 2``.
    matrices : int
        Matrices per (family, d).
    scores : {"sensitivity", "root_leverage", "leverage"}
        Sampling scores: :math:`\ell_p` sensitivities, :math:`\tau_i^{p/2}`,
        or :math:`\tau_i`.
    rng : Generator, int or None

    Returns
    -------
    list of StudyRow
        A value reached already at the smallest size is censored "below", one
        never reached is censored "above"; fits should leave both out and say
        how many there were.
    """
    from .leverage import leverage_scores
    from .sensitivities import lp_sensitivities

    p = check_p(p)
    n = check_int("n", n, low=2)
    matrices = check_int("matrices", matrices, low=1)
    sizes = check_int("sizes", sizes, low=2)
    if scores not in ("sensitivity", "root_leverage", "leverage"):
        raise ValueError("scores: must be 'sensitivity', 'root_leverage' or 'leverage' "
                         f"(got {scores!r})")
    gen = as_generator(rng)
    rows = []
    for d in dims:
        d = check_int("dims", d, low=1)
        grid = np.geomspace(d, n / 2.0, sizes)
        for fam in families:
            for _ in range(matrices):
                a = family_matrix(fam, n, d, rng=gen)
                total = lp_sensitivities(a, p).total
                if scores == "sensitivity":
                    sc = lp_sensitivities(a, p).values
                elif scores == "root_leverage":
                    sc = leverage_scores(a) ** (p / 2.0)
                else:
                    sc = leverage_scores(a)
                curve = samples_needed(a, p, sc, eps, sizes=grid, reps=reps, rng=gen,
                                       oracle=DistortionOracle(a, p, tol=min(2e-3, eps / 50),
                                                               max_memory=50_000_000))
                if not np.isfinite(curve.m_needed):
                    cens = "above"
                elif curve.m_needed <= grid[0] * (1 + 1e-12):
                    cens = "below"
                else:
                    cens = ""
                rows.append(StudyRow(fam, d, n, float(total), curve.m_needed, cens, curve))
    return rows


__all__ += ["StudyRow", "sample_complexity_study"]
