r"""Data on k-dimensional manifolds embedded isometrically in :math:`\mathbb{R}^D`, with exact
diffused densities, scores and score Jacobians.

Every manifold lives in the first :math:`m` "native" coordinates of
:math:`\mathbb{R}^D` and is embedded by an orthogonal matrix :math:`Q` (random
by default): :math:`x = Q y`. With :math:`x_t = \alpha x_0 + \sigma\varepsilon`
the native density factorises into the noised manifold part
:math:`f_t(y_{1..m})` and the pure noise :math:`N(0, \sigma^2 I_{D-m})` of the
remaining coordinates, so

.. math:: \nabla\log p_t(x) = Q\,\nabla\log p^{\text{native}}_t(Q^T x), \qquad
          \nabla^2\log p_t(x) = Q\,\nabla^2\log p^{\text{native}}_t(Q^T x)\,Q^T .

Manifolds and their exact noised laws:

:class:`LinearSubspace` (k < D)
    :math:`N(0, s^2 I_k)` on a k-dimensional subspace: :math:`f_t = N(0, (\alpha^2 s^2+\sigma^2) I_k)`.
:class:`Sphere` (:math:`S^k \subset \mathbb{R}^{k+1}`, k + 1 <= D)
    the uniform law on the sphere of radius :math:`R`. With
    :math:`\kappa = \alpha R|y|/\sigma^2` and :math:`\nu = (k+1)/2 - 1`,

    .. math:: \log f_t(y) = -\frac{|y|^2 + \alpha^2R^2}{2\sigma^2} - \frac{k+1}2\log(2\pi\sigma^2)
              + \log\Gamma\big(\tfrac{k+1}2\big) + \nu\log\frac2\kappa + \log I_\nu(\kappa),

    the von Mises–Fisher normaliser, and
    :math:`\nabla\log f_t = -y/\sigma^2 + (\alpha R/\sigma^2)A(\kappa)\hat y`,
    :math:`A = I_{\nu+1}/I_\nu` (the mean resultant length: :math:`E[x_0|x_t] = R A \hat y`).
:class:`FlatTorus` (:math:`T^k \subset \mathbb{R}^{2k}`, 2k <= D)
    the product of k circles of radius :math:`\rho` (isometric to the flat
    torus), uniform: a product of k sphere factors with :math:`\nu = 0`.
:class:`SwissRoll` (k = 2, 3 <= D)
    :math:`(c\,u\cos u,\; h,\; c\,u\sin u)` with :math:`u` uniform on ``n_spiral``
    equally spaced values of :math:`[1.5\pi, 4.5\pi]` (a delta mixture along the
    spiral, "on many points") and :math:`h \sim N(0, s_h^2)` (exact in the
    height direction).

References: Stanczuk, Batzolis, Deveney and Schönlieb, "Your diffusion model
secretly knows the dimension of the data manifold" and Horvat & Pfister, "On
gauge freedom, conservativity and intrinsic dimensionality estimation in
diffusion models" (their test manifolds: spheres, tori, Swiss roll, linear
subspaces embedded in :math:`\mathbb{R}^D`).
"""

from __future__ import annotations

import math

import numpy as np

from .._random import as_generator
from .._validation import as_float_array, check_int, check_real

__all__ = ["EmbeddedManifold", "LinearSubspace", "Sphere", "FlatTorus", "SwissRoll",
           "random_orthogonal", "sphere_factor"]

LOG_2PI = math.log(2 * math.pi)


def random_orthogonal(d: int, rng=None) -> np.ndarray:
    """A Haar-random orthogonal (d, d) matrix."""
    g = as_generator(rng)
    q, r = np.linalg.qr(g.standard_normal((d, d)))
    return q * np.sign(np.diag(r))


# --------------------------------------------------------------------------- sphere factor

def _bessel_ratio_terms(p: int, kappa: np.ndarray):
    """``A = I_{p/2}/I_{p/2-1}``, ``B = A/kappa`` and ``kB'(k) = 1 - A^2 - pB`` (stable)."""
    from scipy.special import ive

    nu = 0.5 * p - 1.0
    small = kappa < 1e-4
    k_safe = np.where(small, 1.0, kappa)
    a = ive(nu + 1.0, k_safe) / ive(nu, k_safe)
    b = a / k_safe
    kbp = 1.0 - a * a - p * b
    k2 = kappa * kappa
    b = np.where(small, 1.0 / p - k2 / (p * p * (p + 2.0)), b)
    a = np.where(small, kappa * b, a)
    kbp = np.where(small, -2.0 * k2 / (p * p * (p + 2.0)), kbp)
    return a, b, kbp


def _log_bessel_mean(p: int, kappa: np.ndarray) -> np.ndarray:
    """:math:`\\log E_u e^{\\kappa\\,\\mu^T u}` for u uniform on :math:`S^{p-1}`."""
    from scipy.special import gammaln, ive

    nu = 0.5 * p - 1.0
    small = kappa < 1e-4
    k_safe = np.where(small, 1.0, kappa)
    with np.errstate(divide="ignore"):
        big = gammaln(0.5 * p) + nu * np.log(2.0 / k_safe) + np.log(ive(nu, k_safe)) + k_safe
    series = kappa * kappa / (2.0 * p) - kappa**4 / (4.0 * p * p * (p + 2.0))
    return np.where(small, series, big)


def sphere_factor(y, radius: float, alpha: float, sigma: float, want=("log_prob",)):
    """The noised uniform law on the sphere of ``radius`` in :math:`\\mathbb{R}^p`, p = y.shape[1].

    Returns a dict with ``log_prob`` (n,), ``score`` (n, p), ``jacobian`` (n, p, p).
    """
    p = y.shape[1]
    s2 = sigma * sigma
    norm = np.sqrt(np.sum(y * y, axis=1))
    kappa = alpha * radius * norm / s2
    out = {}
    if "log_prob" in want:
        out["log_prob"] = (-(norm**2 + (alpha * radius) ** 2) / (2 * s2)
                           - 0.5 * p * (LOG_2PI + math.log(s2)) + _log_bessel_mean(p, kappa))
    if "score" in want or "jacobian" in want:
        _, b, kbp = _bessel_ratio_terms(p, kappa)
        c = (alpha * radius) ** 2 / (s2 * s2)
        if "score" in want:
            out["score"] = -y / s2 + (c * b)[:, None] * y
        if "jacobian" in want:
            safe = np.where(norm > 0, norm, 1.0)
            yhat = y / safe[:, None]
            eye = np.eye(p)[None]
            out["jacobian"] = (-eye / s2 + (c * b)[:, None, None] * eye
                               + (c * kbp)[:, None, None] * yhat[:, :, None] * yhat[:, None, :])
    return out


# --------------------------------------------------------------------------- base class

class EmbeddedManifold:
    """A law on a k-manifold in the first ``native_dim`` coordinates, embedded by ``Q``.

    Subclasses implement ``_native_part(y, alpha, sigma, want)`` for the first
    ``native_dim`` coordinates and ``_sample_native(n, rng)``.

    Attributes
    ----------
    dim : int
        Ambient dimension D.
    intrinsic_dim : int
        k.
    native_dim : int
        m, the number of native coordinates the manifold spans.
    embedding : (D, D) orthogonal array
    """

    name = "manifold"

    def __init__(self, intrinsic_dim: int, native_dim: int, ambient_dim: int, embedding=None,
                 rng=None):
        self.intrinsic_dim = check_int("k", intrinsic_dim, low=1)
        self.native_dim = native_dim
        self.dim = check_int("D", ambient_dim, low=1)
        if native_dim > self.dim:
            raise ValueError(f"D: must be >= {native_dim} to embed this {self.name} "
                             f"(got {self.dim})")
        if embedding is None:
            q = random_orthogonal(self.dim, rng)
        else:
            q = as_float_array("embedding", embedding, ndim=2)
            if q.shape != (self.dim, self.dim):
                raise ValueError(f"embedding: must have shape ({self.dim}, {self.dim}) "
                                 f"(got {q.shape})")
            if not np.allclose(q.T @ q, np.eye(self.dim), atol=1e-10):
                raise ValueError("embedding: must be orthogonal (an isometry)")
        self.embedding = q

    def __repr__(self):
        return (f"{type(self).__name__}(k={self.intrinsic_dim}, D={self.dim})")

    # ------------------------------------------------------------------ checks
    def _x(self, x):
        x = as_float_array("x", x, ndim=2)
        if x.shape[1] != self.dim:
            raise ValueError(f"x: must have {self.dim} columns (got shape {x.shape})")
        return x

    @staticmethod
    def _noise(alpha, sigma):
        a = check_real("alpha", alpha, low=0.0, low_open=True)
        s = check_real("sigma", sigma, low=0.0, low_open=True)
        return a, s

    def _native_part(self, y, alpha, sigma, want):  # pragma: no cover - abstract
        raise NotImplementedError

    def _sample_native(self, n, rng):  # pragma: no cover - abstract
        raise NotImplementedError

    # ------------------------------------------------------------------ evaluation
    def _evaluate(self, x, alpha, sigma, want):
        x = self._x(x)
        a, s = self._noise(alpha, sigma)
        y = x @ self.embedding
        m = self.native_dim
        part = self._native_part(y[:, :m], a, s, want)
        rest = y[:, m:]
        out = {}
        if "log_prob" in want:
            out["log_prob"] = (part["log_prob"] - 0.5 * np.sum(rest * rest, axis=1) / (s * s)
                               - 0.5 * (self.dim - m) * (LOG_2PI + 2 * math.log(s)))
        if "score" in want:
            native = np.concatenate([part["score"], -rest / (s * s)], axis=1)
            out["score"] = native @ self.embedding.T
        if "jacobian" in want:
            # Q diag(H_m, -I/s^2) Q^T = -I/s^2 + Q_m (H_m + I/s^2) Q_m^T: O(D^2 m), not O(D^3)
            qm = self.embedding[:, :m]
            inner = part["jacobian"] + np.eye(m)[None] / (s * s)
            out["jacobian"] = qm[None] @ inner @ qm.T[None] - np.eye(self.dim)[None] / (s * s)
        return out

    def log_prob(self, x, alpha, sigma):
        """:math:`\\log p_t(x)`, shape (n,)."""
        return self._evaluate(x, alpha, sigma, ("log_prob",))["log_prob"]

    def score(self, x, alpha, sigma):
        """:math:`\\nabla\\log p_t(x)`, shape (n, D)."""
        return self._evaluate(x, alpha, sigma, ("score",))["score"]

    def score_jacobian(self, x, alpha, sigma):
        """:math:`\\nabla^2\\log p_t(x)`, shape (n, D, D)."""
        return self._evaluate(x, alpha, sigma, ("jacobian",))["jacobian"]

    def score_and_jacobian(self, x, alpha, sigma):
        """``(score (n, D), score_jacobian (n, D, D))`` in one pass."""
        out = self._evaluate(x, alpha, sigma, ("score", "jacobian"))
        return out["score"], out["jacobian"]

    # ------------------------------------------------------------------ sampling
    def sample_data(self, n: int, rng=None):
        """``n`` points on the manifold (ambient coordinates), shape (n, D)."""
        n = check_int("n", n, low=0)
        g = as_generator(rng)
        y = np.zeros((n, self.dim))
        y[:, :self.native_dim] = self._sample_native(n, g)
        return y @ self.embedding.T

    def sample(self, n: int, alpha, sigma, rng=None):
        """``n`` draws of :math:`x_t = \\alpha x_0 + \\sigma\\varepsilon`, shape (n, D)."""
        a, s = self._noise(alpha, sigma)
        g = as_generator(rng)
        x0 = self.sample_data(n, g)
        return a * x0 + s * g.standard_normal(x0.shape)


class LinearSubspace(EmbeddedManifold):
    """:math:`N(0, s^2 I_k)` on a k-dimensional linear subspace of :math:`\\mathbb{R}^D` (k < D).

    Parameters
    ----------
    k, D : int
    scale : float, default 1
    embedding : (D, D) orthogonal array, optional (random from ``rng`` by default)
    rng : seed for the random embedding
    """

    name = "linear subspace"

    def __init__(self, k: int, D: int, scale: float = 1.0, embedding=None, rng=None):
        k = check_int("k", k, low=1)
        D = check_int("D", D, low=1)
        if k >= D:
            raise ValueError(f"k: must be < D = {D} for a proper subspace (got {k})")
        super().__init__(k, k, D, embedding, rng)
        self.scale = check_real("scale", scale, low=0.0, low_open=True)

    def _native_part(self, y, alpha, sigma, want):
        v = alpha * alpha * self.scale**2 + sigma * sigma
        k = y.shape[1]
        out = {}
        if "log_prob" in want:
            out["log_prob"] = -0.5 * np.sum(y * y, axis=1) / v - 0.5 * k * (LOG_2PI + math.log(v))
        if "score" in want:
            out["score"] = -y / v
        if "jacobian" in want:
            out["jacobian"] = np.broadcast_to(-np.eye(k) / v, (y.shape[0], k, k)).copy()
        return out

    def _sample_native(self, n, rng):
        return self.scale * rng.standard_normal((n, self.intrinsic_dim))

    @property
    def basis(self) -> np.ndarray:
        """(D, k) orthonormal basis of the subspace."""
        return self.embedding[:, :self.intrinsic_dim].copy()


class Sphere(EmbeddedManifold):
    """The uniform law on the k-sphere of ``radius`` (in :math:`\\mathbb{R}^{k+1}`), inside R^D.

    Parameters
    ----------
    k, D : int (k + 1 <= D)
    radius : float, default 1
    embedding, rng : see :class:`EmbeddedManifold`
    """

    name = "sphere"

    def __init__(self, k: int, D: int, radius: float = 1.0, embedding=None, rng=None):
        k = check_int("k", k, low=1)
        super().__init__(k, k + 1, D, embedding, rng)
        self.radius = check_real("radius", radius, low=0.0, low_open=True)

    def _native_part(self, y, alpha, sigma, want):
        return sphere_factor(y, self.radius, alpha, sigma, want)

    def _sample_native(self, n, rng):
        z = rng.standard_normal((n, self.native_dim))
        return self.radius * z / np.linalg.norm(z, axis=1, keepdims=True)


class FlatTorus(EmbeddedManifold):
    """The uniform law on the flat torus :math:`(S^1_\\rho)^k \\subset \\mathbb{R}^{2k}`, inside R^D.

    Parameters
    ----------
    k, D : int (2k <= D)
    radius : float, default 1
        :math:`\\rho`, the radius of every circle.
    embedding, rng : see :class:`EmbeddedManifold`
    """

    name = "flat torus"

    def __init__(self, k: int, D: int, radius: float = 1.0, embedding=None, rng=None):
        k = check_int("k", k, low=1)
        super().__init__(k, 2 * k, D, embedding, rng)
        self.radius = check_real("radius", radius, low=0.0, low_open=True)

    def _native_part(self, y, alpha, sigma, want):
        n = y.shape[0]
        out = {"log_prob": np.zeros(n), "score": np.zeros_like(y),
               "jacobian": np.zeros((n, self.native_dim, self.native_dim))}
        for i in range(self.intrinsic_dim):
            sl = slice(2 * i, 2 * i + 2)
            part = sphere_factor(y[:, sl], self.radius, alpha, sigma, want)
            if "log_prob" in want:
                out["log_prob"] += part["log_prob"]
            if "score" in want:
                out["score"][:, sl] = part["score"]
            if "jacobian" in want:
                out["jacobian"][:, sl, sl] = part["jacobian"]
        return {k: out[k] for k in want}

    def _sample_native(self, n, rng):
        theta = rng.uniform(0.0, 2 * np.pi, (n, self.intrinsic_dim))
        y = np.empty((n, self.native_dim))
        y[:, 0::2] = self.radius * np.cos(theta)
        y[:, 1::2] = self.radius * np.sin(theta)
        return y


class SwissRoll(EmbeddedManifold):
    """The Swiss roll :math:`(c\\,u\\cos u, h, c\\,u\\sin u)` in :math:`\\mathbb{R}^D` (k = 2).

    :math:`u` is uniform on ``n_spiral`` equally spaced values of
    :math:`[1.5\\pi, 4.5\\pi]` (a delta mixture along the spiral; pick the noise
    level well above the spacing between neighbouring values, which
    :attr:`spacing` reports) and :math:`h \\sim N(0, s_h^2)`.

    Parameters
    ----------
    D : int (>= 3)
    scale : float, default 0.1
        :math:`c`.
    height : float, default 1
        :math:`s_h`.
    n_spiral : int, default 4000
    embedding, rng : see :class:`EmbeddedManifold`
    """

    name = "Swiss roll"

    def __init__(self, D: int, scale: float = 0.1, height: float = 1.0, n_spiral: int = 4000,
                 embedding=None, rng=None):
        super().__init__(2, 3, D, embedding, rng)
        self.scale = check_real("scale", scale, low=0.0, low_open=True)
        self.height = check_real("height", height, low=0.0, low_open=True)
        n_spiral = check_int("n_spiral", n_spiral, low=2)
        u = np.linspace(1.5 * np.pi, 4.5 * np.pi, n_spiral)
        self._spiral = self.scale * np.stack([u * np.cos(u), u * np.sin(u)], axis=1)
        from ..diffusion.laws import DeltaMixture
        from .densities import MixtureDensity

        self._plane = MixtureDensity(DeltaMixture(self._spiral))

    @property
    def spacing(self) -> float:
        """The largest distance between neighbouring spiral points."""
        return float(np.max(np.linalg.norm(np.diff(self._spiral, axis=0), axis=1)))

    def _native_part(self, y, alpha, sigma, want):
        plane = y[:, [0, 2]]
        hgt = y[:, 1]
        v = alpha * alpha * self.height**2 + sigma * sigma
        out = {}
        if "log_prob" in want:
            out["log_prob"] = (self._plane.log_prob(plane, alpha, sigma)
                               - 0.5 * hgt * hgt / v - 0.5 * (LOG_2PI + math.log(v)))
        if "score" in want:
            sp = self._plane.score(plane, alpha, sigma)
            out["score"] = np.stack([sp[:, 0], -hgt / v, sp[:, 1]], axis=1)
        if "jacobian" in want:
            hp = self._plane.score_jacobian(plane, alpha, sigma)
            jac = np.zeros((y.shape[0], 3, 3))
            jac[:, 0, 0], jac[:, 0, 2] = hp[:, 0, 0], hp[:, 0, 1]
            jac[:, 2, 0], jac[:, 2, 2] = hp[:, 1, 0], hp[:, 1, 1]
            jac[:, 1, 1] = -1.0 / v
            out["jacobian"] = jac
        return out

    def _sample_native(self, n, rng):
        j = rng.integers(0, self._spiral.shape[0], n)
        h = self.height * rng.standard_normal(n)
        return np.stack([self._spiral[j, 0], h, self._spiral[j, 1]], axis=1)
