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


@nb.njit(cache=True, fastmath=_FAST, error_model="numpy", inline="always")
def _particles(xr, lwr, eta, tmp, A, a, gh, h, Q, q, c, weighted):
    """One step for the ``(n, d)`` particles of a system: ``lw += G(x) h`` with
    ``G = x^T Q x + q^T x + c``, then ``x += (A x + a) h + gh eta``."""
    n, d = xr.shape
    for i in range(n):
        if weighted:
            g = c
            for k in range(d):
                acc = q[k]
                for m in range(d):
                    acc += Q[k, m] * xr[i, m]
                g += acc * xr[i, k]
            lwr[i] += g * h
        for k in range(d):
            acc = a[k]
            for m in range(d):
                acc += A[k, m] * xr[i, m]
            tmp[k] = xr[i, k] + acc * h + gh * eta[i * d + k]
        for k in range(d):
            xr[i, k] = tmp[k]


@nb.njit(cache=True, fastmath=_FAST, error_model="numpy", inline="always")
def _particles_2d(x0, x1, lwr, eta, A, a, gh, h, Q, q, c, weighted):
    """:func:`_particles` for ``d = 2`` on the coordinates held apart (``x0``, ``x1``, each
    ``(n,)``, contiguous) in straight-line code (``Q`` symmetric), so the loop over particles
    vectorises; the same operations in the same order as the general path (the tests hold
    it to that path)."""
    n = x0.size
    q00, q01, q11, l0, l1 = Q[0, 0], 2.0 * Q[0, 1], Q[1, 1], q[0], q[1]
    a00, a01, a10, a11, b0, b1 = A[0, 0], A[0, 1], A[1, 0], A[1, 1], a[0], a[1]
    if weighted:
        for i in range(n):
            u0 = x0[i]
            u1 = x1[i]
            lwr[i] += (u0 * (q00 * u0 + q01 * u1 + l0) + u1 * (q11 * u1 + l1) + c) * h
            x0[i] = u0 + (a00 * u0 + a01 * u1 + b0) * h + gh * eta[2 * i]
            x1[i] = u1 + (a10 * u0 + a11 * u1 + b1) * h + gh * eta[2 * i + 1]
    else:
        for i in range(n):
            u0 = x0[i]
            u1 = x1[i]
            x0[i] = u0 + (a00 * u0 + a01 * u1 + b0) * h + gh * eta[2 * i]
            x1[i] = u1 + (a10 * u0 + a11 * u1 + b1) * h + gh * eta[2 * i + 1]


@nb.njit(cache=True, fastmath=_FAST, error_model="numpy")
def _exp_shifted(lwr, ref, w):
    """``w = exp(lw - ref)`` (vectorised exponential, one ulp)."""
    for i in range(lwr.size):
        w[i] = _exp(lwr[i] - ref)


@nb.njit(cache=True, fastmath={"contract", "reassoc", "nnan", "nsz"}, error_model="numpy")
def _top_and_sums(lwr, w):
    """``(max lw, sum w, sum w^2)``; reassociated (vectorised) sums: they decide the ESS test
    and the resampling law only to rounding."""
    top = lwr[0]
    s1 = 0.0
    s2 = 0.0
    for i in range(lwr.size):
        top = max(top, lwr[i])
        s1 += w[i]
        s2 += w[i] * w[i]
    return top, s1, s2


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
        lwr = np.empty(n)   # the system's log-weights, and for d = 2 its coordinates apart
        x0 = np.empty(n if d == 2 else 0)
        x1 = np.empty(n if d == 2 else 0)
        for i in range(n):
            lwr[i] = lw[r, i]
            if d == 2:
                x0[i] = xr[i, 0]
                x1[i] = xr[i, 1]
        ref = lwr[0]
        for i in range(1, n):
            ref = max(ref, lwr[i])
        for j in range(steps):
            _fill_normals(s, eta2, rows, zig, pending)
            hj = h[j]
            ghj = gh[j]
            if d == 2:
                _particles_2d(x0, x1, lwr, eta, A[j], a[j], ghj, hj, Q[j], q[j], c[j], weighted)
            else:
                _particles(xr, lwr, eta, tmp, A[j], a[j], ghj, hj, Q[j], q[j], c[j], weighted)
            if not weighted:
                continue
            # w = exp(lw - ref), ref = the previous step's largest log-weight (the ESS and the
            # resampling law do not depend on ref); a fresh pass with ref = top when the
            # log-weights moved by more than 300 (e^600 and e^-600 stay normal doubles)
            _exp_shifted(lwr, ref, w)
            top, s1, s2 = _top_and_sums(lwr, w)
            if abs(top - ref) > 300.0:
                ref = top
                _exp_shifted(lwr, ref, w)
                top, s1, s2 = _top_and_sums(lwr, w)
            ref = top
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
                    if d == 2:
                        buf[i, 0] = x0[jj]
                        buf[i, 1] = x1[jj]
                    else:
                        for k in range(d):
                            buf[i, k] = xr[jj, k]
                for i in range(n):
                    lwr[i] = 0.0
                    if d == 2:
                        x0[i] = buf[i, 0]
                        x1[i] = buf[i, 1]
                    else:
                        for k in range(d):
                            xr[i, k] = buf[i, k]
                ref = 0.0
        for i in range(n):
            lw[r, i] = lwr[i]
            if d == 2:
                xr[i, 0] = x0[i]
                xr[i, 1] = x1[i]

