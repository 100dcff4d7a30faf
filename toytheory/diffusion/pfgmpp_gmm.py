r"""The exact PFGM++ field and x0-posterior on Gaussian-mixture data.

"PFGM++: Unlocking the Potential of Physics-Inspired Generative Models" (Xu et al., ICML
2023), Section 3: the perturbation kernel
:math:`p_r(x \mid y) \propto (\|x - y\|^2 + r^2)^{-(N+D)/2}` is a multivariate Student-t
with D degrees of freedom and scale :math:`r^2/D`, hence a Gaussian scale mixture:

.. math:: x - y \mid V \sim \mathcal N(0, (r^2/V) I_N), \qquad V \sim \chi^2_D .

For data :math:`y \sim \sum_k \pi_k \mathcal N(\mu_k, \Sigma_k)` the perturbed law and the
posterior mean are therefore one-dimensional integrals over V of the diffusion quantities
at noise level :math:`\tau = r^2/V` (EDM's :math:`\sigma^2`), in any data dimension N:

.. math:: p_r(x) = E_V\big[p^{\rm EDM}_{\sqrt\tau}(x)\big], \qquad
          E[y \mid x] = \frac{E_V[p^{\rm EDM}_{\sqrt\tau}(x)\, \hat y_{\sqrt\tau}(x)]}
                             {E_V[p^{\rm EDM}_{\sqrt\tau}(x)]},

with :math:`p^{\rm EDM}_s` and :math:`\hat y_s` the GMM's Gaussian-noise density and denoiser
(:class:`toytheory.diffusion.laws.GaussianMixture`, exact). The V-integral is done by the
trapezoid rule in :math:`z = \log V` (the integrand is analytic in a strip and decays
exponentially on both sides, so the rule converges geometrically; ``n_nodes`` = 400 spans
the :math:`\chi^2_D` quantiles :math:`10^{-18}` to :math:`1 - 10^{-18}`).

:func:`gmm_posterior_mean_direct` is an independent check for N = 1, 2: tensor
Gauss-Hermite quadrature over y in each component (the kernel is smooth and bounded in y).
As the component variances go to 0 the result tends to the point-set posterior
(:func:`toytheory.diffusion.pfgmpp.point_posterior_mean` with weights :math:`\pi_k`).
"""

from __future__ import annotations

import numpy as np

from toytheory._validation import as_float_array, check_int, check_real

__all__ = ["scale_nodes", "gmm_log_density", "gmm_posterior_mean", "gmm_ode_velocity",
           "gmm_posterior_mean_direct"]


def _check_gmm(gmm, x):
    from toytheory.diffusion.laws import GaussianMixture

    if not isinstance(gmm, GaussianMixture):
        raise ValueError("gmm: must be a toytheory.diffusion.laws.GaussianMixture")
    x = as_float_array("x", x, ndim=2)
    if x.shape[1] != gmm.dim:
        raise ValueError(f"x: must have {gmm.dim} columns like gmm (got {x.shape[1]})")
    return x


def _check_d(D):
    if D == np.inf:
        return np.inf
    return check_int("D", D, low=1)


def scale_nodes(D: int, n_nodes: int = 400):
    r"""Nodes :math:`V_j` and log-weights for :math:`E[f(V)]`, :math:`V \sim \chi^2_D`: the
    trapezoid rule in :math:`\log V` between the :math:`10^{-18}` and
    :math:`1 - 10^{-18}` quantiles, weights normalised to sum to one.

    Returns
    -------
    v : (n_nodes,) array
    log_w : (n_nodes,) array
    """
    from scipy.special import logsumexp
    from scipy.stats import chi2

    D = check_int("D", D, low=1)
    n_nodes = check_int("n_nodes", n_nodes, low=16)
    lo, hi = np.log(chi2.ppf(1e-18, D)), np.log(chi2.isf(1e-18, D))
    z = np.linspace(lo, hi, n_nodes)
    log_w = z + chi2.logpdf(np.exp(z), D)
    return np.exp(z), log_w - logsumexp(log_w)


def _edm_terms(x, gmm, r, D, n_nodes):
    """log p^EDM and the EDM denoiser at every node: (nodes, n) and (nodes, n, N)."""
    if D == np.inf:
        taus, log_w = np.array([r * r]), np.zeros(1)
    else:
        v, log_w = scale_nodes(D, n_nodes)
        taus = r * r / v
    n = x.shape[0]
    xs = np.tile(x, (taus.size, 1))
    s = np.repeat(np.sqrt(taus), n)
    logp = gmm.log_prob(xs, 1.0, s).reshape(taus.size, n)
    den = gmm.denoise(xs, 1.0, s).reshape(taus.size, n, x.shape[1])
    return log_w, logp, den


def gmm_log_density(x, gmm, r: float, D, n_nodes: int = 400) -> np.ndarray:
    r""":math:`\log p_r(x)`, the PFGM++-perturbed GMM density at augmentation norm ``r``
    (``D = np.inf``: the Gaussian kernel :math:`\mathcal N(y, r^2 I)`).

    Parameters
    ----------
    x : (n, N) array
    gmm : GaussianMixture in N dimensions
    r : float, > 0
    D : int >= 1, or np.inf
    n_nodes : int, >= 16

    Returns
    -------
    (n,) array
    """
    from scipy.special import logsumexp

    x = _check_gmm(gmm, x)
    r = check_real("r", r, low=0.0, low_open=True)
    D = _check_d(D)
    log_w, logp, _ = _edm_terms(x, gmm, r, D, n_nodes)
    return logsumexp(log_w[:, None] + logp, axis=0)


def gmm_posterior_mean(x, gmm, r: float, D, n_nodes: int = 400) -> np.ndarray:
    r""":math:`E[y \mid x]` under the PFGM++ kernel at norm ``r`` for GMM data (the
    x0-posterior mean; ``D = np.inf``: EDM's denoiser at :math:`\sigma = r`). The
    posterior over (component, V) is available the same way; its mean is returned.

    Parameters
    ----------
    x : (n, N) array
    gmm : GaussianMixture in N dimensions
    r : float, > 0
    D : int >= 1, or np.inf
    n_nodes : int, >= 16
        Trapezoid nodes in log V (:func:`scale_nodes`).

    Returns
    -------
    (n, N) array
    """
    x = _check_gmm(gmm, x)
    r = check_real("r", r, low=0.0, low_open=True)
    D = _check_d(D)
    log_w, logp, den = _edm_terms(x, gmm, r, D, n_nodes)
    a = log_w[:, None] + logp
    w = np.exp(a - a.max(axis=0, keepdims=True))
    return np.einsum("jn,jnd->nd", w, den) / w.sum(axis=0)[:, None]


def gmm_ode_velocity(x, gmm, r: float, D, n_nodes: int = 400) -> np.ndarray:
    r"""The PFGM++ ODE :math:`dx/dr = (x - E[y \mid x])/r` on GMM data (Section 3)."""
    return (np.asarray(x, float) - gmm_posterior_mean(x, gmm, r, D, n_nodes)) / r


def gmm_posterior_mean_direct(x, gmm, r: float, D: int, n_nodes: int = 80) -> np.ndarray:
    r""":math:`E[y \mid x]` by tensor Gauss-Hermite quadrature over y in each component,
    for N = 1 or 2 (an independent check of :func:`gmm_posterior_mean`):
    :math:`\sum_k \pi_k \int y\, \mathcal N(y; \mu_k, \Sigma_k)\, k(x \mid y)\, dy` over the
    same without y, with :math:`\log k = -\tfrac{N+D}{2}\log(\|x-y\|^2 + r^2)`.

    Parameters
    ----------
    x : (n, N) array, N in {1, 2}
    gmm : GaussianMixture
    r : float, > 0
    D : int, >= 1
    n_nodes : int, >= 4
        Nodes per dimension (``n_nodes ** N`` per component).
    """
    from scipy.special import logsumexp

    x = _check_gmm(gmm, x)
    if gmm.dim > 2:
        raise ValueError(f"x: direct quadrature is for N <= 2 (got N = {gmm.dim})")
    r = check_real("r", r, low=0.0, low_open=True)
    D = check_int("D", D, low=1)
    n_nodes = check_int("n_nodes", n_nodes, low=4)
    N = gmm.dim
    z1, w1 = np.polynomial.hermite_e.hermegauss(n_nodes)   # weight exp(-z^2/2)
    grids = np.meshgrid(*([z1] * N), indexing="ij")
    z = np.stack([g.ravel() for g in grids], 1)                   # (n_nodes^N, N)
    lw = sum(np.log(g.ravel()) for g in np.meshgrid(*([w1] * N), indexing="ij"))
    lw = lw - N / 2 * np.log(2 * np.pi)
    ys, lws = [], []
    for k in range(gmm.n_components):
        vals, vecs = np.linalg.eigh(gmm.covs[k])
        root = vecs * np.sqrt(np.maximum(vals, 0.0))
        ys.append(gmm.means[k] + z @ root.T)
        lws.append(np.log(gmm.weights[k]) + lw)
    y = np.concatenate(ys)
    lwy = np.concatenate(lws)
    sq = ((x[:, None, :] - y[None]) ** 2).sum(-1)
    a = lwy[None, :] - (N + D) / 2 * np.log(sq + r * r)
    w = np.exp(a - logsumexp(a, axis=1, keepdims=True))
    return w @ y
