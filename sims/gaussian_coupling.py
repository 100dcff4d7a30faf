"""Monte Carlo transport cost of a linear coupling between two Gaussians.

Given a linear map ``T(x) = A (x - m1) + m2`` (supplied by the caller), draws
``X ~ N(m1, S1)`` from its definition (a Cholesky factor times standard
normals) and returns the per-sample costs ``|X - T(X)|^2``. The empirical law
of ``T(X)`` is returned too, so that a check can test the push-forward.
"""

from __future__ import annotations

import numpy as np


def transport_costs(mean1, cov1, a_matrix, shift, n: int, rng: np.random.Generator):
    """Per-sample squared displacement under ``T(x) = a_matrix @ (x - mean1) + shift``.

    Parameters
    ----------
    mean1 : (d,) array
    cov1 : (d, d) array, positive definite
    a_matrix : (d, d) array
    shift : (d,) array
    n : int
    rng : numpy.random.Generator

    Returns
    -------
    costs : (n,) array
        ``|X_i - T(X_i)|^2``.
    pushed : (n, d) array
        ``T(X_i)``.
    """
    mean1 = np.asarray(mean1, float)
    chol = np.linalg.cholesky(np.asarray(cov1, float))
    z = rng.standard_normal((n, mean1.size))
    x = mean1 + z @ chol.T
    pushed = (x - mean1) @ np.asarray(a_matrix, float).T + np.asarray(shift, float)
    return np.sum((x - pushed) ** 2, axis=1), pushed
