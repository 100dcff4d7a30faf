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

from toytheory._validation import as_float_array, check_int

ROW_SUM_ATOL = 1e-9   # as toytheory.rl.mdp.TabularMDP accepts
"""How far a row of ``P`` or of the policy may sum from one (``tabular_returns``)."""

__all__ = ["linearq_returns", "tabular_returns", "linearq_returns_python_loop",
           "linearq_returns_numpy_vectorized", "linearq_returns_torch"]


def _check_linearq(u, prob_one, n) -> tuple[int, np.ndarray, int]:
    """Validate the arguments shared by every Linearq(u) rollout.

    Returns
    -------
    u : int
        ``u >= 1``.
    p : (3u+3,) float64 array
        Finite probabilities in ``[0, 1]``.
    n : int
        ``n >= 1``.

    Raises
    ------
    ValueError
        Naming ``u``, ``prob_one`` or ``n``.
    """
    u = check_int("u", u, low=1)
    p = np.ascontiguousarray(as_float_array("prob_one", prob_one, ndim=1))
    if p.shape != (3 * u + 3,):
        raise ValueError(f"prob_one: must have shape (3u+3,) = ({3 * u + 3},) (got {p.shape})")
    if np.any((p < 0) | (p > 1)):
        raise ValueError(f"prob_one: must lie in [0, 1] (got min {p.min()!r}, max {p.max()!r})")
    n = check_int("n", n, low=1)
    return u, p, n


def _check_rng(rng) -> np.random.Generator:
    if not isinstance(rng, np.random.Generator):
        raise ValueError(f"rng: must be a numpy.random.Generator (got {type(rng).__name__})")
    return rng


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


@njit(cache=True, inline="always")
def _splitmix_bits53(state):
    """:func:`_splitmix`'s draw as the integer ``k`` of ``u = k / 2**53`` (no conversion to
    float): ``u < p`` exactly when ``k < ceil(p * 2**53)`` (see :func:`_thresholds53`)."""
    state = (state + np.uint64(0x9E3779B97F4A7C15)) & np.uint64(0xFFFFFFFFFFFFFFFF)
    z = state
    z = ((z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)) & np.uint64(
        0xFFFFFFFFFFFFFFFF)
    z = ((z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)) & np.uint64(
        0xFFFFFFFFFFFFFFFF)
    z = z ^ (z >> np.uint64(31))
    return state, z >> np.uint64(11)


def _thresholds53(p: np.ndarray) -> np.ndarray:
    """``ceil(p * 2**53)`` as uint64, exact for ``p`` in [0, 1]: for an integer
    ``0 <= k < 2**53``, ``k / 2**53 < p`` if and only if ``k < ceil(p * 2**53)`` (scaling by a
    power of two and ``ceil`` are exact in float64). The comparison of integers then draws
    the same actions as the comparison of floats, without converting every draw."""
    return np.ceil(np.asarray(p, np.float64) * 2.0 ** 53).astype(np.uint64)


@njit(cache=True)
def _episode_state(seed, episode):
    s = np.uint64(seed) * np.uint64(0x9E3779B97F4A7C15) + np.uint64(episode)
    s, _ = _splitmix(s ^ np.uint64(0xD1B54A32D192ED03))
    return s


def _python_next(u, s, a):
    """Linearq's next state (plain Python: the loop baseline uses it as it is, the kernels
    through its Numba compilation ``_linearq_next``)."""
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
    """Linearq's Q*(s, a) (plain Python; compiled for the kernels as ``_linearq_q``)."""
    return 2.0 * max(0.0, 2.0 * u + 1.0 - s) if a == 0 else max(0.0, 3.0 * u + 1.5 - s)


_linearq_next = njit(cache=True, inline="always")(_python_next)
_linearq_q = njit(cache=True, inline="always")(_python_q)


@njit(cache=True, inline="always")
def _linearq_reward(u, s, a):
    s2 = _linearq_next(u, s, a)
    return _linearq_q(u, s, a) - max(_linearq_q(u, s2, 0), _linearq_q(u, s2, 1))


@njit(cache=True, parallel=True)
def _linearq_kernel(u, threshold, n, seed):
    # threshold[s] = ceil(P(a=1|s) * 2**53): ``k < threshold[s]`` is ``k / 2**53 < P(a=1|s)``
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
            state, k = _splitmix_bits53(state)
            a = 1 if k < threshold[s] else 0
            total += _linearq_reward(u, s, a)
            s = _linearq_next(u, s, a)
        out[i] = total
    return out


def linearq_returns(u: int, prob_one, n: int, seed: int) -> np.ndarray:
    """Returns of ``n`` episodes of Linearq(u) under a stationary policy.

    Parameters
    ----------
    u : int
        ``u >= 1``.
    prob_one : (3u+3,) array
        ``P(a = 1 | s)``, each in ``[0, 1]``.
    n : int
        Number of episodes, ``n >= 1``.
    seed : int

    Returns
    -------
    (n,) float64 array of returns (sums of ``H = 3u+3`` rewards).

    Raises
    ------
    ValueError
        Naming ``u`` (``u < 1``), ``prob_one`` (wrong shape, NaN, or outside
        ``[0, 1]``), ``n`` (``n < 1``) or ``seed`` (not an integer).
    """
    u, p, n = _check_linearq(u, prob_one, n)
    seed = check_int("seed", seed)
    return _linearq_kernel(u, _thresholds53(p), n, seed & 0xFFFFFFFF)


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
        Transition probabilities: non-negative, every row ``P[s, a, :]`` sums
        to one within ``ROW_SUM_ATOL = 1e-9``.
    r : (S, A) array
        Finite rewards.
    start : int
        ``0 <= start < S``.
    policy : (H, S, A) array of action probabilities
        ``H >= 1``; non-negative, every row sums to one within ``1e-9``.
    n : int
        Number of episodes, ``n >= 1``.
    seed : int

    Returns
    -------
    (n,) float64 array

    Raises
    ------
    ValueError
        Naming ``P``, ``r``, ``start``, ``policy``, ``n`` or ``seed`` when the
        corresponding condition above fails.
    """
    P = as_float_array("P", P, ndim=3)
    S, A, S2 = P.shape
    if S == 0 or A == 0 or S2 != S:
        raise ValueError(f"P: must have shape (S, A, S) with S, A >= 1 (got {P.shape})")
    _check_rows("P", P)
    r = as_float_array("r", r, ndim=2)
    if r.shape != (S, A):
        raise ValueError(f"r: must have shape (S, A) = ({S}, {A}) (got {r.shape})")
    start = check_int("start", start, low=0, high=S - 1)
    pi = as_float_array("policy", policy, ndim=3)
    if pi.shape[0] < 1:
        raise ValueError(f"policy: must cover a horizon H >= 1 (got shape {pi.shape})")
    if pi.shape[1:] != (S, A):
        raise ValueError(f"policy: must have shape (H, S, A) = (H, {S}, {A}) (got {pi.shape})")
    _check_rows("policy", pi)
    n = check_int("n", n, low=1)
    seed = check_int("seed", seed)
    cum_P = np.ascontiguousarray(np.cumsum(P, axis=2))
    cum_pi = np.ascontiguousarray(np.cumsum(pi, axis=2))
    return _tabular_kernel(cum_P, np.ascontiguousarray(r), start, cum_pi, n,
                           seed & 0xFFFFFFFF)


def _check_rows(name: str, table: np.ndarray) -> None:
    """Every row ``table[..., :]`` is a probability vector (within ``ROW_SUM_ATOL``)."""
    if np.any(table < 0):
        index = tuple(int(i) for i in np.argwhere(table < 0)[0][:-1])
        raise ValueError(f"{name}: must be non-negative (got a negative entry in row {index})")
    sums = table.sum(axis=-1)
    bad = np.abs(sums - 1.0) > ROW_SUM_ATOL
    if np.any(bad):
        index = tuple(int(i) for i in np.argwhere(bad)[0])
        raise ValueError(f"{name}: every row must sum to one (within {ROW_SUM_ATOL:g}) "
                         f"(got sum {sums[index]!r} in row {index})")


_LOOP_CHUNK = 8192  # episodes per block of draws in linearq_returns_python_loop


def linearq_returns_python_loop(u: int, prob_one, n: int, rng) -> np.ndarray:
    """The baseline: one episode at a time in Python, numpy Generator draws.

    Parameters
    ----------
    u : int
        ``u >= 1``.
    prob_one : (3u+3,) array
        ``P(a = 1 | s)``, each in ``[0, 1]``.
    n : int
        Number of episodes, ``n >= 1``.
    rng : numpy.random.Generator

    Returns
    -------
    (n,) float64 array of returns.

    Raises
    ------
    ValueError
        Naming ``u``, ``prob_one``, ``n`` or ``rng``, as :func:`linearq_returns`.
    """
    u, p, n = _check_linearq(u, prob_one, n)
    rng = _check_rng(rng)
    H, last = 3 * u + 3, 3 * u + 2
    out = np.empty(n)
    for first in range(0, n, _LOOP_CHUNK):
        # H uniforms per episode, drawn a block of episodes at a time: the same stream as
        # one rng.random((n, H)) call, without its n * H * 8 bytes (2.4 GB at n = 10^6, u = 100)
        draws = rng.random((min(_LOOP_CHUNK, n - first), H))
        for j in range(draws.shape[0]):
            s, total = 0, 0.0
            for h in range(H):
                if s == last:
                    break
                a = 1 if draws[j, h] < p[s] else 0
                s2 = _python_next(u, s, a)
                total += _python_q(u, s, a) - max(_python_q(u, s2, 0), _python_q(u, s2, 1))
                s = s2
            out[first + j] = total
    return out


def linearq_returns_numpy_vectorized(u: int, prob_one, n: int, rng) -> np.ndarray:
    """The baseline: all episodes at once with numpy, one time step at a time.

    Parameters
    ----------
    u : int
        ``u >= 1``.
    prob_one : (3u+3,) array
        ``P(a = 1 | s)``, each in ``[0, 1]``.
    n : int
        Number of episodes, ``n >= 1``.
    rng : numpy.random.Generator

    Returns
    -------
    (n,) float64 array of returns.

    Raises
    ------
    ValueError
        Naming ``u``, ``prob_one``, ``n`` or ``rng``, as :func:`linearq_returns`.
    """
    u, p, n = _check_linearq(u, prob_one, n)
    rng = _check_rng(rng)
    H, last = 3 * u + 3, 3 * u + 2
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

    Raises
    ------
    ValueError
        Naming ``u``, ``prob_one``, ``n`` or ``seed``, as :func:`linearq_returns`.
    """
    import torch

    u, p_np, n = _check_linearq(u, prob_one, n)
    seed = check_int("seed", seed)
    H, last = 3 * u + 3, 3 * u + 2
    states = range(last + 1)
    nxt = torch.tensor([[_python_next(u, s, a) for a in (0, 1)] for s in states], device=device)
    q = torch.tensor([[_python_q(u, s, a) for a in (0, 1)] for s in states],
                     dtype=torch.float64, device=device)
    rew = q - q.max(dim=1).values[nxt]
    p = torch.as_tensor(p_np, device=device)
    gen = torch.Generator(device=device).manual_seed(int(seed))
    s = torch.zeros(n, dtype=torch.int64, device=device)
    total = torch.zeros(n, dtype=torch.float64, device=device)
    for _ in range(H):
        a = (torch.rand(n, generator=gen, device=device, dtype=torch.float64) < p[s]).long()
        total += torch.where(s != last, rew[s, a], torch.zeros((), dtype=torch.float64,
                                                               device=device))
        s = nxt[s, a]
    return total.cpu().numpy()
