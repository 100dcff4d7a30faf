r"""How much of a mixture's score its Gaussian approximation explains, as a function of noise.

Let :math:`p_t` be the diffused data law (:math:`x_t = \alpha x_0 + \sigma\varepsilon`),
:math:`s = \nabla\log p_t` its score and :math:`s_G` the score of the Gaussian
with the data's mean :math:`m` and covariance :math:`\Sigma`, diffused the same
way: :math:`s_G(x) = -A(x - \alpha m)`, :math:`A = (\alpha^2\Sigma + \sigma^2 I)^{-1}`.
The fraction of the score's variance that :math:`s_G` explains is

.. math:: \mathrm{EV}(\sigma) = 1 - \frac{E_{p_t}\|s - s_G\|^2}{E_{p_t}\|s\|^2}

(:math:`E_{p_t}s = 0`, so :math:`E\|s\|^2` is the score's total variance;
Wang & Vastola, "The Unreasonable Effectiveness of Gaussian Score
Approximation for Diffusion Models and its Applications": "the learned neural
score is dominated by its linear (Gaussian) approximation for moderate to
high noise scales", measured there as a fraction of variance explained).

An identity gives a second, independent route. :math:`p_t` has mean
:math:`\alpha m` and covariance :math:`A^{-1}` exactly, so by Stein's identity
(:math:`E_p[s\cdot g] = -E_p[\nabla\cdot g]`) with the linear field :math:`g = s_G`,
:math:`E_p[s\cdot s_G] = \operatorname{tr}A` and :math:`E_p\|s_G\|^2 = \operatorname{tr}A`, whence

.. math:: E_p\|s - s_G\|^2 = E_p\|s\|^2 - \operatorname{tr}A, \qquad
          \mathrm{EV}(\sigma) = \frac{\operatorname{tr}(\alpha^2\Sigma + \sigma^2 I)^{-1}}
          {E_p\|\nabla\log p_t\|^2}

(the Cramér–Rao bound: the Fisher information of :math:`p_t` is at least the
inverse covariance, with equality only for Gaussian data). The fraction
depends on :math:`(\alpha, \sigma)` only through :math:`\sigma/\alpha`.

Expectations are computed by tensor Gauss–Hermite quadrature per mixture
component (dimensions up to 3) or by Monte Carlo with a delta-method
standard error.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._random import as_generator
from .._validation import as_float_array, check_int, check_real
from .laws import GaussianMixture

__all__ = ["ExplainedVariance", "gaussian_score", "gaussian_score_fraction",
           "fraction_lower_bound",
           "explained_variance_curve", "mixture_expectation", "score_errors"]


@dataclass(frozen=True)
class ExplainedVariance:
    """The explained fraction at one noise level.

    Attributes
    ----------
    sigma_ve : float
        :math:`\\sigma/\\alpha`.
    fraction : float
        :math:`1 - E\\|s - s_G\\|^2 / E\\|s\\|^2`.
    stderr : float
        Standard error of ``fraction`` (Monte Carlo), or the difference
        between two quadrature orders (quadrature).
    mse : float
        :math:`E\\|s - s_G\\|^2`.
    fisher : float
        :math:`E\\|s\\|^2`.
    trace_a : float
        :math:`\\operatorname{tr}(\\alpha^2\\Sigma + \\sigma^2 I)^{-1}`.
    method : str
        ``"quadrature"`` or ``"monte_carlo"``.
    n : int
        Points at which the score was evaluated.
    """

    sigma_ve: float
    fraction: float
    stderr: float
    mse: float
    fisher: float
    trace_a: float
    method: str
    n: int

    @property
    def identity_fraction(self) -> float:
        """:math:`\\operatorname{tr}A / E\\|s\\|^2`, the fraction by Stein's identity."""
        return self.trace_a / self.fisher


def _check_law(law):
    if not isinstance(law, GaussianMixture):
        raise ValueError(f"law: must be a GaussianMixture (got {type(law).__name__})")
    return law


def _check_noise(alpha, sigma):
    a = check_real("alpha", alpha, low=0.0, low_open=True)
    s = check_real("sigma", sigma, low=0.0, low_open=True)
    return a, s


def _gaussian_parts(law, alpha, sigma):
    """(alpha m, A = (alpha^2 Sigma + sigma^2 I)^{-1}) via the eigendecomposition."""
    lam, vecs = np.linalg.eigh(law.covariance())
    lam = np.clip(lam, 0.0, None)
    inv = 1.0 / (alpha * alpha * lam + sigma * sigma)
    return alpha * law.mean(), (vecs * inv) @ vecs.T


def gaussian_score(law, x, alpha, sigma):
    """:math:`s_G(x) = -(\\alpha^2\\Sigma + \\sigma^2I)^{-1}(x - \\alpha m)`, the score of the
    Gaussian approximation of ``law`` (same mean and covariance), shape (n, d)."""
    _check_law(law)
    a, s = _check_noise(alpha, sigma)
    x = as_float_array("x", x, ndim=2)
    if x.shape[1] != law.dim:
        raise ValueError(f"x: must have {law.dim} columns (got shape {x.shape})")
    centre, prec = _gaussian_parts(law, a, s)
    return -(x - centre) @ prec


def score_errors(law, x, alpha, sigma):
    """Per point: ``(|s - s_G|^2, |s|^2)``, each of shape (n,), for points ``x`` (n, d)."""
    _check_law(law)
    a, s = _check_noise(alpha, sigma)
    x = as_float_array("x", x, ndim=2)
    if x.shape[1] != law.dim:
        raise ValueError(f"x: must have {law.dim} columns (got shape {x.shape})")
    centre, prec = _gaussian_parts(law, a, s)
    sc = law.score(x, a, s)
    diff = sc + (x - centre) @ prec
    return np.sum(diff * diff, axis=1), np.sum(sc * sc, axis=1)


def _hermite_rule(order, dim):
    from numpy.polynomial.hermite_e import hermegauss

    z, w = hermegauss(order)
    w = w / w.sum()
    grids = np.meshgrid(*([z] * dim), indexing="ij")
    weights = np.ones_like(grids[0])
    for g in np.meshgrid(*([w] * dim), indexing="ij"):
        weights = weights * g
    return np.column_stack([g.ravel() for g in grids]), weights.ravel()


def mixture_expectation(fn, law, alpha, sigma, order: int = 48):
    """:math:`E_{p_t}[fn(x)]` by tensor Gauss–Hermite quadrature, component by component.

    Parameters
    ----------
    fn : callable
        ``fn(x) -> (n,)`` or ``(n, m)`` values at points ``x`` (n, d).
    law : GaussianMixture
        Dimension at most 3.
    alpha, sigma : float
    order : int
        Nodes per dimension (``order**d`` per component).
    """
    _check_law(law)
    a, s = _check_noise(alpha, sigma)
    order = check_int("order", order, low=2, high=400)
    if law.dim > 3:
        raise ValueError(f"law: quadrature needs dimension <= 3 (got {law.dim}); use "
                         "method='monte_carlo'")
    z, w = _hermite_rule(order, law.dim)
    marg = law.marginal(a, s)
    vals = []
    pts = []
    for k in range(law.n_components):
        lam = marg.eigvals[k]
        vecs = np.eye(law.dim) if marg.eigvecs is None else marg.eigvecs[k]
        pts.append(marg.means[k] + (z * np.sqrt(lam)) @ vecs.T)
    pts = np.vstack(pts)
    vals = np.asarray(fn(pts), float)
    wk = np.repeat(marg.weights, w.size) * np.tile(w, law.n_components)
    return np.tensordot(wk, vals, axes=(0, 0)), pts.shape[0]


def gaussian_score_fraction(law, alpha: float = 1.0, sigma: float = 1.0, *,
                            method: str = "auto", n: int = 100_000, order: int = 48,
                            rng=None) -> ExplainedVariance:
    """The fraction of the score's variance explained by the Gaussian approximation.

    Parameters
    ----------
    law : GaussianMixture
    alpha, sigma : float
        The noise level (:math:`\\sigma > 0`).
    method : {"auto", "quadrature", "monte_carlo"}
        ``"auto"``: quadrature up to dimension 2, Monte Carlo above.
    n : int
        Monte Carlo sample size.
    order : int
        Gauss–Hermite nodes per dimension; the error estimate compares with
        ``order // 2 + order // 4`` nodes.
    rng : Generator, int or None
        For Monte Carlo.

    Returns
    -------
    ExplainedVariance
    """
    _check_law(law)
    a, s = _check_noise(alpha, sigma)
    if method not in ("auto", "quadrature", "monte_carlo"):
        raise ValueError(f"method: must be 'auto', 'quadrature' or 'monte_carlo' (got {method!r})")
    if method == "auto":
        method = "quadrature" if law.dim <= 2 else "monte_carlo"
    _, prec = _gaussian_parts(law, a, s)
    trace_a = float(np.trace(prec))
    both = lambda x: np.column_stack(score_errors(law, x, a, s))  # noqa: E731
    if method == "quadrature":
        (mse, fisher), used = mixture_expectation(both, law, a, s, order)
        (mse2, fisher2), _ = mixture_expectation(both, law, a, s, order // 2 + order // 4)
        frac = 1.0 - mse / fisher
        err = abs(frac - (1.0 - mse2 / fisher2))
        return ExplainedVariance(s / a, float(frac), float(err), float(mse), float(fisher),
                                 trace_a, "quadrature", int(used))
    n = check_int("n", n, low=30)
    x = law.sample(n, a, s, rng=as_generator(rng))
    e, q = score_errors(law, x, a, s)
    mse, fisher = float(e.mean()), float(q.mean())
    ratio = mse / fisher
    resid = (e - ratio * q) / fisher
    err = float(resid.std(ddof=1) / np.sqrt(n))
    return ExplainedVariance(s / a, 1.0 - ratio, err, mse, fisher, trace_a, "monte_carlo", n)


def explained_variance_curve(law, sigmas, *, method: str = "auto", n: int = 100_000,
                             order: int = 48, rng=None) -> list[ExplainedVariance]:
    """:func:`gaussian_score_fraction` at each VE noise level in ``sigmas`` (alpha = 1)."""
    sig = as_float_array("sigmas", sigmas, ndim=1)
    if np.any(sig <= 0):
        raise ValueError("sigmas: must be > 0")
    gen = as_generator(rng)
    return [gaussian_score_fraction(law, 1.0, float(v), method=method, n=n, order=order,
                                    rng=gen) for v in sig]


def fraction_lower_bound(law, alpha: float, sigma: float) -> float:
    r"""The smallest explained fraction any law with this covariance can have.

    .. math:: \mathrm{EV}(\sigma) \ge \frac{\sigma^2}{\alpha^2\lambda_{max} + \sigma^2}

    since :math:`E\|s\|^2 \le d/\sigma^2` (the Fisher information of
    :math:`\alpha x_0 + \sigma\varepsilon` is at most that of the noise, :math:`I/\sigma^2`)
    and :math:`\operatorname{tr}(\alpha^2\Sigma + \sigma^2 I)^{-1} \ge
    d/(\alpha^2\lambda_{max} + \sigma^2)`. At :math:`\sigma/\alpha` equal to the data's
    largest standard deviation it is 1/2.

    Parameters
    ----------
    law : GaussianMixture
    alpha : float
        > 0.
    sigma : float
        > 0.
    """
    if not isinstance(law, GaussianMixture):
        raise ValueError(f"law: must be a GaussianMixture (got {type(law).__name__})")
    a = check_real("alpha", alpha, low=0.0, low_open=True)
    s = check_real("sigma", sigma, low=0.0, low_open=True)
    top = float(np.linalg.eigvalsh(law.covariance()).max())
    return s * s / (a * a * top + s * s)
