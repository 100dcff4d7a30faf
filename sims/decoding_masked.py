"""Numba simulation of masked-diffusion samplers with the exact denoiser, from the process.

Two kernels over a joint table ``joint`` (flattened, V**L entries, C order):

- :func:`step_sampler_counts`: the original MDM sampler on a grid of unmasked fractions;
  at each step every masked position unmasks with probability
  ``(alpha[n+1] - alpha[n]) / (1 - alpha[n])``, its token drawn from its conditional
  given the tokens unmasked before the step (found by summing the joint table over the
  sequences that agree with them);
- :func:`first_hitting_counts`: the first-hitting sampler: one uniformly chosen masked
  position at a time (the unmasking times do not change the tokens, so they are not
  drawn).

Both return counts over the V**L sequences. Nothing here uses the exact output laws of
:mod:`toytheory.decoding.masked_diffusion`. Sample i draws from its own SplitMix64 stream.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from sims._splitmix import next_uniform53, stream_state
from toytheory._validation import check_int

__all__ = ["step_sampler_counts", "first_hitting_counts"]


@njit(cache=True)
def _conditional(joint, V, L, state, i, out):
    """out[v] = sum of joint over sequences agreeing with ``state`` and with x_i = v."""
    for v in range(V):
        out[v] = 0.0
    for code in range(joint.size):
        rest = code
        ok = True
        token_i = 0
        for pos in range(L - 1, -1, -1):
            tok = rest % V
            rest //= V
            if pos == i:
                token_i = tok
            elif state[pos] >= 0 and state[pos] != tok:
                ok = False
                break
        if ok:
            out[token_i] += joint[code]
    total = out.sum()
    for v in range(V):
        out[v] /= total


@njit(cache=True, inline="always")
def _draw(probs, u):
    acc = 0.0
    for v in range(probs.size - 1):
        acc += probs[v]
        if u < acc:
            return v
    return probs.size - 1


@njit(cache=True, inline="always")
def _encode(state, V):
    code = 0
    for pos in range(state.size):
        code = code * V + state[pos]
    return code


@njit(cache=True, parallel=True)
def _step_kernel(joint, V, L, alphas, n, seed):
    codes = np.empty(n, np.int64)
    for s in prange(n):
        rng = stream_state(seed, s)
        state = -np.ones(L, np.int64)
        new = -np.ones(L, np.int64)
        probs = np.empty(V)
        for step in range(alphas.size - 1):
            r = (alphas[step + 1] - alphas[step]) / (1.0 - alphas[step])
            for pos in range(L):
                new[pos] = state[pos]
            for pos in range(L):
                if state[pos] < 0:
                    rng, u = next_uniform53(rng)
                    if u < r:
                        _conditional(joint, V, L, state, pos, probs)
                        rng, w = next_uniform53(rng)
                        new[pos] = _draw(probs, w)
            for pos in range(L):
                state[pos] = new[pos]
        codes[s] = _encode(state, V)
    counts = np.zeros(joint.size, np.int64)
    for s in range(n):
        counts[codes[s]] += 1
    return counts


@njit(cache=True, parallel=True)
def _first_hitting_kernel(joint, V, L, n, seed):
    codes = np.empty(n, np.int64)
    for s in prange(n):
        rng = stream_state(seed, s)
        state = -np.ones(L, np.int64)
        probs = np.empty(V)
        for remaining in range(L, 0, -1):
            rng, u = next_uniform53(rng)
            pick = min(int(u * remaining), remaining - 1)
            pos = -1
            for j in range(L):
                if state[j] < 0:
                    if pick == 0:
                        pos = j
                        break
                    pick -= 1
            _conditional(joint, V, L, state, pos, probs)
            rng, w = next_uniform53(rng)
            state[pos] = _draw(probs, w)
        codes[s] = _encode(state, V)
    counts = np.zeros(joint.size, np.int64)
    for s in range(n):
        counts[codes[s]] += 1
    return counts


def _check(joint, n, seed):
    from toytheory.decoding.masked_diffusion import check_joint

    p = check_joint(joint)
    return p, check_int("n", n, low=1), check_int("seed", seed, low=0)


def step_sampler_counts(joint, alphas, n: int, seed: int) -> np.ndarray:
    """Counts over the V**L sequences of ``n`` runs of the original MDM step sampler.

    Parameters
    ----------
    joint : array_like, shape ``(V,) * L``
    alphas : array_like, shape (N + 1,), strictly increasing from 0 to 1
    n, seed : int

    Returns
    -------
    ndarray of int64, shape (V**L,)
    """
    from toytheory.decoding.masked_diffusion import _check_schedule

    p, n, seed = _check(joint, n, seed)
    a = _check_schedule(alphas)
    return _step_kernel(p.ravel(), p.shape[0], p.ndim, a, n, seed)


def first_hitting_counts(joint, n: int, seed: int) -> np.ndarray:
    """Counts over the V**L sequences of ``n`` runs of the first-hitting sampler."""
    p, n, seed = _check(joint, n, seed)
    return _first_hitting_kernel(p.ravel(), p.shape[0], p.ndim, n, seed)
