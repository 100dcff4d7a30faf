r"""Numba simulators of diffusion on Gaussian-mixture data, parallel over paths.

Written from the definitions, independently of :mod:`toytheory.diffusion`'s
kernel: the mixture score is computed inside the kernels from the component
parameters :math:`(\pi_k, \mu_k, \Sigma_k)` only. At each time the marginal
component covariance :math:`C_k = \alpha_t^2\Sigma_k + \sigma_t^2 I` is
Cholesky-factored, :math:`C_k = L_k L_k^T`, and with :math:`M_k = L_k^{-1}`,
:math:`z_k = M_k(x - \alpha_t\mu_k)`:

.. math::

    \nabla\log p_t(x) = -\sum_k w_k M_k^T z_k, \quad
    w_k = \operatorname{softmax}_k\big(\log\pi_k - \tfrac12|z_k|^2
          - \textstyle\sum_i\log (L_k)_{ii}\big)

(the gradient of :math:`\log\sum_k \pi_k N(x; \alpha\mu_k, C_k)`). The schedule
enters through :math:`\alpha_t, \sigma_t`, :math:`f(t) = d\log\alpha_t/dt` and
:math:`g^2(t) = d\sigma_t^2/dt - 2f\sigma_t^2`, evaluated on the time grid:

- probability-flow ODE :math:`dx/dt = f(t)x - \tfrac12 g^2(t)\nabla\log p_t(x)`,
  classical RK4 (:func:`pf_ode_rk4`);
- reverse SDE, Euler–Maruyama on a decreasing grid (:func:`reverse_sde_euler_maruyama`):

  .. math:: x_{j+1} = x_j - [f(t_j)x_j - g^2(t_j)\nabla\log p_{t_j}(x_j)]\Delta_j
            + \sqrt{g^2(t_j)\Delta_j}\, z_j .

The coefficients :math:`f, g^2` at a step's end points are evaluated a
relative :math:`10^{-9}` of the step inside it, so on a piecewise schedule
(DDPM's interpolated table) every stage uses the derivative of the piece the
step lies in.

Each path owns a xoshiro256+ stream seeded from ``(seed, path index)`` by
splitmix64, with normals by Marsaglia's polar method, so the paths do not
depend on the number of threads. A thread advances a block of 16 paths
together (the inner loops run over the block), so the latency chains of
independent paths overlap. Kernels are compiled on first use and cached on disk (``cache=True``).
"""

from __future__ import annotations

import math

import numba as nb
import numpy as np
from numba import prange

__all__ = ["pf_ode_rk4", "reverse_sde_euler_maruyama", "standard_normals",
           "mixture_parameters"]

_BLOCK_ELEMENTS = 4_000_000   # stage factors held at once: times * K * d * d
_TWO_PI = 2.0 * math.pi
_U64 = nb.uint64


# --------------------------------------------------------------------------- random numbers

@nb.njit(cache=True, inline="always")
def _rotl(x, k):
    return (x << _U64(k)) | (x >> _U64(64 - k))


@nb.njit(cache=True)
def _splitmix64(z):
    z = z + _U64(0x9E3779B97F4A7C15)
    a = (z ^ (z >> _U64(30))) * _U64(0xBF58476D1CE4E5B9)
    a = (a ^ (a >> _U64(27))) * _U64(0x94D049BB133111EB)
    return z, a ^ (a >> _U64(31))


@nb.njit(cache=True)
def _seed_states(seed, n):
    """One xoshiro256+ state (4 words) per path, from splitmix64 of (seed, path)."""
    state = np.empty((n, 4), dtype=np.uint64)
    base = _U64(seed)
    for i in range(n):
        z = base ^ (_U64(i) * _U64(0xD1B54A32D192ED03))
        for j in range(4):
            z, out = _splitmix64(z)
            state[i, j] = out
    return state


@nb.njit(cache=True, inline="always")
def _next_uniform(s):
    """Uniform double in [0, 1) from xoshiro256+; advances the 4-word state ``s``."""
    result = s[0] + s[3]
    t = s[1] << _U64(17)
    s[2] ^= s[0]
    s[3] ^= s[1]
    s[1] ^= s[2]
    s[0] ^= s[3]
    s[2] ^= t
    s[3] = _rotl(s[3], 45)
    return (result >> _U64(11)) * (1.0 / 9007199254740992.0)


@nb.njit(cache=True, inline="always")
def _normal_pair(s):
    """Two independent standard normals (Marsaglia's polar method: no sin/cos)."""
    while True:
        u = 2.0 * _next_uniform(s) - 1.0
        v = 2.0 * _next_uniform(s) - 1.0
        q = u * u + v * v
        if 0.0 < q < 1.0:
            f = math.sqrt(-2.0 * math.log(q) / q)
            return u * f, v * f


@nb.njit(cache=True, inline="always")
def _uniform_at(s, b):
    """:func:`_next_uniform` on column ``b`` of a (4, block) state array (no views)."""
    result = s[0, b] + s[3, b]
    t = s[1, b] << _U64(17)
    s[2, b] ^= s[0, b]
    s[3, b] ^= s[1, b]
    s[1, b] ^= s[2, b]
    s[0, b] ^= s[3, b]
    s[2, b] ^= t
    s[3, b] = _rotl(s[3, b], 45)
    return (result >> _U64(11)) * (1.0 / 9007199254740992.0)


@nb.njit(cache=True, inline="always")
def _normal_pair_at(s, b):
    """:func:`_normal_pair` on column ``b`` of a (4, block) state array."""
    while True:
        u = 2.0 * _uniform_at(s, b) - 1.0
        v = 2.0 * _uniform_at(s, b) - 1.0
        q = u * u + v * v
        if 0.0 < q < 1.0:
            f = math.sqrt(-2.0 * math.log(q) / q)
            return u * f, v * f


@nb.njit(cache=True)
def _normals_kernel(state, out):
    n, m = out.shape
    for i in range(n):
        s = state[i].copy()
        j = 0
        while j < m:
            z0, z1 = _normal_pair(s)
            out[i, j] = z0
            if j + 1 < m:
                out[i, j + 1] = z1
            j += 2
        state[i] = s


def standard_normals(n: int, m: int, seed: int) -> np.ndarray:
    """(n, m) standard normals from the kernels' generator (path i = row i)."""
    out = np.empty((int(n), int(m)))
    _normals_kernel(_seed_states(np.uint64(seed), int(n)), out)
    return out


# --------------------------------------------------------------------------- the score

_FAST = {"contract", "reassoc", "arcp"}  # no nnan/ninf: -inf is used as a start value
_BLOCK = 16  # paths advanced together by one thread: independent chains overlap latencies
_NOISE_STEPS = 32  # steps of noise drawn at a time per path (even: normals come in pairs)


def _score_block_py(xb, m, a, log_w, means, minv, half_logdet, q, z, logits, top, total, out):
    """Mixture score at the ``m`` points ``xb[:, :m]`` (layout (d, block)) into ``out``,
    with the factors of stage ``q``: ``minv[q]`` (K, d, d) lower triangular,
    ``half_logdet[q]`` (K,)."""
    k_count, d = means.shape
    for b in range(m):
        top[b] = -np.inf
    for k in range(k_count):
        for b in range(m):
            logits[k, b] = 0.0
        for i in range(d):
            for b in range(m):
                z[k, i, b] = 0.0
            for j in range(i + 1):
                c = minv[q, k, i, j]
                mu = a * means[k, j]
                for b in range(m):
                    z[k, i, b] += c * (xb[j, b] - mu)
            for b in range(m):
                logits[k, b] += z[k, i, b] * z[k, i, b]
        base = log_w[k] - half_logdet[q, k]
        for b in range(m):
            v = base - 0.5 * logits[k, b]
            logits[k, b] = v
            if v > top[b]:
                top[b] = v
    for b in range(m):
        total[b] = 0.0
    for k in range(k_count):
        for b in range(m):
            v = logits[k, b] - top[b]
            e = 1.0 if v == 0.0 else math.exp(v)
            logits[k, b] = e
            total[b] += e
    for b in range(m):
        total[b] = 1.0 / total[b]
    for k in range(k_count):
        for b in range(m):
            logits[k, b] *= total[b]   # now the posterior weights w_k
    for i in range(d):
        for b in range(m):
            out[i, b] = 0.0
    for k in range(k_count):
        for j in range(d):             # out -= w_k M_k^T z_k
            for i in range(j, d):
                c = minv[q, k, i, j]
                for b in range(m):
                    out[j, b] -= logits[k, b] * c * z[k, i, b]


# the Euler–Maruyama kernel inlines the score (one call site, speed matters); RK4 calls it
# (four call sites: inlining them would quadruple the compile time)
_score_block = nb.njit(cache=True, fastmath=_FAST)(_score_block_py)
_score_block_inline = nb.njit(cache=True, fastmath=_FAST, inline="always")(_score_block_py)


# --------------------------------------------------------------------------- kernels

@nb.njit(cache=True, parallel=True, fastmath=_FAST)
def _em_block(x, log_w, means, minv, half_logdet, alphas, fs, g2s, dts, state):
    """Euler–Maruyama steps. Each path draws its normals in pairs from its own stream,
    ``_NOISE_STEPS`` steps at a time, so the sequence it uses depends only on (seed, path)."""
    n, d = x.shape
    k_count = log_w.size
    n_blocks = (n + _BLOCK - 1) // _BLOCK
    per_fill = _NOISE_STEPS * d          # even: normals come in pairs
    for blk in prange(n_blocks):
        p0 = blk * _BLOCK
        m = min(_BLOCK, n - p0)
        xb = np.empty((d, _BLOCK))
        s = np.empty((4, _BLOCK), dtype=np.uint64)
        for b in range(m):
            for i in range(d):
                xb[i, b] = x[p0 + b, i]
            for w in range(4):
                s[w, b] = state[p0 + b, w]
        z = np.empty((k_count, d, _BLOCK))
        logits = np.empty((k_count, _BLOCK))
        top = np.empty(_BLOCK)
        total = np.empty(_BLOCK)
        sc = np.empty((d, _BLOCK))
        eta = np.empty((per_fill, _BLOCK))
        for j in range(alphas.size):
            slot = j % _NOISE_STEPS
            if slot == 0:
                for b in range(m):
                    for r in range(0, per_fill, 2):
                        e0, e1 = _normal_pair_at(s, b)
                        eta[r, b] = e0
                        eta[r + 1, b] = e1
            _score_block_inline(xb, m, alphas[j], log_w, means, minv, half_logdet, j, z, logits,
                                top, total, sc)
            dt = dts[j]
            f = fs[j]
            g2 = g2s[j]
            scale = math.sqrt(g2 * dt)
            for i in range(d):
                r = slot * d + i
                for b in range(m):
                    xb[i, b] = xb[i, b] - (f * xb[i, b] - g2 * sc[i, b]) * dt \
                        + scale * eta[r, b]
        for b in range(m):
            for i in range(d):
                x[p0 + b, i] = xb[i, b]
            for w in range(4):
                state[p0 + b, w] = s[w, b]


@nb.njit(cache=True, parallel=True, fastmath=_FAST)
def _rk4_block(x, log_w, means, minv, half_logdet, alphas, fs, g2s, hs):
    """RK4 steps. The score's stage times are 2j (start), 2j+1 (midpoint), 2j+2 (end) of
    step j; the SDE coefficients ``fs``, ``g2s`` are (steps, 3): start, midpoint, end,
    evaluated just inside the step (one-sided at the kinks of a piecewise schedule)."""
    n, d = x.shape
    k_count = log_w.size
    steps = hs.size
    n_blocks = (n + _BLOCK - 1) // _BLOCK
    for blk in prange(n_blocks):
        p0 = blk * _BLOCK
        m = min(_BLOCK, n - p0)
        xb = np.empty((d, _BLOCK))
        for b in range(m):
            for i in range(d):
                xb[i, b] = x[p0 + b, i]
        z = np.empty((k_count, d, _BLOCK))
        logits = np.empty((k_count, _BLOCK))
        top = np.empty(_BLOCK)
        total = np.empty(_BLOCK)
        sc = np.empty((d, _BLOCK))
        k1 = np.empty((d, _BLOCK))
        k2 = np.empty((d, _BLOCK))
        k3 = np.empty((d, _BLOCK))
        y = np.empty((d, _BLOCK))
        for j in range(steps):
            h = hs[j]
            q = 2 * j
            _score_block(xb, m, alphas[q], log_w, means, minv, half_logdet, q, z, logits, top,
                         total, sc)
            for i in range(d):
                for b in range(m):
                    k1[i, b] = fs[j, 0] * xb[i, b] - 0.5 * g2s[j, 0] * sc[i, b]
                    y[i, b] = xb[i, b] + 0.5 * h * k1[i, b]
            _score_block(y, m, alphas[q + 1], log_w, means, minv, half_logdet, q + 1, z, logits,
                         top, total, sc)
            for i in range(d):
                for b in range(m):
                    k2[i, b] = fs[j, 1] * y[i, b] - 0.5 * g2s[j, 1] * sc[i, b]
            for i in range(d):
                for b in range(m):
                    y[i, b] = xb[i, b] + 0.5 * h * k2[i, b]
            _score_block(y, m, alphas[q + 1], log_w, means, minv, half_logdet, q + 1, z, logits,
                         top, total, sc)
            for i in range(d):
                for b in range(m):
                    k3[i, b] = fs[j, 1] * y[i, b] - 0.5 * g2s[j, 1] * sc[i, b]
            for i in range(d):
                for b in range(m):
                    y[i, b] = xb[i, b] + h * k3[i, b]
            _score_block(y, m, alphas[q + 2], log_w, means, minv, half_logdet, q + 2, z, logits,
                         top, total, sc)
            for i in range(d):
                for b in range(m):
                    k4 = fs[j, 2] * y[i, b] - 0.5 * g2s[j, 2] * sc[i, b]
                    xb[i, b] = xb[i, b] + (h / 6.0) * (k1[i, b] + 2.0 * k2[i, b]
                                                       + 2.0 * k3[i, b] + k4)
        for b in range(m):
            for i in range(d):
                x[p0 + b, i] = xb[i, b]


# --------------------------------------------------------------------------- python side

def mixture_parameters(law):
    """``(weights (K,), means (K, d), covariances (K, d, d))`` of the components of
    positive weight, read from a toytheory law (its parameters, not its formulas)."""
    w = np.asarray(law.weights, dtype=np.float64)
    keep = w > 0
    return (np.ascontiguousarray(w[keep]), np.ascontiguousarray(law.means[keep]),
            np.ascontiguousarray(law.covs[keep]))


def _factors(covs, alphas, sigmas):
    """For each time and component: M = chol(alpha^2 Sigma + sigma^2 I)^{-1} and
    sum_i log L_ii, shapes (T, K, d, d) and (T, K)."""
    d = covs.shape[-1]
    c = (alphas[:, None, None, None] ** 2 * covs[None]
         + (sigmas[:, None, None, None] ** 2) * np.eye(d))
    try:
        chol = np.linalg.cholesky(c)
    except np.linalg.LinAlgError as exc:
        raise ValueError("t_grid: the marginal covariance alpha^2 Sigma + sigma^2 I is "
                         "singular at some grid time (sigma = 0 with a singular Sigma)") from exc
    eye = np.broadcast_to(np.eye(d), chol.shape)
    minv = np.linalg.solve(chol, eye)
    minv = np.tril(minv)
    half_logdet = np.sum(np.log(np.diagonal(chol, axis1=-2, axis2=-1)), axis=-1)
    return np.ascontiguousarray(minv), np.ascontiguousarray(half_logdet)


def _check(law, schedule, x, t_grid, decreasing):
    x = np.ascontiguousarray(np.array(x, dtype=np.float64, ndmin=2))
    if x.ndim != 2 or x.shape[1] != law.dim:
        raise ValueError(f"x: must have shape (n, {law.dim}) (got {x.shape})")
    if not np.all(np.isfinite(x)):
        raise ValueError("x: must contain only finite values")
    grid = np.asarray(t_grid, dtype=np.float64)
    if grid.ndim != 1 or grid.size < 2:
        raise ValueError("t_grid: must be a 1-D grid of at least two times")
    steps = np.diff(grid)
    if decreasing and not np.all(steps < 0):
        raise ValueError("t_grid: must be strictly decreasing")
    if not decreasing and not (np.all(steps < 0) or np.all(steps > 0)):
        raise ValueError("t_grid: must be strictly monotone")
    schedule.check_t(grid, "t_grid")
    return x, grid


_INSIDE = 1e-9


def _inside(schedule, t, towards):
    """``t`` moved a relative 1e-9 of the step towards ``towards``: the SDE coefficients
    at a step's end points are taken from inside the step, so a piecewise schedule
    (DDPM's interpolated table, with kinks at integer times) gives the derivative of
    the piece the step lies in, not of its neighbour."""
    return schedule.check_t(t + _INSIDE * (towards - t), "t_grid")


def _block_steps(k, d, stages_per_step):
    return max(1, _BLOCK_ELEMENTS // max(k * d * d * stages_per_step, 1))


def reverse_sde_euler_maruyama(law, schedule, x, t_grid, seed: int = 0):
    """Simulate the reverse-time SDE of ``law`` under ``schedule`` with Euler–Maruyama.

    Parameters
    ----------
    law : toytheory.diffusion.laws.GaussianMixture
        Only its weights, means and covariances are read.
    schedule : toytheory.diffusion.schedules.NoiseSchedule
    x : (n, d) array
        Points at ``t_grid[0]``.
    t_grid : (m,) array
        Strictly decreasing times; the score is evaluated at ``t_grid[:-1]``.
    seed : int
        Seed of the per-path noise streams.

    Returns
    -------
    (n, d) array
        Points at ``t_grid[-1]``.
    """
    x, grid = _check(law, schedule, x, t_grid, decreasing=True)
    w, means, covs = mixture_parameters(law)
    times = grid[:-1]
    alphas, sigmas = (np.asarray(v, float) for v in schedule.marginal(times))
    inside = _inside(schedule, times, grid[1:])
    fs = np.asarray(schedule.drift(inside), float)
    g2s = np.asarray(schedule.diffusion_sq(inside), float)
    dts = grid[:-1] - grid[1:]
    n = x.shape[0]
    state = _seed_states(np.uint64(int(seed) % 2**64), n)
    log_w = np.log(w)
    block = _NOISE_STEPS * max(1, _block_steps(w.size, law.dim, 1) // _NOISE_STEPS)
    for b0 in range(0, times.size, block):
        b1 = min(times.size, b0 + block)
        minv, half_logdet = _factors(covs, alphas[b0:b1], sigmas[b0:b1])
        _em_block(x, log_w, means, minv, half_logdet, alphas[b0:b1], fs[b0:b1], g2s[b0:b1],
                  dts[b0:b1], state)
    return x


def pf_ode_rk4(law, schedule, x, t_grid):
    """Integrate the probability-flow ODE of ``law`` under ``schedule`` with RK4.

    Parameters
    ----------
    law : toytheory.diffusion.laws.GaussianMixture
    schedule : toytheory.diffusion.schedules.NoiseSchedule
    x : (n, d) array
        Points at ``t_grid[0]``.
    t_grid : (m,) array
        Strictly monotone times (decreasing to sample, increasing to encode).

    Returns
    -------
    (n, d) array
        Points at ``t_grid[-1]``.
    """
    x, grid = _check(law, schedule, x, t_grid, decreasing=False)
    w, means, covs = mixture_parameters(law)
    log_w = np.log(w)
    hs_all = np.diff(grid)
    block = _block_steps(w.size, law.dim, 2)
    for b0 in range(0, hs_all.size, block):
        b1 = min(hs_all.size, b0 + block)
        stage_t = np.empty(2 * (b1 - b0) + 1)
        stage_t[0::2] = grid[b0:b1 + 1]
        stage_t[1::2] = 0.5 * (grid[b0:b1] + grid[b0 + 1:b1 + 1])
        stage_t = schedule.check_t(stage_t, "t_grid")
        alphas, sigmas = (np.asarray(v, float) for v in schedule.marginal(stage_t))
        t0, t1 = grid[b0:b1], grid[b0 + 1:b1 + 1]
        coef_t = np.column_stack([_inside(schedule, t0, t1), stage_t[1::2],
                                  _inside(schedule, t1, t0)])
        fs = np.ascontiguousarray(schedule.drift(coef_t), dtype=float)
        g2s = np.ascontiguousarray(schedule.diffusion_sq(coef_t), dtype=float)
        minv, half_logdet = _factors(covs, alphas, sigmas)
        _rk4_block(x, log_w, means, minv, half_logdet, alphas, fs, g2s, hs_all[b0:b1])
    return x
