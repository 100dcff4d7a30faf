"""Closed-form distances between Gaussian laws.

Shared by the foundation claim on the Bures–Wasserstein formula and by the
diffusion area (exact sampler error in KL and W2).

References
----------
Gelbrich (1990), "On a formula for the L2 Wasserstein metric between measures
on Euclidean and Hilbert spaces", Math. Nachr. 147. Dowson & Landau (1982),
"The Fréchet distance between multivariate normal distributions".
"""

from __future__ import annotations

import numpy as np
from scipy import linalg

from ._validation import as_float_array, check_psd

__all__ = [
    "psd_sqrt",
    "bures_wasserstein_distance",
    "gaussian_w2_optimal_map",
    "kl_divergence_gaussians",
]


def psd_sqrt(matrix) -> np.ndarray:
    """The symmetric PSD square root of a PSD matrix (by eigendecomposition).

    Parameters
    ----------
    matrix : (d, d) array
        Symmetric positive semi-definite.

    Returns
    -------
    (d, d) array
        ``R`` with ``R @ R == matrix`` and ``R`` symmetric PSD.
    """
    a = check_psd("matrix", matrix)
    eig, vec = np.linalg.eigh(a)
    eig = np.clip(eig, 0.0, None)
    root = (vec * np.sqrt(eig)) @ vec.T
    # the product is symmetric only up to rounding; the average is symmetric exactly
    return 0.5 * (root + root.T)


def _mean_cov(mean, cov, label: str):
    m = as_float_array(f"mean{label}", mean, ndim=1)
    s = check_psd(f"cov{label}", cov)
    if s.shape != (m.size, m.size):
        raise ValueError(
            f"cov{label}: must have shape ({m.size}, {m.size}) to match mean{label} "
            f"(got {s.shape})")
    return m, s


def bures_wasserstein_distance(mean1, cov1, mean2, cov2) -> float:
    """2-Wasserstein distance between two Gaussians.

    .. math::

        W_2^2 = \\|m_1 - m_2\\|^2 + \\operatorname{tr} S_1 + \\operatorname{tr} S_2
                - 2 \\operatorname{tr} (S_1^{1/2} S_2 S_1^{1/2})^{1/2}

    Parameters
    ----------
    mean1, mean2 : (d,) array
    cov1, cov2 : (d, d) array
        Symmetric PSD (singular allowed).

    Returns
    -------
    float
        :math:`W_2 \\ge 0`.

    Examples
    --------
    >>> import numpy as np
    >>> round(bures_wasserstein_distance([0.0], [[1.0]], [10.0], [[1.0]]), 12)
    10.0
    """
    m1, s1 = _mean_cov(mean1, cov1, "1")
    m2, s2 = _mean_cov(mean2, cov2, "2")
    if m1.shape != m2.shape:
        raise ValueError(f"mean2: must have shape {m1.shape} like mean1 (got {m2.shape})")
    r1 = psd_sqrt(s1)
    cross = psd_sqrt(r1 @ s2 @ r1)
    w2sq = float(np.sum((m1 - m2) ** 2) + np.trace(s1) + np.trace(s2) - 2.0 * np.trace(cross))
    return float(np.sqrt(max(w2sq, 0.0)))


def gaussian_w2_optimal_map(mean1, cov1, mean2, cov2):
    """The optimal transport map between two Gaussians, ``T(x) = m2 + A (x - m1)``.

    .. math:: A = S_1^{-1/2} (S_1^{1/2} S_2 S_1^{1/2})^{1/2} S_1^{-1/2}

    ``A`` is symmetric PSD, so ``T`` is the gradient of a convex function
    (Brenier) and ``A S_1 A = S_2``.

    Parameters
    ----------
    mean1, mean2 : (d,) array
    cov1 : (d, d) array
        Symmetric positive definite.
    cov2 : (d, d) array
        Symmetric PSD.

    Returns
    -------
    A : (d, d) array
    shift : (d,) array
        ``T(x) = A @ (x - mean1) + mean2`` ; ``shift`` is ``mean2``.
    """
    m1, s1 = _mean_cov(mean1, cov1, "1")
    m2, s2 = _mean_cov(mean2, cov2, "2")
    check_psd("cov1", s1, strict=True)
    r1 = psd_sqrt(s1)
    r1_inv = linalg.inv(r1)
    a = r1_inv @ psd_sqrt(r1 @ s2 @ r1) @ r1_inv
    return 0.5 * (a + a.T), m2


def kl_divergence_gaussians(mean1, cov1, mean2, cov2) -> float:
    """KL(N(m1, S1) || N(m2, S2)).

    .. math::

        \\tfrac12 \\left[\\operatorname{tr}(S_2^{-1} S_1) + (m_2 - m_1)^T S_2^{-1} (m_2 - m_1)
        - d + \\log\\det S_2 - \\log\\det S_1\\right]

    Parameters
    ----------
    mean1, mean2 : (d,) array
    cov1, cov2 : (d, d) array
        Symmetric positive definite (KL is infinite otherwise).
    """
    m1, s1 = _mean_cov(mean1, cov1, "1")
    m2, s2 = _mean_cov(mean2, cov2, "2")
    if m1.shape != m2.shape:
        raise ValueError(f"mean2: must have shape {m1.shape} like mean1 (got {m2.shape})")
    try:
        c1 = linalg.cholesky(s1, lower=True)
    except linalg.LinAlgError as exc:
        raise ValueError("cov1: must be positive definite for a finite KL divergence") from exc
    try:
        c2 = linalg.cholesky(s2, lower=True)
    except linalg.LinAlgError as exc:
        raise ValueError("cov2: must be positive definite for a finite KL divergence") from exc
    d = m1.size
    m = linalg.solve_triangular(c2, c1, lower=True)  # L2^{-1} L1
    trace = float(np.sum(m * m))
    diff = linalg.solve_triangular(c2, m2 - m1, lower=True)
    logdet = 2.0 * float(np.sum(np.log(np.diag(c2))) - np.sum(np.log(np.diag(c1))))
    return float(max(0.5 * (trace + diff @ diff - d + logdet), 0.0))
