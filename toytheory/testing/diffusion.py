"""Hypothesis strategies for diffusion property suites: mixtures, schedules, noise, tails.

Every strategy draws integers and floats that hypothesis can shrink and builds
its arrays from a drawn seed through numpy, so the objects stay well formed.

Examples
--------
>>> from hypothesis import given
>>> from toytheory.testing.diffusion import gaussian_mixtures, noise_levels
>>> @given(gaussian_mixtures(kind="diagonal", max_dim=8), noise_levels())
... def test_score_is_finite(law, noise):
...     alpha, sigma = noise
...     ...

Sizes: ``"full"`` mixtures need one eigendecomposition of a d x d matrix per
component and cost O(K d^2) per point, so keep ``max_components * max_dim**2``
modest (the default bound is 2**16); ``"diagonal"``, ``"isotropic"`` and
``"delta"`` mixtures cost O(K d) per point and go to d = K = 1024.
"""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

from .strategies import seeds

__all__ = ["MIXTURE_KINDS", "gaussian_mixtures", "noise_levels", "ve_sigmas", "schedules",
           "schedule_times", "far_tail_points", "mode_points"]

MIXTURE_KINDS = ("full", "diagonal", "isotropic", "delta")
FULL_BUDGET = 2**16  # K * d^2 bound for full covariances


def _size(draw, value, low, high):
    if value is None:
        return draw(st.integers(low, high))
    if isinstance(value, int):
        return value
    return draw(value)


@st.composite
def gaussian_mixtures(draw, kind: str | None = None, *, dim=None, components=None,
                      max_dim: int = 6, max_components: int = 5,
                      mean_scale: tuple[float, float] = (0.0, 10.0),
                      variance_range: tuple[float, float] = (1e-3, 1e1),
                      singular: bool = True, full_budget: int = FULL_BUDGET):
    """Random Gaussian mixtures (:class:`toytheory.diffusion.laws.GaussianMixture`).

    Parameters
    ----------
    kind : {"full", "diagonal", "isotropic", "delta"}, optional
        Drawn among the four when omitted. ``"delta"`` gives a
        :class:`~toytheory.diffusion.laws.DeltaMixture`.
    dim, components : int or strategy, optional
        Drawn in ``[1, max_dim]`` and ``[1, max_components]`` when omitted.
    mean_scale : (float, float)
        Range of the spread of the means.
    variance_range : (float, float)
        Range of the (log-uniform) component variances / eigenvalues.
    singular : bool
        Allow components with zero eigenvalues (low-rank covariances).
    full_budget : int
        For ``"full"``: the number of components is capped so that
        ``K * d**2 <= full_budget``.
    """
    from ..diffusion.laws import DeltaMixture, GaussianMixture

    kind = draw(st.sampled_from(MIXTURE_KINDS)) if kind is None else kind
    if kind not in MIXTURE_KINDS:
        raise ValueError(f"kind: must be one of {MIXTURE_KINDS} (got {kind!r})")
    d = _size(draw, dim, 1, max_dim)
    k = _size(draw, components, 1, max_components)
    if kind == "full":
        k = max(1, min(k, full_budget // max(d * d, 1)))
    spread = draw(st.floats(*mean_scale))
    lo, hi = np.log(variance_range[0]), np.log(variance_range[1])
    zero_rank = singular and draw(st.booleans())
    rng = np.random.default_rng(draw(seeds()))
    w = rng.dirichlet(np.ones(k))
    w = w / w.sum()
    means = spread * rng.standard_normal((k, d))
    if kind == "delta":
        return DeltaMixture(means, w)
    if kind == "isotropic":
        v = np.exp(rng.uniform(lo, hi, k))
        if zero_rank:
            v[rng.random(k) < 0.3] = 0.0
        return GaussianMixture.isotropic(w, means, v)
    v = np.exp(rng.uniform(lo, hi, (k, d)))
    if zero_rank:
        v[rng.random((k, d)) < 0.3] = 0.0
    if kind == "diagonal":
        return GaussianMixture.diagonal(w, means, v)
    q, r = np.linalg.qr(rng.standard_normal((k, d, d)))
    q = q * np.sign(np.diagonal(r, axis1=1, axis2=2))[:, None, :]
    covs = np.einsum("kij,kj,klj->kil", q, v, q)
    return GaussianMixture(w, means, 0.5 * (covs + np.swapaxes(covs, 1, 2)))


def ve_sigmas(low: float = 1e-4, high: float = 1e4) -> st.SearchStrategy[float]:
    """VE noise levels :math:`\\hat\\sigma = \\sigma/\\alpha`, log-uniform in ``[low, high]``."""
    return st.floats(np.log10(low), np.log10(high)).map(lambda e: float(10.0 ** e))


@st.composite
def noise_levels(draw, low: float = 1e-4, high: float = 1e4, *, vp=None):
    """``(alpha, sigma)`` pairs with :math:`\\sigma/\\alpha` in ``[low, high]``.

    Parameters
    ----------
    vp : bool, optional
        True: variance preserving (:math:`\\alpha^2 + \\sigma^2 = 1`); False:
        :math:`\\alpha = 1`; drawn when omitted.
    """
    rho = draw(ve_sigmas(low, high))
    use_vp = draw(st.booleans()) if vp is None else bool(vp)
    if not use_vp:
        return 1.0, rho
    alpha = 1.0 / np.sqrt(1.0 + rho * rho)
    return float(alpha), float(rho * alpha)


@st.composite
def schedules(draw):
    """One of the schedules of :mod:`toytheory.diffusion.schedules`, with drawn parameters."""
    from ..diffusion import schedules as sch

    which = draw(st.sampled_from(("vp_linear", "vp_cosine", "ddpm", "scaled_linear", "ve",
                                  "edm")))
    if which == "vp_linear":
        b0 = draw(st.floats(0.01, 1.0))
        return sch.VPLinear(b0, b0 + draw(st.floats(1.0, 30.0)))
    if which == "vp_cosine":
        return sch.VPCosine(draw(st.floats(1e-3, 0.05)))
    if which == "ddpm":
        return sch.DiscreteVP.ddpm_linear(draw(st.integers(10, 1000)))
    if which == "scaled_linear":
        return sch.DiscreteVP.scaled_linear(draw(st.integers(10, 1000)))
    if which == "ve":
        lo = draw(st.floats(1e-3, 0.1))
        return sch.VE(lo, lo * draw(st.floats(10.0, 1e5)))
    return sch.EDM(draw(st.floats(1.0, 200.0)))


def schedule_times(schedule, *, interior: bool = True) -> st.SearchStrategy[float]:
    """Times inside ``schedule``'s range (away from the ends when ``interior``)."""
    lo, hi = schedule.t_min, schedule.t_max
    if interior:
        span = hi - lo
        lo, hi = lo + 1e-3 * span, hi - 1e-3 * span
    return st.floats(lo, hi)


def _marginal_scale(law, alpha, sigma) -> float:
    """An upper bound on the largest standard deviation of the diffused law:
    :math:`\\sqrt{\\alpha^2 \\operatorname{tr}\\operatorname{Cov}(x_0) + \\sigma^2}`
    (the trace, computed without forming the covariance)."""
    w, means = law.weights, law.means
    centred = means - w @ means
    trace = float(w @ law.eigvals.sum(axis=1) + w @ np.sum(centred * centred, axis=1))
    return float(np.sqrt(alpha * alpha * max(trace, 0.0) + sigma * sigma))


def far_tail_points(law, alpha: float, sigma: float, n: int, rng, distance: float = 50.0):
    """``n`` points ``distance`` standard deviations from the diffused law.

    Each point is :math:`\\alpha\\mu_k + \\text{distance}\\cdot s\\, u` with a
    random component mean, :math:`s` a bound on the largest standard
    deviation of the diffused law (:math:`\\sqrt{\\alpha^2\\operatorname{tr}
    \\operatorname{Cov} x_0 + \\sigma^2}`) and :math:`u` a random unit vector, so
    it lies at least about ``distance`` standard deviations from the bulk.

    Returns
    -------
    (n, d) array
    """
    gen = np.random.default_rng(rng)
    scale = _marginal_scale(law, alpha, sigma)
    k = gen.integers(0, law.n_components, n)
    u = gen.standard_normal((n, law.dim))
    u /= np.linalg.norm(u, axis=1, keepdims=True)
    return alpha * law.means[k] + distance * scale * u


def mode_points(law, alpha: float, n: int, rng, jitter: float = 0.0):
    """``n`` points at (or ``jitter`` away from) the diffused component means
    :math:`\\alpha\\mu_k`, where the posterior weights are sharpest."""
    gen = np.random.default_rng(rng)
    k = gen.integers(0, law.n_components, n)
    return alpha * law.means[k] + jitter * gen.standard_normal((n, law.dim))
