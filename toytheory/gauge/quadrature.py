r"""Expectations under a Gaussian mixture by tensor Gauss–Hermite quadrature.

.. math::

    \mathbb{E}_{p}[f] = \sum_k \pi_k\,\mathbb{E}[f(\mu_k + L_k z)], \qquad
    z \sim N(0, I_d),\ L_k L_k^T = \Sigma_k,

each Gaussian expectation by the tensor product of the ``order``-point
Gauss–Hermite rule (probabilists' weights), exact for polynomials of degree
up to :math:`2\,\mathrm{order} - 1` in each coordinate and spectrally accurate
for smooth integrands of Gaussian growth. It replaces Monte Carlo where an
expectation must be checked to a tolerance no sample size can give (the
cross term of the loss split, :mod:`toytheory.claims.catalog.gauge_decomposition`).
"""

from __future__ import annotations

import numpy as np

from .._validation import check_int

__all__ = ["mixture_expectation"]


def mixture_expectation(law, f, order: int = 40) -> np.ndarray:
    """:math:`\\mathbb{E}_{X\\sim\\text{law}}[f(X)]` for a Gaussian mixture, by quadrature.

    Parameters
    ----------
    law : toytheory.diffusion.laws.GaussianMixture
        With ``weights`` (K,), ``means`` (K, d) and ``covs`` (K, d, d).
    f : callable
        ``f(x)`` for ``x`` of shape (m, d), returning (m,) or (m, ...) values.
    order : int, default 40
        Nodes per coordinate (``order ** d`` nodes per component), at least 1.

    Returns
    -------
    ndarray
        The expectation, of shape ``f(x).shape[1:]``.

    Raises
    ------
    ValueError
        ``law: ...`` without weights, means and covs; ``order: ...`` unless an
        integer >= 1, or when ``order ** d`` exceeds 10**6 nodes; ``f: ...``
        unless it returns a finite array with one leading entry per point.
    """
    for attr in ("weights", "means", "covs"):
        if not hasattr(law, attr):
            raise ValueError(f"law: must be a GaussianMixture with weights, means and covs "
                             f"(got {type(law).__name__})")
    order = check_int("order", order, low=1)
    weights = np.asarray(law.weights, float)
    means = np.asarray(law.means, float)
    covs = np.asarray(law.covs, float)
    d = means.shape[1]
    if order ** d > 10 ** 6:
        raise ValueError(f"order: {order} ** d = {order ** d} nodes per component exceeds 10**6 "
                         f"(d = {d}); lower the order")
    z1, w1 = np.polynomial.hermite_e.hermegauss(order)
    w1 = w1 / np.sqrt(2.0 * np.pi)
    grids = np.meshgrid(*([z1] * d), indexing="ij")
    z = np.stack([g.ravel() for g in grids], axis=1)                      # (order**d, d)
    wz = np.prod(np.meshgrid(*([w1] * d), indexing="ij"), axis=0).ravel()  # (order**d,)
    total = None
    for pi_k, mu, cov in zip(weights, means, covs):
        chol = np.linalg.cholesky(cov)
        x = mu[None, :] + z @ chol.T
        vals = np.asarray(f(x), float)
        if vals.ndim < 1 or vals.shape[0] != x.shape[0]:
            raise ValueError(f"f: must return one value (or array) per point, leading shape "
                             f"({x.shape[0]},) (got {vals.shape})")
        if not np.all(np.isfinite(vals)):
            raise ValueError("f: returned non-finite values at the quadrature nodes")
        part = pi_k * np.tensordot(wz, vals, axes=(0, 0))
        total = part if total is None else total + part
    return np.asarray(total)
