r"""FKC weighted reverse SDE with systematic resampling: Numba and torch simulators.

Written from the definitions, independently of :func:`toytheory.diffusion.fkc.fkc_simulate`
and of its weight formula's code: the target path :math:`\tilde\pi_t` of a
:class:`~toytheory.diffusion.fkc.TiltedGaussianPath` enters only through its log-density,
which is quadratic, :math:`\log\tilde\pi_t(x) = -\tfrac12 x^TP_tx + b_t^Tx + c_t`
(:math:`P_t, b_t` from the path's score, :math:`c_t = \log\tilde\pi_t(0)`); the time
derivatives :math:`\dot P, \dot b, \dot c` are central differences in ``t``. The naive drift
(reverse time :math:`\tau = T - t`) is :math:`v = Ax + a`, :math:`A = -fI - g^2P`,
:math:`a = g^2 b`, and the Feynman–Kac weight rate is the definition (REFERENCE.md section 3)

.. math:: G = \partial_\tau\log\tilde\pi + \nabla\cdot v + \langle v, \nabla\log\tilde\pi\rangle
          - \tfrac{g^2}{2}(\Delta\log\tilde\pi + \|\nabla\log\tilde\pi\|^2),
          \qquad \partial_\tau = -\partial_t .

Each step: log-weights gain :math:`G(x_k, t_k)h` (left point), Euler–Maruyama moves the
particles, and a system whose effective sample size is below ``ess_fraction * n`` is
resampled systematically (one uniform per system). Numba: one jitted step per time, parallel
over systems, fed the step's normals and uniforms by numpy's generator (ziggurat; Numba's own
``np.random`` normals cost about 250 ns each here), so the output depends on ``seed`` only,
not on the thread count. torch: all systems at once (CPU or GPU), float64 by default.
"""

from __future__ import annotations

import numpy as np

__all__ = ["path_coefficients", "fkc_smc_numba", "fkc_smc_torch"]


def path_coefficients(path, grid, rel_dt: float = 1e-6):
    """Per-step arrays on a decreasing time ``grid`` (``n_steps + 1`` points):
    ``A (S, d, d)``, ``a (S, d)``, ``gh (S,)`` = :math:`\\sqrt{g^2h}`, ``h (S,)``, and the weight
    rate's quadratic form ``G(x) = x^T Q x + q^T x + c``: ``Q (S, d, d)``, ``q (S, d)``,
    ``c (S,)``, all at each step's left point."""
    grid = np.asarray(grid, float)
    d = path.dim
    S = grid.size - 1
    out = {k: [] for k in ("A", "a", "gh", "h", "Q", "q", "c")}

    def quad(t):
        P, b = path.score_affine(t)
        c = float(path.log_target(np.zeros((1, d)), t)[0])
        return P, b, c

    for t0, t1 in zip(grid[:-1], grid[1:]):
        h = t0 - t1
        P, b, c = quad(t0)
        eps = rel_dt * max(1.0, t0)
        lo = max(t0 - eps, float(path.schedule.t_min))
        hi = min(t0 + eps, path.t_max)
        Pp, bp, cp = quad(hi)
        Pm, bm, cm = quad(lo)
        dP, db, dc = (Pp - Pm) / (hi - lo), (bp - bm) / (hi - lo), (cp - cm) / (hi - lo)
        f = float(path.schedule.drift(t0))
        g2 = float(path.schedule.diffusion_sq(t0))
        A = -f * np.eye(d) - g2 * P
        a = g2 * b
        # d_tau log pi = -(-x^T dP x / 2 + db.x + dc)
        # <v, s> with s = b - P x, v = A x + a:  x^T(-A^T P)x + (A^T b - P a).x + a.b
        # -g2/2 (|s|^2 - tr P): -g2/2 (x^T P P x - 2 (P b).x + b.b - tr P)
        Q = 0.5 * dP - A.T @ P - 0.5 * g2 * P @ P
        q = -db + A.T @ b - P @ a + g2 * P @ b
        cc = -dc + np.trace(A) + a @ b - 0.5 * g2 * (b @ b - np.trace(P))
        for k, v in (("A", A), ("a", a), ("gh", np.sqrt(g2 * h)), ("h", h),
                     ("Q", 0.5 * (Q + Q.T)), ("q", q), ("c", cc)):
            out[k].append(v)
    return {k: np.asarray(v, float) for k, v in out.items()}


_KERNEL = None


def _kernel():
    """One step for all systems: weight update, Euler–Maruyama move with the given normals,
    ESS check and systematic resampling with the given uniform (parallel over systems)."""
    global _KERNEL
    if _KERNEL is not None:
        return _KERNEL
    from numba import njit, prange

    @njit(parallel=True, cache=True)
    def step(x, lw, z, u, A, a, gh, h, Q, q, c, ess_fraction, weighted):
        R, n, d = x.shape
        for r in prange(R):
            xr = x[r]
            lwr = lw[r]
            buf = np.empty((n, d))
            if weighted:
                for i in range(n):
                    g = c
                    for k in range(d):
                        acc = q[k]
                        for m in range(d):
                            acc += Q[k, m] * xr[i, m]
                        g += acc * xr[i, k]
                    lwr[i] += g * h
            for i in range(n):
                for k in range(d):
                    acc = a[k]
                    for m in range(d):
                        acc += A[k, m] * xr[i, m]
                    buf[i, k] = xr[i, k] + acc * h + gh * z[r, i, k]
            for i in range(n):
                for k in range(d):
                    xr[i, k] = buf[i, k]
            if weighted:
                top = lwr[0]
                for i in range(1, n):
                    top = max(top, lwr[i])
                w = np.empty(n)
                s1 = 0.0
                s2 = 0.0
                for i in range(n):
                    w[i] = np.exp(lwr[i] - top)
                    s1 += w[i]
                    s2 += w[i] * w[i]
                if s1 * s1 / s2 < ess_fraction * n:
                    cum = w[0] / s1
                    j = 0
                    for i in range(n):
                        target = (u[r] + i) / n
                        while cum < target and j < n - 1:
                            j += 1
                            cum += w[j] / s1
                        for k in range(d):
                            buf[i, k] = xr[j, k]
                    for i in range(n):
                        lwr[i] = 0.0
                        for k in range(d):
                            xr[i, k] = buf[i, k]

    _KERNEL = step
    return step


def _start(path, n_runs, n_particles, rng):
    m0, c0 = path.target(path.t_max)
    L = np.linalg.cholesky(c0)
    return m0 + rng.standard_normal((n_runs, n_particles, path.dim)) @ L.T


def fkc_smc_numba(path, n_particles: int, grid, seed: int, *, n_runs: int = 1,
                  ess_fraction: float = 0.5, weighted: bool = True, x0=None):
    """Numba FKC SMC. Returns ``(x (R, n, d), log_w (R, n))``."""
    if n_particles < 2:
        raise ValueError(f"n_particles: must be >= 2 for SMC (got {n_particles})")
    co = path_coefficients(path, grid)
    rng = np.random.default_rng(seed)
    x = (_start(path, n_runs, n_particles, rng) if x0 is None
         else np.array(x0, float, copy=True))
    x = np.ascontiguousarray(x)
    lw = np.zeros(x.shape[:2])
    step = _kernel()
    for j in range(co["h"].size):
        z = rng.standard_normal(x.shape)
        u = rng.random(x.shape[0])
        step(x, lw, z, u, co["A"][j], co["a"][j], float(co["gh"][j]), float(co["h"][j]),
             co["Q"][j], co["q"][j], float(co["c"][j]), float(ess_fraction), bool(weighted))
    return x, lw


def fkc_smc_torch(path, n_particles: int, grid, seed: int, *, n_runs: int = 1,
                  ess_fraction: float = 0.5, weighted: bool = True, device="cpu",
                  dtype=None, x0=None, cpu_threads: int | None = 1):
    """torch FKC SMC (all systems batched). Returns numpy ``(x (R, n, d), log_w (R, n))``.

    On the CPU the call runs with ``cpu_threads`` torch threads (restored afterwards): once a
    Numba ``prange`` kernel has run in the process, torch's OpenMP pool and Numba's contend
    (measured: 29 s against 2 s single-threaded for the same call); ``None`` keeps torch's
    setting.
    """
    import torch

    if n_particles < 2:
        raise ValueError(f"n_particles: must be >= 2 for SMC (got {n_particles})")
    if str(device).startswith("cpu") and cpu_threads is not None:
        before = torch.get_num_threads()
        torch.set_num_threads(int(cpu_threads))
        try:
            return fkc_smc_torch(path, n_particles, grid, seed, n_runs=n_runs,
                                 ess_fraction=ess_fraction, weighted=weighted, device=device,
                                 dtype=dtype, x0=x0, cpu_threads=None)
        finally:
            torch.set_num_threads(before)
    dtype = torch.float64 if dtype is None else dtype
    co = {k: torch.as_tensor(v, dtype=dtype, device=device)
          for k, v in path_coefficients(path, grid).items()}
    gen = torch.Generator(device=device).manual_seed(int(seed))
    if x0 is None:
        x0 = _start(path, n_runs, n_particles, np.random.default_rng(seed))
    x = torch.as_tensor(np.asarray(x0, float), dtype=dtype, device=device).clone()
    R, n, d = x.shape
    lw = torch.zeros((R, n), dtype=dtype, device=device)
    ar = torch.arange(n, dtype=dtype, device=device)
    for j in range(co["h"].numel()):
        if weighted:
            g = torch.einsum("rni,ij,rnj->rn", x, co["Q"][j], x) + x @ co["q"][j] + co["c"][j]
            lw = lw + g * co["h"][j]
        z = torch.randn(x.shape, generator=gen, dtype=dtype, device=device)
        x = x + (x @ co["A"][j].T + co["a"][j]) * co["h"][j] + co["gh"][j] * z
        if weighted:
            w = torch.exp(lw - lw.max(dim=1, keepdim=True).values)
            ess = w.sum(1) ** 2 / (w * w).sum(1)
            low = torch.nonzero(ess < ess_fraction * n).flatten()
            if low.numel():
                wl = w[low]
                cum = torch.cumsum(wl / wl.sum(1, keepdim=True), dim=1)
                cum[:, -1] = 1.0
                u = (torch.rand((low.numel(), 1), generator=gen, dtype=dtype, device=device)
                     + ar) / n
                idx = torch.searchsorted(cum, u, right=False).clamp_(0, n - 1)
                x[low] = torch.gather(x[low], 1, idx[:, :, None].expand(-1, -1, d))
                lw[low] = 0.0
    return x.cpu().numpy(), lw.cpu().numpy()
