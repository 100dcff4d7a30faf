"""Numba rollouts of finite-horizon MDPs, written from the MDP definitions.

Two kernels:

- :func:`linearq_returns` simulates Linearq(u) from its definition (the
  transition rule and ``r(s, a) = Q*(s, a) - max_a' Q*(s', a')`` with
  ``Q*(s, 0) = 2 ReLU(2u+1-s)``, ``Q*(s, 1) = ReLU(3u+3/2-s)``), without
  building any table from :mod:`toytheory.rl`;
- :func:`tabular_returns` simulates any tabular MDP from ``P``, ``r`` and a
  policy table, by inverse-CDF sampling.

Randomness: every episode draws from its own SplitMix64 stream seeded by
``(seed, episode)``, so results do not depend on the number of threads.
The plain-numpy baselines used by ``benchmarks/bench_rl_rollouts.py`` are here
too: :func:`linearq_returns_python_loop` (one episode at a time) and
:func:`linearq_returns_numpy_vectorized` (all episodes at once, one step at a
time). They draw from numpy's Generator, so they agree with the kernels in law,
not sample by sample.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

__all__ = ["linearq_returns", "tabular_returns", "linearq_returns_python_loop",
           "linearq_returns_numpy_vectorized", "linearq_returns_torch"]



@njit(cache=True, inline="always")
def _splitmix(state):
    state = (state + np.uint64(0x9E3779B97F4A7C15)) & np.uint64(0xFFFFFFFFFFFFFFFF)
    z = state
    z = ((z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)) & np.uint64(
        0xFFFFFFFFFFFFFFFF)
    z = ((z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)) & np.uint64(
        0xFFFFFFFFFFFFFFFF)
    z = z ^ (z >> np.uint64(31))
    return state, (z >> np.uint64(11)) * (1.0 / 9007199254740992.0)


@njit(cache=True)
def _episode_state(seed, episode):
    s = np.uint64(seed) * np.uint64(0x9E3779B97F4A7C15) + np.uint64(episode)
    s, _ = _splitmix(s ^ np.uint64(0xD1B54A32D192ED03))
    return s


@njit(cache=True, inline="always")
def _linearq_next(u, s, a):
    last = 3 * u + 2
    if a == 0:
        if s <= u:
            return s + 1
        if s >= 2 * u + 1:
            return last
        return last if s % 2 == 0 else last - 1
    if s == last:
        return last
    if s >= u + 1:
        return s + 1
    return last if s % 2 == 0 else last - 1


@njit(cache=True, inline="always")
def _linearq_q(u, s, a):
    if a == 0:
        return 2.0 * max(0.0, 2.0 * u + 1.0 - s)
    return max(0.0, 3.0 * u + 1.5 - s)


@njit(cache=True, inline="always")
def _linearq_reward(u, s, a):
    s2 = _linearq_next(u, s, a)
    return _linearq_q(u, s, a) - max(_linearq_q(u, s2, 0), _linearq_q(u, s2, 1))


@njit(cache=True, parallel=True)
def _linearq_kernel(u, prob_one, n, seed):
    H = 3 * u + 3
    last = 3 * u + 2
    out = np.empty(n)
    for i in prange(n):
        state = _episode_state(seed, i)
        s = 0
        total = 0.0
        for _ in range(H):
            if s == last:
                break  # absorbing, reward 0 under both actions
            state, x = _splitmix(state)
            a = 1 if x < prob_one[s] else 0
            total += _linearq_reward(u, s, a)
            s = _linearq_next(u, s, a)
        out[i] = total
    return out


def linearq_returns(u: int, prob_one, n: int, seed: int) -> np.ndarray:
    """Returns of ``n`` episodes of Linearq(u) under a stationary policy.

    Parameters
    ----------
    u : int
    prob_one : (3u+3,) array
        ``P(a = 1 | s)``.
    n : int
    seed : int

    Returns
    -------
    (n,) float64 array of returns (sums of ``H = 3u+3`` rewards).
    """
    p = np.ascontiguousarray(prob_one, dtype=np.float64)
    if p.shape != (3 * u + 3,):
        raise ValueError(f"prob_one: must have shape (3u+3,) = ({3 * u + 3},) (got {p.shape})")
    return _linearq_kernel(int(u), p, int(n), int(seed) & 0xFFFFFFFF)


@njit(cache=True, parallel=True)
def _tabular_kernel(cum_P, r, start, cum_pi, n, seed):
    H, S, A = cum_pi.shape
    out = np.empty(n)
    for i in prange(n):
        state = _episode_state(seed, i)
        s = start
        total = 0.0
        for h in range(H):
            state, x = _splitmix(state)
            a = min(np.searchsorted(cum_pi[h, s], x, side="right"), A - 1)
            state, y = _splitmix(state)
            s2 = min(np.searchsorted(cum_P[s, a], y, side="right"), S - 1)
            total += r[s, a]
            s = s2
        out[i] = total
    return out


def tabular_returns(P, r, start: int, policy, n: int, seed: int) -> np.ndarray:
    """Returns of ``n`` episodes of a tabular MDP under a time-dependent policy.

    Parameters
    ----------
    P : (S, A, S) array
    r : (S, A) array
    start : int
    policy : (H, S, A) array of action probabilities
    n, seed : int

    Returns
    -------
    (n,) float64 array
    """
    cum_P = np.ascontiguousarray(np.cumsum(P, axis=2))
    cum_pi = np.ascontiguousarray(np.cumsum(policy, axis=2))
    return _tabular_kernel(cum_P, np.ascontiguousarray(r, dtype=np.float64), int(start), cum_pi,
                           int(n), int(seed) & 0xFFFFFFFF)


def _python_next(u, s, a):
    last = 3 * u + 2
    if a == 0:
        if s <= u:
            return s + 1
        if s >= 2 * u + 1:
            return last
        return last if s % 2 == 0 else last - 1
    if s == last:
        return last
    if s >= u + 1:
        return s + 1
    return last if s % 2 == 0 else last - 1


def _python_q(u, s, a):
    return 2.0 * max(0.0, 2.0 * u + 1.0 - s) if a == 0 else max(0.0, 3.0 * u + 1.5 - s)


def linearq_returns_python_loop(u: int, prob_one, n: int, rng) -> np.ndarray:
    """The baseline: one episode at a time in Python, numpy Generator draws."""
    H, last = 3 * u + 3, 3 * u + 2
    p = np.asarray(prob_one, dtype=float)
    out = np.empty(n)
    draws = rng.random((n, H))
    for i in range(n):
        s, total = 0, 0.0
        for h in range(H):
            if s == last:
                break
            a = 1 if draws[i, h] < p[s] else 0
            s2 = _python_next(u, s, a)
            total += _python_q(u, s, a) - max(_python_q(u, s2, 0), _python_q(u, s2, 1))
            s = s2
        out[i] = total
    return out


def linearq_returns_numpy_vectorized(u: int, prob_one, n: int, rng) -> np.ndarray:
    """The baseline: all episodes at once with numpy, one time step at a time."""
    H, last = 3 * u + 3, 3 * u + 2
    p = np.asarray(prob_one, dtype=float)
    states = np.arange(last + 1)
    nxt = np.array([[_python_next(u, s, a) for a in (0, 1)] for s in states])
    q = np.array([[_python_q(u, s, a) for a in (0, 1)] for s in states])
    rew = q - q.max(axis=1)[nxt]
    s = np.zeros(n, dtype=np.int64)
    total = np.zeros(n)
    for _ in range(H):
        live = np.flatnonzero(s != last)
        if live.size == 0:
            break
        a = (rng.random(live.size) < p[s[live]]).astype(np.int64)
        total[live] += rew[s[live], a]
        s[live] = nxt[s[live], a]
    return total


def linearq_returns_torch(u: int, prob_one, n: int, seed: int, device: str = "cpu"):
    """All episodes at once in torch (CPU or CUDA), one time step at a time.

    The same process as :func:`linearq_returns_numpy_vectorized`, for the GPU:
    tables are built from the definition, draws come from a seeded
    ``torch.Generator`` on ``device``. Returns a float64 numpy array.
    """
    import torch

    H, last = 3 * u + 3, 3 * u + 2
    states = range(last + 1)
    nxt = torch.tensor([[_python_next(u, s, a) for a in (0, 1)] for s in states], device=device)
    q = torch.tensor([[_python_q(u, s, a) for a in (0, 1)] for s in states],
                     dtype=torch.float64, device=device)
    rew = q - q.max(dim=1).values[nxt]
    p = torch.as_tensor(np.asarray(prob_one, dtype=float), device=device)
    gen = torch.Generator(device=device).manual_seed(int(seed))
    s = torch.zeros(n, dtype=torch.int64, device=device)
    total = torch.zeros(n, dtype=torch.float64, device=device)
    for _ in range(H):
        a = (torch.rand(n, generator=gen, device=device, dtype=torch.float64) < p[s]).long()
        total += torch.where(s != last, rew[s, a], torch.zeros((), dtype=torch.float64,
                                                               device=device))
        s = nxt[s, a]
    return total.cpu().numpy()
