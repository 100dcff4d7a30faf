"""Numba simulation of speculative sampling with k draft tokens, from the process.

:func:`kseq_counts` runs the K-SEQ draft selection of SpecTr ("SpecTr: Fast
Speculative Decoding via Optimal Transport", Section 4) as a process: draw k drafts
from ``draft`` by inverse CDF, examine them in turn, keep draft ``x`` with probability
``min(1, target[x] / (rho * draft[x]))``, else (after all k) draw from the residual
``target - min(rho * draft, target)``, normalised. k = 1 with rho = 1 is plain
speculative sampling. Nothing here uses the closed-form output law or acceptance of
:mod:`toytheory.decoding`; ``rho`` is the algorithm's parameter, passed in.

One step of the selection (draw a draft x, flip its coin) has V + 1 outcomes: "x drawn and
kept", probability ``draft[x] min(1, target[x] / (rho draft[x]))``, or "rejected"; the kernel
draws that step outcome from a Walker alias table, up to k steps, then the residual from
its own alias table. Each draw uses 32 random bits, half a SplitMix64 word: the tables
have ``M = 2^c >= V + 1`` columns (zero-padded), the top c bits pick the column exactly
and the other ``32 - c`` bits keep it or take its alias, so every probability the kernel
realises is within ``2^-(32-c)`` of the float64 one (V = 6: 2^-29, about 2e-9, a bias no
feasible count can see: it needs ~1e18 draws at 1e-6). V + 1 <= 2^12.

Randomness: blocks come in chunks of :data:`KSEQ_CHUNK`; chunk ``c`` draws from its own
SplitMix64 stream seeded by ``(seed, c)`` (``prange`` over chunks, per-chunk count rows, no
per-block arrays), so the counts do not depend on the number of threads.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from sims._splitmix import next64, next_uniform53, stream_state
from toytheory._validation import check_int
from toytheory.decoding.speculative import check_pair

__all__ = ["kseq_counts", "residual_law", "block_tokens_counts"]


@njit(cache=True, inline="always")
def _inverse_cdf(cdf, u):
    j = 0
    while j < cdf.size - 1 and u >= cdf[j]:
        j += 1
    return j


@njit(cache=True, inline="always")
def _alias_draw(bits, shift, keep, alias):
    """One draw from a Walker alias table of ``2^(32 - shift)`` columns with a 32-bit word:
    the top bits pick the column, the low ``shift`` bits keep it or take its alias."""
    col = np.int64(bits >> shift)
    other = alias[col]
    kept = np.int64((bits & ((np.uint64(1) << shift) - np.uint64(1))) < keep[col])
    return other + kept * (col - other)             # branch-free select


KSEQ_CHUNK = 1 << 14
"""Blocks per random stream of :func:`kseq_counts` (fixed, so counts do not depend on the
number of threads)."""


@njit(cache=True, parallel=True)
def _kseq_kernel(step_keep, step_alias, res_keep, res_alias, shift, V, k, n, seed, chunk):
    n_chunks = (n + chunk - 1) // chunk
    counts = np.zeros((n_chunks, V + 1), np.int64)     # column V: selections kept
    low32 = np.uint64(0xFFFFFFFF)
    for c in prange(n_chunks):
        state = stream_state(seed, c)
        row = counts[c]
        word = np.uint64(0)
        spare = False                                   # the low half of word unused
        for _ in range(c * chunk, min(n, (c + 1) * chunk)):
            chosen = np.int64(V)
            for step in range(k + 1):
                if spare:
                    bits = word & low32
                    spare = False
                else:
                    state, word = next64(state)
                    bits = word >> np.uint64(32)
                    spare = True
                if step < k:
                    chosen = _alias_draw(bits, shift, step_keep, step_alias)
                    if chosen < V:
                        row[V] += 1
                        break
                else:
                    chosen = _alias_draw(bits, shift, res_keep, res_alias)
            row[chosen] += 1
    return counts.sum(axis=0)


def _alias_table(prob: np.ndarray, columns: int) -> tuple[np.ndarray, np.ndarray]:
    """Walker's alias table of ``prob`` padded with zeros to ``columns`` (a power of two;
    Vose's construction in float64), keep thresholds ``ceil(keep * 2^b)`` for ``b = 32 -
    log2(columns)`` bits: column ``j`` is kept when a b-bit draw is below its threshold."""
    scaled = np.zeros(columns)
    scaled[:prob.size] = prob * columns / prob.sum()
    keep = np.ones(columns)
    alias = np.arange(columns, dtype=np.int64)
    small = [j for j in range(columns) if scaled[j] < 1.0]
    large = [j for j in range(columns) if scaled[j] >= 1.0]
    while small and large:
        s, g = small.pop(), large.pop()
        keep[s], alias[s] = scaled[s], g
        scaled[g] -= 1.0 - scaled[s]
        (small if scaled[g] < 1.0 else large).append(g)
    b = 32 - (columns.bit_length() - 1)
    return np.ceil(np.clip(keep, 0.0, 1.0) * 2.0 ** b).astype(np.uint64), alias


def residual_law(target: np.ndarray, draft: np.ndarray, rho: float) -> np.ndarray:
    """The law K-SEQ draws from when no draft is kept: ``target - min(rho * draft, target)``,
    normalised (``target`` when that is zero)."""
    excess = target - np.minimum(rho * draft, target)
    return target if excess.sum() <= 0 else excess / excess.sum()


def kseq_counts(target, draft, k: int, rho: float, n: int, seed: int
                ) -> tuple[np.ndarray, int]:
    """Simulate ``n`` K-SEQ selections; return the output-token counts and the number kept.

    Parameters
    ----------
    target, draft : array_like, shape (V,)
        The large model's law and the draft model's law.
    k : int, >= 1
        Drafts per selection.
    rho : float, >= 1
        K-SEQ's acceptance divisor.
    n : int, >= 1
    seed : int, >= 0

    Returns
    -------
    counts : ndarray of int64, shape (V,)
    kept : int
        Selections that returned one of the drafts.
    """
    p_t, p_d = check_pair(target, draft)
    k = check_int("k", k, low=1)
    n = check_int("n", n, low=1)
    seed = check_int("seed", seed, low=0)
    if not np.isfinite(rho) or rho < 1.0:
        raise ValueError(f"rho: must be a finite number >= 1 (got {rho!r})")
    residual = residual_law(p_t, p_d, float(rho))
    # one step of the selection: draft x drawn and kept, prob draft[x] min(1, target[x] /
    # (rho draft[x])) = min(draft[x], target[x] / rho); outcome V: the draft was rejected
    kept_x = np.minimum(p_d, p_t / rho)
    step = np.append(kept_x, max(0.0, 1.0 - kept_x.sum()))
    columns = 1 << int(np.ceil(np.log2(p_t.size + 1)))
    if columns > 1 << 12:
        raise ValueError(f"target: at most {(1 << 12) - 1} tokens (got {p_t.size})")
    shift = 32 - (columns.bit_length() - 1)
    out = _kseq_kernel(*_alias_table(step, columns), *_alias_table(residual, columns),
                       np.uint64(shift), p_t.size, k, n, seed, KSEQ_CHUNK)
    counts, kept = out[:-1], out[-1]
    return counts, int(kept)


@njit(cache=True, parallel=True)
def _block_kernel(cdf_draft, draft, target, rho, k, gamma, start, n, seed):
    V = draft.shape[0]
    tokens = np.zeros(n, np.int64)
    for i in prange(n):
        state = stream_state(seed, i)
        blocks = np.empty((k, gamma), np.int64)
        for b in range(k):
            s = start
            for level in range(gamma):
                state, u = next_uniform53(state)
                x = _inverse_cdf(cdf_draft[s], u)
                blocks[b, level] = x
                s = x
        alive = np.ones(k, np.bool_)
        s = start
        count = 0
        done = False
        for level in range(gamma):
            j = 0
            for b in range(k):
                if alive[b]:
                    j += 1
            r = rho[s, j]
            chosen = -1
            for b in range(k):
                if not alive[b]:
                    continue
                x = blocks[b, level]
                state, v = next_uniform53(state)
                if v * r * draft[s, x] < target[s, x]:
                    chosen = x
                    break
            count += 1
            if chosen < 0:
                done = True
                break
            for b in range(k):
                if alive[b] and blocks[b, level] != chosen:
                    alive[b] = False
            s = chosen
        if not done:
            count += 1
        tokens[i] = count
    return tokens


def block_tokens_counts(target, draft, rho, k: int, gamma: int, start: int, n: int,
                        seed: int) -> np.ndarray:
    """Simulate ``n`` target calls of SpecTr with ``k`` draft blocks of length ``gamma`` on
    Markov chains; return counts of the tokens per call (index t = t tokens, 0..gamma+1).

    ``rho[s, j]`` is K-SEQ's divisor at state ``s`` with ``j`` surviving drafts (an input of
    the algorithm). The residual draws themselves are not needed for the token count.
    """
    Pt = np.asarray(target, dtype=float)
    Pd = np.asarray(draft, dtype=float)
    if Pt.ndim != 2 or Pt.shape != Pd.shape or Pt.shape[0] != Pt.shape[1]:
        raise ValueError("draft: target and draft must be square matrices of one shape")
    k = check_int("k", k, low=1)
    gamma = check_int("gamma", gamma, low=1)
    rho = np.asarray(rho, dtype=float)
    if rho.shape != (Pt.shape[0], k + 1) or np.any(rho[:, 1:] < 1):
        raise ValueError(f"rho: must have shape {(Pt.shape[0], k + 1)} with values >= 1")
    tokens = _block_kernel(np.cumsum(Pd, axis=1), Pd, Pt, rho, k, gamma,
                           check_int("start", start, low=0, high=Pt.shape[0] - 1),
                           check_int("n", n, low=1), check_int("seed", seed, low=0))
    return np.bincount(tokens, minlength=gamma + 2)
