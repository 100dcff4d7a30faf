"""Gumbel-max with float uniforms: the truncation, the exact token law, its temperature.

"Masked Diffusion Models are Secretly Time-Agnostic Masked Models and Exploit Inaccurate
Categorical Sampling" (Zheng et al., 2024) finds that categorical sampling by Gumbel-max
with float32 uniforms lowers the effective temperature. The reference samplers draw
:math:`u_i` with ``torch.rand`` and return :math:`\\arg\\max_i p_i / E_i` with
:math:`E_i = -\\log u_i` (the exponential race; :math:`\\arg\\max_i \\log p_i + g_i` with
:math:`g_i = -\\log E_i` is the same token).

**The grid.** On the CPU ``torch.rand`` returns float32 values :math:`k\\,2^{-24}`,
:math:`k \\in \\{0, \\dots, 2^{24}-1\\}` (24 random bits times :math:`2^{-24}`; checked
against ``torch`` by the claim), so :math:`u \\le 1 - 2^{-24}`, the noise is capped at

.. math::

    E \\ge e_1 = -\\log(1 - 2^{-24}) \\approx 5.96\\times 10^{-8},\\qquad
    g \\le -\\log e_1 \\approx 16.6355,

and :math:`E` takes the values :math:`e_n = -\\log(1 - n\\delta)`, :math:`\\delta = 2^{-b}`,
each with probability :math:`\\delta` (:math:`b = 24`; float64 draws have :math:`b = 53`).
A token whose probability is below about :math:`e_1` times the leader's can (almost)
never win: the tail is cut and the law sharpened.

**Exact law on the grid** for tokens in groups (group :math:`a`: :math:`K_a` tokens of
probability :math:`p_a` each): with :math:`G_>(x) = P(E > x) = 1 - \\delta\\,
\\lfloor (1 - e^{-x})/\\delta \\rfloor`,

.. math::

    P(\\text{group } a) = \\sum_{n} \\Big[(1-(n-1)\\delta)^{K_a} - (1-n\\delta)^{K_a}\\Big]
    \\prod_{b \\ne a} G_>\\!\\big(e_n p_b / p_a\\big)^{K_b},

a sum over all :math:`2^b` grid points (exact up to float64 rounding; exact ties across
groups, which need :math:`e_n p_b = e_m p_a` on the grid, are counted for neither group,
so the vector sums to one less their mass).

**Continuous truncation** (the shifted-exponential model :math:`E = \\varepsilon +
\\mathrm{Exp}(1)`, the grid's large-:math:`b` limit at the cap): token :math:`i` starts
its exponential clock of rate :math:`p_i` at :math:`d_i = \\varepsilon / p_i`; with tokens
sorted by :math:`p` descending, :math:`\\Lambda_k = \\sum_{j \\le k} p_j`, survival to
:math:`d_k` :math:`S_k = \\exp(-(\\Lambda_{k-1} d_k - (k-1)\\varepsilon))`,

.. math::

    P(i) = p_i \\sum_{k \\ge \\mathrm{rank}(i)} S_k\\,
    \\frac{1 - e^{-\\Lambda_k (d_{k+1} - d_k)}}{\\Lambda_k},

an :math:`O(V \\log V)` closed form (``V = 10^5`` in milliseconds).

**Effective temperature**: the :math:`T` with
:math:`H(\\mathrm{softmax}(\\ell / T)) = H(q)`, :math:`q` the sampled law.
"""

from __future__ import annotations

import numpy as np

from toytheory._validation import as_float_array, check_int, check_real

__all__ = ["FLOAT32_BITS", "FLOAT64_BITS", "noise_floor", "gumbel_cap",
           "truncated_race_law", "grid_race_law_grouped", "effective_temperature",
           "entropy", "zipf_logits"]

FLOAT32_BITS = 24
"""Random bits of a float32 ``torch.rand`` draw (the mantissa's 24)."""
FLOAT64_BITS = 53


def noise_floor(bits: int = FLOAT32_BITS) -> float:
    """:math:`e_1 = -\\log(1 - 2^{-b})`: the smallest exponential noise of a b-bit grid."""
    bits = check_int("bits", bits, low=1, high=63)
    return float(-np.log1p(-2.0 ** -bits))


def gumbel_cap(bits: int = FLOAT32_BITS) -> float:
    """The largest Gumbel noise :math:`-\\log(-\\log(1 - 2^{-b}))` a b-bit grid yields."""
    return float(-np.log(noise_floor(bits)))


def _probs(name, p) -> np.ndarray:
    w = as_float_array(name, p, ndim=1)
    if w.size == 0 or np.any(w < 0) or abs(w.sum() - 1.0) > 1e-9:
        raise ValueError(f"{name}: must be a probability vector (non-negative, summing "
                         f"to one; sum {w.sum() if w.size else 0!r})")
    return w


def truncated_race_law(p, floor: float) -> np.ndarray:
    """Exact token law of :math:`\\arg\\min_i E_i / p_i`, :math:`E_i = \\varepsilon +
    \\mathrm{Exp}(1)` i.i.d. (``floor`` = :math:`\\varepsilon`).

    Parameters
    ----------
    p : array_like, shape (V,)
        The categorical law to sample.
    floor : float, >= 0
        The noise floor :math:`\\varepsilon` (``noise_floor(24)`` for float32).

    Returns
    -------
    ndarray, shape (V,)
    """
    w = _probs("p", p)
    eps = check_real("floor", floor, low=0.0)
    order = np.argsort(-w, kind="stable")
    ws = w[order]
    pos = ws > 0
    out_sorted = np.zeros_like(ws)
    ws_pos = ws[pos]
    if eps == 0.0:
        out_sorted[pos] = ws_pos
    else:
        d = eps / ws_pos
        lam = np.cumsum(ws_pos)
        lam_prev = np.concatenate([[0.0], lam[:-1]])
        k = np.arange(ws_pos.size)
        log_s = -(lam_prev * d - k * eps)
        gap = np.concatenate([np.diff(d), [np.inf]])
        c = np.exp(log_s) * -np.expm1(-lam * gap) / lam
        out_sorted[pos] = ws_pos * np.cumsum(c[::-1])[::-1]
    out = np.empty_like(out_sorted)
    out[order] = out_sorted
    return out


def grid_race_law_grouped(p_levels, counts, bits: int = FLOAT32_BITS,
                          chunk: int = 1 << 21) -> np.ndarray:
    """Exact law of the winning *group* when uniforms lie on the b-bit grid.

    Parameters
    ----------
    p_levels : array_like, shape (L,)
        The probability of each token of group a (all > 0).
    counts : array_like of int, shape (L,)
        Tokens in each group; ``sum(counts * p_levels) == 1``.
    bits : int
        Grid bits (24: float32 ``torch.rand``); the sum has ``2^bits`` terms (bits <= 26).

    Returns
    -------
    ndarray, shape (L,): P(the sampled token is in group a)
    """
    p = as_float_array("p_levels", p_levels, ndim=1)
    K = np.asarray(counts)
    if K.shape != p.shape or not np.issubdtype(K.dtype, np.integer) or np.any(K < 1):
        raise ValueError("counts: must be integers >= 1, one per level of p_levels")
    if np.any(p <= 0) or abs(float((K * p).sum()) - 1.0) > 1e-9:
        raise ValueError("p_levels: must be > 0 with sum(counts * p_levels) == 1")
    bits = check_int("bits", bits, low=1, high=26)
    delta = 2.0 ** -bits
    N = 2 ** bits - 1          # u = 0 (E infinite) never wins; its mass is delta^V
    out = np.zeros(p.size)
    for start in range(1, N + 1, chunk):
        n = np.arange(start, min(N, start + chunk - 1) + 1, dtype=float)
        e = -np.log1p(-n * delta)
        for a in range(p.size):
            own = (np.exp(K[a] * np.log1p(-(n - 1) * delta))
                   - np.exp(K[a] * np.log1p(-np.minimum(n * delta, 1.0))))
            log_rest = np.zeros_like(n)
            for b in range(p.size):
                if b == a:
                    continue
                x = e * (p[b] / p[a])
                below = np.minimum(np.floor(-np.expm1(-x) / delta), N)
                log_rest += K[b] * np.log1p(-below * delta)
            out[a] += float((own * np.exp(log_rest)).sum())
    return out


def entropy(q, counts=None) -> float:
    """Shannon entropy (nats); with ``counts``, ``q`` is a law over groups whose tokens
    share their group's mass equally."""
    q = np.asarray(q, dtype=float)
    K = np.ones_like(q) if counts is None else np.asarray(counts, dtype=float)
    pos = q > 0
    return float(-(q[pos] * np.log(q[pos] / K[pos])).sum())


def effective_temperature(logits, q, counts=None) -> float:
    """The :math:`T` at which :math:`\\mathrm{softmax}(\\ell / T)` has the entropy of ``q``.

    ``logits`` and ``q`` are per token, or per group with ``counts`` tokens each.
    """
    from scipy.optimize import brentq

    ell = as_float_array("logits", logits, ndim=1)
    K = np.ones_like(ell) if counts is None else np.asarray(counts, dtype=float)
    target = entropy(q, counts)

    def gap(T):
        z = ell / T
        z = z - z.max()
        w = K * np.exp(z)
        w /= w.sum()
        return entropy(w, K) - target

    return float(brentq(gap, 1e-3, 1e3, xtol=1e-13, rtol=1e-13))


def zipf_logits(V: int, s: float = 1.0) -> np.ndarray:
    """:math:`\\ell_i = -s \\log i`, i = 1..V (a Zipf law at temperature one)."""
    V = check_int("V", V, low=2)
    s = check_real("s", s, low=0.0, low_open=True)
    return -s * np.log(np.arange(1, V + 1, dtype=float))
