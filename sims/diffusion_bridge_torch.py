"""Torch (batched over paths; GPU when present) Euler–Maruyama snapshots of an OU process.

The same scheme as :func:`sims.diffusion_bridge.ou_snapshot_paths` (``n_sub`` Euler steps
per gap between snapshots), written from the SDE :math:`dX = BX\\,dt + s\\,dW` alone, with
every path advanced at once as one ``(n_paths, d)`` tensor. Its own random stream
(``torch.Generator`` seeded by ``seed``), so it is an independent witness of the Numba one.
"""

from __future__ import annotations

import numpy as np


def ou_snapshot_paths_torch(drift, diffusion: float, mean0, cov0, n_times: int, dt: float,
                            n_paths: int, seed: int, n_sub: int = 100, device=None,
                            dtype=None):
    """(n_paths, n_times, d) numpy array of snapshots (computed on ``device``)."""
    import torch

    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    dtype = dtype or torch.float64
    gen = torch.Generator(device=device).manual_seed(int(seed))
    b = torch.as_tensor(np.asarray(drift, float), device=device, dtype=dtype)
    chol = torch.as_tensor(np.linalg.cholesky(np.asarray(cov0, float)), device=device,
                           dtype=dtype)
    m0 = torch.as_tensor(np.asarray(mean0, float), device=device, dtype=dtype)
    d = m0.numel()
    h = dt / n_sub
    x = m0 + torch.randn(n_paths, d, generator=gen, device=device, dtype=dtype) @ chol.T
    out = [x]
    for _ in range(n_times - 1):
        for _ in range(n_sub):
            z = torch.randn(n_paths, d, generator=gen, device=device, dtype=dtype)
            x = x + h * (x @ b.T) + diffusion * np.sqrt(h) * z
        out.append(x)
    return torch.stack(out, 1).cpu().numpy()
