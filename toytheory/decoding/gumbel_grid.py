"""The exact per-token law of Gumbel-max sampling with uniforms on a b-bit grid.

"Masked Diffusion Models are Secretly Time-Agnostic Masked Models and Exploit Inaccurate
Categorical Sampling" (Zheng et al., 2024) traces a lowered effective temperature to
Gumbel-max sampling with float32 uniforms. The reference implementations draw it as

.. code-block:: python

    gumbel_norm = 1e-10 - (torch.rand_like(probs) + 1e-10).log()   # E = c - log fl32(u + c)
    token = (probs / gumbel_norm).argmax(dim=-1)

(SEDD ``catsample.sample_categorical`` and MDLM ``_sample_categorical``, c = 1e-10);
the plain form ``argmax(logits - log(-log u))`` is the same token with c = 0. Here
``u = k 2^-b``, ``k`` uniform on ``{0, ..., 2^b - 1}`` (b = 24 for float32 ``torch.rand``).
``u = 0`` gives ``E = c - log c`` (about 23.03 for c = 1e-10; a finite, huge noise that
in effect never wins) or, with c = 0, ``E = inf`` (the token's score is 0: it wins only
when every token drew ``u = 0``, probability ``2^{-bV}``, left in the remainder).

**The law.** Token ``j``'s race time is :math:`T_j = E_j / p_j`; the sampled token is the
smallest :math:`T_j`, ties going to the lowest index (``torch.argmax`` returns the first
maximum). With the noise levels :math:`E_1 < E_2 < \\dots` (level n is ``u = 1 - n 2^-b``)
and :math:`S_j(t) = P(T_j > t)`,

.. math::

    P(\\text{token } i) = \\sum_{n} 2^{-b} \\prod_{j < i} S_j(t_{in})
        \\prod_{j > i} S_j(t_{in}^-),\\qquad t_{in} = E_n / p_i ,

computed exactly by one sweep over all race-time atoms in increasing ``(t, index)`` order.
:func:`grid_race_law` finds that order by time blocks of about 2^16 atoms, each put in
order by a stable bucket sort (ties keep the lower index first; the first version of this
kernel is kept as ``_grid_race_law_v1``, a second reference); the original binary-heap
sweep is kept as :func:`grid_race_law_heap` (O(log V) per atom), the independent
reference, with the direct sum :func:`grid_race_law_brute_force` for small cases. The
sweep stops when the mass of "no token has fired yet", :math:`\\prod_j S_j(t)`, falls
below ``tail``; that mass is returned as ``remainder`` and is the *exact* truncation
error: the law is a sub-probability vector, short of the true law by ``remainder`` in
total, token by token never above it. :func:`grid_race_law_bounds` adds a certified
float64 rounding bound (every step is a correctly rounded product or quotient of exact
numbers; relative :math:`\\gamma_n`, :math:`n \\approx V + 4 K`, K the most atoms in
one block), so ``sum_i |P(i) - law[i]| <= remainder + rounding``: 1.5e-10 at V = 1e5,
b = 24, tail = 1e-10 (rounding 4.6e-11). Atoms are compared as the float64 numbers
``E_n / p_j``; the float32 arithmetic of a real sampler (rounding of ``-log u`` and of
the quotient) is not modelled; it moves mass only at near-ties, far below what any
feasible count can see.

**Cost.** The atoms processed are about :math:`2^b \\log(1/\\text{tail})` in all,
whatever V (a token with probability p has :math:`\\approx p\\,t\\,2^b` atoms before time
t): 2.6e8 to 3.5e8 for float32, tail = 1e-10, Zipf V = 1e2 to 1e5. Measured on the
shared 2-core machine loaded by other sessions (absolute times only indicative; ratios
from interleaved rounds, ``benchmarks/bench_decoding_gumbel.py``): V = 1e5, b = 24,
3.52e8 atoms, first blocked sweep 26 s, re-laid sweep 14 s (1.85 times faster, 40 ns of
wall time and about 20 ns of CPU per atom), two time spans in parallel
(``threads=2``) 10 s; heap sweep 178 s in an earlier session; all the same law to 1e-14
per token. **The issue's 1 s target is not met, and cannot be by this route on one
core.** Why, precisely: (i) the product :math:`F = \\prod_j S_j(t)` changes by the
factor :math:`1 - 2^{-b}/S_j \\le 1 - 6\\times 10^{-8}` at every atom of every token, so
placing one atom one rank wrong moves another token's term by a relative
:math:`2^{-b}`, eight orders above float64 rounding: the exact law needs the rank of
every one of the 3.5e8 atoms among all others, a merge of 3.5e8 keys (one division for
the key, one bucket pass, one division for the survival per atom: at an estimated
~3 ns per atom for a lean single-core merge on an idle machine that alone is ~1 s; the
kernel here spends ~20 ns of CPU per atom). (ii) No certified shortcut is cheaper at a useful
width: leaving the order unresolved inside windows of m atoms and bracketing by
monotonicity, :math:`F(t_{w+1}) \\le F(t) \\le F(t_w)`, has total width
:math:`\\sum_w 2^{-b} m_w (F(t_w) - F(t_{w+1})) \\approx m\\,2^{-b}` (each window's
product falls by about :math:`m 2^{-b}`), so 1e-9 needs m < 1, the ranks again; the
per-token counts per window still touch every atom of the light tokens (p ~ 1e-6: one
atom per ~1e6 atoms of all tokens, so at most one per window; 1.5e8 of the 3.5e8 atoms
belong to tokens beyond the first thousand) unless m exceeds ~1e6, where the width,
~6e-2, exceeds the whole float32 effect (TV 2.1e-3 between the grid law and the
continuous model); and
treating the tokens far from their last grid steps as
:math:`S_j(t) = e^{-p_j t}(1 + \\theta_j 2^{-b} e^{p_j t})`,
:math:`\\theta_j \\in [0, 1)`, leaves :math:`\\sum_j \\theta_j 2^{-b}`, up to
:math:`V 2^{-b} \\approx 6\\times 10^{-3}` (relative) at V = 1e5, unresolved. What does
scale is (iii): the time axis cut into spans that start from exact survival counts
(``threads``): the work divides over cores, so an idle machine with 16 cores would be
expected near 1 s (not measured: no such machine in this session).

(Measured, not proven: the shifted-exponential model of
:func:`~toytheory.decoding.gumbel_truncation.truncated_race_law` with *half* a grid step,
``floor = 2^-b / 2 + c``, is within TV 7.3e-6 of this law at V = 1e5, b = 24, c = 1e-10,
while the full step ``floor = E_1`` is 2.06e-3 away and doubles the entropy loss, 0.0297
against 0.0150 nats.)
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import njit, prange

from toytheory._validation import as_float_array, check_int, check_real

__all__ = ["REFERENCE_OFFSET", "BRUTE_FORCE_LIMIT", "DEFAULT_BLOCK", "GridLawBounds",
           "grid_noise_levels", "grid_race_law", "grid_race_law_bounds", "grid_race_law_heap",
           "grid_race_law_brute_force"]

REFERENCE_OFFSET = 1e-10
"""The ``c`` of ``1e-10 - log(u + 1e-10)`` in the SEDD and MDLM samplers."""


def grid_noise_levels(bits: int, offset: float = 0.0) -> np.ndarray:
    """The exponential noise :math:`E_n = c - \\log \\mathrm{fl}_{32}(u_n + c)`,
    :math:`u_n = 1 - n 2^{-b}`, n = 1..2^b.

    The sum ``u + c`` is rounded to float32, as the reference code computes it: for
    ``u >= 2^-9`` the 1e-10 vanishes into ``u`` (half a float32 ulp there is larger), so the
    winning levels are ``c - log u``, shifted up by c (``E_1 = 2^-24 + 1e-10`` to first
    order in float32, not the ``2^-24`` real arithmetic would give). Level ``2^b`` is
    ``u = 0``: ``c - log fl32(c)``, or ``inf`` when c = 0. The log and the outer ``c -``
    are in float64 (float32 rounds them by a relative 6e-8: near-ties only). Returns an
    increasing float64 array of shape ``(2^b,)``.
    """
    bits = check_int("bits", bits, low=1, high=30)
    c = check_real("offset", offset, low=0.0)
    n = np.arange(1, 2 ** bits + 1, dtype=float)
    if c == 0.0:
        with np.errstate(divide="ignore"):
            return -np.log1p(-n * 2.0 ** -bits)
    u = (1.0 - n * 2.0 ** -bits).astype(np.float32)          # exact: a b-bit grid value
    total = (u + np.float32(c)).astype(float)                # the float32 sum
    return c - np.log(total)


@njit(cache=True)
def _sift_down(heap, key, pos, size):  # pragma: no cover - compiled
    item = heap[pos]
    kt = key[item]
    while True:
        child = 2 * pos + 1
        if child >= size:
            break
        right = child + 1
        if right < size:
            a = heap[child]
            b = heap[right]
            if key[b] < key[a] or (key[b] == key[a] and b < a):
                child = right
        c = heap[child]
        if key[c] < kt or (key[c] == kt and c < item):
            heap[pos] = c
            pos = child
        else:
            break
    heap[pos] = item


@njit(cache=True)
def _sweep(p, levels, delta, tail):  # pragma: no cover - compiled
    V = p.size
    N = levels.size
    law = np.zeros(V)
    nxt = np.zeros(V, np.int64)          # the token's next level (0-based)
    key = np.empty(V)
    surv = np.ones(V)                    # S_j = 1 - delta * nxt[j]
    for j in range(V):
        key[j] = levels[0] / p[j]
    heap = np.argsort(key, kind="mergesort").astype(np.int64)
    size = V
    f = 1.0                              # prod_j S_j, re-anchored every 2^20 atoms
    steps = 0
    while size > 0 and f >= tail and f > 0.0:
        j = heap[0]
        s_old = surv[j]
        law[j] += delta * (f / s_old)
        nxt[j] += 1
        steps += 1
        s_new = 1.0 - delta * nxt[j]
        surv[j] = s_new
        if (steps & 0xFFFFF) == 0 or s_new <= 0.0:
            f = 1.0
            for i in range(V):
                f *= surv[i]
        else:
            f = f * (s_new / s_old)
        if nxt[j] < N:
            key[j] = levels[nxt[j]] / p[j]
        else:
            key[j] = np.inf
        if not key[j] < np.inf:
            size -= 1
            heap[0] = heap[size]
        if size > 0:
            _sift_down(heap, key, 0, size)
    return law, f, steps


@njit(cache=True)
def _blocked_v1(p, levels, delta, tail, block):  # pragma: no cover - compiled
    """The first blocked sweep (kept as the "before" of the benchmark and as a second
    reference in the tests): the sweep's atoms, in the sweep's (key, index) order,
    without a heap.

    Time is cut into blocks [t_a, t_b) of about ``block`` atoms; a token's atoms in the
    block are its levels n with ``levels[n] / p_j < t_b`` (the sweep's float64 keys),
    emitted in index order, put in (key, index) order by a stable bucket sort (buckets
    of equal width in t) and an insertion sort inside each bucket (strict comparison:
    ties keep index order, as the heap breaks them), then processed one by one exactly
    as in :func:`_sweep` (a token's atoms come in level order, so its level is its
    count so far). The running product is recomputed from the survival counts
    after every block. Returns law, the final product, atoms processed, blocks, and the
    most atoms processed in one block (for the rounding bound).
    """
    V = p.size
    nfin = levels.size
    while nfin > 0 and not levels[nfin - 1] < np.inf:
        nfin -= 1
    law = np.zeros(V)
    acc = np.zeros(V)
    nxt = np.zeros(V, np.int64)
    nk = np.empty(V)
    for j in range(V):
        nk[j] = levels[0] / p[j] if nfin > 0 else np.inf
    cap = 4 * block + V + 16
    key = np.empty(cap)
    tok = np.empty(cap, np.int32)
    skey = np.empty(cap)
    stok = np.empty(cap, np.int32)
    cnt = np.empty(cap + 1, np.int32)
    touched = np.empty(V, np.int64)
    f = 1.0
    steps = 0
    nblocks = 0
    kmax = 0
    t_a = 0.0
    dt = block * delta
    alive = V if nfin > 0 else 0
    stop = nfin == 0
    while not stop:
        t_b = t_a + dt
        m = 0
        nt = 0
        for j in range(V):
            if nk[j] < t_b:
                touched[nt] = j
                nt += 1
                n = nxt[j]
                pj = p[j]
                k = nk[j]
                while True:
                    if m == cap:
                        cap2 = 2 * cap
                        key2 = np.empty(cap2); key2[:cap] = key; key = key2
                        tok2 = np.empty(cap2, np.int32); tok2[:cap] = tok; tok = tok2
                        skey = np.empty(cap2); stok = np.empty(cap2, np.int32)
                        cnt = np.empty(cap2 + 1, np.int32)
                        cap = cap2
                    key[m] = k
                    tok[m] = j
                    m += 1
                    n += 1
                    if n >= nfin:
                        k = np.inf
                        break
                    k = levels[n] / pj
                    if not k < t_b:
                        break
                nk[j] = k
        if m > 0:
            nb = m
            cnt[:nb + 1] = 0
            scale = nb / (t_b - t_a)
            if not scale < 1e300:       # a block narrower than float64 resolves
                scale = 0.0
            for q in range(m):
                b = int((key[q] - t_a) * scale)
                if b >= nb:
                    b = nb - 1
                cnt[b + 1] += 1
            for b in range(nb):
                cnt[b + 1] += cnt[b]
            for q in range(m):
                b = int((key[q] - t_a) * scale)
                if b >= nb:
                    b = nb - 1
                r = cnt[b]
                cnt[b] = r + 1
                skey[r] = key[q]
                stok[r] = tok[q]
            lo = 0
            for b in range(nb):
                hi = cnt[b]
                for q in range(lo + 1, hi):
                    kq = skey[q]
                    if skey[q - 1] > kq:
                        tq = stok[q]
                        r = q - 1
                        while r >= lo and skey[r] > kq:
                            skey[r + 1] = skey[r]
                            stok[r + 1] = stok[r]
                            r -= 1
                        skey[r + 1] = kq
                        stok[r + 1] = tq
                lo = hi
        done = 0
        for q in range(m):
            if not (f >= tail and f > 0.0):
                stop = True
                break
            j = stok[q]
            n = nxt[j]
            inv = 1.0 / (1.0 - delta * n)
            acc[j] += delta * (f * inv)
            f = f * ((1.0 - delta * (n + 1)) * inv)
            nxt[j] = n + 1
            if n + 1 >= nfin:
                alive -= 1
            done += 1
        steps += done
        if done > kmax:
            kmax = done
        nblocks += 1
        for r in range(nt):
            j = touched[r]
            law[j] += acc[j]
            acc[j] = 0.0
        f = 1.0
        for j in range(V):
            f *= 1.0 - delta * nxt[j]
        if alive == 0 or not (f >= tail and f > 0.0):
            stop = True
        if m == 0:
            dt *= 2.0
        else:
            dt *= min(2.0, block / m)
        t_a = t_b
    return law, f, steps, nblocks, kmax


@njit(cache=True)
def _survival(nxt, delta):  # pragma: no cover - compiled
    """:math:`\\prod_j (1 - \\delta\\,n_j)`, four interleaved partial products (a product
    of V exact factors in some order: relative error :math:`\\gamma_V`)."""
    V = nxt.size
    f0 = 1.0
    f1 = 1.0
    f2 = 1.0
    f3 = 1.0
    V4 = V - V % 4
    for j in range(0, V4, 4):
        f0 *= 1.0 - delta * nxt[j]
        f1 *= 1.0 - delta * nxt[j + 1]
        f2 *= 1.0 - delta * nxt[j + 2]
        f3 *= 1.0 - delta * nxt[j + 3]
    for j in range(V4, V):
        f0 *= 1.0 - delta * nxt[j]
    return (f0 * f1) * (f2 * f3)


@njit(cache=True)
def _counts_below(p, levels, t):  # pragma: no cover - compiled
    """Per token, the number of finite levels n whose key ``levels[n] / p_j`` is below t
    (binary search on the kernel's own float64 quotient, monotone in n)."""
    nfin = levels.size
    while nfin > 0 and not levels[nfin - 1] < np.inf:
        nfin -= 1
    out = np.empty(p.size, np.int64)
    for j in range(p.size):
        lo = 0
        hi = nfin
        while lo < hi:
            mid = (lo + hi) // 2
            if levels[mid] / p[j] < t:
                lo = mid + 1
            else:
                hi = mid
        out[j] = lo
    return out


@njit(cache=True)
def _blocked_span(p, levels, delta, tail, block, t_start, t_stop,
                  start):  # pragma: no cover - compiled
    """The sweep of :func:`_blocked_v1` (same atoms, same (key, index) order, same
    arithmetic per atom), laid out for speed.

    Per time block [t_a, t_b): the tokens with an atom in the block are found by one
    pass over the next keys; their atoms are emitted token by token (index order, a
    token's levels in order) into fixed arrays with their level and bucket (``2 block``
    buckets of equal width in t); on overflow the block is retried at half the width
    (no state changes before an emission succeeds, so the work arrays are never
    reallocated inside the loops: reallocation there cost the first version a factor
    of two). A stable counting sort by bucket, then one stable insertion pass over the
    whole block (strict comparison: equal keys keep emission order, i.e. the lower
    index first, as the heap breaks ties), gives the sweep's order. The atoms are then
    processed in a flat loop (no per-bucket branches); each atom's contribution
    ``delta f / S`` is written at its emission slot, so a token's contributions in the
    block are contiguous and are summed after the block in level order (a sum of at
    most ``K`` terms, as in the rounding bound). The running product is recomputed
    from the survival counts after every block (four interleaved partial products: a
    product of V factors in some order, error ``gamma_V`` as before). Returns law, the
    final product, atoms processed, blocks, and the most atoms processed in one block.

    The sweep runs over the atoms with keys in ``[t_start, t_stop)`` only, starting
    from ``start[j]`` levels already processed per token (the levels whose key is below
    ``t_start``: :func:`_counts_below`) and the product recomputed from them; with
    ``t_start = 0``, ``t_stop = inf`` and no levels processed it is the whole sweep.
    """
    V = p.size
    nfin = levels.size
    while nfin > 0 and not levels[nfin - 1] < np.inf:
        nfin -= 1
    law = np.zeros(V)
    nxt = start.copy()                   # levels processed, per token
    nk = np.empty(V)                     # next key, per token
    alive = 0
    for j in range(V):
        if nxt[j] < nfin:
            nk[j] = levels[nxt[j]] / p[j]
            alive += 1
        else:
            nk[j] = np.inf
    nb = 2 * block
    cap = 4 * block + V + 16             # a block of one atom per token always fits
    key = np.empty(cap)
    lev = np.empty(cap, np.int64)
    bkt = np.empty(cap, np.int32)
    skey = np.empty(cap)
    sq = np.empty(cap, np.int32)
    contrib = np.empty(cap)
    cnt = np.empty(nb + 1, np.int64)
    touched = np.empty(V, np.int64)
    estart = np.empty(V + 1, np.int64)
    newk = np.empty(V)
    newn = np.empty(V, np.int64)
    f = _survival(nxt, delta)
    steps = 0
    nblocks = 0
    kmax = 0
    t_a = t_start
    dt = block * delta
    stop = alive == 0 or not (f >= tail and f > 0.0) or not t_start < t_stop
    while not stop:
        t_b = t_a + dt
        if not t_b < t_stop:
            t_b = t_stop
        scale = nb / (t_b - t_a)
        if not scale < 1e300:           # a block narrower than float64 resolves
            scale = 0.0
        nt = 0
        for j in range(V):
            touched[nt] = j
            nt += nk[j] < t_b
        cnt[:] = 0
        m = 0
        overflow = False
        for r in range(nt):
            j = touched[r]
            estart[r] = m
            n = nxt[j]
            pj = p[j]
            k = nk[j]
            while True:
                if m == cap:
                    overflow = True
                    break
                b = int((k - t_a) * scale)
                if b >= nb:
                    b = nb - 1
                key[m] = k
                lev[m] = n
                bkt[m] = b
                cnt[b + 1] += 1
                m += 1
                n += 1
                if n >= nfin:
                    k = np.inf
                    break
                k = levels[n] / pj
                if not k < t_b:
                    break
            if overflow:
                break
            newk[r] = k
            newn[r] = n
        if overflow:                    # nothing was changed: retry a narrower block
            dt = 0.5 * (t_b - t_a)
            continue
        estart[nt] = m
        for r in range(nt):
            j = touched[r]
            nk[j] = newk[r]
            nxt[j] = newn[r]
        for b in range(nb):
            cnt[b + 1] += cnt[b]
        for q in range(m):
            b = bkt[q]
            r = cnt[b]
            cnt[b] = r + 1
            skey[r] = key[q]
            sq[r] = q
        for q in range(1, m):           # inversions are inside buckets only
            kq = skey[q]
            if skey[q - 1] > kq:
                tq = sq[q]
                r = q - 1
                while r >= 0 and skey[r] > kq:
                    skey[r + 1] = skey[r]
                    sq[r + 1] = sq[r]
                    r -= 1
                skey[r + 1] = kq
                sq[r + 1] = tq
        done = 0
        for q in range(m):
            if not (f >= tail and f > 0.0):
                for r in range(q, m):
                    contrib[sq[r]] = -1.0   # not processed: taken back below
                stop = True
                break
            qq = sq[q]
            n = lev[qq]
            inv = 1.0 / (1.0 - delta * n)
            contrib[qq] = delta * (f * inv)
            f = f * ((1.0 - delta * (n + 1)) * inv)
            done += 1
        steps += done
        if done > kmax:
            kmax = done
        nblocks += 1
        for r in range(nt):
            j = touched[r]
            s = 0.0
            for q in range(estart[r], estart[r + 1]):
                c = contrib[q]
                if c >= 0.0:
                    s += c
                else:
                    nxt[j] -= 1
            law[j] += s
            if nxt[j] >= nfin:
                alive -= 1
        f = _survival(nxt, delta)
        if alive == 0 or not (f >= tail and f > 0.0) or not t_b < t_stop:
            stop = True
        if m == 0:
            dt *= 2.0
        else:
            dt *= min(2.0, block / m)
        t_a = t_b
    return law, f, steps, nblocks, kmax


@njit(cache=True)
def _blocked(p, levels, delta, tail, block):  # pragma: no cover - compiled
    """The whole sweep (:func:`_blocked_span` from t = 0 to the end)."""
    return _blocked_span(p, levels, delta, tail, block, 0.0, np.inf,
                         np.zeros(p.size, np.int64))


@njit(cache=True, parallel=True)
def _blocked_chunks(p, levels, delta, tail, block, cuts):  # pragma: no cover - compiled
    """The sweep cut at the times ``cuts`` (increasing, ``cuts[0] = 0``, last ``inf``)
    into independent spans, run in parallel: span c starts from the exact counts below
    ``cuts[c]`` and its own recomputed product, so the atoms, their order and the
    arithmetic per atom are those of :func:`_blocked`; only where the running product
    is re-anchored differs (rounding). A span whose starting product is already below
    ``tail`` does nothing (the sequential sweep stopped before it). Returns the law
    (spans added in order), the last span's final product, total atoms and blocks, the
    most atoms in one block, and how many spans processed atoms."""
    C = cuts.size - 1
    V = p.size
    laws = np.zeros((C, V))
    fs = np.ones(C)
    st = np.zeros(C, np.int64)
    nbs = np.zeros(C, np.int64)
    kms = np.zeros(C, np.int64)
    for c in prange(C):
        start = _counts_below(p, levels, cuts[c])
        law, f, steps, nblocks, kmax = _blocked_span(p, levels, delta, tail, block,
                                                     cuts[c], cuts[c + 1], start)
        laws[c] = law
        fs[c] = f
        st[c] = steps
        nbs[c] = nblocks
        kms[c] = kmax
    law = np.zeros(V)
    for c in range(C):
        law += laws[c]
    f = fs[0]
    for c in range(C):          # the product where the sequential sweep stopped
        f = fs[c]
        if not (f >= tail and f > 0.0):
            break
    return law, f, st.sum(), nbs.sum(), kms.max()


BRUTE_FORCE_LIMIT = 10 ** 8
"""Largest ``V^2 2^b`` :func:`grid_race_law_brute_force` accepts."""


def grid_race_law_brute_force(p, bits: int, offset: float = 0.0) -> np.ndarray:
    """The same law by the direct sum over each token's levels, no sweep: for token i and
    every level n, count each other token's levels strictly above (lower index) or at least
    (higher index) ``E_n p_j / p_i`` by binary search. Cost ``V^2 2^b log 2^b``; for checking
    :func:`grid_race_law` on small V and b (``V^2 2^b <= BRUTE_FORCE_LIMIT``).

    Returns
    -------
    ndarray, shape (V,): P(token i) (with c = 0 the all-``u = 0`` event, mass
    ``2^{-bV}``, is left out, as in :func:`grid_race_law`).
    """
    w = as_float_array("p", p, ndim=1)
    if w.size == 0 or np.any(w <= 0) or abs(w.sum() - 1.0) > 1e-9:
        raise ValueError("p: must be a positive probability vector summing to one")
    bits = check_int("bits", bits, low=1, high=30)
    if w.size ** 2 * 2 ** bits > BRUTE_FORCE_LIMIT:
        raise ValueError(f"bits: V^2 2^bits = {w.size ** 2 * 2 ** bits} exceeds "
                         f"{BRUTE_FORCE_LIMIT}; use grid_race_law")
    levels = grid_noise_levels(bits, offset)
    delta, N = 2.0 ** -bits, levels.size
    times = [levels / w[j] for j in range(w.size)]
    out = np.zeros(w.size)
    for i in range(w.size):
        t = times[i][np.isfinite(times[i])]
        prod = np.ones(t.size)
        for j in range(w.size):
            if j != i:
                side = "right" if j < i else "left"
                prod *= (N - np.searchsorted(times[j], t, side=side)) * delta
        out[i] = delta * prod.sum()
    return out


def _check_args(p, bits, offset, tail):
    w = as_float_array("p", p, ndim=1)
    if w.size == 0 or np.any(w < 0) or abs(w.sum() - 1.0) > 1e-9:
        raise ValueError("p: must be a probability vector (non-negative, summing to one)")
    bits = check_int("bits", bits, low=1, high=30)
    offset = check_real("offset", offset, low=0.0)
    tail = check_real("tail", tail, low=0.0)
    if tail >= 1.0:
        raise ValueError(f"tail: must be in [0, 1) (got {tail!r})")
    return w, bits, offset, tail


DEFAULT_BLOCK = 1 << 16
"""Atoms per time block of :func:`grid_race_law` (speed only: about 3 MB of work arrays
in use, so a block stays in the cache; 2^18 was 1.5 times slower, measured)."""

_U = 2.0 ** -53


class GridLawBounds(NamedTuple):
    """Certified bounds on the b-bit grid law (:func:`grid_race_law_bounds`)."""

    law: np.ndarray
    """The computed law (mass of the atoms processed), shape (V,)."""
    lower: np.ndarray
    """``lower[i] <= P(token i)``."""
    upper: np.ndarray
    """``P(token i) <= upper[i]``."""
    remainder: float
    """Upper bound on the exact unassigned mass (the truncation error)."""
    rounding: float
    """Upper bound on ``sum_i |law[i] - (exact mass of token i's processed atoms)|``."""
    error: float
    """``remainder + rounding``: certified bound on ``sum_i |P(token i) - law[i]|``."""
    steps: int
    """Atoms processed."""


def _time_cuts(p, bits, offset, tail, spans):
    """Cut times for :func:`_blocked_chunks`: ``spans`` pieces of about equal atom counts
    up to where the product falls below ``tail`` (a plan only: any cuts give the same
    atoms and order). Smooth model of the grid: a token of probability p has about
    :math:`2^b (1 - e^{-(p t - c)})` levels below t and survival :math:`e^{-(p t - c)}`."""
    def atoms(t):
        x = np.maximum(p * t - offset, 0.0)
        return float(-np.expm1(-x).sum()), float(-x.sum())

    target = np.log(max(tail, 1e-300))
    lo, hi = 0.0, 1.0
    while atoms(hi)[1] > target and hi < 1e300:
        hi *= 2.0
    for _ in range(64):
        mid = 0.5 * (lo + hi)
        if atoms(mid)[1] > target:
            lo = mid
        else:
            hi = mid
    total = atoms(hi)[0]
    cuts = [0.0]
    for c in range(1, spans):
        a, b = cuts[-1], hi
        for _ in range(64):
            mid = 0.5 * (a + b)
            if atoms(mid)[0] < total * c / spans:
                a = mid
            else:
                b = mid
        cuts.append(b)
    return np.array(cuts + [np.inf])


def _run_blocked(w, bits, offset, tail, block, kernel=None, threads=1):
    pos = np.flatnonzero(w > 0)
    levels = grid_noise_levels(bits, offset)
    # small grids: smaller blocks (the work arrays are 4 * block long)
    block = min(int(block), max(1 << 10, 2 ** bits // 4))
    if threads > 1 and kernel is None:
        import numba

        cuts = _time_cuts(w[pos], bits, offset, tail, threads)
        before = numba.get_num_threads()
        numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))
        try:
            law_pos, f, steps, nblocks, kmax = _blocked_chunks(
                w[pos], levels, 2.0 ** -bits, tail, block, cuts)
        finally:
            numba.set_num_threads(before)
        nblocks += cuts.size - 1      # the spans' sums: one more term per token each
    else:
        kernel = _blocked if kernel is None else kernel
        law_pos, f, steps, nblocks, kmax = kernel(w[pos], levels, 2.0 ** -bits, tail, block)
    law = np.zeros_like(w)
    law[pos] = law_pos
    return law, float(f), int(steps), int(nblocks), int(kmax), int(pos.size)


def grid_race_law(p, bits: int = 24, offset: float = 0.0, tail: float = 1e-10,
                  block: int = DEFAULT_BLOCK, threads: int = 1):
    """Exact law of the token sampled by Gumbel-max with uniforms on the b-bit grid.

    The sampler is ``argmax_i p_i / E_i`` with ``E_i = c - log(u_i + c)``,
    ``u_i = k_i 2^-b`` i.i.d. uniform on the grid (ties to the lowest index). The atoms of
    :func:`grid_race_law_heap` are processed in the same order, the order found by time
    blocks and a bucket sort in place of a heap (same law up to float64 rounding;
    :func:`grid_race_law_bounds` adds the certified rounding bound). With ``threads`` > 1
    the time axis is cut into that many spans of about equal atom counts, each started
    from its exact survival counts and run on its own thread: the same atoms, order and
    per-atom arithmetic, only the re-anchoring of the running product moves (rounding).

    Parameters
    ----------
    p : array_like, shape (V,)
        The categorical law (non-negative, summing to one; zero entries never win).
    bits : int, 1..30
        Grid bits (24: float32 ``torch.rand``).
    offset : float, >= 0
        The ``c`` of the sampler (0: ``-log u``; :data:`REFERENCE_OFFSET` for SEDD/MDLM).
    tail : float, in [0, 1)
        Stop once the mass not yet assigned is below ``tail`` (0: run to the end).
    block : int, >= 1
        Atoms per time block, at most (speed only; the law does not depend on it; capped
        at ``max(1024, 2^bits / 4)``).
    threads : int, >= 1
        Spans run in parallel (Numba threads, at most ``NUMBA_NUM_THREADS``; speed only).

    Returns
    -------
    law : ndarray, shape (V,)
        ``law[i] <= P(token i) <= law[i] + remainder`` (up to float64 rounding, bounded
        by :func:`grid_race_law_bounds`).
    remainder : float
        The unassigned mass: ``1 - law.sum()`` up to rounding, the bound on the error.
    steps : int
        Atoms processed (the cost).
    """
    w, bits, offset, tail = _check_args(p, bits, offset, tail)
    block = check_int("block", block, low=1)
    threads = check_int("threads", threads, low=1)
    law, f, steps, _, _, _ = _run_blocked(w, bits, offset, tail, block, threads=threads)
    return law, f, steps


def grid_race_law_bounds(p, bits: int = 24, offset: float = 0.0, tail: float = 1e-10,
                         block: int = DEFAULT_BLOCK, threads: int = 1) -> GridLawBounds:
    """Certified per-token bounds on the b-bit grid law, truncation and rounding included.

    Same computation as :func:`grid_race_law`. Rounding (IEEE float64, round to nearest;
    an absolute ``2^-1070`` per atom is added for gradual underflow): every quantity is a chain of
    correctly rounded multiplications and divisions of exact numbers (the survivals
    ``1 - n 2^-b`` and the power of two ``2^-b`` are exact), so each atom's
    contribution has relative error at most :math:`\\gamma_{V + 3K + 2}`,
    :math:`\\gamma_n = nu/(1 - nu)`, :math:`u = 2^{-53}` (``V`` factors of the product
    re-anchored after each block, three roundings per later atom of the block, ``K`` the
    most atoms in one block), and the per-token sums (within a block, then across the
    ``B`` blocks) add :math:`\\gamma_{K + B}`: ``law`` is within relative
    :math:`\\gamma_n`, :math:`n = V + 4K + B + 2`, of the exact mass of the atoms
    processed, token by token (with ``threads`` > 1 each span starts from a product
    recomputed from its counts, like a block, and the per-token sums gain one term per
    span, counted in ``B``). The unassigned mass is the running product recomputed
    from the counts, exact to :math:`\\gamma_V`. Hence, with
    :math:`\\gamma = \\gamma_n` (enlarged by 1% and 4u for the bound's own rounding),

    ``lower = law (1 - gamma)``, ``upper = law (1 + gamma) + remainder``, and
    ``sum_i |P(i) - law[i]| <= remainder + gamma sum(law) = error``.

    At V = 1e5 Zipf, b = 24, tail 1e-10: ``error`` 1.5e-10 (rounding 4.6e-11).
    Float32 effects of a real sampler (rounding of ``-log u`` and of the quotient) are
    not part of the law (see the module docstring).
    """
    w, bits, offset, tail = _check_args(p, bits, offset, tail)
    block = check_int("block", block, low=1)
    threads = check_int("threads", threads, low=1)
    law, f, steps, nblocks, kmax, V = _run_blocked(w, bits, offset, tail, block,
                                                   threads=threads)
    n = V + 4 * kmax + nblocks + 2
    if n * _U >= 0.01:
        raise ValueError(f"p: {V} tokens are too many for the rounding bound")
    gamma = 1.01 * n * _U / (1.0 - n * _U) + 4 * _U
    remainder = f * (1.0 + gamma)
    # + an absolute 2^-1070 per atom covers gradual underflow (tail = 0, tiny products)
    rounding = gamma * float(law.sum()) * (1.0 + 4 * _U) + steps * 2.0 ** -1070
    lower = law * (1.0 - gamma)
    upper = law * (1.0 + gamma) + remainder
    return GridLawBounds(law, lower, upper, float(remainder), float(rounding),
                         float(remainder + rounding), steps)


def _grid_race_law_v1(p, bits: int = 24, offset: float = 0.0, tail: float = 1e-10,
                      block: int = 1 << 18):
    """The same law by the first blocked sweep (:func:`_blocked_v1`, the state of
    ``grid_race_law`` before the re-layout); arguments and returns as
    :func:`grid_race_law`. The "before" row of ``benchmarks/bench_decoding_gumbel.py``."""
    w, bits, offset, tail = _check_args(p, bits, offset, tail)
    block = check_int("block", block, low=1)
    law, f, steps, _, _, _ = _run_blocked(w, bits, offset, tail, block, _blocked_v1)
    return law, f, steps


def grid_race_law_heap(p, bits: int = 24, offset: float = 0.0, tail: float = 1e-10):
    """The same law by the original heap sweep (:func:`_sweep`: a binary heap over the V
    tokens, O(log V) per atom). Kept as the independent reference for
    :func:`grid_race_law` and as the "before" of ``benchmarks/bench_decoding_gumbel.py``;
    arguments and returns as :func:`grid_race_law`."""
    w, bits, offset, tail = _check_args(p, bits, offset, tail)
    pos = np.flatnonzero(w > 0)
    levels = grid_noise_levels(bits, offset)
    law_pos, remainder, steps = _sweep(w[pos], levels, 2.0 ** -bits, tail)
    law = np.zeros_like(w)
    law[pos] = law_pos
    return law, float(remainder), int(steps)
