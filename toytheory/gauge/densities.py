r"""Diffused densities with an exact score *and* an exact score Jacobian.

The gauge fields, the model fields, the change-of-variables likelihood and
the flow-Jacobian estimator need :math:`\log p_t`, :math:`\nabla\log p_t` and
the Hessian :math:`\nabla^2\log p_t` at :math:`x_t = \alpha x_0 + \sigma\varepsilon`.
Anything with these methods can be used (the manifold laws of
:mod:`toytheory.gauge.manifolds` have them too):

``dim``
    the dimension d;
``log_prob(x, alpha, sigma)``
    (n,);
``score(x, alpha, sigma)``
    (n, d);
``score_jacobian(x, alpha, sigma)``
    (n, d, d), symmetric;
``torch_score(device, dtype)`` (optional)
    a callable ``(x_tensor, alpha, sigma) -> tensor`` for the torch simulators.

:class:`MixtureDensity` adapts the exact Gaussian-mixture laws of
:mod:`toytheory.diffusion.laws` (Gaussian, mixture, delta mixture). For
:math:`p_t = \sum_k\pi_k N(\alpha\mu_k, \Sigma_k(t))`,
:math:`\Sigma_k(t) = U_k\operatorname{diag}(\alpha^2\lambda_k + \sigma^2)U_k^T`,
posterior weights :math:`w_k(x)` and component scores
:math:`s_k = -\Sigma_k(t)^{-1}(x - \alpha\mu_k)`:

.. math::

    \nabla^2\log p_t = \sum_k w_k\big(s_k s_k^T - \Sigma_k(t)^{-1}\big) - s s^T,
    \qquad s = \sum_k w_k s_k .
"""

from __future__ import annotations

import numpy as np

from .._validation import as_float_array, check_real

__all__ = ["MixtureDensity", "as_density"]

_CHUNK = 2_000_000  # n * K * d * d elements per chunk


class MixtureDensity:
    """Exact log-density, score and score Jacobian of a diffused Gaussian mixture.

    Parameters
    ----------
    law : toytheory.diffusion.laws.GaussianMixture (or Gaussian, DeltaMixture)
    """

    def __init__(self, law):
        from ..diffusion.laws import GaussianMixture

        if not isinstance(law, GaussianMixture):
            raise ValueError(f"law: must be a GaussianMixture, Gaussian or DeltaMixture "
                             f"(got {type(law).__name__})")
        self.law = law
        self.dim = law.dim
        self._weights = law.weights
        self._means = law.means
        self._eigvals = law.eigvals
        self._eigvecs = law.eigvecs

    def __repr__(self):
        return f"MixtureDensity({self.law!r})"

    def log_prob(self, x, alpha, sigma):
        """:math:`\\log p_t(x)`, shape (n,)."""
        return self.law.log_prob(x, alpha, sigma)

    def score(self, x, alpha, sigma):
        """:math:`\\nabla\\log p_t(x)`, shape (n, d)."""
        return self.law.score(x, alpha, sigma)

    def score_jacobian(self, x, alpha, sigma):
        """:math:`\\nabla^2\\log p_t(x)`, shape (n, d, d) (scalar ``alpha``, ``sigma``)."""
        x = as_float_array("x", x, ndim=2)
        if x.shape[1] != self.dim:
            raise ValueError(f"x: must have {self.dim} columns (got {x.shape})")
        a = check_real("alpha", alpha, low=0.0, low_open=True)
        s = check_real("sigma", sigma, low=0.0)
        var = a * a * self._eigvals + s * s                                   # (K, d)
        if np.any(var[self._weights > 0] <= 0):
            raise ValueError("sigma: must be > 0 because a component covariance is singular")
        k, d = self._means.shape
        out = np.empty((x.shape[0], d, d))
        step = max(1, _CHUNK // max(k * d * d, 1))
        for start in range(0, x.shape[0], step):
            xs = x[start:start + step]
            w = self.law.posterior(xs, a, s)                                  # (m, K)
            diff = xs[:, None, :] - a * self._means[None, :, :]              # (m, K, d)
            if self._eigvecs is None:
                comp = -diff / var[None]                                      # s_k
                prec_mean = np.einsum("mk,kd->md", w, 1.0 / var)
                hess = -np.einsum("md,de->mde", prec_mean, np.eye(d))
            else:
                c = np.einsum("kdi,mkd->mki", self._eigvecs, diff)
                comp = -np.einsum("kdi,mki->mkd", self._eigvecs, c / var[None])
                prec = np.einsum("kdi,ki,kei->kde", self._eigvecs, 1.0 / var, self._eigvecs)
                hess = -np.einsum("mk,kde->mde", w, prec)
            mean = np.einsum("mk,mkd->md", w, comp)
            hess += np.einsum("mk,mkd,mke->mde", w, comp, comp)
            hess -= mean[:, :, None] * mean[:, None, :]
            out[start:start + step] = 0.5 * (hess + np.swapaxes(hess, 1, 2))
        return out

    def score_and_jacobian(self, x, alpha, sigma):
        """``(score (n, d), score_jacobian (n, d, d))``."""
        return self.score(x, alpha, sigma), self.score_jacobian(x, alpha, sigma)

    def torch_score(self, device="cpu", dtype=None):
        """``score(x, alpha, sigma)`` on torch tensors (the core's ``TorchMixture``)."""
        law_t = self.law.to_torch(device=device, dtype=dtype)
        return law_t.score


def as_density(obj):
    """``obj`` if it already has the density methods, else a :class:`MixtureDensity`."""
    needed = ("log_prob", "score", "score_jacobian", "dim")
    if all(hasattr(obj, n) for n in needed):
        return obj
    return MixtureDensity(obj)
