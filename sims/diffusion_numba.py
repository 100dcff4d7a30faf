r"""Numba simulators of diffusion on Gaussian-mixture data, parallel over paths.

Written from the definitions, independently of :mod:`toytheory.diffusion`'s
kernel: the mixture score is computed inside the kernels from the component
parameters :math:`(\pi_k, \mu_k, \Sigma_k)` only. At each time the marginal
component covariance :math:`C_k = \alpha_t^2\Sigma_k + \sigma_t^2 I` is
Cholesky-factored, :math:`C_k = L_k L_k^T`, and with :math:`M_k = L_k^{-1}`,
:math:`z_k = M_k x - M_k\alpha_t\mu_k`:

.. math::

    \nabla\log p_t(x) = -\frac{\sum_k e_k M_k^T z_k}{\sum_k e_k}, \quad
    e_k = \exp(\ell_k - \max_j \ell_j), \quad
    \ell_k = \log\pi_k - \tfrac12|z_k|^2 - \textstyle\sum_i\log (L_k)_{ii}

(the gradient of :math:`\log\sum_k \pi_k N(x; \alpha\mu_k, C_k)`, Song et al.,
"Score-Based Generative Modeling through Stochastic Differential Equations",
2021). :math:`M_k`, :math:`M_k\alpha_t\mu_k` and
:math:`\log\pi_k - \sum_i\log (L_k)_{ii}` depend on the time only, so they are
computed once per grid time, outside the loop over paths. The schedule enters
through :math:`\alpha_t, \sigma_t`, :math:`f(t) = d\log\alpha_t/dt` and
:math:`g^2(t) = d\sigma_t^2/dt - 2f\sigma_t^2`, evaluated on the time grid:

- probability-flow ODE :math:`dx/dt = f(t)x - \tfrac12 g^2(t)\nabla\log p_t(x)`
  (Song et al., eq. 13), classical RK4 (:func:`pf_ode_rk4`);
- reverse SDE (Song et al., eq. 6), Euler–Maruyama on a decreasing grid
  (:func:`reverse_sde_euler_maruyama`):

  .. math:: x_{j+1} = (1 - f(t_j)\Delta_j)\, x_j + g^2(t_j)\Delta_j\,\nabla\log p_{t_j}(x_j)
            + \sqrt{g^2(t_j)\Delta_j}\, z_j .

The coefficients :math:`f, g^2` at a step's end points are evaluated a
relative :math:`10^{-9}` of the step inside it, so on a piecewise schedule
(DDPM's interpolated table) every stage uses the derivative of the piece the
step lies in.

Random numbers. Each path owns a xoshiro256+ stream (Blackman & Vigna,
"Scrambled Linear Pseudorandom Number Generators", 2021) seeded from
``(seed, path index)`` by splitmix64; its normals come from the 256-layer
ziggurat of Marsaglia & Tsang ("The Ziggurat Method for Generating Random
Variables", J. Stat. Softw. 5(8), 2000), exact: wedges by rejection, the tail
beyond :math:`r` by Marsaglia's (1964) exact tail method. The layer index, the
sign and the 52-bit abscissa come from disjoint bits of one 64-bit output
(Doornik, "An Improved Ziggurat Method to Generate Normal Random Samples",
2005), skipping xoshiro256+'s three low bits of low linear complexity. A path's
normals are therefore a function of ``(seed, path)`` alone: the output does not
depend on the number of threads or on the other paths, and
:func:`standard_normals` returns, row by row, exactly the normals the paths use
(step ``j``, coordinate ``i`` takes normal ``j d + i`` of its row).

Layout. A thread advances a block of 32 paths together, the inner loops running
over the block so that they vectorise: the xoshiro256+ steps of the block,
then the ziggurat's fast test (98.8% of draws), then, for the few lanes that
miss it, the exact slow branches in scalar code. The softmax exponentials use
:func:`_exp`, a vectorisable Cody–Waite exponential accurate to one ulp
(libm's ``exp`` is a scalar call that does not vectorise). One-dimensional data
take a fused path (:func:`_score_block_1d`) that the tests hold to the general
one. Kernels are compiled on first use and cached on disk (``cache=True``).
"""

from __future__ import annotations

import math

import numba as nb
import numpy as np
from numba import prange

from sims._splitmix import next64
from sims._checks import check_schedule_like
from toytheory._validation import as_float_array, check_int

__all__ = ["pf_ode_rk4", "reverse_sde_euler_maruyama", "standard_normals",
           "mixture_parameters"]

_BLOCK_ELEMENTS = 4_000_000   # stage factors held at once: times * K * d * d
_U64 = nb.uint64
_FAST = {"contract"}          # fused multiply-add only: no reassociation, no fast reciprocals
_BLOCK = 32                   # paths advanced together by one thread (vector lanes)
_NOISE_STEPS = 32             # steps of noise drawn at a time per path
_PAD_STATE = (1, 2, 3, 4)     # xoshiro state of the padding lanes of a last, partial block


# --------------------------------------------------------------------------- xoshiro256+

@nb.njit(cache=True, inline="always")
def _rotl(x, k):
    return (x << _U64(k)) | (x >> _U64(64 - k))


@nb.njit(cache=True)
def _seed_states(seed, n):
    """One xoshiro256+ state (4 words) per path, from splitmix64 of (seed, path)."""
    state = np.empty((n, 4), dtype=np.uint64)
    base = _U64(seed)
    for i in range(n):
        z = base ^ (_U64(i) * _U64(0xD1B54A32D192ED03))
        for j in range(4):
            z, out = next64(z)
            state[i, j] = out
    return state


@nb.njit(cache=True, inline="always")
def _raw_at(s, b):
    """Next 64-bit output of the xoshiro256+ stream in column ``b`` of a (4, block) state."""
    result = s[0, b] + s[3, b]
    t = s[1, b] << _U64(17)
    s[2, b] ^= s[0, b]
    s[3, b] ^= s[1, b]
    s[1, b] ^= s[2, b]
    s[0, b] ^= s[3, b]
    s[2, b] ^= t
    s[3, b] = _rotl(s[3, b], 45)
    return result


@nb.njit(cache=True, inline="always")
def _uniform_at(s, b):
    """Uniform double in [0, 1) (the 53 high bits) from column ``b``'s stream."""
    return (_raw_at(s, b) >> _U64(11)) * (1.0 / 9007199254740992.0)


# --------------------------------------------------------------------------- ziggurat

_LAYERS = 256                 # 8 bits of layer index
_ABSCISSA_SCALE = 2.0 ** -52  # 52 bits of abscissa


def _gauss_density(x):
    """The unnormalised standard normal density :math:`e^{-x^2/2}`."""
    return math.exp(-0.5 * x * x)


def _layer_edges(r):
    """Edges :math:`x_0 > x_1 = r > \\dots > x_{255} > x_{256} = 0` of the ziggurat with
    base width ``r``, the common layer area ``v``, and the closing error of the top layer
    (zero for the right ``r``; ``None`` edges when the layers overshoot the peak)."""
    v = r * _gauss_density(r) + math.sqrt(math.pi / 2.0) * math.erfc(r / math.sqrt(2.0))
    x = np.zeros(_LAYERS + 1)
    x[0], x[1] = v / _gauss_density(r), r
    for i in range(1, _LAYERS - 1):
        y = _gauss_density(x[i]) + v / x[i]
        if y >= 1.0:
            return None, v, math.inf
        x[i + 1] = math.sqrt(-2.0 * math.log(y))
    return x, v, _gauss_density(x[_LAYERS - 1]) + v / x[_LAYERS - 1] - 1.0


def _ziggurat_table() -> np.ndarray:
    r"""Tables of the 256-layer ziggurat for the standard normal, shape (4, 257).

    The region under :math:`f(x) = e^{-x^2/2}`, :math:`x \ge 0`, is covered by 256
    layers of equal area :math:`v`: a base strip of width :math:`x_0 = v/f(r)` (the
    rectangle :math:`[0, r]\times[0, f(r)]` plus the tail beyond :math:`r`) and
    rectangles :math:`[0, x_i]\times[f(x_i), f(x_{i+1})]`, with

    .. math:: x_1 = r, \quad f(x_{i+1}) = f(x_i) + v/x_i, \quad
              v = r f(r) + \int_r^\infty f, \quad x_{256} = 0,

    and :math:`r` found by bisection so that the top layer closes,
    :math:`x_{255}(1 - f(x_{255})) = v` (Marsaglia & Tsang 2000, section 2).

    Returns
    -------
    (4, 257) array
        Row 0: the edges :math:`x_i`; row 1: :math:`x_i 2^{-52}` (the abscissa scale of
        layer :math:`i`); row 2: :math:`f(x_i)`; row 3: :math:`(r, 1/r, v)` then zeros
        (the tail constants read by the tail branch).
    """
    lo, hi = 3.0, 4.5   # overshoot at lo, undershoot at hi
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if mid in (lo, hi):
            break
        x, _, closing = _layer_edges(mid)
        if x is None or closing > 0.0:
            lo = mid
        else:
            hi = mid
    x, v, _ = _layer_edges(hi)
    table = np.zeros((4, _LAYERS + 1))
    table[0] = x
    table[1, :_LAYERS] = x[:_LAYERS] * _ABSCISSA_SCALE
    table[2] = np.exp(-0.5 * x * x)
    table[3, :3] = hi, 1.0 / hi, v
    return table


_ZIGGURAT = _ziggurat_table()


@nb.njit(cache=True, inline="always")
def _ziggurat_candidate(u, zig):
    """Layer (bits 3-10) and abscissa (bits 12-63, centred) of the 64-bit output ``u``."""
    layer = np.intp((u >> _U64(3)) & _U64(0xFF))
    return layer, (np.float64(np.int64(u >> _U64(12))) + 0.5) * zig[1, layer]


@nb.njit(cache=True)
def _ziggurat_finish(s, b, u, zig):
    """The exact slow branches for an output ``u`` of column ``b`` that missed the fast
    test: Marsaglia's tail method for the base strip, the wedge test otherwise, and a
    fresh output from the same stream after a rejection."""
    while True:
        layer, mag = _ziggurat_candidate(u, zig)
        negative = ((u >> _U64(11)) & _U64(1)) == _U64(1)
        if mag < zig[0, layer + 1]:
            z = mag
        elif layer == 0:
            while True:   # tail: r + a with a ~ Exp(r), kept with probability e^{-a^2/2}
                a = -math.log(1.0 - _uniform_at(s, b)) * zig[3, 1]
                c = -math.log(1.0 - _uniform_at(s, b))
                if c + c > a * a:
                    break
            z = zig[3, 0] + a
        else:
            y = zig[2, layer] + _uniform_at(s, b) * (zig[2, layer + 1] - zig[2, layer])
            if y < math.exp(-0.5 * mag * mag):
                z = mag
            else:
                u = _raw_at(s, b)
                continue
        return -z if negative else z


@nb.njit(cache=True, fastmath=_FAST, error_model="numpy", inline="always")
def _fill_normals(s, eta, rows, zig, pending):
    """``eta[r, b]`` for ``r < rows``: the next ``rows`` normals of each column's stream."""
    for r in range(rows):
        for b in range(_BLOCK):           # vectorised: the xoshiro256+ steps of the block
            pending[b] = _raw_at(s, b)
        misses = 0
        for b in range(_BLOCK):           # the fast test (rectangle cores)
            u = pending[b]
            layer, mag = _ziggurat_candidate(u, zig)
            sign = 1.0 - 2.0 * np.float64(np.int64((u >> _U64(11)) & _U64(1)))
            miss = mag >= zig[0, layer + 1]
            eta[r, b] = np.nan if miss else sign * mag   # NaN marks a lane to finish
            misses += miss
        if misses:
            for b in range(_BLOCK):
                if np.isnan(eta[r, b]):
                    eta[r, b] = _ziggurat_finish(s, b, pending[b], zig)


@nb.njit(cache=True, inline="always")
def _load_block(state, p0, m, s):
    """Copy the states of paths ``p0 .. p0+m-1`` into ``s``; pad the other lanes."""
    for b in range(m):
        for w in range(4):
            s[w, b] = state[p0 + b, w]
    for b in range(m, _BLOCK):
        for w in range(4):
            s[w, b] = _U64(_PAD_STATE[w])


@nb.njit(cache=True, parallel=True)
def _normals_kernel(state, out, zig):
    n, cols = out.shape
    rows = 64
    for blk in prange((n + _BLOCK - 1) // _BLOCK):
        p0 = blk * _BLOCK
        m = min(_BLOCK, n - p0)
        s = np.empty((4, _BLOCK), dtype=np.uint64)
        _load_block(state, p0, m, s)
        eta = np.empty((rows, _BLOCK))
        pending = np.empty(_BLOCK, dtype=np.uint64)
        for c0 in range(0, cols, rows):
            c1 = min(cols, c0 + rows)
            _fill_normals(s, eta, c1 - c0, zig, pending)
            for b in range(m):
                for c in range(c0, c1):
                    out[p0 + b, c] = eta[c - c0, b]
        for b in range(m):
            for w in range(4):
                state[p0 + b, w] = s[w, b]


_SEED_MAX = 2**64 - 1   # the seed is one 64-bit word of splitmix64's input


def _check_seed(seed) -> int:
    """A seed of the per-path streams: an integer in ``[0, 2**64 - 1]`` (no float, no bool,
    no negative number: two different values must never give the same streams)."""
    return check_int("seed", seed, low=0, high=_SEED_MAX)


def standard_normals(n: int, m: int, seed: int) -> np.ndarray:
    """Standard normals from the kernels' generator: row ``i`` is path ``i``'s stream.

    Parameters
    ----------
    n : int
        Number of paths (rows).
    m : int
        Normals per path (columns), in the order the path draws them.
    seed : int
        Seed of the per-path streams (as in :func:`reverse_sde_euler_maruyama`), an
        integer in ``[0, 2**64 - 1]``.

    Returns
    -------
    (n, m) array
        Row ``i`` depends on ``(seed, i)`` only; its first ``steps * d`` entries are the
        normals that :func:`reverse_sde_euler_maruyama` adds to path ``i``.

    Raises
    ------
    ValueError
        ``n`` or ``m`` not a non-negative integer, or ``seed`` not an integer in
        ``[0, 2**64 - 1]``.
    """
    n = check_int("n", n, low=0)
    m = check_int("m", m, low=0)
    seed = _check_seed(seed)
    out = np.empty((n, m))
    _normals_kernel(_seed_states(np.uint64(seed), n), out, _ZIGGURAT)
    return out


# --------------------------------------------------------------------------- the score

_LN2_HI = 6.93147180369123816490e-01   # ln 2 to 32 bits: k * _LN2_HI is exact
_LN2_LO = 1.90821492927058770002e-10
_INV_LN2 = 1.44269504088896338700e+00
_EXP_FLOOR = -708.0                     # below it e^v < 3.3e-308 is returned as 0


@nb.njit(cache=True, fastmath=_FAST, error_model="numpy", inline="always")
def _exp(v):
    r""":math:`e^v` for :math:`v \le 709`, to one ulp; exactly 0 for :math:`v < -708`.

    Cody–Waite reduction :math:`v = k\ln 2 + r`, :math:`|r| \le \tfrac12\ln 2`, then the
    Taylor polynomial of degree 13 (remainder below :math:`4\cdot 10^{-18}`) and
    :math:`2^k` built in the exponent bits. Straight-line code, so loops over it
    vectorise. The score only needs :math:`v = \ell_k - \max_j\ell_j \le 0`; a weight
    below :math:`e^{-708}` next to the largest one (weight 1) changes no score.
    """
    vc = max(v, _EXP_FLOOR)
    k = math.floor(vc * _INV_LN2 + 0.5)
    r = (vc - k * _LN2_HI) - k * _LN2_LO
    p = 1.0 / 6227020800.0
    p = p * r + 1.0 / 479001600.0
    p = p * r + 1.0 / 39916800.0
    p = p * r + 1.0 / 3628800.0
    p = p * r + 1.0 / 362880.0
    p = p * r + 1.0 / 40320.0
    p = p * r + 1.0 / 5040.0
    p = p * r + 1.0 / 720.0
    p = p * r + 1.0 / 120.0
    p = p * r + 1.0 / 24.0
    p = p * r + 1.0 / 6.0
    p = p * r + 0.5
    p = p * r + 1.0
    p = p * r + 1.0
    scale = np.int64((np.int64(k) + 1023) << 52).view(np.float64)
    return p * scale if v >= _EXP_FLOOR else 0.0


@nb.njit(cache=True, fastmath=_FAST, error_model="numpy", inline="always")
def _score_block_general(xb, q, minv, shift, base, z, logits, top, total, out):
    """``out = sum_k e_k M_k^T z_k`` and ``total = sum_k e_k`` at the block ``xb``
    (layout (d, block)), with the constants of stage ``q``: ``minv[q]`` (K, d, d) lower
    triangular, ``shift[q]`` (K, d) = M a mu, ``base[q]`` (K,). The score is
    ``-out / total``."""
    k_count = base.shape[1]
    d = xb.shape[0]
    for b in range(_BLOCK):
        top[b] = -np.inf
    for k in range(k_count):
        for b in range(_BLOCK):
            logits[k, b] = 0.0
        for i in range(d):
            sh = shift[q, k, i]
            for b in range(_BLOCK):
                z[k, i, b] = -sh
            for j in range(i + 1):
                c = minv[q, k, i, j]
                for b in range(_BLOCK):
                    z[k, i, b] += c * xb[j, b]
            for b in range(_BLOCK):
                logits[k, b] += z[k, i, b] * z[k, i, b]
        bk = base[q, k]
        for b in range(_BLOCK):
            v = bk - 0.5 * logits[k, b]
            logits[k, b] = v
            top[b] = max(top[b], v)
    for b in range(_BLOCK):
        total[b] = 0.0
    for i in range(d):
        for b in range(_BLOCK):
            out[i, b] = 0.0
    for k in range(k_count):
        for b in range(_BLOCK):
            e = _exp(logits[k, b] - top[b])
            logits[k, b] = e
            total[b] += e
        for j in range(d):
            for i in range(j, d):
                c = minv[q, k, i, j]
                for b in range(_BLOCK):
                    out[j, b] += logits[k, b] * c * z[k, i, b]


@nb.njit(cache=True, fastmath=_FAST, error_model="numpy", inline="always")
def _score_block_1d(xb, q, minv, shift, base, top, total, out):
    """:func:`_score_block_general` for d = 1, fused: two passes over the components
    (the maximum logit, then the sums), z recomputed instead of stored. Two components
    take one pass and one exponential: the larger logit's weight is ``e^0 = 1``, the
    other's ``e^{-|l_1 - l_0|}``."""
    k_count = base.shape[1]
    if k_count == 2:
        c0 = minv[q, 0, 0, 0]
        c1 = minv[q, 1, 0, 0]
        sh0 = shift[q, 0, 0]
        sh1 = shift[q, 1, 0]
        b0 = base[q, 0]
        b1 = base[q, 1]
        for b in range(_BLOCK):
            z0 = c0 * xb[0, b] - sh0
            z1 = c1 * xb[0, b] - sh1
            d = (b1 - 0.5 * z1 * z1) - (b0 - 0.5 * z0 * z0)
            e = _exp(-abs(d))
            g0 = c0 * z0
            g1 = c1 * z1
            total[b] = 1.0 + e
            out[0, b] = g0 + e * g1 if d <= 0.0 else e * g0 + g1
        return
    for b in range(_BLOCK):
        top[b] = -np.inf
    for k in range(k_count):
        c = minv[q, k, 0, 0]
        sh = shift[q, k, 0]
        bk = base[q, k]
        for b in range(_BLOCK):
            zz = c * xb[0, b] - sh
            top[b] = max(top[b], bk - 0.5 * zz * zz)
    for b in range(_BLOCK):
        total[b] = 0.0
        out[0, b] = 0.0
    for k in range(k_count):
        c = minv[q, k, 0, 0]
        sh = shift[q, k, 0]
        bk = base[q, k]
        for b in range(_BLOCK):
            zz = c * xb[0, b] - sh
            e = _exp(bk - 0.5 * zz * zz - top[b])
            total[b] += e
            out[0, b] += e * c * zz


@nb.njit(cache=True, fastmath=_FAST, error_model="numpy")
def _score_block(xb, q, minv, shift, base, z, logits, top, total, out, one_dim_path):
    """The mixture score at the block ``xb`` into ``out`` (layout (d, block))."""
    d = xb.shape[0]
    if one_dim_path:
        _score_block_1d(xb, q, minv, shift, base, top, total, out)
    else:
        _score_block_general(xb, q, minv, shift, base, z, logits, top, total, out)
    for b in range(_BLOCK):
        total[b] = -1.0 / total[b]
    for i in range(d):
        for b in range(_BLOCK):
            out[i, b] *= total[b]


@nb.njit(cache=True)
def _score_points(x, minv, shift, base, q, one_dim_path):
    """The kernels' score at the points ``x`` (n, d), stage ``q``; ``one_dim_path``
    selects :func:`_score_block_1d` (d = 1 only). For the tests."""
    n, d = x.shape
    k_count = base.shape[1]
    res = np.empty((n, d))
    xb = np.zeros((d, _BLOCK))
    z = np.empty((k_count, d, _BLOCK))
    logits = np.empty((k_count, _BLOCK))
    top = np.empty(_BLOCK)
    total = np.empty(_BLOCK)
    out = np.empty((d, _BLOCK))
    for p0 in range(0, n, _BLOCK):
        m = min(_BLOCK, n - p0)
        for b in range(m):
            for i in range(d):
                xb[i, b] = x[p0 + b, i]
        _score_block(xb, q, minv, shift, base, z, logits, top, total, out, one_dim_path)
        for b in range(m):
            for i in range(d):
                res[p0 + b, i] = out[i, b]
    return res


# --------------------------------------------------------------------------- kernels

@nb.njit(cache=True, parallel=True, fastmath=_FAST, error_model="numpy")
def _em_block(x, minv, shift, base, keep, drift, noise, state, zig):
    """Euler–Maruyama steps ``x <- keep x + drift score + noise eta``. Each path draws its
    normals from its own stream, ``_NOISE_STEPS`` steps at a time, so the sequence it uses
    depends only on (seed, path)."""
    n, d = x.shape
    k_count = base.shape[1]
    per_fill = _NOISE_STEPS * d
    for blk in prange((n + _BLOCK - 1) // _BLOCK):
        p0 = blk * _BLOCK
        m = min(_BLOCK, n - p0)
        xb = np.zeros((d, _BLOCK))
        for b in range(m):
            for i in range(d):
                xb[i, b] = x[p0 + b, i]
        s = np.empty((4, _BLOCK), dtype=np.uint64)
        _load_block(state, p0, m, s)
        z = np.empty((k_count, d, _BLOCK))
        logits = np.empty((k_count, _BLOCK))
        top = np.empty(_BLOCK)
        total = np.empty(_BLOCK)
        sc = np.empty((d, _BLOCK))
        eta = np.empty((per_fill, _BLOCK))
        pending = np.empty(_BLOCK, dtype=np.uint64)
        for j in range(keep.size):
            slot = j % _NOISE_STEPS
            if slot == 0:
                _fill_normals(s, eta, per_fill, zig, pending)
            if d == 1:
                _score_block_1d(xb, j, minv, shift, base, top, total, sc)
            else:
                _score_block_general(xb, j, minv, shift, base, z, logits, top, total, sc)
            c_keep = keep[j]
            c_drift = drift[j]
            c_noise = noise[j]
            for b in range(_BLOCK):
                total[b] = c_drift / total[b]
            for i in range(d):
                r = slot * d + i
                for b in range(_BLOCK):
                    xb[i, b] = c_keep * xb[i, b] - total[b] * sc[i, b] + c_noise * eta[r, b]
        for b in range(m):
            for i in range(d):
                x[p0 + b, i] = xb[i, b]
            for w in range(4):
                state[p0 + b, w] = s[w, b]


@nb.njit(cache=True, parallel=True, fastmath=_FAST, error_model="numpy")
def _rk4_block(x, minv, shift, base, fs, g2s, hs):
    """RK4 steps. The score's stage times are 2j (start), 2j+1 (midpoint), 2j+2 (end) of
    step j; the SDE coefficients ``fs``, ``g2s`` are (steps, 3): start, midpoint, end,
    evaluated just inside the step (one-sided at the kinks of a piecewise schedule)."""
    n, d = x.shape
    k_count = base.shape[1]
    steps = hs.size
    one_dim = d == 1
    for blk in prange((n + _BLOCK - 1) // _BLOCK):
        p0 = blk * _BLOCK
        m = min(_BLOCK, n - p0)
        xb = np.zeros((d, _BLOCK))
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
            _score_block(xb, q, minv, shift, base, z, logits, top, total, sc, one_dim)
            for i in range(d):
                for b in range(_BLOCK):
                    k1[i, b] = fs[j, 0] * xb[i, b] - 0.5 * g2s[j, 0] * sc[i, b]
                    y[i, b] = xb[i, b] + 0.5 * h * k1[i, b]
            _score_block(y, q + 1, minv, shift, base, z, logits, top, total, sc, one_dim)
            for i in range(d):
                for b in range(_BLOCK):
                    k2[i, b] = fs[j, 1] * y[i, b] - 0.5 * g2s[j, 1] * sc[i, b]
            for i in range(d):
                for b in range(_BLOCK):
                    y[i, b] = xb[i, b] + 0.5 * h * k2[i, b]
            _score_block(y, q + 1, minv, shift, base, z, logits, top, total, sc, one_dim)
            for i in range(d):
                for b in range(_BLOCK):
                    k3[i, b] = fs[j, 1] * y[i, b] - 0.5 * g2s[j, 1] * sc[i, b]
            for i in range(d):
                for b in range(_BLOCK):
                    y[i, b] = xb[i, b] + h * k3[i, b]
            _score_block(y, q + 2, minv, shift, base, z, logits, top, total, sc, one_dim)
            for i in range(d):
                for b in range(_BLOCK):
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


def _stage_constants(log_w, means, covs, alphas, sigmas):
    """The per-time constants of the score: ``minv`` (T, K, d, d), ``shift`` (T, K, d)
    = M alpha mu, ``base`` (T, K) = log pi - sum_i log L_ii."""
    minv, half_logdet = _factors(covs, alphas, sigmas)
    shift = np.einsum("tkij,tkj->tki", minv, alphas[:, None, None] * means[None])
    base = log_w[None, :] - half_logdet
    return minv, np.ascontiguousarray(shift), np.ascontiguousarray(base)


_LAW_ATTRIBUTES = ("weights", "means", "covs", "dim")
_SCHEDULE_METHODS = ("check_t", "marginal", "drift", "diffusion_sq")


def _check_law(law):
    """A law exposing ``weights`` (K,), ``means`` (K, d), ``covs`` (K, d, d) and ``dim``
    (a :class:`toytheory.diffusion.laws.GaussianMixture` or anything shaped like one)."""
    if isinstance(law, type):
        raise ValueError(f"law: must be a GaussianMixture instance (got the class "
                         f"{law.__name__})")
    missing = [a for a in _LAW_ATTRIBUTES if not hasattr(law, a)]
    if missing:
        raise ValueError(f"law: must be a GaussianMixture (or have {', '.join(_LAW_ATTRIBUTES)})"
                         f" (got {type(law).__name__}, which lacks {', '.join(missing)})")


def _check_schedule(schedule):
    """A schedule with the methods the kernels call (a NoiseSchedule, or a wrapper of one)."""
    return check_schedule_like(schedule, _SCHEDULE_METHODS)


def _check(law, schedule, x, t_grid, decreasing):
    _check_law(law)
    _check_schedule(schedule)
    # a private copy: the kernels advance the points in place
    x = np.array(as_float_array("x", x), dtype=np.float64, ndmin=2, order="C", copy=True)
    if x.ndim != 2 or x.shape[1] != law.dim:
        raise ValueError(f"x: must have shape (n, {law.dim}) (got {x.shape})")
    grid = as_float_array("t_grid", t_grid)
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
    r"""Simulate the reverse-time SDE of ``law`` under ``schedule`` with Euler–Maruyama.

    .. math:: x_{j+1} = (1 - f(t_j)\Delta_j)\, x_j + g^2(t_j)\Delta_j\,\nabla\log p_{t_j}(x_j)
              + \sqrt{g^2(t_j)\Delta_j}\, z_j, \quad \Delta_j = t_j - t_{j+1}

    (Song et al., "Score-Based Generative Modeling through Stochastic Differential
    Equations", eq. 6, discretised), with the exact mixture score.

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
        Seed of the per-path noise streams, an integer in ``[0, 2**64 - 1]``: :math:`z_j`
        of path ``i`` is ``standard_normals(n, (m - 1) * d, seed)[i].reshape(m - 1, d)[j]``,
        whatever the number of threads and of paths.

    Returns
    -------
    (n, d) array
        Points at ``t_grid[-1]``.

    Raises
    ------
    ValueError
        ``law`` or ``schedule`` of the wrong kind, ``x`` not finite or of the wrong
        shape, ``t_grid`` not strictly decreasing or outside the schedule, ``seed`` not
        an integer in ``[0, 2**64 - 1]``.
    """
    seed = _check_seed(seed)
    x, grid = _check(law, schedule, x, t_grid, decreasing=True)
    w, means, covs = mixture_parameters(law)
    times = grid[:-1]
    alphas, sigmas = (np.asarray(v, float) for v in schedule.marginal(times))
    inside = _inside(schedule, times, grid[1:])
    fs = np.asarray(schedule.drift(inside), float)
    g2s = np.asarray(schedule.diffusion_sq(inside), float)
    dts = grid[:-1] - grid[1:]
    keep, drift, noise = 1.0 - fs * dts, g2s * dts, np.sqrt(g2s * dts)
    n = x.shape[0]
    state = _seed_states(np.uint64(seed), n)
    log_w = np.log(w)
    block = _NOISE_STEPS * max(1, _block_steps(w.size, law.dim, 1) // _NOISE_STEPS)
    for b0 in range(0, times.size, block):
        b1 = min(times.size, b0 + block)
        minv, shift, base = _stage_constants(log_w, means, covs, alphas[b0:b1], sigmas[b0:b1])
        _em_block(x, minv, shift, base, keep[b0:b1], drift[b0:b1], noise[b0:b1], state,
                  _ZIGGURAT)
    return x


def pf_ode_rk4(law, schedule, x, t_grid):
    r"""Integrate the probability-flow ODE of ``law`` under ``schedule`` with RK4.

    .. math:: \frac{dx}{dt} = f(t)\,x - \tfrac12 g^2(t)\,\nabla\log p_t(x)

    (Song et al., "Score-Based Generative Modeling through Stochastic Differential
    Equations", eq. 13), classical fourth-order Runge–Kutta on the grid.

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

    Raises
    ------
    ValueError
        ``law`` or ``schedule`` of the wrong kind, ``x`` not finite or of the wrong
        shape, ``t_grid`` not strictly monotone or outside the schedule.
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
        minv, shift, base = _stage_constants(log_w, means, covs, alphas, sigmas)
        _rk4_block(x, minv, shift, base, fs, g2s, hs_all[b0:b1])
    return x
