r"""Backend-generic kernel for diffused Gaussian mixtures (numpy and torch alike).

For data :math:`x_0 \sim \sum_k \pi_k N(\mu_k, \Sigma_k)` with
:math:`\Sigma_k = U_k \operatorname{diag}(\lambda_k) U_k^T` and
:math:`x_t = \alpha x_0 + \sigma \varepsilon`, component :math:`k` of the
marginal is :math:`N(\alpha\mu_k, U_k \operatorname{diag}(D_k) U_k^T)` with
:math:`D_k = \alpha^2\lambda_k + \sigma^2`. With the coordinates
:math:`c_k = U_k^T(x - \alpha\mu_k)`:

.. math::

    \log N_k(x) &= -\tfrac12 \sum_i c_{ki}^2 / D_{ki} - \tfrac12 \sum_i \log(2\pi D_{ki}) \\
    w_k(x) &= \operatorname{softmax}_k(\log\pi_k + \log N_k(x)) \\
    \nabla \log p_t(x) &= -\sum_k w_k\, U_k (c_k / D_k) \\
    E[x_0 \mid x_t = x] &= \sum_k w_k \big(\mu_k + U_k(\alpha\lambda_k c_k / D_k)\big)

(REFERENCE.md section 1; the per-component posterior mean is the Gaussian
conditional expectation.) Nothing is inverted: the eigendecomposition is made
once per law and every noise level reuses it, singular covariances included
(:math:`D > 0` whenever :math:`\sigma > 0`). The log-sum-exp keeps the weights
finite for points far in the tails.

The functions take an array namespace ``xp`` (from ``array_api_compat``) and
only use operations that numpy and torch share, so the two backends run the
same algorithm.
"""

from __future__ import annotations

import math

LOG_2PI = math.log(2 * math.pi)


def component_coordinates(xp, x, alpha, means_proj, eigvecs):
    """:math:`c_k = U_k^T x - \\alpha U_k^T\\mu_k`, shape (K, n, d).

    ``x`` is (n, d); ``alpha`` broadcasts as (1, n or 1, 1); ``means_proj`` is
    (K, d) (:math:`U_k^T\\mu_k`, or :math:`\\mu_k` when ``eigvecs`` is None,
    i.e. diagonal covariances).
    """
    if eigvecs is None:
        return x[None, :, :] - alpha * means_proj[:, None, :]
    return xp.matmul(x[None, :, :], eigvecs) - alpha * means_proj[:, None, :]


def back_project(xp, v, eigvecs):
    """:math:`U_k v_k`, shape (K, n, d) (identity when ``eigvecs`` is None)."""
    if eigvecs is None:
        return v
    return xp.matmul(v, xp.permute_dims(eigvecs, (0, 2, 1)))


def evaluate(xp, x, alpha, sigma, log_weights, means, means_proj, eigvals, eigvecs,
             want=("log_prob",)):
    """Evaluate the requested quantities of the diffused mixture at ``x``.

    Parameters
    ----------
    xp : array namespace
    x : (n, d) array
    alpha, sigma : arrays broadcastable to (1, n, 1)
    log_weights : (K,) array
    means : (K, d) array
    means_proj : (K, d) array
    eigvals : (K, d) array
    eigvecs : (K, d, d) array or None
    want : tuple of {"log_prob", "weights", "score", "x0"}

    Returns
    -------
    dict
        ``log_prob`` (n,), ``weights`` (n, K), ``score`` (n, d), ``x0`` (n, d).
    """
    c = component_coordinates(xp, x, alpha, means_proj, eigvecs)          # (K, n, d)
    var = alpha * alpha * eigvals[:, None, :] + sigma * sigma              # (K, n|1, d)
    quad = xp.sum(c * c / var, axis=-1)                                     # (K, n)
    logdet = xp.sum(xp.log(var), axis=-1)                                   # (K, n|1)
    logits = log_weights[:, None] - 0.5 * (quad + logdet + x.shape[-1] * LOG_2PI)  # (K, n)
    top = xp.max(logits, axis=0)                                            # (n,)
    shifted = xp.exp(logits - top[None, :])
    total = xp.sum(shifted, axis=0)
    out = {}
    if "log_prob" in want:
        out["log_prob"] = top + xp.log(total)
    w = shifted / total[None, :]                                            # (K, n)
    if "weights" in want:
        out["weights"] = xp.permute_dims(w, (1, 0))
    if "score" in want:
        comp = back_project(xp, c / var, eigvecs)                           # (K, n, d)
        out["score"] = -xp.sum(w[:, :, None] * comp, axis=0)
    if "x0" in want:
        comp = back_project(xp, alpha * eigvals[:, None, :] * c / var, eigvecs)
        out["x0"] = xp.sum(w[:, :, None] * (comp + means[:, None, :]), axis=0)
    return out
