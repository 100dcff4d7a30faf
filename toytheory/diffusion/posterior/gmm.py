r"""The exact posterior of a Gaussian-mixture prior under a linear-Gaussian measurement.

Prior :math:`x \sim \sum_k \pi_k N(\mu_k, \Sigma_k)` in :math:`\mathbb R^d`, measurement
:math:`y = A x + s\,\xi`, :math:`\xi \sim N(0, I_m)`. Component by component (Gaussian
conditioning, Bishop 2006 eq. 2.113-2.117), with :math:`S_k = A\Sigma_k A^T + s^2 I`:

.. math::

    \pi_k' &\propto \pi_k\, N(y;\, A\mu_k,\, S_k) \\
    \mu_k' &= \mu_k + \Sigma_k A^T S_k^{-1}(y - A\mu_k) \\
    \Sigma_k' &= \Sigma_k - \Sigma_k A^T S_k^{-1} A \Sigma_k

so the posterior is again a mixture, and its diffusion :math:`x_t = \alpha x + \sigma
\varepsilon` is the mixture of :math:`N(\alpha\mu_k', \alpha^2\Sigma_k' + \sigma^2 I)`:
the exact conditional score :math:`\nabla\log p_t(x_t\mid y)` is that mixture's score
(:meth:`GaussianMixture.score`). ``s = 0`` (noise-free measurement) is allowed where
every :math:`A\Sigma_k A^T` is invertible.

At time :math:`t` the measurement's likelihood given :math:`x_t` is exact too: with
:math:`x_0 \mid x_t, k \sim N(m_k(x_t), V_k)`,
:math:`m_k = \mu_k + \alpha\Sigma_k C_k^{-1}(x_t - \alpha\mu_k)`,
:math:`V_k = \Sigma_k - \alpha^2\Sigma_k C_k^{-1}\Sigma_k`,
:math:`C_k = \alpha^2\Sigma_k + \sigma^2 I`,

.. math:: p(y\mid x_t) = \sum_k w_k(x_t)\, N(y;\, A m_k(x_t),\, A V_k A^T + s^2 I),

and Bayes at time :math:`t` reads
:math:`\nabla\log p_t(x_t\mid y) = \nabla\log p_t(x_t) + \nabla\log p(y\mid x_t)`.
"""

from __future__ import annotations

import numpy as np

from ..._validation import as_float_array, check_real
from ..laws import GaussianMixture

__all__ = ["exact_gmm_posterior", "batched_gmm_posterior", "component_posteriors",
           "log_likelihood_at",
           "denoiser_jacobian", "check_measurement"]


def _check_prior(prior):
    if not isinstance(prior, GaussianMixture):
        raise ValueError(f"prior: must be a GaussianMixture (got {type(prior).__name__})")
    return prior


def check_measurement(prior, A, noise_std, y=None):
    """Validate ``(prior, A, noise_std, y)``; returns ``(A (m, d), s, y (m,) or None)``."""
    _check_prior(prior)
    a = as_float_array("A", A, ndim=2)
    if a.shape[1] != prior.dim or a.shape[0] < 1:
        raise ValueError(f"A: must have shape (m, {prior.dim}) with m >= 1 (got {a.shape})")
    s = check_real("noise_std", noise_std, low=0.0)
    if y is None:
        return a, s, None
    yy = as_float_array("y", y, ndim=1)
    if yy.shape != (a.shape[0],):
        raise ValueError(f"y: must have shape ({a.shape[0]},), one entry per row of A "
                         f"(got {yy.shape})")
    return a, s, yy


def _log_gauss(r, cov):
    """log N(r; 0, cov) for r (..., m) and one (m, m) covariance (Cholesky)."""
    chol = np.linalg.cholesky(cov)
    z = np.linalg.solve(chol, r[..., None])[..., 0] if r.ndim == 1 else \
        np.linalg.solve(chol, r.T).T
    m = cov.shape[0]
    return (-0.5 * np.sum(z * z, axis=-1) - np.sum(np.log(np.diag(chol)))
            - 0.5 * m * np.log(2 * np.pi))


def exact_gmm_posterior(prior, A, noise_std, y) -> GaussianMixture:
    r"""The posterior :math:`p(x \mid y)` of a mixture prior under :math:`y = Ax + s\xi`.

    Parameters
    ----------
    prior : GaussianMixture
        :math:`\sum_k\pi_k N(\mu_k, \Sigma_k)` in :math:`\mathbb R^d`.
    A : (m, d) array
    noise_std : float
        :math:`s \ge 0`; ``0`` needs every :math:`A\Sigma_k A^T` invertible.
    y : (m,) array

    Returns
    -------
    GaussianMixture
        weights :math:`\pi'`, means :math:`\mu'`, covariances :math:`\Sigma'` (module doc).

    Raises
    ------
    ValueError
        ``A`` of the wrong shape, ``noise_std`` negative or non-finite, ``y`` of the
        wrong length, or ``noise_std = 0`` with a singular :math:`A\Sigma_k A^T`.
    """
    a, s, yy = check_measurement(prior, A, noise_std, y)
    m = a.shape[0]
    covs = prior.covs
    logw = np.log(np.clip(prior.weights, 1e-300, None))
    means_post, covs_post, logits = [], [], []
    for k in range(prior.n_components):
        sk = a @ covs[k] @ a.T + s * s * np.eye(m)
        sk = 0.5 * (sk + sk.T)
        ev = np.linalg.eigvalsh(sk)
        if ev[0] <= 1e-12 * max(ev[-1], 1e-300):
            raise ValueError(f"noise_std: must be > 0 because A Sigma_k A^T is singular "
                             f"(component {k})")
        r = yy - a @ prior.means[k]
        gain = np.linalg.solve(sk, a @ covs[k]).T                          # Sigma A^T S^-1
        means_post.append(prior.means[k] + gain @ r)
        c = covs[k] - gain @ a @ covs[k]
        c = 0.5 * (c + c.T)
        # rounding can leave eigenvalues of order -1e-16 |Sigma| in the conditioned
        # directions (s = 0): clip them to the exact zero
        w, v = np.linalg.eigh(c)
        w = np.where(w < 1e-12 * max(w[-1], 1e-300), 0.0, w)
        covs_post.append((v * w) @ v.T)
        logits.append(logw[k] + _log_gauss(r, sk))
    logits = np.array(logits)
    logits[prior.weights == 0] = -np.inf
    wts = np.exp(logits - logits.max())
    return GaussianMixture(wts / wts.sum(), np.array(means_post), np.array(covs_post))


def _check_xt(prior, x, alpha, sigma):
    xs = as_float_array("x", x, ndim=2)
    if xs.shape[1] != prior.dim:
        raise ValueError(f"x: must have shape (n, {prior.dim}) (got {xs.shape})")
    al = check_real("alpha", alpha, low=0.0, low_open=True)
    sg = check_real("sigma", sigma, low=0.0, low_open=True)
    return xs, al, sg


def component_posteriors(prior, x, alpha, sigma):
    r"""The law of :math:`x_0 \mid x_t = x` component by component.

    Parameters
    ----------
    prior : GaussianMixture
    x : (n, d) array
    alpha, sigma : float, > 0

    Returns
    -------
    w : (n, K) array
        :math:`P(k \mid x_t)`.
    m : (n, K, d) array
        :math:`m_k(x_t) = \mu_k + \alpha\Sigma_k C_k^{-1}(x_t - \alpha\mu_k)`.
    V : (K, d, d) array
        :math:`V_k = \Sigma_k - \alpha^2\Sigma_k C_k^{-1}\Sigma_k`.
    """
    _check_prior(prior)
    xs, al, sg = _check_xt(prior, x, alpha, sigma)
    d = prior.dim
    covs = prior.covs
    ck = al * al * covs + sg * sg * np.eye(d)
    gain = al * np.linalg.solve(ck, covs).transpose(0, 2, 1)              # alpha Sigma C^-1
    r = xs[:, None, :] - al * prior.means[None, :, :]                     # (n, K, d)
    m = prior.means[None] + np.einsum("kij,nkj->nki", gain, r)
    V = covs - al * np.einsum("kij,kjl->kil", gain, covs)
    V = 0.5 * (V + V.transpose(0, 2, 1))
    w = prior.posterior(xs, al, sg)
    return w, m, V


def log_likelihood_at(prior, A, noise_std, y, x, alpha, sigma):
    r""":math:`\log p(y \mid x_t = x)`, exact (module doc), shape (n,).

    ``noise_std`` may be 0 only where every :math:`A V_k A^T` is invertible.
    """
    a, s, yy = check_measurement(prior, A, noise_std, y)
    w, m, V = component_posteriors(prior, x, alpha, sigma)
    terms = np.empty(w.shape)
    for k in range(prior.n_components):
        cov = a @ V[k] @ a.T + s * s * np.eye(a.shape[0])
        terms[:, k] = _log_gauss(yy[None, :] - m[:, k, :] @ a.T, 0.5 * (cov + cov.T))
    with np.errstate(divide="ignore"):
        lt = np.log(w) + terms
    top = lt.max(axis=1)
    return top + np.log(np.exp(lt - top[:, None]).sum(axis=1))


def denoiser_jacobian(prior, x, alpha, sigma):
    r"""The Jacobian of Tweedie's denoiser, :math:`\partial E[x_0\mid x_t]/\partial x_t
    = (\alpha/\sigma^2)\,\mathrm{Cov}[x_0 \mid x_t]`, shape (n, d, d) (symmetric).

    :math:`\mathrm{Cov}[x_0\mid x_t] = \sum_k w_k (V_k + m_k m_k^T) - \hat x_0\hat x_0^T`
    (law of total covariance over the component).
    """
    w, m, V = component_posteriors(prior, x, alpha, sigma)
    xs, al, sg = _check_xt(prior, x, alpha, sigma)
    mean = np.einsum("nk,nkd->nd", w, m)
    second = (np.einsum("nk,kij->nij", w, V)
              + np.einsum("nk,nki,nkj->nij", w, m, m))
    cov = second - mean[:, :, None] * mean[:, None, :]
    return (al / sg ** 2) * cov


def batched_gmm_posterior(prior, A, noise_std, Y, *, backend="numpy", device="cpu"):
    r"""Exact posteriors of a mixture prior for many observations under one ``(A, s)``.

    The posterior covariances :math:`\Sigma_k'` and gains :math:`\Sigma_kA^TS_k^{-1}` do not
    depend on :math:`y` (module doc), so only the weights and means are per observation:
    one factorisation per component, then matrix products over the batch.

    Parameters
    ----------
    prior : GaussianMixture
    A : (m, d) array
    noise_std : float, > 0
    Y : (n, m) array
        Observations, one per row.
    backend : {"numpy", "torch"}
        ``"torch"`` computes in float64 torch on ``device`` and returns numpy arrays.

    Returns
    -------
    weights : (n, K) array
    means : (n, K, d) array
    covs : (K, d, d) array
        Row ``i`` is :func:`exact_gmm_posterior` of ``Y[i]``.
    """
    a, s, _ = check_measurement(prior, A, noise_std)
    if s <= 0:
        raise ValueError("noise_std: must be > 0 for the batched posterior")
    yy = as_float_array("Y", Y, ndim=2)
    if yy.shape[1] != a.shape[0]:
        raise ValueError(f"Y: must have shape (n, {a.shape[0]}) (got {yy.shape})")
    if backend not in ("numpy", "torch"):
        raise ValueError(f"backend: must be 'numpy' or 'torch' (got {backend!r})")
    m = a.shape[0]
    covs, mus = prior.covs, prior.means
    S = np.einsum("ij,kjl,ml->kim", a, covs, a) + s * s * np.eye(m)       # (K, m, m)
    chol = np.linalg.cholesky(S)
    gain = np.linalg.solve(S, np.einsum("ij,kjl->kil", a, covs)).transpose(0, 2, 1)  # (K,d,m)
    post_covs = covs - np.einsum("kim,mj,kjl->kil", gain, a, covs)
    post_covs = 0.5 * (post_covs + post_covs.transpose(0, 2, 1))
    Amu = mus @ a.T                                                        # (K, m)
    cinv = np.linalg.inv(chol)                                             # L^-1 per component
    logdet = np.sum(np.log(np.diagonal(chol, axis1=1, axis2=2)), axis=1)
    with np.errstate(divide="ignore"):
        logw = np.log(prior.weights)
    const = logw - logdet - 0.5 * m * np.log(2 * np.pi)
    if backend == "numpy":
        R = yy[:, None, :] - Amu[None]                                     # (n, K, m)
        z = np.einsum("kij,nkj->nki", cinv, R)
        logits = const[None] - 0.5 * np.sum(z * z, axis=2)
        means = mus[None] + np.einsum("kdm,nkm->nkd", gain, R)
    else:
        import torch

        t = lambda v: torch.as_tensor(np.ascontiguousarray(v), dtype=torch.float64,  # noqa
                                      device=device)
        Yt, Amut, cinvt, gaint, must = t(yy), t(Amu), t(cinv), t(gain), t(mus)
        R = Yt[:, None, :] - Amut[None]
        z = torch.einsum("kij,nkj->nki", cinvt, R)
        logits = (t(const)[None] - 0.5 * (z * z).sum(2)).cpu().numpy()
        means = (must[None] + torch.einsum("kdm,nkm->nkd", gaint, R)).cpu().numpy()
    logits = logits - logits.max(axis=1, keepdims=True)
    w = np.exp(logits)
    return w / w.sum(axis=1, keepdims=True), means, post_covs
