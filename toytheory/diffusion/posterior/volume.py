r"""3-D reconstruction from 2-D slice priors, Gaussian case: the toy of "Solving 3D Inverse
Problems using Pre-trained 2D Diffusion Models" (Chung, Ryu, Ye, CVPR 2023).

A volume :math:`x \in \mathbb R^{n_z \times n \times n}` (slice-major: index
``(z * n + i) * n + j``) has the separable Gaussian prior
:math:`\Sigma_3 = K_z \otimes K_{xy}`, :math:`K_{xy} = K_x \otimes K_y`, exponential kernels
:math:`K_{uv} = \rho^{|u - v|}`: every slice follows the 2-D prior :math:`N(0, K_{xy})` (what
a 2-D model trained on slices learns) and slices correlate through :math:`K_z`. Each slice
is observed through a sparse-view operator (its row and column sums: 2-view parallel-beam
tomography) with noise :math:`s`: :math:`A = I_{n_z} \otimes A_2`.

Three priors, given as precision matrices, each giving the exact posterior mean
:math:`\hat x = W y`, :math:`W = (P + A^TA/s^2)^{-1}A^T/s^2`:

independent slices
    :math:`P = I_{n_z} \otimes K_{xy}^{-1}` (the 2-D prior alone);
augmented (the paper's idea)
    :math:`P = I_{n_z} \otimes K_{xy}^{-1} + \lambda\, D_z^TD_z \otimes I` with the
    first-difference operator :math:`D_z` across slices (a Gaussian smoothness prior in the
    remaining direction; the paper uses its TV analogue);
true
    :math:`P = \Sigma_3^{-1}` (Bayes-optimal).

Under the true prior the errors are exact: :math:`x - \hat x = (I - WA)x - W s\xi`, so
:math:`E\|x - \hat x\|^2 = \mathrm{tr}\big((I-WA)\Sigma_3(I-WA)^T\big) + s^2\mathrm{tr}(WW^T)`,
and the cross-slice error :math:`E\|D_z(x - \hat x)\|^2` the same with :math:`D_z` applied.
"""

from __future__ import annotations

import numpy as np

from ..._validation import check_int, check_real

__all__ = ["volume_prior", "slice_projector", "z_difference", "prior_precision",
           "reconstruction_operator", "error_covariance", "reconstruction_errors",
           "posterior_covariance", "sample_errors", "alternating_sampler_error",
           "alternating_error_covariance", "PRIORS"]

PRIORS = ("independent", "augmented", "true")


def _exp_kernel(n, rho):
    t = np.arange(n, dtype=float)
    return rho ** np.abs(np.subtract.outer(t, t))


def volume_prior(n, nz, rho_xy=0.7, rho_z=0.9):
    r"""``(Sigma_3, K_xy)``: the 3-D covariance and the 2-D slice covariance."""
    n = check_int("n", n, low=2)
    nz = check_int("nz", nz, low=2)
    rxy = check_real("rho_xy", rho_xy, low=0.0, high=1.0, low_open=True, high_open=True)
    rz = check_real("rho_z", rho_z, low=0.0, high=1.0, low_open=True, high_open=True)
    kxy = np.kron(_exp_kernel(n, rxy), _exp_kernel(n, rxy))
    return np.kron(_exp_kernel(nz, rz), kxy), kxy


def slice_projector(n, nz, views=2):
    """``A = I_nz kron A_2``: per slice its row sums (view 1) and column sums (view 2)."""
    n = check_int("n", n, low=2)
    nz = check_int("nz", nz, low=1)
    views = check_int("views", views, low=1, high=2)
    rows = np.kron(np.eye(n), np.ones((1, n)))
    cols = np.kron(np.ones((1, n)), np.eye(n))
    a2 = rows if views == 1 else np.vstack([rows, cols])
    return np.kron(np.eye(nz), a2)


def z_difference(n, nz):
    """First differences across slices, ``D_z kron I`` (shape ((nz-1) n^2, nz n^2))."""
    dz = np.diff(np.eye(nz), axis=0)
    return np.kron(dz, np.eye(n * n))


def prior_precision(kind, n, nz, lam=1.0, rho_xy=0.7, rho_z=0.9):
    """The precision matrix of prior ``kind`` (module doc)."""
    if kind not in PRIORS:
        raise ValueError(f"kind: must be one of {PRIORS} (got {kind!r})")
    sigma3, kxy = volume_prior(n, nz, rho_xy, rho_z)
    if kind == "true":
        return np.linalg.inv(sigma3)
    p = np.kron(np.eye(nz), np.linalg.inv(kxy))
    if kind == "augmented":
        lam = check_real("lam", lam, low=0.0)
        D = z_difference(n, nz)
        p = p + lam * D.T @ D
    return p


def reconstruction_operator(precision, A, noise_std):
    r""":math:`W = (P + A^TA/s^2)^{-1}A^T/s^2` (posterior mean :math:`\hat x = Wy`)."""
    s = check_real("noise_std", noise_std, low=0.0, low_open=True)
    A = np.asarray(A, float)
    P = np.asarray(precision, float)
    if A.ndim != 2 or P.shape != (A.shape[1], A.shape[1]):
        raise ValueError(f"A: must have shape (m, {P.shape[0]}) (got {A.shape})")
    return np.linalg.solve(P + A.T @ A / s ** 2, A.T / s ** 2)


def error_covariance(W, A, sigma3, noise_std):
    r"""Covariance of :math:`x - \hat x` under the true prior:
    :math:`(I-WA)\Sigma_3(I-WA)^T + s^2WW^T`."""
    s = check_real("noise_std", noise_std, low=0.0, low_open=True)
    R = np.eye(A.shape[1]) - W @ A
    return R @ sigma3 @ R.T + s * s * W @ W.T


def reconstruction_errors(kind, n, nz, noise_std, lam=1.0, rho_xy=0.7, rho_z=0.9, views=2):
    """``(E||x - x_hat||^2, E||D_z (x - x_hat)||^2)`` per voxel, exact, for prior ``kind``."""
    sigma3, _ = volume_prior(n, nz, rho_xy, rho_z)
    A = slice_projector(n, nz, views)
    W = reconstruction_operator(prior_precision(kind, n, nz, lam, rho_xy, rho_z), A, noise_std)
    E = error_covariance(W, A, sigma3, noise_std)
    D = z_difference(n, nz)
    return float(np.trace(E)) / (n * n * nz), float(np.trace(D @ E @ D.T)) / (n * n * (nz - 1))


def posterior_covariance(precision, A, noise_std):
    r"""The posterior covariance :math:`(P + A^TA/s^2)^{-1}` under prior precision ``P``."""
    s = check_real("noise_std", noise_std, low=0.0, low_open=True)
    A = np.asarray(A, float)
    c = np.linalg.inv(np.asarray(precision, float) + A.T @ A / s ** 2)
    return 0.5 * (c + c.T)


def sample_errors(kind, n, nz, noise_std, lam=1.0, rho_xy=0.7, rho_z=0.9, views=2):
    r"""``(E||x - \tilde x||^2, E||D_z(x - \tilde x)||^2)`` per voxel for one posterior
    *sample* :math:`\tilde x = \hat x + C_P^{1/2}\eta` under prior ``kind`` (what a
    diffusion posterior sampler returns), exact under the true prior: the error covariance
    is the posterior-mean error's plus :math:`C_P`."""
    sigma3, _ = volume_prior(n, nz, rho_xy, rho_z)
    A = slice_projector(n, nz, views)
    P = prior_precision(kind, n, nz, lam, rho_xy, rho_z)
    W = reconstruction_operator(P, A, noise_std)
    E = error_covariance(W, A, sigma3, noise_std) + posterior_covariance(P, A, noise_std)
    D = z_difference(n, nz)
    return float(np.trace(E)) / (n * n * nz), float(np.trace(D @ E @ D.T)) / (n * n * (nz - 1))


def alternating_sampler_error(n, nz, noise_std, sigmas, lam=1.0, gamma=1.0, rho_xy=0.7,
                              rho_z=0.9, views=2):
    """``(voxel error, cross-slice error)`` per voxel of the alternating sampler
    (:func:`alternating_error_covariance`)."""
    E = alternating_error_covariance(n, nz, noise_std, sigmas, lam, gamma, rho_xy, rho_z,
                                     views)
    D = z_difference(n, nz)
    return float(np.trace(E)) / E.shape[0], float(np.trace(D @ E @ D.T)) / (n * n * (nz - 1))


def alternating_error_covariance(n, nz, noise_std, sigmas, lam=1.0, gamma=1.0, rho_xy=0.7,
                                 rho_z=0.9, views=2):
    r"""Exact errors of the paper's alternating sampler (DiffusionMBIR's loop, Gaussian case).

    Every step at level :math:`\sigma`: (1) the pre-trained 2-D denoiser on every slice,
    :math:`\hat x_0 = (I \otimes K_{xy}(K_{xy} + \sigma^2 I)^{-1})x`; (2) the model-based
    update, a proximal step on the data term and the smoothness prior across slices,
    :math:`u = \arg\min \|Au - y\|^2/2s^2 + \lambda\|D_zu\|^2/2 + \|u - \hat x_0\|^2/2\gamma`
    (the paper's ADMM/CG update, solved exactly); (3) the ancestral VE step with :math:`u` as
    the clean estimate. Started from :math:`N(0, (1 + \sigma_0^2) I)`.

    The output is :math:`\tilde x = Fy + \eta` with :math:`\eta` Gaussian independent of
    :math:`y` (every step is affine in :math:`(x, y)`): :math:`F` and :math:`\mathrm{Cov}\,\eta`
    are propagated exactly, and under the true prior the error is
    :math:`(I - FA)x - sF\xi - \eta`.

    Returns
    -------
    (N, N) array: the covariance of the error :math:`x - \tilde x` (mean zero).
    """
    from .linear import check_grid

    sig = check_grid(sigmas)
    s = check_real("noise_std", noise_std, low=0.0, low_open=True)
    lam = check_real("lam", lam, low=0.0)
    gamma = check_real("gamma", gamma, low=0.0, low_open=True)
    sigma3, kxy = volume_prior(n, nz, rho_xy, rho_z)
    A = slice_projector(n, nz, views)
    D = z_difference(n, nz)
    N = sigma3.shape[0]
    H = np.linalg.inv(A.T @ A / s ** 2 + lam * D.T @ D + np.eye(N) / gamma)
    Hy = H @ A.T / s ** 2
    F = np.zeros((N, A.shape[0]))
    cov = (1.0 + sig[0] ** 2) * np.eye(N)
    for s_now, s_next in zip(sig[:-1], sig[1:]):
        g2 = np.linalg.solve(kxy + s_now ** 2 * np.eye(n * n), kxy).T
        G = np.kron(np.eye(nz), g2)
        r = s_next ** 2 / s_now ** 2
        M = r * np.eye(N) + (1 - r) * (H / gamma) @ G
        F = M @ F + (1 - r) * Hy
        cov = M @ cov @ M.T + s_next ** 2 * (1 - r) * np.eye(N)
        cov = 0.5 * (cov + cov.T)
    R = np.eye(N) - F @ A
    return R @ sigma3 @ R.T + s * s * F @ F.T + cov
