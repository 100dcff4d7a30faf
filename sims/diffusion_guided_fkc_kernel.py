r"""The Numba kernel of :func:`sims.diffusion_guided_fkc.fkc_smc_numba` (a module of its own,
imported on first use, so that the torch simulator does not need Numba and the kernel is
cached on disk: a function nested in another cannot be).

The whole SMC run of every system in one call, parallel over systems (``prange``).

A system keeps its ``n x d`` particles in cache for all steps; each step fuses, per
particle, the weight update :math:`\log w \mathrel{+}= G(x)h` (and the running maximum)
with the Euler–Maruyama move, then one pass of exponentials for the ESS, and systematic
resampling only when the ESS is low. Normals: system ``r`` owns the 32 xoshiro256+
streams ``32 r .. 32 r + 31`` of :mod:`sims.diffusion_numba` (256-layer ziggurat, drawn
32 lanes at a time); step ``j``'s normal for particle ``i``, coordinate ``k`` is entry
``i d + k`` of the step's block, row-major over (rows, 32). The resampling uniform is the
next uniform of lane 0. The output depends on ``seed`` only, not on the thread count.
"""

from __future__ import annotations

import numba as nb
import numpy as np
from numba import prange

from sims.diffusion_numba import _BLOCK, _FAST, _exp, _fill_normals, _load_block, _uniform_at

__all__ = ["smc_run"]


@nb.njit(parallel=True, cache=True, fastmath=_FAST, error_model="numpy")
def smc_run(x, lw, A, a, gh, h, Q, q, c, ess_fraction, weighted, state, zig):
    R, n, d = x.shape
    steps = h.size
    rows = (n * d + _BLOCK - 1) // _BLOCK
    for r in prange(R):
        s = np.empty((4, _BLOCK), dtype=np.uint64)
        _load_block(state, r * _BLOCK, _BLOCK, s)
        pending = np.empty(_BLOCK, dtype=np.uint64)
        eta = np.empty(rows * _BLOCK)
        eta2 = eta.reshape((rows, _BLOCK))
        buf = np.empty((n, d))
        tmp = np.empty(d)
        w = np.empty(n)
        xr = x[r]
        lwr = lw[r]
        for j in range(steps):
            _fill_normals(s, eta2, rows, zig, pending)
            hj = h[j]
            ghj = gh[j]
            top = -np.inf
            for i in range(n):
                if weighted:
                    g = c[j]
                    for k in range(d):
                        acc = q[j, k]
                        for m in range(d):
                            acc += Q[j, k, m] * xr[i, m]
                        g += acc * xr[i, k]
                    v = lwr[i] + g * hj
                    lwr[i] = v
                    top = max(top, v)
                for k in range(d):
                    acc = a[j, k]
                    for m in range(d):
                        acc += A[j, k, m] * xr[i, m]
                    tmp[k] = xr[i, k] + acc * hj + ghj * eta[i * d + k]
                for k in range(d):
                    xr[i, k] = tmp[k]
            if not weighted:
                continue
            s1 = 0.0
            s2 = 0.0
            for i in range(n):
                e = _exp(lwr[i] - top)
                w[i] = e
                s1 += e
                s2 += e * e
            if s1 * s1 < ess_fraction * n * s2:
                u = _uniform_at(s, 0)
                inv = 1.0 / s1
                cum = w[0] * inv
                jj = 0
                for i in range(n):
                    target = (u + i) / n
                    while cum < target and jj < n - 1:
                        jj += 1
                        cum += w[jj] * inv
                    for k in range(d):
                        buf[i, k] = xr[jj, k]
                for i in range(n):
                    lwr[i] = 0.0
                    for k in range(d):
                        xr[i, k] = buf[i, k]

