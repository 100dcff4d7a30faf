r"""Torch simulators of the linear-Gaussian posterior samplers, from their definitions.

Each sampler is run on draws, step by step, with the denoisers written from Tweedie's
formula for a Gaussian law :math:`N(m, C)` at VE noise :math:`\sigma`,
:math:`\hat x_0(x) = m + C(C + \sigma^2 I)^{-1}(x - m)`, and the ancestral step
:math:`x' = \hat x_0 + (\sigma'^2/\sigma^2)(x - \hat x_0) + \sigma'\sqrt{1 - \sigma'^2/\sigma^2}\,\xi`.
No matrix of the closed-form propagation (``toytheory.diffusion.posterior.linear``) is
used: the simulated draws are the witness of those laws. Runs on the device of the
torch generator's tensors (CUDA when asked and present), float64.

Samplers
--------
``"single"`` one denoiser; ``"average"`` the average of two denoisers per step;
``"alternate"`` a step with the first, re-noise to the step's level, a step with the
second (ViBiDSampler's sequential forward/backward path); ``"reconstruct"`` every
denoiser output projected onto a linear subspace before the step (VideoMV's
denoising through a shared reconstruction).
"""

from __future__ import annotations

import numpy as np

from toytheory._validation import as_float_array, check_int

__all__ = ["run_sampler", "KINDS"]

KINDS = ("single", "average", "alternate", "reconstruct")


def _denoiser(torch, mean, cov, device):
    m = torch.as_tensor(np.asarray(mean, float), device=device)
    c = torch.as_tensor(np.asarray(cov, float), device=device)
    eye = torch.eye(m.numel(), dtype=torch.float64, device=device)

    def den(x, sigma):
        # x0_hat = m + C (C + s^2)^-1 (x - m), rows of x are draws
        z = torch.linalg.solve(c + sigma * sigma * eye, (x - m).T)
        return m + (c @ z).T

    return den


def run_sampler(kind, laws, sigmas, n, seed, *, init=None, projector=None, offset=None,
                device="cpu"):
    """Draws of a sampler's output.

    Parameters
    ----------
    kind : one of :data:`KINDS`
    laws : list of ``(mean (p,), cov (p, p))``
        One law (``single``, ``reconstruct``) or two (``average``, ``alternate``).
    sigmas : (N + 1,) decreasing noise grid
    n : int
        Number of draws.
    seed : int
    init : ``(mean, cov)``, optional
        Law of the start at ``sigmas[0]`` (default: the first law diffused to it).
    projector : (p, p) array
        For ``reconstruct``: the linear part of the reconstruct-and-render map.
    offset : (p,) array, optional
        For ``reconstruct``: its constant part (the given view's contribution).

    Returns
    -------
    (n, p) numpy array
    """
    import torch

    if kind not in KINDS:
        raise ValueError(f"kind: must be one of {KINDS} (got {kind!r})")
    n = check_int("n", n, low=1)
    sig = as_float_array("sigmas", sigmas, ndim=1)
    if sig.size < 2 or np.any(np.diff(sig) >= 0) or sig[-1] < 0:
        raise ValueError("sigmas: must be strictly decreasing, the last >= 0")
    want = 2 if kind in ("average", "alternate") else 1
    if len(laws) != want:
        raise ValueError(f"laws: sampler {kind!r} needs {want} law(s) (got {len(laws)})")
    if kind == "reconstruct" and projector is None:
        raise ValueError("projector: needed by the 'reconstruct' sampler")
    gen = torch.Generator(device=device).manual_seed(int(seed))
    dens = [_denoiser(torch, m, c, device) for m, c in laws]
    m0, c0 = init if init is not None else (laws[0][0], np.asarray(laws[0][1]) +
                                            sig[0] ** 2 * np.eye(len(laws[0][0])))
    p = len(m0)
    w, v = np.linalg.eigh(np.asarray(c0, float))
    root = torch.as_tensor(v * np.sqrt(np.clip(w, 0, None)), device=device)
    x = (torch.as_tensor(np.asarray(m0, float), device=device)
         + torch.randn((n, p), generator=gen, dtype=torch.float64, device=device) @ root.T)
    P = None if projector is None else torch.as_tensor(np.asarray(projector, float),
                                                       device=device)
    off = torch.zeros(p, dtype=torch.float64, device=device) if offset is None else \
        torch.as_tensor(np.asarray(offset, float), device=device)

    def step(x, x0, s, s_next):
        r = s_next * s_next / (s * s)
        noise = torch.randn(x.shape, generator=gen, dtype=torch.float64, device=device)
        return x0 + r * (x - x0) + s_next * np.sqrt(1 - r) * noise

    for s, s_next in zip(sig[:-1], sig[1:]):
        s, s_next = float(s), float(s_next)
        if kind == "single":
            x = step(x, dens[0](x, s), s, s_next)
        elif kind == "average":
            x = step(x, 0.5 * (dens[0](x, s) + dens[1](x, s)), s, s_next)
        elif kind == "reconstruct":
            x = step(x, dens[0](x, s) @ P.T + off, s, s_next)
        else:
            x = step(x, dens[0](x, s), s, s_next)
            x = x + np.sqrt(s * s - s_next * s_next) * torch.randn(
                x.shape, generator=gen, dtype=torch.float64, device=device)
            x = step(x, dens[1](x, s), s, s_next)
    return x.cpu().numpy()


def run_volume_alternating(x_true, A, noise_std, kxy, n, nz, lam, gamma, sigmas, seed):
    """Draws of the 3-D alternating sampler (2-D denoiser per slice, proximal update with the
    data and the cross-slice smoothness, ancestral VE step), one run per true volume.

    Parameters
    ----------
    x_true : (N, nz n^2) array
        True volumes; each is measured ``y = A x + noise_std xi`` here, then reconstructed.
    kxy : (n^2, n^2) array
        The 2-D slice covariance (the pre-trained 2-D model's law).

    Returns
    -------
    (N, nz n^2) array of errors ``x_true - x_sampled``.
    """
    rng = np.random.default_rng(int(seed))
    x_true = np.asarray(x_true, float)
    N, p = x_true.shape
    y = x_true @ A.T + noise_std * rng.standard_normal((N, A.shape[0]))
    # cross-slice Laplacian from its definition: sum_z ||u_{z+1} - u_z||^2
    lap = np.zeros((nz, nz))
    for z in range(nz - 1):
        lap[z, z] += 1
        lap[z + 1, z + 1] += 1
        lap[z, z + 1] -= 1
        lap[z + 1, z] -= 1
    normal = A.T @ A / noise_std ** 2 + lam * np.kron(lap, np.eye(n * n)) + np.eye(p) / gamma
    rhs_y = y @ A / noise_std ** 2
    sig = np.asarray(sigmas, float)
    x = np.sqrt(1.0 + sig[0] ** 2) * rng.standard_normal((N, p))
    for s, s_next in zip(sig[:-1], sig[1:]):
        g2 = kxy @ np.linalg.inv(kxy + s * s * np.eye(n * n))
        x0 = (x.reshape(N, nz, n * n) @ g2.T).reshape(N, p)
        u = np.linalg.solve(normal, (rhs_y + x0 / gamma).T).T
        r = s_next * s_next / (s * s)
        x = u + r * (x - u) + s_next * np.sqrt(1 - r) * rng.standard_normal((N, p))
    return x_true - x
