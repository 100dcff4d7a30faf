"""Numba simulation of speculative sampling with k draft tokens, from the process.

:func:`kseq_counts` runs the K-SEQ draft selection of SpecTr ("SpecTr: Fast
Speculative Decoding via Optimal Transport", Section 4) as a process: draw k drafts
from ``draft`` by inverse CDF, examine them in turn, keep draft ``x`` with probability
``min(1, target[x] / (rho * draft[x]))``, else (after all k) draw from the residual
``target - min(rho * draft, target)``, normalised. k = 1 with rho = 1 is plain
speculative sampling. Nothing here uses the closed-form output law or acceptance of
:mod:`toytheory.decoding`; ``rho`` is the algorithm's parameter, passed in.

Randomness: block ``i`` draws from its own SplitMix64 stream seeded by ``(seed, i)``.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from sims.rl_rollouts import _episode_state, _splitmix
from toytheory._validation import check_int
from toytheory.decoding.speculative import check_pair

__all__ = ["kseq_counts", "residual_law", "block_tokens_counts"]


@njit(cache=True, inline="always")
def _inverse_cdf(cdf, u):
    j = 0
    while j < cdf.size - 1 and u >= cdf[j]:
        j += 1
    return j


@njit(cache=True, parallel=True)
def _kseq_kernel(cdf_draft, draft, target, residual_cdf, k, rho, n, seed):
    V = draft.size
    out = np.empty(n, np.int64)
    kept = np.zeros(n, np.int64)
    for i in prange(n):
        state = _episode_state(seed, i)
        chosen = -1
        for _ in range(k):
            state, u = _splitmix(state)
            x = _inverse_cdf(cdf_draft, u)
            state, v = _splitmix(state)
            if v * rho * draft[x] < target[x]:
                chosen = x
                break
        if chosen < 0:
            state, u = _splitmix(state)
            chosen = _inverse_cdf(residual_cdf, u)
        else:
            kept[i] = 1
        out[i] = chosen
    counts = np.zeros(V, np.int64)
    for i in range(n):
        counts[out[i]] += 1
    return counts, kept.sum()


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
    counts, kept = _kseq_kernel(np.cumsum(p_d), p_d, p_t, np.cumsum(residual), k,
                                float(rho), n, seed)
    return counts, int(kept)


@njit(cache=True, parallel=True)
def _block_kernel(cdf_draft, draft, target, rho, k, gamma, start, n, seed):
    V = draft.shape[0]
    tokens = np.zeros(n, np.int64)
    for i in prange(n):
        state = _episode_state(seed, i)
        blocks = np.empty((k, gamma), np.int64)
        for b in range(k):
            s = start
            for level in range(gamma):
                state, u = _splitmix(state)
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
                state, v = _splitmix(state)
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
