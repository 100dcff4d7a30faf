r"""Toy data laws with known structure, used by the claims, figures and notebooks.

- :func:`two_mode_1d`: :math:`\tfrac12 N(-2, 0.5^2) + \tfrac12 N(2, 0.5^2)` (the
  reverse-SDE benchmark of issue 3).
- :func:`grid_25`: the 5 x 5 grid of isotropic Gaussians, spacing 2, standard
  deviation 0.05 (REFERENCE.md section 3, "Understanding Hallucinations in
  Diffusion Models through Mode Interpolation"; used here for analytical
  teleportation).
- :func:`structured_gmm`: a 64-d Gaussian mixture whose covariance has a
  power-law spectrum like natural images (PCA of CIFAR-10 in [-1, 1]: top
  standard deviation about 15, eigenvalues falling roughly like 1/i), with
  the mixture structure (the non-Gaussian part) in the leading directions.
"""

from __future__ import annotations

import numpy as np

from .._validation import check_int, check_real
from .laws import GaussianMixture

__all__ = ["two_mode_1d", "grid_25", "structured_gmm", "grid_modes"]


def two_mode_1d(separation: float = 2.0, std: float = 0.5) -> GaussianMixture:
    """:math:`\\tfrac12 N(-s, \\text{std}^2) + \\tfrac12 N(s, \\text{std}^2)` in one dimension."""
    sep = check_real("separation", separation, low=0.0, low_open=True)
    sd = check_real("std", std, low=0.0, low_open=True)
    return GaussianMixture.isotropic([0.5, 0.5], [[-sep], [sep]], [sd * sd, sd * sd])


def grid_modes(side: int = 5, spacing: float = 2.0) -> np.ndarray:
    """Centres of a ``side`` x ``side`` grid centred at 0, shape (side**2, 2)."""
    side = check_int("side", side, low=1)
    spacing = check_real("spacing", spacing, low=0.0, low_open=True)
    ticks = spacing * (np.arange(side) - (side - 1) / 2)
    gx, gy = np.meshgrid(ticks, ticks, indexing="ij")
    return np.column_stack([gx.ravel(), gy.ravel()])


def grid_25(spacing: float = 2.0, std: float = 0.05, side: int = 5) -> GaussianMixture:
    """Equal-weight isotropic Gaussians of standard deviation ``std`` on a square grid."""
    centres = grid_modes(side, spacing)
    sd = check_real("std", std, low=0.0, low_open=True)
    k = centres.shape[0]
    return GaussianMixture.isotropic(np.full(k, 1.0 / k), centres, np.full(k, sd * sd))


def structured_gmm(dim: int = 64, components: int = 16, top_std: float = 15.0,
                   decay: float = 1.0, between_rank: int = 6, between_fraction: float = 0.6,
                   seed: int = 0) -> GaussianMixture:
    """A Gaussian mixture with a power-law covariance spectrum.

    In a random orthonormal basis :math:`u_1, \\dots, u_d` the data covariance
    is :math:`\\sum_i \\lambda_i u_iu_i^T` with :math:`\\lambda_i = \\text{top\\_std}^2\\,
    i^{-\\text{decay}}`. In the leading ``between_rank`` directions a fraction
    ``between_fraction`` of that variance comes from the spread of the
    component means (drawn Gaussian, then whitened so the split is exact) and
    the rest from the components; in the other directions all of it is
    within-component. Components have equal weights and share the covariance
    :math:`\\Sigma_w = \\sum_i \\lambda_i (1 - f_i) u_iu_i^T`.

    Parameters
    ----------
    dim, components : int
    top_std : float
        Standard deviation of the data along :math:`u_1`.
    decay : float
        Power-law exponent of the spectrum.
    between_rank : int
        Directions carrying the mixture structure (``<= min(dim, components - 1)``).
    between_fraction : float
        Share of the variance of those directions due to the component means, in [0, 1).
    seed : int

    Returns
    -------
    GaussianMixture
        Full covariances; :meth:`~GaussianMixture.covariance` equals the target exactly.
    """
    d = check_int("dim", dim, low=1)
    k = check_int("components", components, low=2)
    top = check_real("top_std", top_std, low=0.0, low_open=True)
    decay = check_real("decay", decay, low=0.0)
    r = check_int("between_rank", between_rank, low=1, high=min(d, k - 1))
    frac = check_real("between_fraction", between_fraction, low=0.0, high=1.0, high_open=True)
    rng = np.random.default_rng(check_int("seed", seed, low=0))
    basis, _ = np.linalg.qr(rng.standard_normal((d, d)))
    lam = top**2 * np.arange(1, d + 1, dtype=float) ** (-decay)
    between = np.zeros(d)
    between[:r] = frac * lam[:r]
    # component means with exactly the between-variance in the first r directions:
    # centred, whitened coordinates a (k, r) with (1/k) a^T a = I
    a = rng.standard_normal((k, r))
    a -= a.mean(axis=0)
    u, _, vt = np.linalg.svd(a, full_matrices=False)
    a = np.sqrt(k) * u @ vt
    means = (a * np.sqrt(between[:r])) @ basis[:, :r].T
    within = (basis * (lam - between)) @ basis.T
    within = 0.5 * (within + within.T)
    return GaussianMixture(np.full(k, 1.0 / k), means, np.broadcast_to(within, (k, d, d)).copy())
