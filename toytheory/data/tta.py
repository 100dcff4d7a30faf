"""Test-time prompt tuning with diffusion augmentations, on a Gaussian mixture, exactly.

Paper: "Diverse Data Augmentation with Diffusions for Effective Test-time Prompt Tuning"
(DiffTPT). The toy: ``K`` classes with source law :math:`x \\mid y=k \\sim N(m_k, s^2 I)`;
the pre-trained classifier is that law's Bayes rule, :math:`\\mathrm{softmax}_k(m_k^\\top
(x - p)/s^2 - \\|m_k\\|^2/(2 s^2))`, where the "prompt" :math:`p \\in \\mathbb{R}^d` (zero
when pre-trained) is what test-time tuning adapts. For each test point (episodic, the
prompt reset each time) TPT takes a few gradient steps of the entropy of the mean
prediction over the most confident augmented views, then predicts the test point.

Augmentations:

* standard: :math:`v = x + \\tau \\xi` (a jitter standing in for random resized crops);
* diffusion: SDEdit with the exact source model. Noise the test point on the VP path,
  :math:`x_t = a x + \\sqrt{1 - a^2}\\, \\xi`, and draw :math:`x_0` from the exact
  posterior :math:`p_{src}(x_0 \\mid x_t)`, a Gaussian mixture (:func:`gmm_posterior_sample`):
  the endpoint law of a perfect diffusion sampler started from :math:`x_t`;
* filtered diffusion: keep the generated views with the highest cosine similarity to the
  test point (DiffTPT's filtration).
"""

from __future__ import annotations

import numpy as np

from .._validation import as_float_array, check_int, check_real

__all__ = ["GMMSource", "gmm_posterior_sample", "standard_views", "diffusion_views",
           "cosine_filter", "tpt_predict", "tpt_predict_batch"]


class GMMSource:
    """The source law :math:`\\frac1K\\sum_k N(m_k, \\mathrm{diag}(\\Sigma))` (``var``,
    default ``s2`` everywhere) and the pre-trained classifier: the nearest-mean rule with the
    isotropic metric ``s2`` (a zero-shot classifier that knows the class embeddings but not
    the source's anisotropy; with ``var = s2`` it is the Bayes rule)."""

    def __init__(self, means, s2: float, var=None):
        self.means = as_float_array("means", means, ndim=2)
        self.s2 = check_real("s2", s2, low=0.0, low_open=True)
        d = self.means.shape[1]
        self.var = np.full(d, self.s2) if var is None else as_float_array("var", var, ndim=1)
        if self.var.shape != (d,) or np.any(self.var <= 0):
            raise ValueError(f"var: must be {d} positive variances")

    def logits(self, X, prompt=None):
        X = np.atleast_2d(np.asarray(X, float))
        if prompt is not None:
            X = X - prompt
        m = self.means
        return (X @ m.T - 0.5 * np.sum(m * m, axis=1)) / self.s2

    def probs(self, X, prompt=None):
        z = self.logits(X, prompt)
        z = z - z.max(axis=1, keepdims=True)
        e = np.exp(z)
        return e / e.sum(axis=1, keepdims=True)

    def log_density_t(self, xt, a: float) -> float:
        """:math:`\\log p_t(x_t)` of :math:`x_t = a x_0 + \\sqrt{1-a^2}\\xi` (closed form)."""
        xt = np.asarray(xt, float)
        v = a * a * self.var + 1 - a * a
        r2 = np.sum((xt - a * self.means) ** 2 / v, axis=1)
        lw = -0.5 * r2 - 0.5 * np.sum(np.log(2 * np.pi * v)) - np.log(len(self.means))
        mx = lw.max()
        return float(mx + np.log(np.exp(lw - mx).sum()))


def gmm_posterior_sample(source: GMMSource, xt, a: float, n: int, rng) -> np.ndarray:
    """``n`` exact draws of :math:`x_0 \\sim p_{src}(x_0 \\mid x_t)` for one ``xt``.

    Coordinatewise, with :math:`\\Sigma` the source variances and :math:`v = a^2 \\Sigma +
    1 - a^2`: component ``k`` has posterior weight :math:`\\propto N(x_t; a m_k,
    \\mathrm{diag}(v))`, and given it :math:`x_0 \\sim N(m_k + (a \\Sigma/v)(x_t - a m_k),
    \\Sigma (1 - a^2)/v)`.
    """
    a = check_real("a", a, low=0.0, high=1.0)
    n = check_int("n", n, low=1)
    xt = np.asarray(xt, float)
    m, var = source.means, source.var
    v = a * a * var + 1 - a * a
    lw = -0.5 * np.sum((xt - a * m) ** 2 / v, axis=1)
    w = np.exp(lw - lw.max())
    k = rng.choice(len(m), size=n, p=w / w.sum())
    mean = m[k] + (a * var / v) * (xt - a * m[k])
    return mean + np.sqrt(var * (1 - a * a) / v) * rng.standard_normal((n, m.shape[1]))


def standard_views(x, n: int, jitter: float, rng) -> np.ndarray:
    x = np.asarray(x, float)
    return x + jitter * rng.standard_normal((n, x.size))


def diffusion_views(source: GMMSource, x, n: int, a: float, rng) -> np.ndarray:
    """SDEdit views: each from its own noising of ``x`` to level ``a``, then an exact
    posterior draw (the same law as :func:`gmm_posterior_sample`, vectorised over views)."""
    a = check_real("a", a, low=0.0, high=1.0)
    x = np.asarray(x, float)
    xt = a * x + np.sqrt(1 - a * a) * rng.standard_normal((n, x.size))
    m, var = source.means, source.var
    v = a * a * var + 1 - a * a
    lw = -0.5 * np.sum((xt[:, None, :] - a * m[None]) ** 2 / v, axis=2)     # (n, K)
    w = np.exp(lw - lw.max(axis=1, keepdims=True))
    cdf = np.cumsum(w / w.sum(axis=1, keepdims=True), axis=1)
    k = np.minimum((rng.random((n, 1)) > cdf).sum(axis=1), len(m) - 1)
    mean = m[k] + (a * var / v) * (xt - a * m[k])
    return mean + np.sqrt(var * (1 - a * a) / v) * rng.standard_normal((n, x.size))


def cosine_filter(x, views, keep: int) -> np.ndarray:
    """The ``keep`` views with the highest cosine similarity to ``x``."""
    keep = check_int("keep", keep, low=1)
    views = np.atleast_2d(views)
    if keep > len(views):
        raise ValueError(f"keep: must be <= the number of views {len(views)} (got {keep})")
    x = np.asarray(x, float)
    cos = views @ x / (np.linalg.norm(views, axis=1) * np.linalg.norm(x) + 1e-300)
    return views[np.argsort(-cos, kind="stable")[:keep]]


def tpt_predict(source: GMMSource, x, views, *, confident: float = 0.1, steps: int = 1,
                lr: float = 1.0) -> int:
    """TPT: keep the ``confident`` fraction of ``views`` (plus ``x``) of lowest entropy,
    take ``steps`` gradient steps on the entropy of their mean prediction with respect to
    the prompt (exact gradient), and predict ``x`` with the tuned prompt."""
    x = np.asarray(x, float)
    return int(tpt_predict_batch(source, x[None], np.atleast_2d(views)[None],
                                 confident=confident, steps=steps, lr=lr)[0])


def tpt_predict_batch(source: GMMSource, X, views, *, confident: float = 0.1, steps: int = 1,
                      lr: float = 1.0) -> np.ndarray:
    """:func:`tpt_predict` for ``B`` test points at once (each with its own prompt).

    Parameters
    ----------
    X : (B, d) array
    views : (B, V, d) array
        The augmented views of each test point.

    Returns
    -------
    (B,) int array of predicted classes.
    """
    confident = check_real("confident", confident, low=0.0, high=1.0, low_open=True)
    steps = check_int("steps", steps, low=0)
    X = as_float_array("X", X, ndim=2)
    views = as_float_array("views", views, ndim=3)
    if views.shape[0] != X.shape[0] or views.shape[2] != X.shape[1]:
        raise ValueError(f"views: must be (B, V, d) = ({X.shape[0]}, V, {X.shape[1]}), "
                         f"got {views.shape}")
    B, d = X.shape
    allv = np.concatenate([X[:, None, :], views], axis=1)            # (B, V + 1, d)
    P = source.probs(allv.reshape(-1, d)).reshape(B, allv.shape[1], -1)
    H = -np.sum(P * np.log(P + 1e-300), axis=2)
    keep = max(1, int(round(confident * allv.shape[1])))
    idx = np.argsort(H, axis=1, kind="stable")[:, :keep]
    sel = np.take_along_axis(allv, idx[:, :, None], axis=1)           # (B, keep, d)
    A = source.means / source.s2
    p = np.zeros((B, d))
    for _ in range(steps):
        S = source.probs((sel - p[:, None, :]).reshape(-1, d)).reshape(B, keep, -1)
        q = S.mean(axis=1)                                             # (B, K)
        g = -(np.log(q + 1e-300) + 1.0)                                # dH/dq
        # dq/dp = mean_v (diag(s_v) - s_v s_v^T) (-A)
        Sg = np.sum(S * g[:, None, :], axis=2, keepdims=True)
        Jg = S * g[:, None, :] - S * Sg
        p = p + lr * (Jg.mean(axis=1) @ A)
    z = (X - p) @ source.means.T - 0.5 * np.sum(source.means ** 2, axis=1)
    return np.argmax(z, axis=1)
