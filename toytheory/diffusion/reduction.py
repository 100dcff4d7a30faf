r"""Split a Gaussian mixture into its mixture part and an independent Gaussian part.

If the component means :math:`\mu_k` differ only inside a subspace :math:`A` and every
component has the same covariance :math:`\Sigma_w`, block-diagonal for
:math:`A \oplus A^\perp`, then in the coordinates :math:`(U_A^T x, U_B^T x)` the law is
the product of an :math:`r`-dimensional mixture and one Gaussian
:math:`N(U_B^T\mu, U_B^T\Sigma_w U_B)`, and so is every diffused marginal. Scores,
the probability-flow map, the Gaussian (teleportation) jump and every KL or Fréchet
distance between two such laws that share the Gaussian factor reduce to the
:math:`r`-dimensional part.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._validation import check_real
from .laws import GaussianMixture

__all__ = ["MixtureSplit", "split_gaussian_part", "sample_moments"]


@dataclass(frozen=True)
class MixtureSplit:
    """``reduced``: the mixture in the coordinates ``basis.T @ x`` (r-dim);
    ``basis`` (d, r) and ``complement`` (d, d - r): orthonormal; ``gaussian_mean``,
    ``gaussian_cov``: the independent Gaussian factor in ``complement.T @ x``;
    ``residual``: the largest relative violation of the assumptions (0 when exact)."""

    reduced: GaussianMixture
    basis: np.ndarray
    complement: np.ndarray
    gaussian_mean: np.ndarray
    gaussian_cov: np.ndarray
    residual: float


def split_gaussian_part(law, rtol: float = 1e-10) -> MixtureSplit:
    """Find the subspace spanned by the component means' deviations and split the law.

    Parameters
    ----------
    law : GaussianMixture
        With at least two components whose means differ.
    rtol : float
        Relative tolerance for the rank of the mean deviations and for the checks.

    Raises
    ------
    ValueError
        ``law`` not a mixture, or the law does not split: covariances differ between
        components, or couple the mean subspace with its complement.
    """
    if not isinstance(law, GaussianMixture):
        raise ValueError(f"law: must be a GaussianMixture (got {type(law).__name__})")
    rtol = check_real("rtol", rtol, low=0.0, low_open=True)
    dev = law.means - law.means.mean(axis=0)
    u, sv, _ = np.linalg.svd(dev.T, full_matrices=True)
    if sv.size == 0 or sv[0] == 0:
        raise ValueError("law: the component means are all equal; there is no mixture part")
    r = int(np.sum(sv > rtol * sv[0]))
    basis, complement = u[:, :r], u[:, r:]
    covs = law.covs
    scale = float(np.abs(covs).max())
    spread = float(np.abs(covs - covs[0]).max()) / scale
    cross = float(np.abs(basis.T @ covs[0] @ complement).max()) / scale if r < law.dim else 0.0
    outside = float(np.abs(dev @ complement).max()) / max(float(np.abs(dev).max()), 1e-300)
    residual = max(spread, cross, outside)
    if residual > 1e3 * rtol:
        raise ValueError(f"law: does not split into a mixture part and an independent Gaussian "
                         f"part (covariance spread {spread:.3g}, cross-covariance {cross:.3g}, "
                         f"means outside the subspace {outside:.3g}, relative)")
    red_covs = np.einsum("ji,kjl,lm->kim", basis, covs, basis)
    reduced = GaussianMixture(law.weights, law.means @ basis,
                              0.5 * (red_covs + np.swapaxes(red_covs, 1, 2)))
    g_cov = complement.T @ covs[0] @ complement
    return MixtureSplit(reduced, basis, complement, law.means[0] @ complement,
                        0.5 * (g_cov + g_cov.T), residual)


def sample_moments(split: MixtureSplit, n: int, rng=None):
    """The sample mean and covariance (``n - 1``) of ``n`` exact draws of the split law, in
    the coordinates ``(basis.T x, complement.T x)``, drawn without the Gaussian draws.

    With :math:`b_i = m + Lz_i` and :math:`A_c` the centred mixture draws
    (:math:`A_c = Q_AR`, :math:`Q_A` orthonormal, :math:`A_c \\perp 1`):
    :math:`\\bar b = m + Lg_0/\\sqrt n`, :math:`S_{AB} = R^TGL^T`,
    :math:`S_{BB} = L(G^TG + W)L^T`, with :math:`g_0 \\sim N(0, I)`, :math:`G` an
    :math:`r \\times (d - r)` matrix of standard normals and :math:`W \\sim
    \\mathrm{Wishart}(n - r - 1, I)`, independent (rotation invariance of :math:`Z`). The
    joint law of (mean, covariance) is that of the direct route; FID and every other
    rotation-invariant function of the moments may use these coordinates.

    Returns
    -------
    mean : (d,) array
    cov : (d, d) array
    """
    from scipy import stats as sps

    from .._random import as_generator
    from .._validation import check_int

    if not isinstance(split, MixtureSplit):
        raise ValueError(f"split: must be a MixtureSplit (got {type(split).__name__})")
    gen = as_generator(rng)
    r = split.basis.shape[1]
    q = split.complement.shape[1]
    n = check_int("n", n, low=r + q + 2)
    a = split.reduced.sample_data(n, gen)
    a_mean = a.mean(axis=0)
    ac = a - a_mean
    s_aa = ac.T @ ac
    chol_l = np.linalg.cholesky(split.gaussian_cov)
    mean = np.concatenate([a_mean, split.gaussian_mean
                           + chol_l @ gen.standard_normal(q) / np.sqrt(n)])
    if q == 0:
        return mean, s_aa / (n - 1)
    g = gen.standard_normal((r, q))
    w = sps.wishart(df=n - r - 1, scale=np.eye(q)).rvs(random_state=gen).reshape(q, q)
    s_ab = np.linalg.cholesky(s_aa) @ g @ chol_l.T
    s_bb = chol_l @ (g.T @ g + w) @ chol_l.T
    cov = np.block([[s_aa, s_ab], [s_ab.T, s_bb]]) / (n - 1)
    return mean, 0.5 * (cov + cov.T)
