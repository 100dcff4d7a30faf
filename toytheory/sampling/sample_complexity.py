r"""How many sampled rows a (1 ± ε) :math:`\ell_p` subspace embedding needs, measured exactly.

For a matrix ``A``, a score vector ``s`` (sensitivities, root-leverage
scores, leverage scores) and a target ``eps``, the *sample complexity*
:math:`m_\varepsilon(A)` is the expected sample size
:math:`\sum_i \min(1, \alpha s_i)` at which the median distortion over
``reps`` independent samples falls to ``eps`` (log-linear interpolation
between the sizes of a geometric grid). Distortions are exact for
``p in {1, 2}`` and certified brackets otherwise
(:class:`~toytheory.sampling.sensitivity_sampling.DistortionOracle`).

:func:`block_study` measures it on block-diagonal matrices
:math:`\mathrm{diag}(B_1, \dots, B_k)` of i.i.d. small blocks: the total
sensitivity and ``d`` grow linearly in ``k`` (over more than 10x) while the
distortion stays exact, block by block (:class:`BlockDiagonalOracle`).
:func:`rank_bound_size` is the exact necessary size on matrices with equal
sensitivities (fewer than ``d`` kept rows leave distortion at least 1), and
:func:`polylog_slack` the slope a polylogarithmic factor can add over a range.

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
    elif not isinstance(oracle, (DistortionOracle, BlockDiagonalOracle)):
        raise ValueError("oracle: must be a DistortionOracle or BlockDiagonalOracle "
                         f"(got {type(oracle).__name__})")
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


def block_diagonal(blocks) -> np.ndarray:
    """The block-diagonal matrix ``diag(B_1, ..., B_k)`` of ``(n_j, d_j)`` blocks."""
    blocks = [check_design(f"blocks[{j}]", b) for j, b in enumerate(blocks)]
    if not blocks:
        raise ValueError("blocks: must contain at least one block")
    n = sum(b.shape[0] for b in blocks)
    d = sum(b.shape[1] for b in blocks)
    out = np.zeros((n, d))
    r = c = 0
    for b in blocks:
        out[r:r + b.shape[0], c:c + b.shape[1]] = b
        r += b.shape[0]
        c += b.shape[1]
    return out


class BlockDiagonalOracle:
    r"""Exact distortion of row samples of a block-diagonal matrix, block by block.

    For :math:`A = \mathrm{diag}(B_1, \dots, B_k)` and
    :math:`x = (x_1, \dots, x_k)`,
    :math:`\|SAx\|_p^p / \|Ax\|_p^p = \sum_j c_j r_j / \sum_j c_j` with
    :math:`c_j = \|B_j x_j\|_p^p \ge 0` free and :math:`r_j` the ratio of block
    :math:`j`; so the range of the ratio is the hull of the blocks' ranges and
    the distortion :math:`\sup_x |\text{ratio} - 1|` is the largest block
    distortion (a certified bracket ``[max lower_j, max upper_j]``).

    The ``l_p`` sensitivities of ``A`` are those of its blocks (take
    :math:`x_l = 0` off the row's block), so the total sensitivity is the
    sum of the blocks' totals.

    Parameters
    ----------
    blocks : sequence of (n_j, d_j) arrays, full column rank
    p : float, >= 1
    **oracle_kw
        Passed to each block's :class:`DistortionOracle`.
    """

    def __init__(self, blocks, p, **oracle_kw):
        self.p = check_p(p)
        self.blocks = [check_design(f"blocks[{j}]", b) for j, b in enumerate(blocks)]
        if not self.blocks:
            raise ValueError("blocks: must contain at least one block")
        self.a = block_diagonal(self.blocks)
        self.oracles = [DistortionOracle(b, self.p, **oracle_kw) for b in self.blocks]
        self.offsets = np.cumsum([0] + [b.shape[0] for b in self.blocks])

    def __call__(self, indices, weights):
        from .sensitivity_sampling import DistortionResult, _weights_vector

        n = self.a.shape[0]
        w = _weights_vector(n, indices, weights)
        lo = hi = -np.inf
        rmin, rmax = np.inf, -np.inf
        exact = True
        for j, orc in enumerate(self.oracles):
            wj = w[self.offsets[j]:self.offsets[j + 1]]
            keep = np.flatnonzero(wj > 0)
            res = orc(keep, wj[keep])
            lo, hi = max(lo, res.lower), max(hi, res.upper)
            rmin, rmax = min(rmin, res.ratio_range[0]), max(rmax, res.ratio_range[1])
            exact = exact and res.exact
        return DistortionResult(float(lo), float(hi), exact, "blocks", (float(rmin), float(rmax)))


def block_study(p, *, blocks, family: str, block_rows: int, block_dim: int, eps: float,
                reps: int = 9, sizes: int = 10, matrices: int = 1,
                scores: str = "sensitivity", top: float = 0.9, rng=None) -> list[StudyRow]:
    r"""Measure :math:`m_\varepsilon` on block-diagonal matrices of ``k`` blocks, ``k in blocks``.

    Each matrix is :math:`\mathrm{diag}(B_1, \dots, B_k)` with i.i.d. blocks
    ``family_matrix(family, block_rows, block_dim)``: its dimension is
    ``k * block_dim`` and its total sensitivity the sum of the blocks' totals,
    so ``k`` over ``1..16`` moves the total sensitivity over a 10x range and
    more while every distortion stays exact (block by block, see
    :class:`BlockDiagonalOracle`). The size grid is geometric from ``d`` to
    ``top * n`` (``n = k * block_rows``).

    Returns
    -------
    list of StudyRow
        As :func:`sample_complexity_study` (``family`` is ``"<family> x k"``
        grouped under ``family``).
    """
    from .leverage import leverage_scores
    from .sensitivities import lp_sensitivities

    p = check_p(p)
    if family not in FAMILIES:
        raise ValueError(f"family: must be one of {FAMILIES} (got {family!r})")
    block_rows = check_int("block_rows", block_rows, low=2)
    block_dim = check_int("block_dim", block_dim, low=1, high=block_rows - 1)
    matrices = check_int("matrices", matrices, low=1)
    sizes = check_int("sizes", sizes, low=2)
    if scores not in ("sensitivity", "root_leverage", "leverage"):
        raise ValueError("scores: must be 'sensitivity', 'root_leverage' or 'leverage' "
                         f"(got {scores!r})")
    top = check_real("top", top, low=0.0, high=1.0, low_open=True)
    ks = [check_int("blocks", k, low=1) for k in blocks]
    if len(ks) < 2:
        raise ValueError("blocks: needs at least two block counts")
    gen = as_generator(rng)
    rows = []
    for k in ks:
        d, n = k * block_dim, k * block_rows
        grid = np.geomspace(d, top * n, sizes)
        for _ in range(matrices):
            bl = [family_matrix(family, block_rows, block_dim, rng=gen) for _ in range(k)]
            sens = [lp_sensitivities(b, p) for b in bl]
            total = float(sum(s.total for s in sens))
            if scores == "sensitivity":
                sc = np.concatenate([s.values for s in sens])
            elif scores == "root_leverage":
                sc = np.concatenate([leverage_scores(b) for b in bl]) ** (p / 2.0)
            else:
                sc = np.concatenate([leverage_scores(b) for b in bl])
            oracle = BlockDiagonalOracle(bl, p, tol=min(2e-3, eps / 50),
                                         max_memory=50_000_000)
            curve = samples_needed(oracle.a, p, sc, eps, sizes=grid, reps=reps, rng=gen,
                                   oracle=oracle)
            if not np.isfinite(curve.m_needed):
                cens = "above"
            elif curve.m_needed <= grid[0] * (1 + 1e-12):
                cens = "below"
            else:
                cens = ""
            rows.append(StudyRow(family, d, n, total, curve.m_needed, cens, curve))
    return rows


def polylog_slack(x_min: float, x_max: float, power: float = 2.0) -> float:
    r"""The slope a factor :math:`\log^{power}(e x)` adds over :math:`[x_{min}, x_{max}]`.

    :math:`power \cdot \log(\log(e x_{max}) / \log(e x_{min})) / \log(x_{max}/x_{min})`:
    the most by which a bound of the form :math:`x^{a} \log^{power}(e x)` can
    steepen a log-log chord of :math:`x^{a}` over the range ("roughly" in the
    paper's sense hides such factors).
    """
    x_min = check_real("x_min", x_min, low=0.0, low_open=True)
    x_max = check_real("x_max", x_max, low=0.0, low_open=True)
    if x_max <= x_min:
        raise ValueError(f"x_max: must exceed x_min (got {x_min}, {x_max})")
    power = check_real("power", power, low=0.0)
    return float(power * np.log(np.log(np.e * x_max) / np.log(np.e * x_min))
                 / np.log(x_max / x_min))


__all__ += ["block_diagonal", "BlockDiagonalOracle", "block_study", "polylog_slack"]


def rank_bound_size(rows: int, d: int, *, mass: float = 0.5) -> float:
    r"""The expected sample size below which uniform row sampling leaves rank below ``d``.

    Keeping each of ``rows`` rows independently with probability ``m / rows``
    (sensitivity sampling on a matrix whose sensitivities are all equal), the
    number ``K`` of kept rows is Binomial(rows, m/rows); a sample with
    ``K < d`` rows spans less than ``R^d``, so some ``x`` has ``SAx = 0 != Ax``
    and the distortion is at least 1. Returns the ``m`` at which
    :math:`P(K \ge d) = ` ``mass``: below it, the median distortion is at least 1
    for every ``eps < 1``, so at least this many samples are *necessary*.

    For ``rows > 2**40`` the binomial is replaced by its Poisson limit
    (Le Cam: total-variation error at most :math:`m^2/\mathrm{rows}`, below
    ``1e-9`` in that range for ``m < 1000``).

    Raises
    ------
    ValueError
        ``rows < d``, ``d < 1``, or ``mass`` not in (0, 1).
    """
    from scipy import optimize
    from scipy import stats as sps

    d = check_int("d", d, low=1)
    if isinstance(rows, float) and rows.is_integer():
        rows = int(rows)
    rows = check_int("rows", rows, low=d)
    mass = check_real("mass", mass, low=0.0, high=1.0, low_open=True, high_open=True)
    if rows > 2**40:
        if d > 1000:
            raise ValueError(f"d: must be at most 1000 when rows > 2**40 (got {d})")
        return float(optimize.brentq(lambda m: sps.poisson.sf(d - 1, m) - mass, 1e-9,
                                     4.0 * d + 40.0, xtol=1e-12))
    return float(optimize.brentq(lambda m: sps.binom.sf(d - 1, rows, m / rows) - mass, 1e-9,
                                 float(rows), xtol=1e-12))


__all__ += ["rank_bound_size"]
