r"""Data laws with exact diffused marginals: Gaussian, Gaussian mixture, delta mixture.

For data :math:`x_0 \sim p_0` and :math:`x_t = \alpha x_0 + \sigma\varepsilon`,
:math:`\varepsilon \sim N(0, I)`, every law here gives, exactly and at any
:math:`(\alpha, \sigma)`: the log-density of :math:`p_t`, the score
:math:`\nabla\log p_t`, the denoiser :math:`E[x_0 \mid x_t]` as an
:math:`x_0`-, :math:`\varepsilon`- or :math:`v`-prediction, the posterior over
mixture components, and samples of :math:`p_t`. A schedule turns a time into
:math:`(\alpha_t, \sigma_t)`: see :class:`toytheory.diffusion.process.DiffusionProcess`.

Predictions (``kind``):

- ``"x0"``: :math:`\hat x_0 = E[x_0 \mid x_t]`;
- ``"eps"``: :math:`\hat\varepsilon = E[\varepsilon \mid x_t] = -\sigma\nabla\log p_t`;
- ``"v"``: :math:`\hat v = \alpha\hat\varepsilon - \sigma\hat x_0` (Salimans & Ho);
- ``"score"``: :math:`\nabla\log p_t`.

References
----------
REFERENCE.md section 1; Wang & Vastola, "The Unreasonable Effectiveness of
Gaussian Score Approximation for Diffusion Models and its Applications"
(Gaussian and mixture scores, eq. for the GMM score as a softmax-weighted
sum of component scores).
"""

from __future__ import annotations

import numpy as np

from .._random import as_generator
from .._validation import as_float_array, check_int, check_probability_vector, check_real
from . import _mixture_core as core
from ..threads import chunk_workers, parallel_map

__all__ = ["GaussianMixture", "Gaussian", "DeltaMixture", "PREDICTIONS"]

PREDICTIONS = core.PREDICTIONS  # defined below both laws and torch_laws: no import cycle
_CHUNK_ELEMENTS = 2**18  # n * K * d per chunk (2 MB of float64: stays in cache)


def _eigh_psd(name: str, covs: np.ndarray, rtol: float = 1e-10):
    """Eigendecompose a stack of symmetric PSD matrices; refuse anything else."""
    sym = np.max(np.abs(covs - np.swapaxes(covs, -1, -2)), axis=(-1, -2))
    scale = np.maximum(np.max(np.abs(covs), axis=(-1, -2)), np.finfo(float).tiny)
    if np.any(sym > rtol * scale):
        k = int(np.argmax(sym / scale))
        raise ValueError(f"{name}: must be symmetric (component {k}: max |S - S^T| = "
                         f"{sym[k]:.3g})")
    covs = 0.5 * (covs + np.swapaxes(covs, -1, -2))
    eigvals, eigvecs = np.linalg.eigh(covs)
    top = np.max(np.abs(eigvals), axis=-1, keepdims=True)
    if np.any(eigvals < -rtol * np.maximum(top, np.finfo(float).tiny)):
        k = int(np.argmin(np.min(eigvals, axis=-1)))
        raise ValueError(f"{name}: must be positive semi-definite (component {k}: smallest "
                         f"eigenvalue {eigvals[k].min():.3g})")
    eigvals = np.where(np.abs(eigvals) <= rtol * top, 0.0, eigvals)
    return np.clip(eigvals, 0.0, None), eigvecs


SINGULAR_SIGMA2_MIN = float(np.finfo(np.float64).tiny)
"""Smallest sigma^2 at which a law with a singular component is evaluated: below it (sigma
under about 1.5e-154) sigma^2 is subnormal and its reciprocal, the precision along the
singular directions, overflows float64 (found by the suite's property test at sigma 4.8e-162,
where every output was NaN)."""

class GaussianMixture:
    r"""A Gaussian mixture :math:`\sum_k \pi_k N(\mu_k, \Sigma_k)` and its diffused marginals.

    Parameters
    ----------
    weights : (K,) array
        Non-negative, summing to one (within 1e-9).
    means : (K, d) array
    covs : (K, d, d) array
        Symmetric PSD (singular and zero covariances allowed; then the
        density of :math:`p_t` exists only for :math:`\sigma > 0`).

    Notes
    -----
    Use :meth:`diagonal` or :meth:`isotropic` for diagonal covariances: they
    skip the eigendecomposition and cost :math:`O(Kd)` per point instead of
    :math:`O(Kd^2)`.
    """

    def __init__(self, weights, means, covs, *, _eig=None):
        w = check_probability_vector("weights", weights)
        mu = as_float_array("means", means, ndim=2)
        if mu.shape[0] != w.size:
            raise ValueError(f"means: must have {w.size} rows, one per weight "
                             f"(got shape {mu.shape})")
        k, d = mu.shape
        if d < 1:
            raise ValueError("means: must have at least one column")
        if _eig is not None:
            eigvals, eigvecs = _eig
        else:
            s = as_float_array("covs", covs, ndim=3)
            if s.shape != (k, d, d):
                raise ValueError(f"covs: must have shape ({k}, {d}, {d}) (got {s.shape})")
            eigvals, eigvecs = _eigh_psd("covs", s)
        self._weights = w
        with np.errstate(divide="ignore"):
            self._log_weights = np.log(w)
        self._means = mu
        self._eigvals = eigvals
        self._eigvecs = eigvecs
        self._means_proj = (mu if eigvecs is None
                            else np.einsum("kdi,kd->ki", eigvecs, mu))
        # components of weight zero take no part in the evaluation (their
        # density may not exist: a singular covariance at sigma = 0)
        self._active = None if np.all(w > 0) else np.flatnonzero(w > 0)

    def _kernel_arrays(self):
        """(log_weights, means, means_proj, eigvals, eigvecs) of the components of positive
        weight, as the evaluation kernel takes them."""
        arrays = (self._log_weights, self._means, self._means_proj, self._eigvals,
                  self._eigvecs)
        if self._active is None:
            return arrays
        idx = self._active
        return tuple(None if a is None else a[idx] for a in arrays)

    def _scatter_weights(self, w, xp=np):
        """Posterior weights of the active components back to all K components."""
        if self._active is None:
            return w
        full = xp.zeros((w.shape[0], self.n_components), dtype=w.dtype)
        if xp is np:
            full[:, self._active] = w
        else:
            import torch

            full[:, torch.as_tensor(self._active, device=w.device)] = w
        return full

    # ------------------------------------------------------------------ constructors
    @classmethod
    def diagonal(cls, weights, means, variances) -> "GaussianMixture":
        """Mixture with diagonal covariances ``diag(variances[k])``, variances (K, d) >= 0."""
        mu = as_float_array("means", means, ndim=2)
        v = as_float_array("variances", variances, ndim=2)
        if v.shape != mu.shape:
            raise ValueError(f"variances: must have the shape of means {mu.shape} "
                             f"(got {v.shape})")
        if np.any(v < 0):
            raise ValueError("variances: must be non-negative")
        return cls(weights, mu, None, _eig=(v.copy(), None))

    @classmethod
    def isotropic(cls, weights, means, variances) -> "GaussianMixture":
        """Mixture with covariances ``variances[k] * I``, variances (K,) >= 0."""
        mu = as_float_array("means", means, ndim=2)
        v = as_float_array("variances", variances, ndim=1)
        if v.size != mu.shape[0]:
            raise ValueError(f"variances: must have {mu.shape[0]} entries (got {v.size})")
        if np.any(v < 0):
            raise ValueError("variances: must be non-negative")
        return cls(weights, mu, None, _eig=(np.repeat(v[:, None], mu.shape[1], axis=1), None))

    # ------------------------------------------------------------------ properties
    @property
    def n_components(self) -> int:
        return self._means.shape[0]

    @property
    def dim(self) -> int:
        return self._means.shape[1]

    @property
    def weights(self) -> np.ndarray:
        return self._weights.copy()

    @property
    def means(self) -> np.ndarray:
        return self._means.copy()

    @property
    def eigvals(self) -> np.ndarray:
        """(K, d) eigenvalues of the component covariances."""
        return self._eigvals.copy()

    @property
    def eigvecs(self) -> np.ndarray | None:
        """(K, d, d) eigenvectors (columns), or None for diagonal covariances."""
        return None if self._eigvecs is None else self._eigvecs.copy()

    @property
    def covs(self) -> np.ndarray:
        """(K, d, d) component covariances."""
        if self._eigvecs is None:
            return np.stack([np.diag(v) for v in self._eigvals])
        return np.einsum("kij,kj,klj->kil", self._eigvecs, self._eigvals, self._eigvecs)

    @property
    def is_singular(self) -> bool:
        """Whether some component covariance has a zero eigenvalue."""
        return bool(np.any(self._eigvals[self._weights > 0] == 0))

    def mean(self) -> np.ndarray:
        """Data mean :math:`\\sum_k \\pi_k\\mu_k`, shape (d,)."""
        return self._weights @ self._means

    def covariance(self) -> np.ndarray:
        """Data covariance :math:`\\sum_k\\pi_k(\\Sigma_k + \\mu_k\\mu_k^T) - mm^T`, (d, d)."""
        m = self.mean()
        centred = self._means - m
        if self._eigvecs is None:  # diagonal: never form the K d x d covariances
            within = np.diag(self._weights @ self._eigvals)
        else:
            within = np.einsum("k,kij->ij", self._weights, self.covs)
        return within + (centred.T * self._weights) @ centred

    def __repr__(self):
        kind = "full" if self._eigvecs is not None else "diagonal"
        return f"{type(self).__name__}(K={self.n_components}, d={self.dim}, covs={kind})"

    # ------------------------------------------------------------------ validation
    def _check_x(self, x):
        arr = as_float_array("x", x, ndim=(1, 2))
        single = arr.ndim == 1
        arr = arr[None, :] if single else arr
        if arr.shape[1] != self.dim:
            raise ValueError(f"x: must have {self.dim} columns (got shape {arr.shape})")
        return arr, single

    def _check_noise(self, alpha, sigma, n):
        a = as_float_array("alpha", alpha, ndim=(0, 1))
        s = as_float_array("sigma", sigma, ndim=(0, 1))
        for name, v in (("alpha", a), ("sigma", s)):
            if v.ndim == 1 and v.size not in (1, n):
                raise ValueError(f"{name}: must be a scalar or have one entry per point "
                                 f"({n}) (got {v.size})")
        if np.any(a <= 0):
            raise ValueError("alpha: must be > 0")
        if np.any(s < 0):
            raise ValueError("sigma: must be >= 0")
        if np.any(s == 0) and self.is_singular:
            raise ValueError("sigma: must be > 0 because a component covariance is singular "
                             "(p_t has no density at sigma = 0)")
        if self.is_singular and np.any(s * s < SINGULAR_SIGMA2_MIN):
            raise ValueError(f"sigma: must be >= {np.sqrt(SINGULAR_SIGMA2_MIN):.3g} because a "
                             "component covariance is singular and 1/sigma^2 would overflow "
                             f"float64 (got min {float(s.min())!r})")
        return a.reshape(1, -1, 1), s.reshape(1, -1, 1)

    # ------------------------------------------------------------------ evaluation
    def _evaluate(self, x, alpha, sigma, want):
        xs, single = self._check_x(x)
        a, s = self._check_noise(alpha, sigma, xs.shape[0])
        n = xs.shape[0]
        arrays = self._kernel_arrays()
        plan = core.make_plan(np, n, a, s, *arrays, want=want)
        step = core.chunk_size(arrays[1].shape[0], self.dim, _CHUNK_ELEMENTS)
        k_active = arrays[1].shape[0]
        shapes = {"log_prob": (n,), "weights": (n, k_active), "score": (n, self.dim),
                  "x0": (n, self.dim)}
        out = {key: np.empty(shapes[key]) for key in want}

        def chunk(start):
            stop = min(n, start + step)
            a_c = a if a.shape[1] == 1 else a[:, start:stop]
            s_c = s if s.shape[1] == 1 else s[:, start:stop]
            # each chunk writes its rows of the result (no per-chunk arrays to concatenate)
            core.evaluate_chunk(np, xs[start:stop], a_c, s_c, plan,
                                out={key: v[start:stop] for key, v in out.items()})

        # many small products, one set per chunk: the chunks are independent, so they run
        # on worker threads with one BLAS thread each (toytheory.threads)
        if n:
            parallel_map(chunk, range(0, n, step), chunk_workers())
        if "weights" in out:
            out["weights"] = self._scatter_weights(out["weights"])
        if single:
            out = {k: v[0] for k, v in out.items()}
        return out

    def log_prob(self, x, alpha=1.0, sigma=0.0):
        """:math:`\\log p_t(x)` for :math:`x_t = \\alpha x_0 + \\sigma\\varepsilon`.

        Parameters
        ----------
        x : (n, d) or (d,) array
        alpha : float or (n,) array, > 0
        sigma : float or (n,) array, >= 0 (> 0 for singular covariances)

        Returns
        -------
        (n,) array or float
        """
        return self._evaluate(x, alpha, sigma, ("log_prob",))["log_prob"]

    def score(self, x, alpha=1.0, sigma=0.0):
        """:math:`\\nabla_x\\log p_t(x)`, shape like ``x``."""
        return self._evaluate(x, alpha, sigma, ("score",))["score"]

    def denoise(self, x, alpha=1.0, sigma=0.0):
        """The posterior mean :math:`E[x_0 \\mid x_t = x]` (Tweedie), shape like ``x``."""
        return self._evaluate(x, alpha, sigma, ("x0",))["x0"]

    def posterior(self, x, alpha=1.0, sigma=0.0):
        """Posterior over components :math:`P(k \\mid x_t = x)`, shape (n, K) or (K,)."""
        return self._evaluate(x, alpha, sigma, ("weights",))["weights"]

    def predict(self, x, alpha, sigma, kind: str = "x0"):
        """A named prediction: ``"x0"``, ``"eps"``, ``"v"`` or ``"score"``.

        .. math:: \\hat\\varepsilon = -\\sigma\\nabla\\log p_t,\\quad
                  \\hat v = \\alpha\\hat\\varepsilon - \\sigma\\hat x_0
        """
        if kind not in PREDICTIONS:
            raise ValueError(f"kind: must be one of {PREDICTIONS} (got {kind!r})")
        if kind == "x0":
            return self.denoise(x, alpha, sigma)
        if kind == "score":
            return self.score(x, alpha, sigma)
        out = self._evaluate(x, alpha, sigma, ("score", "x0"))
        a = np.asarray(alpha, float)
        s = np.asarray(sigma, float)
        if a.ndim == 1 and out["score"].ndim == 2:
            a, s = a[:, None], s[:, None]
        eps = -s * out["score"]
        if kind == "eps":
            return eps
        return a * eps - s * out["x0"]

    # ------------------------------------------------------------------ sampling
    def sample_data(self, n: int, rng=None, return_labels: bool = False):
        """Draw ``n`` points from the data law :math:`p_0`, shape (n, d)."""
        n = check_int("n", n, low=0)
        gen = as_generator(rng)
        labels = gen.choice(self.n_components, size=n, p=self._weights)
        z = gen.standard_normal((n, self.dim)) * np.sqrt(self._eigvals[labels])
        if self._eigvecs is not None:
            # rotate component by component (gathering one d x d matrix per point would
            # take n d^2 memory)
            for k in np.unique(labels):
                idx = labels == k
                z[idx] = z[idx] @ self._eigvecs[k].T
        x = self._means[labels] + z
        return (x, labels) if return_labels else x

    def sample(self, n: int, alpha=1.0, sigma=0.0, rng=None):
        """Draw ``n`` points from :math:`p_t`: :math:`\\alpha x_0 + \\sigma\\varepsilon`."""
        gen = as_generator(rng)
        a = check_real("alpha", alpha, low=0.0, low_open=True)
        s = check_real("sigma", sigma, low=0.0)
        x0 = self.sample_data(n, gen)
        return a * x0 + s * gen.standard_normal(x0.shape)

    # ------------------------------------------------------------------ exact laws
    def marginal(self, alpha, sigma) -> "GaussianMixture":
        """The law of :math:`x_t` as a mixture: :math:`N(\\alpha\\mu_k, \\alpha^2\\Sigma_k + \\sigma^2 I)`."""
        a = check_real("alpha", alpha, low=0.0, low_open=True)
        s = check_real("sigma", sigma, low=0.0)
        return GaussianMixture(self._weights, a * self._means, None,
                               _eig=(a * a * self._eigvals + s * s, self._eigvecs))

    def gaussian_approximation(self) -> "Gaussian":
        """The Gaussian with the same mean and covariance as the data law."""
        return Gaussian(self.mean(), self.covariance())

    def to_torch(self, device="cpu", dtype=None, chunk_elements=None):
        """The same law as a torch object (:class:`toytheory.diffusion.torch_laws.TorchMixture`).

        ``chunk_elements`` bounds the (n, K, d) intermediates of one chunk (default 2**18
        on the CPU, 2**27 on CUDA)."""
        from .torch_laws import TorchMixture

        return TorchMixture(self, device=device, dtype=dtype, chunk_elements=chunk_elements)


class Gaussian(GaussianMixture):
    """A Gaussian :math:`N(\\mu, \\Sigma)` (full, diagonal, low rank or singular covariance).

    Parameters
    ----------
    mean : (d,) array
    cov : (d, d) array, symmetric PSD
    """

    def __init__(self, mean, cov, *, _eig=None):
        m = as_float_array("mean", mean, ndim=1)
        if _eig is None:
            c = as_float_array("cov", cov, ndim=2)
            if c.shape != (m.size, m.size):
                raise ValueError(f"cov: must have shape ({m.size}, {m.size}) (got {c.shape})")
            eigvals, eigvecs = _eigh_psd("cov", c[None])
            _eig = (eigvals, eigvecs)
        super().__init__(np.ones(1), m[None, :], None, _eig=_eig)

    @classmethod
    def diagonal(cls, mean, variances) -> "Gaussian":
        """:math:`N(\\mu, \\operatorname{diag}(v))`, ``variances`` (d,) >= 0."""
        m = as_float_array("mean", mean, ndim=1)
        v = as_float_array("variances", variances, ndim=1)
        if v.shape != m.shape:
            raise ValueError(f"variances: must have shape {m.shape} (got {v.shape})")
        if np.any(v < 0):
            raise ValueError("variances: must be non-negative")
        return cls(m, None, _eig=(v[None, :].copy(), None))

    @classmethod
    def low_rank(cls, mean, factor) -> "Gaussian":
        """:math:`N(\\mu, FF^T)` with ``factor`` F of shape (d, r), r <= d (singular if r < d).

        The spectrum comes from the SVD of F, so the zero eigenvalues are exact.
        """
        m = as_float_array("mean", mean, ndim=1)
        f = as_float_array("factor", factor, ndim=2)
        if f.shape[0] != m.size:
            raise ValueError(f"factor: must have {m.size} rows (got shape {f.shape})")
        u, s, _ = np.linalg.svd(f, full_matrices=True)
        eig = np.zeros(m.size)
        eig[: s.size] = s**2
        tol = 1e-12 * (eig.max() if eig.size else 1.0)
        eig[eig <= tol] = 0.0
        order = np.argsort(eig)
        return cls(m, None, _eig=(eig[order][None, :], u[:, order][None, :, :]))

    @property
    def mean_vector(self) -> np.ndarray:
        """:math:`\\mu`, shape (d,)."""
        return self._means[0].copy()

    @property
    def cov(self) -> np.ndarray:
        """:math:`\\Sigma`, shape (d, d)."""
        return self.covs[0]

    @property
    def spectrum(self) -> tuple[np.ndarray, np.ndarray]:
        """``(eigvals (d,), eigvecs (d, d))`` of :math:`\\Sigma` (eigvecs identity if diagonal)."""
        vecs = np.eye(self.dim) if self._eigvecs is None else self._eigvecs[0]
        return self._eigvals[0].copy(), vecs.copy()

    def marginal(self, alpha, sigma) -> "Gaussian":
        a = check_real("alpha", alpha, low=0.0, low_open=True)
        s = check_real("sigma", sigma, low=0.0)
        return Gaussian(a * self._means[0], None,
                        _eig=(a * a * self._eigvals + s * s, self._eigvecs))

    def marginal_moments(self, alpha, sigma) -> tuple[np.ndarray, np.ndarray]:
        """``(alpha mu, alpha^2 Sigma + sigma^2 I)``."""
        g = self.marginal(alpha, sigma)
        return g.mean_vector, g.cov


class DeltaMixture(GaussianMixture):
    """A finite set of points :math:`\\sum_j \\pi_j \\delta_{y_j}` (the empirical law).

    Its diffused marginal is :math:`\\sum_j\\pi_j N(\\alpha y_j, \\sigma^2 I)`, with

    .. math:: \\nabla\\log p_t(x) = \\big(\\alpha\\sum_j w_j(x) y_j - x\\big)/\\sigma^2,
              \\quad w_j = \\operatorname{softmax}_j(\\log\\pi_j - \\|x - \\alpha y_j\\|^2/2\\sigma^2)

    (REFERENCE.md section 1, delta mixture). Defined for :math:`\\sigma > 0` only.

    Parameters
    ----------
    points : (K, d) array
        At least one point, at least one column, finite.
    weights : (K,) array, optional
        One non-negative weight per point, summing to one (uniform by default).

    Raises
    ------
    ValueError
        ``points: ...`` when there are no points or no columns or a value is not
        finite; ``weights: ...`` when there is not one weight per point, or the
        weights are negative or do not sum to one.
    """

    def __init__(self, points, weights=None):
        y = as_float_array("points", points, ndim=2)
        if y.shape[0] == 0:
            raise ValueError(f"points: must be non-empty (got shape {y.shape})")
        if y.shape[1] == 0:
            raise ValueError(f"points: must have at least one column (got shape {y.shape})")
        if weights is None:
            w = np.full(y.shape[0], 1.0 / y.shape[0])
        else:
            w = check_probability_vector("weights", weights)
            if w.size != y.shape[0]:
                raise ValueError(f"weights: must have {y.shape[0]} entries, one per point "
                                 f"(got {w.size})")
        super().__init__(w, y, None, _eig=(np.zeros_like(y), None))

    @property
    def points(self) -> np.ndarray:
        return self._means.copy()
