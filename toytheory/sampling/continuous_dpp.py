r"""Exact samplers for the optimal density and for the continuous projection DPP of a basis.

For an orthonormal basis :math:`\varphi_1, \dots, \varphi_m` of
:math:`V_m \subset L^2(\mu)`, the projection DPP with kernel
:math:`K(x, y) = \varphi(x)^\top \varphi(y)` has ``m`` points with joint
density :math:`\frac{1}{m!}\det[K(x_i, x_j)]` with respect to
:math:`\mu^{\otimes m}`, and one-point intensity :math:`k_m(x) = K(x, x)`.

Chain rule with rejection. Given the points picked so far, the next one has
density :math:`\|P_\perp \varphi(x)\|^2 / (m - t)` with respect to
:math:`\mu`, where :math:`P_\perp` projects off the span of their feature
vectors. Propose ``x`` from the optimal density :math:`k_m/m` and accept with
probability :math:`\|P_\perp\varphi(x)\|^2 / \|\varphi(x)\|^2`: the accepted
point has exactly the conditional law (the ratio of target to proposal is
:math:`m/(m-t)` times the acceptance probability). The optimal density is
itself sampled by rejection from :math:`\mu` with acceptance
:math:`k_m(x)/\sup k_m`.

References
----------
Nouy and Michel, "Weighted least-squares approximation with determinantal
point processes and generalized volume sampling" (2023), the section on
projection DPPs and their chain-rule sampling.
"""

from __future__ import annotations

import numpy as np

from .._random import as_generator
from .._validation import check_int
from .bases import PolynomialBasis

__all__ = ["sample_optimal_density", "sample_continuous_projection_dpp"]


def _check_basis(basis):
    if not isinstance(basis, PolynomialBasis):
        raise ValueError(f"basis: must be a PolynomialBasis (got {type(basis).__name__})")
    return basis


def sample_optimal_density(basis: PolynomialBasis, n: int, *, rng=None) -> np.ndarray:
    r"""``n`` i.i.d. points from :math:`\rho = k_m/m \, d\mu` (rejection from ``mu``).

    Returns
    -------
    (n, dim) array
    """
    basis = _check_basis(basis)
    n = check_int("n", n, low=0)
    gen = as_generator(rng)
    sup = basis.christoffel_sup
    out = np.empty((0, basis.dim))
    while out.shape[0] < n:
        need = n - out.shape[0]
        batch = max(16, int(1.2 * need * sup / basis.m) + 8)
        x = gen.uniform(-1.0, 1.0, size=(batch, basis.dim))
        accept = gen.random(batch) * sup < basis.christoffel(x)
        out = np.vstack([out, x[accept][:need]])
    return out


def sample_continuous_projection_dpp(basis: PolynomialBasis, *, rng=None,
                                     pool: int | None = None) -> np.ndarray:
    r"""The ``m`` points of the projection DPP of ``basis``, by the chain rule with rejection.

    Parameters
    ----------
    basis : PolynomialBasis
    rng : Generator, int or None
    pool : int, optional
        Proposals (with their acceptance uniforms) drawn at a time; they are
        consumed in order, step after step, exactly as a one-at-a-time
        rejection sampler would, and the pool is refilled when empty.
        Default ``2 m (1 + log m) + 8`` (about twice the expected need).

    Returns
    -------
    (m, dim) array
        The points in the order they were picked.
    """
    basis = _check_basis(basis)
    gen = as_generator(rng)
    m = basis.m
    if pool is None:
        pool = int(2 * m * (1.0 + np.log(m))) + 8
    pool = check_int("pool", pool, low=1)
    q = np.zeros((m, m))  # orthonormal basis (rows) of the picked feature vectors
    points = np.empty((m, basis.dim))
    x = np.empty((0, basis.dim))
    phi = np.empty((0, m))
    u = np.empty(0)
    pos = 0
    t = 0
    while t < m:
        if pos >= x.shape[0]:
            x = sample_optimal_density(basis, pool, rng=gen)
            phi = basis(x)
            u = gen.random(pool)
            pos = 0
        cand = phi[pos:]
        resid = cand - (cand @ q[:t].T) @ q[:t]
        r2 = np.einsum("ij,ij->i", resid, resid)
        hits = np.flatnonzero(u[pos:] * np.einsum("ij,ij->i", cand, cand) < r2)
        if hits.size == 0:
            pos = x.shape[0]
            continue
        j = hits[0]
        q[t] = resid[j] / np.sqrt(r2[j])
        points[t] = x[pos + j]
        pos += j + 1
        t += 1
    return points
