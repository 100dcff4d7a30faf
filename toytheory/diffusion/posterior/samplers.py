r"""Posterior samplers driven by a score: the exact conditional score and DPS's.

Every sampler here runs the variance-exploding reverse SDE
(:math:`x_t = x_0 + \sigma\varepsilon`; Song et al. 2021, "reverse diffusion"
predictor, i.e. Euler-Maruyama on the noise grid) with a score callable
``score(x (n, d), sigma) -> (n, d)``:

.. math:: x_{i+1} = x_i + (\sigma_i^2 - \sigma_{i+1}^2)\, s(x_i, \sigma_i)
          + \sqrt{\sigma_i^2 - \sigma_{i+1}^2}\; z_i .

Two scores for :math:`p(x \mid y)`:

exact
    the score of the diffused exact posterior (:func:`exact_posterior_score`), which is
    what every posterior sampler approximates;
DPS
    Chung et al., "Diffusion Posterior Sampling for General Noisy Inverse Problems"
    (ICLR 2023), Theorem 1's approximation :math:`p(y\mid x_t) \approx
    p(y \mid x_0 = \hat x_0(x_t))` with Tweedie's :math:`\hat x_0 = E[x_0\mid x_t]`:

    .. math:: s_{DPS}(x_t) = \nabla\log p_t(x_t)
              - \frac{\zeta}{2 s^2}\nabla_{x_t}\|y - A\hat x_0(x_t)\|^2
              = \nabla\log p_t(x_t) + \frac{\zeta}{s^2} J^T A^T (y - A\hat x_0),

    :math:`J = \partial\hat x_0/\partial x_t` (exact here: :func:`denoiser_jacobian`).
    :math:`\zeta = 1` is the plug-in likelihood; the paper's Algorithm 1 instead scales
    the gradient of the *norm* by a hand-set :math:`\zeta_i`, a different weighting of
    the same direction (``zeta`` here is that knob, held constant).
"""

from __future__ import annotations

import numpy as np
from scipy.special import ndtr

from ..._random import as_generator
from ..._validation import as_float_array, check_real
from ..laws import GaussianMixture
from .gmm import check_measurement, component_posteriors

__all__ = ["reverse_sde", "exact_posterior_score", "dps_score", "halfplane_mass",
           "pigdm_score", "projection_sampler"]


def reverse_sde(score, x_init, sigmas, rng=None):
    r"""Euler-Maruyama on the VE reverse SDE over the grid ``sigmas`` (module doc).

    Parameters
    ----------
    score : callable ``(x (n, d), sigma) -> (n, d)``
    x_init : (n, d) array
        Draws at ``sigmas[0]``.
    sigmas : (N + 1,) array
        Strictly decreasing, ``sigmas[-1] >= 0``.
    rng : numpy Generator or int

    Returns
    -------
    (n, d) array at ``sigmas[-1]``.
    """
    x = as_float_array("x_init", x_init, ndim=2).copy()
    sig = as_float_array("sigmas", sigmas, ndim=1)
    if sig.size < 2 or np.any(np.diff(sig) >= 0) or sig[-1] < 0:
        raise ValueError("sigmas: must be a strictly decreasing grid of >= 2 levels, the "
                         "last >= 0")
    gen = as_generator(rng)
    for s_now, s_next in zip(sig[:-1], sig[1:]):
        dv = s_now * s_now - s_next * s_next
        x += dv * score(x, float(s_now)) + np.sqrt(dv) * gen.standard_normal(x.shape)
    return x


def exact_posterior_score(posterior):
    r"""``score(x, sigma)`` of the diffused exact posterior :math:`\nabla\log p_\sigma(x\mid y)`."""
    if not isinstance(posterior, GaussianMixture):
        raise ValueError("posterior: must be a GaussianMixture (from exact_gmm_posterior)")
    return lambda x, sigma: posterior.score(x, 1.0, sigma)


def dps_score(prior, A, noise_std, y, zeta=1.0):
    r"""DPS's approximate conditional score (module doc), as ``score(x, sigma)``.

    Raises
    ------
    ValueError
        bad ``A``/``y``, ``noise_std <= 0`` (DPS divides by it), ``zeta < 0``.
    """
    a, s, yy = check_measurement(prior, A, noise_std, y)
    if s <= 0:
        raise ValueError("noise_std: must be > 0 for DPS (the guidance divides by s^2)")
    z = check_real("zeta", zeta, low=0.0)

    def score(x, sigma):
        # one pass over the components gives x0_hat, the prior score (x0_hat - x)/sigma^2
        # (Tweedie, alpha = 1) and J = Cov[x0 | x_t]/sigma^2 (denoiser_jacobian's formula)
        w, m, V = component_posteriors(prior, x, 1.0, sigma)
        x0 = np.einsum("nk,nkd->nd", w, m)
        g = (yy[None, :] - x0 @ a.T) @ a                                   # A^T (y - A x0)
        # J g = (sum_k w_k (V_k g + m_k (m_k . g)) - x0 (x0 . g)) / sigma^2
        jg = (np.einsum("nk,kij,nj->ni", w, V, g)
              + np.einsum("nk,nki,nk->ni", w, m, np.einsum("nkj,nj->nk", m, g))
              - x0 * np.sum(x0 * g, axis=1, keepdims=True)) / sigma ** 2
        return (x0 - x) / sigma ** 2 + (z / s ** 2) * jg

    return score


def halfplane_mass(law, v, c=0.0):
    r""":math:`P(v\cdot x > c) = \sum_k\pi_k\,\Phi\big((v\cdot\mu_k - c)/\sqrt{v^T\Sigma_k v}\big)`
    under a mixture ``law`` (an indicator for a component with :math:`v^T\Sigma_k v = 0`).

    Parameters
    ----------
    law : GaussianMixture
    v : (d,) array, non-zero
    c : float
    """
    if not isinstance(law, GaussianMixture):
        raise ValueError(f"law: must be a GaussianMixture (got {type(law).__name__})")
    vv = as_float_array("v", v, ndim=1)
    if vv.shape != (law.dim,) or not np.any(vv):
        raise ValueError(f"v: must be a non-zero vector of length {law.dim}")
    c = check_real("c", c)
    mu = law.means @ vv - c
    var = np.einsum("i,kij,j->k", vv, law.covs, vv)
    with np.errstate(divide="ignore", invalid="ignore"):
        p = np.where(var > 0, ndtr(mu / np.sqrt(np.where(var > 0, var, 1.0))),
                     (mu > 0).astype(float))
    return float(law.weights @ p)


def pigdm_score(prior, A, noise_std, y, weight=1.0):
    r"""ΠGDM's approximate conditional score (Song, Vahdat, Mardani, Kautz, "Pseudoinverse-
    Guided Diffusion Models for Inverse Problems", ICLR 2023, eq. 7-8), as ``score(x, sigma)``.

    :math:`p(x_0 \mid x_t) \approx N(\hat x_0, r_t^2 I)` with :math:`r_t^2 =
    \sigma^2/(1 + \sigma^2)` (the paper's choice for unit-variance data), so
    :math:`p(y \mid x_t) \approx N(A\hat x_0, r_t^2AA^T + s^2 I)` and

    .. math:: s_{\Pi GDM} = \nabla\log p_t(x_t) + w\,J^TA^T(r_t^2AA^T + s^2I)^{-1}(y - A\hat x_0)

    (``weight`` :math:`w`; :math:`J` exact, :func:`denoiser_jacobian`'s formula).
    """
    a, s, yy = check_measurement(prior, A, noise_std, y)
    w_ = check_real("weight", weight, low=0.0)
    m = a.shape[0]

    def score(x, sigma):
        w, mk, V = component_posteriors(prior, x, 1.0, sigma)
        x0 = np.einsum("nk,nkd->nd", w, mk)
        r2 = sigma * sigma / (1.0 + sigma * sigma)
        cov = r2 * a @ a.T + s * s * np.eye(m)
        g = np.linalg.solve(cov, (yy[None, :] - x0 @ a.T).T).T @ a           # A^T cov^-1 r
        jg = (np.einsum("nk,kij,nj->ni", w, V, g)
              + np.einsum("nk,nki,nk->ni", w, mk, np.einsum("nkj,nj->nk", mk, g))
              - x0 * np.sum(x0 * g, axis=1, keepdims=True)) / sigma ** 2
        return (x0 - x) / sigma ** 2 + w_ * jg

    return score


def projection_sampler(prior, A, y, x_init, sigmas, rng=None):
    r"""The projection (replacement) method of Song et al., "Solving Inverse Problems in
    Medical Imaging with Score-Based Generative Models" (ICLR 2022) / the replacement
    inpainting of "Score-Based Generative Modeling through SDEs" (2021): after every
    reverse-SDE step with the *prior* score, the measured component is replaced by a noised
    measurement at the new level,

    .. math:: x \leftarrow x + A^+\big(y + \sigma'A\varepsilon' - Ax\big),

    so :math:`Ax` follows :math:`y`'s diffused value (noise-free measurements; a noisy
    :math:`y` is used as if exact). Returns the draws at ``sigmas[-1]``.
    """
    if not isinstance(prior, GaussianMixture):
        raise ValueError(f"prior: must be a GaussianMixture (got {type(prior).__name__})")
    a, _, yy = check_measurement(prior, A, 0.0, y)
    x = as_float_array("x_init", x_init, ndim=2).copy()
    sig = as_float_array("sigmas", sigmas, ndim=1)
    if sig.size < 2 or np.any(np.diff(sig) >= 0) or sig[-1] < 0:
        raise ValueError("sigmas: must be a strictly decreasing grid of >= 2 levels, the "
                         "last >= 0")
    gen = as_generator(rng)
    pinv = np.linalg.pinv(a)
    for s_now, s_next in zip(sig[:-1], sig[1:]):
        dv = s_now * s_now - s_next * s_next
        x += dv * prior.score(x, 1.0, float(s_now)) + np.sqrt(dv) * gen.standard_normal(x.shape)
        y_t = yy[None, :] + s_next * gen.standard_normal(x.shape) @ a.T
        x += (y_t - x @ a.T) @ pinv.T
    return x
