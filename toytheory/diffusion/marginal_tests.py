r"""Statistical tests of samples against an exact diffused marginal.

For a Gaussian mixture the projection :math:`u^Tx_t` of the diffused law is
again a mixture, :math:`\sum_k\pi_k N(\alpha u^T\mu_k, u^TC_ku)`, so its CDF is
exact; :func:`projection_ks_test` runs one-sample Kolmogorov–Smirnov tests along
a few directions (the coordinate axes and random unit vectors) with a
Bonferroni correction, and :func:`energy_test_against_law` runs toytheory's
energy-distance permutation test against a fresh exact sample (multivariate,
catches what projections miss). Both are used by the simulator cross-checks
(simulated samples at time t against the exact marginal) and are available to
users checking their own samplers.
"""

from __future__ import annotations

import numpy as np

from .. import stats
from .._random import as_generator
from .._validation import as_float_array, check_int, check_level, check_real
from .laws import GaussianMixture

__all__ = ["projected_cdf", "projection_directions", "projection_ks_test",
           "energy_test_against_law"]


def _check(law, samples):
    if not isinstance(law, GaussianMixture):
        raise ValueError(f"law: must be a GaussianMixture (got {type(law).__name__})")
    x = as_float_array("samples", samples, ndim=2)
    if x.shape[1] != law.dim:
        raise ValueError(f"samples: must have {law.dim} columns (got shape {x.shape})")
    return x


def projected_cdf(law, alpha: float, sigma: float, direction):
    """The exact CDF of :math:`u^Tx_t`, :math:`x_t = \\alpha x_0 + \\sigma\\varepsilon`, as a
    vectorised callable."""
    from scipy.special import ndtr

    a = check_real("alpha", alpha, low=0.0, low_open=True)
    s = check_real("sigma", sigma, low=0.0)
    u = as_float_array("direction", direction, ndim=1)
    if u.size != law.dim:
        raise ValueError(f"direction: must have {law.dim} entries (got {u.size})")
    marg = law.marginal(a, s)
    centre = marg.means @ u
    if marg.eigvecs is None:
        var = marg.eigvals @ (u * u)
    else:
        proj = np.einsum("kji,j->ki", marg.eigvecs, u)                 # U_k^T u
        var = np.sum(marg.eigvals * proj * proj, axis=1)
    sd = np.sqrt(np.maximum(var, 0.0))
    w = marg.weights
    if np.any(sd == 0):
        raise ValueError("direction: the projected marginal has a zero-variance component "
                         "(sigma = 0 with a singular covariance); its CDF is not continuous")

    def cdf(v):
        v = np.asarray(v, float)
        return np.sum(w * ndtr((v[..., None] - centre) / sd), axis=-1)

    return cdf


def projection_directions(dim: int, n_random: int = 3, rng=None) -> np.ndarray:
    """The coordinate axes (up to 8 of them) and ``n_random`` random unit vectors, (m, d)."""
    dim = check_int("dim", dim, low=1)
    n_random = check_int("n_random", n_random, low=0)
    gen = as_generator(rng)
    axes = np.eye(dim)[: min(dim, 8)]
    rand = gen.standard_normal((n_random, dim))
    rand /= np.linalg.norm(rand, axis=1, keepdims=True)
    return np.vstack([axes, rand]) if dim > 1 else axes


def projection_ks_test(samples, law, alpha: float, sigma: float, level: float, *,
                       directions=None, n_random: int = 3, rng=None):
    """KS tests of ``samples`` (n, d) against the exact law of :math:`x_t` along directions,
    Bonferroni-corrected at ``level``.

    Returns
    -------
    toytheory.stats.FamilyResult
    """
    x = _check(law, samples)
    level = check_level("level", level)
    dirs = (projection_directions(law.dim, n_random, rng) if directions is None
            else as_float_array("directions", directions, ndim=2))
    results = [stats.ks_1samp(x @ u, projected_cdf(law, alpha, sigma, u), level)
               for u in dirs]
    return stats.bonferroni(results, level)


def energy_test_against_law(samples, law, alpha: float, sigma: float, level: float, *,
                            n_reference: int | None = None, rng=None, **kwargs):
    """Energy-distance permutation test of ``samples`` against a fresh exact sample of
    :math:`x_t` (``n_reference`` points, default as many as ``samples``).

    Extra keyword arguments go to :func:`toytheory.stats.energy_two_sample_test`.
    """
    x = _check(law, samples)
    level = check_level("level", level)
    gen = as_generator(rng)
    m = x.shape[0] if n_reference is None else check_int("n_reference", n_reference, low=2)
    ref = law.sample(m, alpha, sigma, rng=gen)
    return stats.energy_two_sample_test(x, ref, level, rng=gen, **kwargs)
