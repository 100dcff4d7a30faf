r"""A diffusion prior learned only through a forward model: the Gaussian case of "Diffusion
with Forward Models: Solving Stochastic Inverse Problems Without Direct Supervision"
(Tewari et al., NeurIPS 2023).

Signals :math:`x \sim N(\mu, \Sigma)` in :math:`\mathbb R^d` are never seen; each training
example is one observation :math:`y = A_S x` through a coordinate mask :math:`S` drawn from
a family (:math:`A_S` the rows of :math:`I_d` in :math:`S`). The model is a signal prior
:math:`N(m, C)`, i.e. its affine denoisers; the paper's objective denoises the
*observation* through the forward model: the model's signal estimate given a noisy
observation :math:`y_\sigma = y + \sigma\varepsilon` is rendered back by :math:`A_S` and
scored against :math:`y`. For the Gaussian model the rendered estimate is the Tweedie
denoiser of the pushed-forward law :math:`N(A_S m, A_S C A_S^T)`,
:math:`A_S m + G(y_\sigma - A_S m)`, :math:`G = A_SCA_S^T(A_SCA_S^T + \sigma^2 I)^{-1}`, and the
loss is exact (:func:`observation_loss`):

.. math:: E\|A_S\hat x - y\|^2 = \mathrm{tr}\big((G - I)A_S\Sigma A_S^T(G-I)^T\big)
          + \|(G - I)A_S(\mu - m)\|^2 + \sigma^2\,\mathrm{tr}(GG^T).

It is minimised, at every :math:`\sigma > 0`, exactly when :math:`A_S m = A_S\mu` and
:math:`A_S C A_S^T = A_S\Sigma A_S^T` for every mask of the family: the signal law is
identified iff every pair :math:`(i, j)` is observed together by some mask (else
:math:`\Sigma_{ij}` is free: :func:`unidentified_pairs`). The finite-sample fit
:func:`fit_from_masked` matches those moments on the data (each mean from the
observations that see the coordinate, each covariance from those that see the pair),
projected onto the PSD cone: the empirical counterpart of the population minimiser.
"""

from __future__ import annotations

import numpy as np

from ..._validation import as_float_array, check_real

__all__ = ["observation_loss", "fit_from_masked", "fit_by_objective", "unidentified_pairs",
           "check_masks",
           "draw_masked"]


def check_masks(masks, d):
    """Bool array (K, d) of masks, each observing at least one coordinate."""
    m = np.asarray(masks)
    if m.ndim != 2 or m.shape[1] != d or m.dtype != bool:
        raise ValueError(f"masks: must be a bool array of shape (K, {d}) (got "
                         f"{m.shape}, {m.dtype})")
    if not m.any(axis=1).all():
        raise ValueError("masks: every mask must observe at least one coordinate")
    return m


def _gauss(mean, cov):
    mu = as_float_array("mean", mean, ndim=1)
    c = as_float_array("cov", cov, ndim=2)
    if c.shape != (mu.size, mu.size):
        raise ValueError(f"cov: must have shape ({mu.size}, {mu.size}) (got {c.shape})")
    return mu, c


def observation_loss(model_mean, model_cov, mean, cov, mask, sigma):
    r"""The exact observation-space denoising loss of the model :math:`N(m, C)` on mask
    ``mask`` at noise ``sigma`` when signals follow :math:`N(\mu, \Sigma)` (module doc)."""
    m, C = _gauss(model_mean, model_cov)
    mu, S = _gauss(mean, cov)
    if m.shape != mu.shape:
        raise ValueError(f"model_mean: must have shape {mu.shape} (got {m.shape})")
    msk = check_masks(np.asarray(mask)[None, :], mu.size)[0]
    s = check_real("sigma", sigma, low=0.0, low_open=True)
    Cs = C[np.ix_(msk, msk)]
    Ss = S[np.ix_(msk, msk)]
    k = int(msk.sum())
    G = np.linalg.solve(Cs + s * s * np.eye(k), Cs).T
    R = G - np.eye(k)
    delta = R @ (mu[msk] - m[msk])
    return float(np.trace(R @ Ss @ R.T) + delta @ delta + s * s * np.sum(G * G))


def unidentified_pairs(masks):
    """Pairs ``(i, j)``, ``i < j``, that no mask observes together (their covariance is
    not identified by the forward-model objective)."""
    m = np.asarray(masks, bool)
    co = (m.T.astype(int) @ m.astype(int)) > 0
    i, j = np.nonzero(~co)
    return [(int(a), int(b)) for a, b in zip(i, j) if a < b]


def draw_masked(mean, cov, masks, probs, n, rng):
    """``n`` signals and one mask each (drawn from ``masks`` with ``probs``); returns
    ``(observations with unobserved entries set to 0 (n, d), mask per row (n, d))``.
    The signals themselves are not returned: the fit never sees them."""
    mu, S = _gauss(mean, cov)
    msk = check_masks(masks, mu.size)
    p = as_float_array("probs", probs, ndim=1)
    if p.shape != (msk.shape[0],) or np.any(p < 0) or abs(p.sum() - 1) > 1e-9:
        raise ValueError(f"probs: must be a probability vector of length {msk.shape[0]}")
    x = mu + rng.standard_normal((n, mu.size)) @ np.linalg.cholesky(S).T
    which = rng.choice(msk.shape[0], size=n, p=p)
    seen = msk[which]
    return np.where(seen, x, 0.0), seen


def fit_from_masked(y, seen, *, min_count=2):
    r"""Moment-matching fit of :math:`N(m, C)` from masked observations (module doc).

    Parameters
    ----------
    y : (n, d) array
        Observations, arbitrary (ignored) where unobserved.
    seen : (n, d) bool array
    min_count : int
        Pairs seen together fewer times are left at covariance 0 (unidentified).

    Returns
    -------
    mean : (d,) array
    cov : (d, d) array, PSD (negative eigenvalues of the pairwise estimate clipped to
        ``1e-9`` times the largest)
    """
    yy = as_float_array("y", y, ndim=2)
    s = np.asarray(seen)
    if s.shape != yy.shape or s.dtype != bool:
        raise ValueError(f"seen: must be a bool array of shape {yy.shape}")
    cnt = s.sum(axis=0)
    if np.any(cnt < 1):
        raise ValueError("seen: every coordinate must be observed at least once (an "
                         "unobserved coordinate has no identified mean)")
    z = np.where(s, yy, 0.0)
    m = z.sum(axis=0) / cnt
    c = np.where(s, yy - m, 0.0)
    sf = s.astype(float)
    pair = sf.T @ sf
    cov = np.where(pair >= min_count, (c.T @ c) / np.maximum(pair - 1, 1), 0.0)
    cov = 0.5 * (cov + cov.T)
    w, v = np.linalg.eigh(cov)
    w = np.maximum(w, 1e-9 * max(w[-1], 1e-300))
    return m, (v * w) @ v.T


def fit_by_objective(y, seen, sigmas=(0.3, 1.0, 3.0), *, iters=300, lr=0.05, init=None):
    r"""Train the Gaussian model :math:`N(m, LL^T)` on the paper's objective itself: the
    observation-space denoising loss summed over the training observations and the noise
    levels ``sigmas``, with the noise integrated out in closed form,

    .. math:: \frac1n\sum_i\sum_\sigma \|(G_i - I)(y_i - A_im)\|^2 + \sigma^2\mathrm{tr}(G_iG_i^T),
              \quad G_i = A_iCA_i^T(A_iCA_i^T + \sigma^2I)^{-1},

    by Adam on :math:`(m, L)` (torch, float64, CPU). ``init`` (mean, cov) defaults to
    the observed means and a unit covariance.

    Returns
    -------
    mean : (d,) array
    cov : (d, d) array
    """
    import torch

    yy = as_float_array("y", y, ndim=2)
    s = np.asarray(seen)
    if s.shape != yy.shape or s.dtype != bool:
        raise ValueError(f"seen: must be a bool array of shape {yy.shape}")
    d = yy.shape[1]
    sig = as_float_array("sigmas", sigmas, ndim=1)
    if sig.size < 1 or np.any(sig <= 0):
        raise ValueError("sigmas: must be a non-empty list of positive noise levels")
    patterns, inverse = np.unique(s, axis=0, return_inverse=True)
    inverse = np.asarray(inverse).ravel()
    if init is None:
        cnt = np.maximum(s.sum(axis=0), 1)
        init = (np.where(s, yy, 0.0).sum(axis=0) / cnt, np.eye(d))
    m = torch.tensor(np.asarray(init[0], float), requires_grad=True)
    L = torch.tensor(np.linalg.cholesky(np.asarray(init[1], float)), requires_grad=True)
    # patterns of equal size are batched: index (P, k), per-example pattern and residuals
    batches = []
    for k in sorted(set(patterns.sum(axis=1))):
        sel = np.nonzero(patterns.sum(axis=1) == k)[0]
        idx = torch.as_tensor(np.array([np.nonzero(patterns[g])[0] for g in sel]))
        rows = np.isin(inverse, sel)
        which = torch.as_tensor(np.searchsorted(sel, inverse[rows]))
        Y = torch.as_tensor(np.array([yy[i, patterns[inverse[i]]] for i in np.nonzero(rows)[0]]))
        batches.append((idx, which, Y, int(k)))
    opt = torch.optim.Adam([m, L], lr=lr)
    n = yy.shape[0]
    for _ in range(iters):
        opt.zero_grad()
        C = torch.tril(L) @ torch.tril(L).T
        loss = 0.0
        for idx, which, Y, k in batches:
            Cs = C[idx[:, :, None], idx[:, None, :]]                        # (P, k, k)
            R = Y - m[idx][which]                                           # (n_k, k)
            eye = torch.eye(k, dtype=Cs.dtype)
            for sv in sig:
                G = torch.linalg.solve(Cs + float(sv) ** 2 * eye, Cs).transpose(1, 2)
                E = torch.einsum("nij,nj->ni", (G - eye)[which], R)
                counts = torch.bincount(which, minlength=len(idx)).to(Cs.dtype)
                loss = loss + ((E * E).sum() + float(sv) ** 2 * (
                    (G * G).sum(dim=(1, 2)) * counts).sum()) / n
        loss.backward()
        opt.step()
    with torch.no_grad():
        C = torch.tril(L) @ torch.tril(L).T
    return m.detach().numpy().copy(), C.numpy().copy()
