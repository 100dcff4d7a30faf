"""Groups that are learned by least squares, simulated from the data (equitable datasets).

Group ``g`` draws :math:`x \\sim N(0, I_{d_g})`, :math:`y = x^\\top \\beta_g +
\\sigma_g \\varepsilon`; its model is ordinary least squares on the samples collected so
far. Nothing here uses the closed-form learning curve of
:class:`toytheory.data.allocation.OLSCurve`; the claims compare against it.

:class:`GroupPool` is a data collector: it holds each group's samples, buys more, refits,
and reports the validation error (on a fixed validation set of ``m`` points per group)
and the model's true test error :math:`\\sigma_g^2 + \\|\\hat\\beta_g - \\beta_g\\|^2`
(exact for the fitted model: the expectation over a fresh test point).
"""

from __future__ import annotations

import numpy as np

__all__ = ["GroupPool", "ols_test_errors"]


def ols_test_errors(d: int, sigma2: float, n: int, reps: int, rng) -> np.ndarray:
    """``reps`` independent OLS fits on ``n`` samples; each fit's exact test error."""
    X = rng.standard_normal((reps, n, d))
    noise = np.sqrt(sigma2) * rng.standard_normal((reps, n))
    # beta = 0 w.l.o.g. for the error of OLS (the estimate's error does not depend on it)
    XtX = np.einsum("rni,rnj->rij", X, X)
    Xty = np.einsum("rni,rn->ri", X, noise)
    err = np.linalg.solve(XtX, Xty[..., None])[..., 0]
    return sigma2 + np.sum(err ** 2, axis=1)


class GroupPool:
    """Least-squares groups from which a collector buys samples.

    Parameters
    ----------
    dims : sequence of int
        Features per group.
    sigma2 : sequence of float
        Noise variance per group.
    m_val : int
        Validation points per group (drawn once).
    rng : numpy.random.Generator
    """

    def __init__(self, dims, sigma2, m_val: int, rng):
        self.dims = [int(d) for d in dims]
        self.sigma2 = [float(s) for s in sigma2]
        self.rng = rng
        self.beta = [rng.standard_normal(d) for d in self.dims]
        self.X = [np.empty((0, d)) for d in self.dims]
        self.y = [np.empty(0) for _ in self.dims]
        self.val = [self._draw(g, m_val) for g in range(len(self.dims))]
        self._fit = [None] * len(self.dims)

    def _draw(self, g, k):
        X = self.rng.standard_normal((k, self.dims[g]))
        y = X @ self.beta[g] + np.sqrt(self.sigma2[g]) * self.rng.standard_normal(k)
        return X, y

    def grow(self, g: int, n: int) -> None:
        """Collect samples of group ``g`` until it has ``n``."""
        k = n - self.y[g].size
        if k > 0:
            X, y = self._draw(g, k)
            self.X[g] = np.vstack([self.X[g], X])
            self.y[g] = np.concatenate([self.y[g], y])
            self._fit[g] = None

    def fit(self, g: int) -> np.ndarray:
        if self._fit[g] is None:
            self._fit[g] = np.linalg.lstsq(self.X[g], self.y[g], rcond=None)[0]
        return self._fit[g]

    def validation_error(self, g: int, n: int) -> float:
        """Grow group ``g`` to ``n`` samples, refit, and return its validation MSE."""
        self.grow(g, n)
        Xv, yv = self.val[g]
        return float(np.mean((yv - Xv @ self.fit(g)) ** 2))

    def test_error(self, g: int) -> float:
        """The fitted model's exact test error on group ``g``."""
        return self.sigma2[g] + float(np.sum((self.fit(g) - self.beta[g]) ** 2))
