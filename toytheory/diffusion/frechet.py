r"""The Fréchet distance between Gaussians fitted to samples (FID with identity features).

FID (Heusel et al., "GANs Trained by a Two Time-Scale Update Rule Converge to a
Local Nash Equilibrium", 2017, eq. 6) fits a Gaussian to each of two sets of
features and reports

.. math:: d_F^2 = \|m_1 - m_2\|^2 + \operatorname{tr}\bigl(S_1 + S_2
          - 2(S_1^{1/2} S_2 S_1^{1/2})^{1/2}\bigr),

the squared 2-Wasserstein distance between the fitted Gaussians (Dowson & Landau
1982). With the identity as the feature map the features are the samples.

- :func:`frechet_squared`: :math:`d_F^2` from two means and covariances;
- :func:`fid_identity`: :math:`d_F^2` between the Gaussians fitted to two samples;
- :func:`coupled_moment_estimate`: the mean and covariance of a law ``A`` from
  samples coupled with samples of a law ``B`` whose moments are known exactly
  (control variates: :math:`\hat m_A - \hat m_B + m_B`), for a population
  :math:`d_F^2` whose estimate has the variance of the small differences;
- :func:`batch_mean_interval`: a Student-t interval on batch estimates.
"""

from __future__ import annotations

import numpy as np
from scipy import stats as sps

from .._validation import as_float_array, check_int, check_level

__all__ = ["frechet_squared", "fid_identity", "coupled_moment_estimate",
           "batch_mean_interval"]


def _sym_sqrt(a: np.ndarray) -> np.ndarray:
    a = 0.5 * (a + a.T)
    lam, vec = np.linalg.eigh(a)
    return (vec * np.sqrt(np.clip(lam, 0.0, None))) @ vec.T


def frechet_squared(mean1, cov1, mean2, cov2) -> float:
    """:math:`d_F^2` between :math:`N(m_1, S_1)` and :math:`N(m_2, S_2)`.

    Parameters
    ----------
    mean1, mean2 : (d,) array
    cov1, cov2 : (d, d) array
        Symmetric; negative eigenvalues of a perturbed estimate are clipped to 0
        inside the square roots.

    Returns
    -------
    float
        :math:`\\ge 0` up to rounding (not clipped).
    """
    m1 = as_float_array("mean1", mean1, ndim=1)
    m2 = as_float_array("mean2", mean2, ndim=1)
    s1 = as_float_array("cov1", cov1, ndim=2)
    s2 = as_float_array("cov2", cov2, ndim=2)
    d = m1.size
    if m2.shape != (d,):
        raise ValueError(f"mean2: must have shape ({d},) like mean1 (got {m2.shape})")
    for name, s in (("cov1", s1), ("cov2", s2)):
        if s.shape != (d, d):
            raise ValueError(f"{name}: must have shape ({d}, {d}) (got {s.shape})")
    r1 = _sym_sqrt(s1)
    cross = _sym_sqrt(r1 @ (0.5 * (s2 + s2.T)) @ r1)
    return float(np.sum((m1 - m2) ** 2) + np.trace(s1) + np.trace(s2) - 2.0 * np.trace(cross))


def fid_identity(x, y) -> float:
    """FID with identity features: :math:`d_F^2` between the Gaussians fitted to the rows of
    ``x`` and of ``y`` (sample means, covariances with ``n - 1``).

    Parameters
    ----------
    x : (n, d) array
    y : (m, d) array
        ``n, m >= 2``.
    """
    x = as_float_array("x", x, ndim=2)
    y = as_float_array("y", y, ndim=2)
    if x.shape[0] < 2 or y.shape[0] < 2:
        raise ValueError(f"x, y: need at least 2 rows each (got {x.shape[0]}, {y.shape[0]})")
    if x.shape[1] != y.shape[1]:
        raise ValueError(f"y: must have {x.shape[1]} columns like x (got {y.shape[1]})")
    return frechet_squared(x.mean(0), np.cov(x.T).reshape(x.shape[1], -1),
                           y.mean(0), np.cov(y.T).reshape(y.shape[1], -1))


def coupled_moment_estimate(a, b, mean_b, cov_b):
    """Mean and covariance of the law of ``a`` by control variates on coupled draws ``b``.

    .. math:: \\tilde m_A = \\bar a - \\bar b + m_B, \\qquad
              \\tilde S_A = \\hat S_a - \\hat S_b + S_B

    Unbiased for :math:`(m_A, S_A)` when :math:`(m_B, S_B)` are the exact moments of
    the law of ``b``; the variance is that of the differences, small when each
    ``a[i]`` is close to ``b[i]``.

    Parameters
    ----------
    a, b : (n, d) array
        Row ``i`` of ``a`` and of ``b`` come from the same draw (coupled).
    mean_b : (d,) array
    cov_b : (d, d) array
    """
    a = as_float_array("a", a, ndim=2)
    b = as_float_array("b", b, ndim=2)
    if a.shape != b.shape or a.shape[0] < 2:
        raise ValueError(f"b: must have the shape of a, with at least 2 rows (got {a.shape}, "
                         f"{b.shape})")
    d = a.shape[1]
    m = as_float_array("mean_b", mean_b, ndim=1)
    s = as_float_array("cov_b", cov_b, ndim=2)
    if m.shape != (d,) or s.shape != (d, d):
        raise ValueError(f"mean_b, cov_b: must have shapes ({d},), ({d}, {d}) (got {m.shape}, "
                         f"{s.shape})")
    cov = np.cov(a.T).reshape(d, d) - np.cov(b.T).reshape(d, d) + s
    return a.mean(0) - b.mean(0) + m, 0.5 * (cov + cov.T)


def batch_mean_interval(estimates, level: float):
    """Two-sided Student-t interval for the mean of ``B`` independent batch estimates.

    Parameters
    ----------
    estimates : (B,) array
        ``B >= 2``; each an estimate from its own batch of independent draws.
    level : float
        Error probability of the interval (two-sided).

    Returns
    -------
    mean : float
    (lo, hi) : tuple of float
        ``mean -+ t_{B-1}(1 - level/2) s / sqrt(B)``. Valid when the batch estimates
        are close to normal (each averages many light-tailed draws).
    """
    v = as_float_array("estimates", estimates, ndim=1)
    check_int("estimates size", v.size, low=2)
    level = check_level("level", level)
    half = float(sps.t.isf(level / 2, v.size - 1)) * float(v.std(ddof=1)) / np.sqrt(v.size)
    mean = float(v.mean())
    return mean, (mean - half, mean + half)
