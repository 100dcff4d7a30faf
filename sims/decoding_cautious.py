"""Numba simulation of cautious next-token prediction (CNTP), from the process.

One run decodes a segment from ``start``: at a state whose model entropy is at most the
threshold, draw one token from the model; otherwise draw ``N(H)`` trials from the model,
each to the next punctuation mark (token 0) or ``max_len`` tokens in all, keep the first
trial with the lowest mean negative log-likelihood (rounded to 1e-9, the oracle's key)
and stop. Nothing here uses the exact segment laws of :mod:`toytheory.decoding.cautious`;
the trial count per state is passed in. Run ``i`` draws from its own SplitMix64 stream
seeded by ``(seed, i)``.

Segments come back as integer codes :math:`\\sum_i (y_i + 1)(V + 1)^i`
(:func:`segment_code` gives the code of a tuple).
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from sims._splitmix import next_uniform53, stream_state
from toytheory._validation import check_int

__all__ = ["cntp_segments", "segment_code"]


@njit(cache=True)
def _draw(cdf_row, u):
    j = 0
    while j < cdf_row.size - 1 and u >= cdf_row[j]:
        j += 1
    return j


@njit(cache=True, parallel=True)
def _cntp_kernel(cdf, logm, trials, start, max_len, n, seed):
    V = cdf.shape[0]
    codes = np.zeros(n, np.int64)
    for i in prange(n):
        state = stream_state(seed, i)
        s = start
        t = 0
        code = 0
        scale = 1
        buf = np.zeros(max_len, np.int64)
        best = np.zeros(max_len, np.int64)
        while True:
            N = trials[s]
            if N == 0:
                state, u = next_uniform53(state)
                x = _draw(cdf[s], u)
                code += (x + 1) * scale
                scale *= V + 1
                t += 1
                if x == 0 or t == max_len:
                    break
                s = x
            else:
                best_key = np.inf
                best_len = 0
                for _ in range(N):
                    prev = s
                    length = 0
                    total = 0.0
                    while True:
                        state, u = next_uniform53(state)
                        x = _draw(cdf[prev], u)
                        buf[length] = x
                        length += 1
                        total += logm[prev, x]
                        prev = x
                        if x == 0 or t + length == max_len:
                            break
                    key = np.round(-total / length, 9)
                    if key < best_key:
                        best_key = key
                        best_len = length
                        for j in range(length):
                            best[j] = buf[j]
                for j in range(best_len):
                    code += (best[j] + 1) * scale
                    scale *= V + 1
                break
        codes[i] = code
    return codes


def segment_code(segment, V: int) -> int:
    """The integer code of a segment (a tuple of tokens) over ``V`` tokens."""
    return int(sum((y + 1) * (V + 1) ** i for i, y in enumerate(segment)))


def cntp_segments(model, trials, start: int, max_len: int, n: int, seed: int) -> np.ndarray:
    """Codes of ``n`` CNTP segments decoded from ``start``.

    Parameters
    ----------
    model : array_like, shape (V, V)
        The model's transition law (token 0 is punctuation).
    trials : array_like of int, shape (V,)
        Trials drawn at each state (0: below the entropy threshold, one token).
    """
    M = np.asarray(model, dtype=float)
    if M.ndim != 2 or M.shape[0] != M.shape[1]:
        raise ValueError("model: must be a square transition matrix")
    tr = np.asarray(trials, dtype=np.int64)
    if tr.shape != (M.shape[0],) or np.any(tr < 0):
        raise ValueError("trials: must be non-negative counts, one per state")
    with np.errstate(divide="ignore"):
        logm = np.log(M)
    return _cntp_kernel(np.cumsum(M, axis=1), logm, tr,
                        check_int("start", start, low=0, high=M.shape[0] - 1),
                        check_int("max_len", max_len, low=1), check_int("n", n, low=1),
                        check_int("seed", seed, low=0))
