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
resampled systematically (one uniform per system). Numba: one jitted call for the whole run,
parallel over systems, each system's particles kept in cache through all steps, weights and
moves fused per particle, normals from the 256-layer ziggurat on xoshiro256+ streams of
:mod:`sims.diffusion_numba` (tested there against the exact normal law), so the output
depends on ``seed`` only, not on the thread count. torch: all systems at once (CPU or GPU),
float64 by default, coordinate-major buffers updated in place (see :func:`fkc_smc_torch`).
"""

from __future__ import annotations

import numpy as np

__all__ = ["path_coefficients", "fkc_smc_numba", "fkc_smc_torch"]


_TERMS = (None, "time", "divergence", "inner", "laplacian")


def path_coefficients(path, grid, rel_dt: float = 1e-6, *, drop: str | None = None):
    """Per-step arrays on a decreasing time ``grid`` (``n_steps + 1`` points):
    ``A (S, d, d)``, ``a (S, d)``, ``gh (S,)`` = :math:`\\sqrt{g^2h}`, ``h (S,)``, and the weight
    rate's quadratic form ``G(x) = x^T Q x + q^T x + c``: ``Q (S, d, d)``, ``q (S, d)``,
    ``c (S,)``, all at each step's left point. ``drop`` leaves one term of ``G`` out
    ("time", "divergence", "inner", "laplacian"; planted-failure tests only: the divergence
    term is constant in ``x`` and cancels in self-normalised weights)."""
    if drop not in _TERMS:
        raise ValueError(f"drop: must be one of {_TERMS} (got {drop!r})")
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
        keep = {k: float(k != drop) for k in _TERMS[1:]}
        Q = (keep["time"] * 0.5 * dP - keep["inner"] * A.T @ P
             - keep["laplacian"] * 0.5 * g2 * P @ P)
        q = (-keep["time"] * db + keep["inner"] * (A.T @ b - P @ a)
             + keep["laplacian"] * g2 * P @ b)
        cc = (-keep["time"] * dc + keep["divergence"] * np.trace(A) + keep["inner"] * a @ b
              - keep["laplacian"] * 0.5 * g2 * (b @ b - np.trace(P)))
        for k, v in (("A", A), ("a", a), ("gh", np.sqrt(g2 * h)), ("h", h),
                     ("Q", 0.5 * (Q + Q.T)), ("q", q), ("c", cc)):
            out[k].append(v)
    return {k: np.asarray(v, float) for k, v in out.items()}


def _kernel():
    """The jitted whole-run kernel (:mod:`sims.diffusion_guided_fkc_kernel`)."""
    from sims.diffusion_guided_fkc_kernel import smc_run

    return smc_run


def _start(path, n_runs, n_particles, rng):
    m0, c0 = path.target(path.t_max)
    L = np.linalg.cholesky(c0)
    return m0 + rng.standard_normal((n_runs, n_particles, path.dim)) @ L.T


def fkc_smc_numba(path, n_particles: int, grid, seed: int, *, n_runs: int = 1,
                  ess_fraction: float = 0.5, weighted: bool = True, x0=None,
                  coefficients=None):
    """Numba FKC SMC. Returns ``(x (R, n, d), log_w (R, n))``.

    ``coefficients``: ``path_coefficients(path, grid)`` computed once by the caller (a
    benchmark times the run only, as it does for its numpy peer); ``None`` computes them.

    Start: ``x0`` or exact draws of the target at ``t_max`` (numpy generator seeded with
    ``seed``); the steps' normals and resampling uniforms come from per-system xoshiro256+
    streams seeded with ``seed`` (see :mod:`sims.diffusion_guided_fkc_kernel`).
    """
    from sims.diffusion_numba import _ZIGGURAT, _check_seed, _seed_states

    if n_particles < 2:
        raise ValueError(f"n_particles: must be >= 2 for SMC (got {n_particles})")
    seed = _check_seed(seed)
    co = path_coefficients(path, grid) if coefficients is None else coefficients
    x = (_start(path, n_runs, n_particles, np.random.default_rng(seed)) if x0 is None
         else np.array(x0, float, copy=True))
    x = np.ascontiguousarray(x)
    lw = np.zeros(x.shape[:2])
    from sims.diffusion_numba import _BLOCK

    state = _seed_states(np.uint64(seed), x.shape[0] * _BLOCK)
    _kernel()(x, lw, co["A"], co["a"], co["gh"], co["h"], co["Q"], co["q"], co["c"],
              float(ess_fraction), bool(weighted), state, _ZIGGURAT)
    return x, lw


def _box_muller(out, scale, u, r, gen):
    r"""Fill the flat float tensor ``out`` with ``scale`` times standard normals, in place:
    Box–Muller, :math:`\sqrt{-2\log u_1}\,(\cos 2\pi u_2, \sin 2\pi u_2)`, from float uniforms
    of ``gen`` (``u_1`` on :math:`[2^{-53}, 1)`, never 0; ``u_2`` on :math:`[0, 2\pi)`).
    ``u`` (2, K) and ``r`` (K,) are work buffers, ``K = ceil(out.numel() / 2)``.

    Exact normal law (to float64 rounding). On the CPU this is about twice as fast as
    torch's own float64 ``normal_`` (a scalar loop; measured 30 ms against 51 ms for
    2x10^6 normals, one thread), near numpy's ziggurat (27 ms)."""
    import math

    import torch

    m = out.numel()
    k = u.shape[1]
    u[0].uniform_(2.0 ** -53, 1.0, generator=gen)
    u[1].uniform_(0.0, 2 * math.pi, generator=gen)
    torch.log(u[0], out=r)
    r.mul_(-2.0 * scale * scale).sqrt_()
    torch.cos(u[1], out=u[0])
    torch.mul(r, u[0], out=out[:k])
    torch.sin(u[1], out=u[0])
    torch.mul(r[:m - k], u[0, :m - k], out=out[k:])
    return out


def fkc_smc_torch(path, n_particles: int, grid, seed: int, *, n_runs: int = 1,
                  ess_fraction: float = 0.5, weighted: bool = True, device="cpu",
                  dtype=None, x0=None, cpu_threads: int | None = 1,
                  normals: str | None = None, coefficients=None):
    r"""torch FKC SMC (all systems batched). Returns numpy ``(x (R, n, d), log_w (R, n))``.

    The particles are kept coordinate-major, ``(d + 1, R n)`` with a row of ones, so that
    each step is two small matrix products over all particles: the weight rate
    :math:`hG(x) = x^T(hQ)x + (hq)^Tx + hc` as ``[hQ | hq] [x; 1]`` times ``x`` summed over
    coordinates (added into the log-weights by ``addcmul``), and the move
    :math:`x' = (I + hA)x + ha + \sqrt{g^2h}\,z` as ``[I + hA | ha] [x; 1]`` added onto the
    scaled normals (one ``addmm_``); buffers are preallocated and swapped, never
    reallocated. Normals (``normals``): ``"box_muller"`` from torch's float uniforms
    (:func:`_box_muller`, twice as fast as torch's float64 ``normal_`` on the CPU) or
    ``"torch"`` (``normal_``); ``None`` picks Box–Muller on the CPU and ``normal_`` elsewhere.
    The resampling uniforms come after each step's normals from the same generator (seeded
    with ``seed``). ``coefficients``: as in :func:`fkc_smc_numba`.

    On the CPU the call runs with ``cpu_threads`` torch threads (restored afterwards): once a
    Numba ``prange`` kernel has run in the process, torch's OpenMP pool and Numba's contend
    (measured: 29 s against 2 s single-threaded for the same call); ``None`` keeps torch's
    setting.
    """
    import torch

    if n_particles < 2:
        raise ValueError(f"n_particles: must be >= 2 for SMC (got {n_particles})")
    if normals not in (None, "box_muller", "torch"):
        raise ValueError(f"normals: must be None, 'box_muller' or 'torch' (got {normals!r})")
    if str(device).startswith("cpu") and cpu_threads is not None:
        before = torch.get_num_threads()
        torch.set_num_threads(int(cpu_threads))
        try:
            return fkc_smc_torch(path, n_particles, grid, seed, n_runs=n_runs,
                                 ess_fraction=ess_fraction, weighted=weighted, device=device,
                                 dtype=dtype, x0=x0, cpu_threads=None, normals=normals,
                                 coefficients=coefficients)
        finally:
            torch.set_num_threads(before)
    dtype = torch.float64 if dtype is None else dtype
    co = path_coefficients(path, grid) if coefficients is None else coefficients
    h = co["h"]
    d = path.dim
    steps = h.size
    eye = np.eye(d)
    # [hQ | hq] and [I + hA | ha]: (S, d, d + 1); the constant h c enters as a scalar
    wq = torch.as_tensor(np.concatenate([co["Q"] * h[:, None, None], (co["q"] * h[:, None])
                                         [:, :, None]], axis=2), dtype=dtype, device=device)
    mv = torch.as_tensor(np.concatenate([eye + co["A"] * h[:, None, None],
                                         (co["a"] * h[:, None])[:, :, None]], axis=2),
                         dtype=dtype, device=device)
    hc = (co["c"] * h).tolist()
    gh = co["gh"].tolist()
    gen = torch.Generator(device=device).manual_seed(int(seed))
    if x0 is None:
        x0 = _start(path, n_runs, n_particles, np.random.default_rng(seed))
    x0 = np.asarray(x0, float)
    R, n = x0.shape[:2]
    N = R * n
    X = torch.empty((d + 1, N), dtype=dtype, device=device)
    X[:d] = torch.as_tensor(x0.reshape(N, d).T, dtype=dtype, device=device)
    X[d] = 1.0
    Z = torch.empty_like(X)
    Z[d] = 1.0
    Y = torch.empty((d, N), dtype=dtype, device=device)
    lw = torch.zeros((R, n), dtype=dtype, device=device)
    lwf = lw.view(N)
    W = torch.empty_like(lw)
    ar = torch.arange(n, dtype=dtype, device=device)
    box_muller = (X.device.type == "cpu") if normals is None else normals == "box_muller"
    if box_muller:
        k = -(-(d * N) // 2)
        u = torch.empty((2, k), dtype=dtype, device=device)
        r = torch.empty(k, dtype=dtype, device=device)
    for j in range(steps):
        if weighted:
            torch.mm(wq[j], X, out=Y)                       # hQ x + hq
            for i in range(d):
                lwf.addcmul_(Y[i], X[i])                    # + x_i (hQ x + hq)_i
            lwf.add_(hc[j])
        nz = Z[:d]
        if box_muller:
            _box_muller(nz.view(-1), gh[j], u, r, gen)
        else:
            nz.normal_(0.0, gh[j], generator=gen)
        nz.addmm_(mv[j], X)                                 # (I + hA) x + ha + gh z
        X, Z = Z, X
        if weighted:
            torch.sub(lw, lw.amax(dim=1, keepdim=True), out=W)
            W.exp_()
            s1 = W.sum(1)
            low = torch.nonzero(s1 * s1 < ess_fraction * n * torch.linalg.vecdot(W, W))
            low = low.flatten()
            if low.numel():
                cum = torch.cumsum(W[low], dim=1)
                cum /= cum[:, -1:].clone()
                cum[:, -1] = 1.0
                u_r = (torch.rand((low.numel(), 1), generator=gen, dtype=dtype, device=device)
                       + ar) / n
                idx = torch.searchsorted(cum, u_r, right=False).clamp_(0, n - 1)
                xs = X[:d].view(d, R, n)
                xs[:, low] = torch.gather(xs[:, low], 2, idx[None].expand(d, -1, -1))
                lw[low] = 0.0
    x = X[:d].T.reshape(R, n, d).contiguous()
    return x.cpu().numpy(), lw.cpu().numpy()
