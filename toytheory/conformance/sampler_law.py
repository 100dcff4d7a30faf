r"""``check_sampler_law``: samples from any sampler against an exact law.

Discrete laws (a probability vector over ``0..K-1``): Pearson's chi-square on the
counts (:func:`toytheory.stats.chisquare_gof`) at the level. Continuous laws: the
one-sample Kolmogorov–Smirnov test (:func:`toytheory.stats.ks_1samp`) against the exact
CDF, in one dimension (a scipy frozen distribution) or, for a
:class:`~toytheory.diffusion.GaussianMixture` (a :class:`~toytheory.diffusion.Gaussian`
included) in ``d`` dimensions, on ``m`` fixed projections (the coordinate axes, the
principal axes of the covariance and the diagonal), whose laws are exact mixtures of
normals; Bonferroni over the ``m`` tests.

Power (continuous), from the Dvoretzky–Kiefer–Wolfowitz inequality with Massart's
constant, :math:`P(\sup|F_n - F| > t) \le 2e^{-2nt^2}`: a sampler whose law differs from
the exact one by a KS distance of at least

.. math:: \Delta = \sqrt{\frac{\ln(2m/\alpha)}{2n}} + \sqrt{\frac{\ln(2/\beta)}{2n}}

along one of the projections is rejected with probability at least :math:`1-\beta`
(the exact KS critical value is below the DKW one). Power (discrete): a law at total
variation :math:`t` from the exact one has chi-square divergence at least :math:`4t^2`
(Cauchy–Schwarz), so the statistic is non-central with non-centrality at least
:math:`4nt^2`; the detectable ``t`` is the smallest with
:math:`P(\chi^2_{\mathrm{df}}(4nt^2) > \chi^2_{\mathrm{df},1-\alpha}) \ge 1-\beta` (the
chi-square approximation, valid with expected counts of 5 or more; cells are pooled
to that first).

Why not the energy test: a permutation test can reject at level :math:`\alpha` only with
at least :math:`1/\alpha - 1` permutations, two million at the default 1e-6, each
:math:`O(n^2)` (:func:`toytheory.stats.energy_two_sample_test`): affordable for a claim,
not for a check meant to run in every test suite. The projections' exact CDFs give a
test at the level with a stated power instead.
"""

from __future__ import annotations

import math

import numpy as np

from ._defaults import resolve_level, resolve_seed
from ._result import CheckResult, check_callable, check_level

__all__ = ["check_sampler_law", "ks_detectable", "ks_min_samples", "chisquare_detectable_tv"]

_SAMPLER_SIG = "sampler(n, rng) -> (n,) or (n, d) array of draws"


def ks_detectable(n: int, level: float, miss: float, m: int = 1) -> float:
    """The KS distance detected with probability >= 1 - ``miss`` by ``m`` Bonferroni KS tests."""
    return (math.sqrt(math.log(2 * m / level) / (2 * n))
            + math.sqrt(math.log(2 / miss) / (2 * n)))


def ks_min_samples(distance: float, level: float, miss: float, m: int = 1) -> int:
    """The smallest ``n`` whose :func:`ks_detectable` is at most ``distance``."""
    c = math.sqrt(math.log(2 * m / level) / 2) + math.sqrt(math.log(2 / miss) / 2)
    return int(math.ceil((c / distance) ** 2))


def chisquare_detectable_tv(n: int, df: int, level: float, miss: float) -> float:
    """The total variation detected with probability >= 1 - ``miss`` (non-central chi-square)."""
    from scipy import stats
    from scipy.optimize import brentq

    crit = stats.chi2.isf(level, df)
    lam = brentq(lambda lam: stats.ncx2.sf(crit, df, lam) - (1 - miss), 1e-9, 1e7)
    return math.sqrt(lam / (4.0 * n))


def _projections(law):
    """(m, d) unit directions: axes, principal axes, diagonal (duplicates dropped)."""
    d = law.dim
    dirs = [np.eye(d)]
    if d > 1:
        _, vecs = np.linalg.eigh(np.asarray(law.covariance(), dtype=float))
        dirs.append(vecs.T)
        dirs.append(np.ones((1, d)) / math.sqrt(d))
    u = np.concatenate(dirs)
    keep = []
    for row in u:
        if all(abs(abs(row @ k) - 1.0) > 1e-9 for k in keep):
            keep.append(row)
    return np.array(keep)


def _projected_cdf(law, u):
    from scipy.stats import norm

    w = np.asarray(law.weights, float)
    mu = np.asarray(law.means, float) @ u
    sd = np.sqrt(np.einsum("i,kij,j->k", u, np.asarray(law.covs, float), u))

    def cdf(x):
        x = np.asarray(x, float)
        return (w[None, :] * norm.cdf((x[:, None] - mu[None, :]) / sd[None, :])).sum(axis=1)

    return cdf


def _kind(law):
    from toytheory.diffusion.laws import GaussianMixture

    if isinstance(law, GaussianMixture):
        return "mixture"
    if hasattr(law, "cdf") and hasattr(law, "rvs"):
        return "scipy"
    try:
        p = np.asarray(law, dtype=float)
    except (TypeError, ValueError):
        p = None
    if p is not None and p.ndim == 1 and p.size >= 2:
        if np.any(p < 0) or abs(p.sum() - 1.0) > 1e-9:
            raise ValueError("law: a probability vector must be non-negative and sum to one")
        return "discrete"
    raise ValueError("law: must be a probability vector (discrete), a scipy.stats frozen "
                     "continuous distribution (1-D) or a toytheory GaussianMixture/Gaussian "
                     f"(got {type(law).__name__})")


def check_sampler_law(sampler, law, *, n_samples: int | None = None, level: float | None = None,
                      miss: float | None = None, detectable: float | None = None,
                      seed: int | None = None) -> CheckResult:
    """Hold ``sampler``'s draws to the exact ``law`` (KS on projections, or chi-square).

    Parameters
    ----------
    sampler : callable
        ``sampler(n, rng)``: ``n`` independent draws using the numpy Generator ``rng``,
        an (n,) array (1-D or category indices) or an (n, d) array.
    law : array, scipy frozen distribution or GaussianMixture
        The exact law (see the module docstring).
    n_samples : int, optional
        Default 20 000, or the minimum for ``detectable`` when that is given.
    level : float, optional
        Probability that a correct sampler fails, in (0, 1); default 1e-6 (or the
        plugin's ``--toytheory-level``).
    miss : float, optional
        The miss probability the power is stated at; default ``level``.
    detectable : float, optional
        The error (KS distance, or total variation for a discrete law) the check must
        detect with probability >= 1 - ``miss``; a ``n_samples`` too small for it raises.
    seed : int, optional
        Seeds the Generator passed to the sampler; default from the session seed.

    Returns
    -------
    CheckResult

    Raises
    ------
    ValueError
        Wrong sampler signature, bad law, level or miss outside (0, 1), ``n_samples`` too
        small for ``detectable`` (the message says the minimum), draws of the wrong shape.
    """
    check_callable("sampler", sampler, 2, _SAMPLER_SIG,
                   "wrap a sampler without an rng as lambda n, rng: sampler(n)")
    level = resolve_level(level)
    miss = level if miss is None else check_level("miss", miss)
    kind = _kind(law)
    seed = resolve_seed(seed, "check_sampler_law")
    if kind == "discrete":
        return _discrete(sampler, np.asarray(law, float), n_samples, level, miss, detectable, seed)
    return _continuous(sampler, law, kind, n_samples, level, miss, detectable, seed)


def _size(n_samples, minimum, detectable, what):
    if n_samples is None:
        return 20_000 if detectable is None else minimum
    if isinstance(n_samples, bool) or not isinstance(n_samples, (int, np.integer)) or n_samples < 2:
        raise ValueError(f"n_samples: must be an int >= 2 (got {n_samples!r})")
    if detectable is not None and n_samples < minimum:
        raise ValueError(f"n_samples: {n_samples} is too small to detect {what} "
                         f"{detectable:g} at this level and power; the minimum is {minimum}")
    return int(n_samples)


def _draw(sampler, n, seed, discrete):
    x = np.asarray(sampler(n, np.random.default_rng(seed)))
    if x.shape[0] != n or x.ndim not in (1, 2):
        raise ValueError(f"sampler: must return {n} draws as an (n,) or (n, d) array "
                         f"(got shape {x.shape})")
    return x


def _continuous(sampler, law, kind, n_samples, level, miss, detectable, seed):
    from toytheory import stats

    if kind == "scipy":
        dirs, cdfs, d = None, [law.cdf], 1
    else:
        dirs = _projections(law)
        cdfs = [_projected_cdf(law, u) for u in dirs]
        d = law.dim
    m = len(cdfs)
    if detectable is not None:
        if not detectable > 0:
            raise ValueError(f"detectable: must be > 0 (got {detectable!r})")
        minimum = ks_min_samples(float(detectable), level, miss, m)
    else:
        minimum = 2
    n = _size(n_samples, minimum, detectable, "a KS distance")
    x = _draw(sampler, n, seed, False).astype(float)
    if d == 1 and x.ndim == 2 and x.shape[1] == 1:
        x = x[:, 0]
    if (d == 1 and x.ndim != 1 and dirs is None) or (dirs is not None and (
            (x.ndim == 1 and d != 1) or (x.ndim == 2 and x.shape[1] != d))):
        raise ValueError(f"sampler: draws must have dimension {d} (got shape {x.shape})")
    if x.ndim == 1:
        x = x[:, None]
    results = []
    for j, cdf in enumerate(cdfs):
        proj = x[:, 0] if dirs is None else x @ dirs[j]
        results.append(stats.ks_1samp(proj, cdf, level / m))
    worst = int(np.argmax([r.statistic for r in results]))
    passed = not any(r.reject for r in results)
    delta = ks_detectable(n, level, miss, m)
    ev = [f"{m} KS test(s) of {n} draws against the exact CDF"
          + ("" if dirs is None else " of each projection (axes, principal axes, diagonal)")
          + f", each at level {level / m:.3g} (Bonferroni)"]
    for j, r in enumerate(results):
        mark = "REJECT" if r.reject else "ok"
        where = "" if dirs is None else f" along {np.round(dirs[j], 3).tolist()}"
        ev.append(f"KS distance {r.statistic:.4g}{where}: p = {r.pvalue:.3g} [{mark}]")
    return CheckResult(
        "check_sampler_law", getattr(sampler, "__name__", type(sampler).__name__), passed,
        measured={"ks_statistics": [r.statistic for r in results],
                  "pvalues": [r.pvalue for r in results], "n_samples": n,
                  "worst_projection": worst},
        bounds={"per_test_level": level / m}, level=level,
        power=(f"a KS distance >= {delta:.3g} along a tested projection is detected with "
               f"probability >= 1 - {miss:g} (DKW, n = {n}, m = {m})"),
        evidence=ev)


def _discrete(sampler, p, n_samples, level, miss, detectable, seed):
    from toytheory import stats

    k = p.size
    df_full = int(np.count_nonzero(p)) - 1
    if df_full < 1:
        raise ValueError("law: needs at least two categories of positive probability")
    if detectable is not None:
        if not detectable > 0:
            raise ValueError(f"detectable: must be > 0 (got {detectable!r})")
        # the detectable TV falls like 1/sqrt(n): solve at n = 1 and scale
        t1 = chisquare_detectable_tv(1, df_full, level, miss)
        minimum = max(int(math.ceil((t1 / float(detectable)) ** 2)),
                      int(math.ceil(5.0 / p[p > 0].min())))
    else:
        minimum = 2
    n = _size(n_samples, minimum, detectable, "a total variation")
    x = _draw(sampler, n, seed, True)
    if x.ndim != 1 or not np.all(np.equal(np.mod(x, 1), 0)):
        raise ValueError("sampler: a discrete law needs integer category indices, one per draw")
    x = x.astype(np.int64)
    bad = (x < 0) | (x >= k)
    if np.any(bad):
        raise ValueError(f"sampler: drew category {int(x[bad][0])} outside 0..{k - 1}")
    counts = np.bincount(x, minlength=k)
    res = stats.chisquare_gof(counts, p, level)
    df = int(res.details.get("df", df_full))
    tv = chisquare_detectable_tv(n, df, level, miss)
    emp_tv = 0.5 * float(np.abs(counts / n - p).sum())
    ev = [f"chi-square of {n} draws on {k} categories (df {df} after pooling to expected >= 5): "
          f"X2 = {res.statistic:.4g}, p = {res.pvalue:.3g} at level {level:g} "
          f"[{'REJECT' if res.reject else 'ok'}]",
          f"empirical total variation to the exact law: {emp_tv:.4g}"]
    return CheckResult(
        "check_sampler_law", getattr(sampler, "__name__", type(sampler).__name__), not res.reject,
        measured={"chi2": res.statistic, "pvalue": res.pvalue, "df": df, "counts": counts,
                  "n_samples": n, "empirical_tv": emp_tv},
        bounds={"level": level}, level=level,
        power=(f"a law at total variation >= {tv:.3g} (on the pooled cells) is detected with "
               f"probability >= 1 - {miss:g} (non-central chi-square, n = {n})"),
        evidence=ev)
