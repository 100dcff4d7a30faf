"""Numba rollouts of finite-horizon MDPs, written from the MDP definitions.

Two kernels:

- :func:`linearq_returns` simulates Linearq(u) from its definition (the
  transition rule and ``r(s, a) = Q*(s, a) - max_a' Q*(s', a')`` with
  ``Q*(s, 0) = 2 ReLU(2u+1-s)``, ``Q*(s, 1) = ReLU(3u+3/2-s)``), tabulated here
  (:func:`_linearq_tables`), without any table from :mod:`toytheory.rl`; step by
  step, one random byte per step, eight steps of the likely path checked per
  64-bit word (:func:`_linearq_kernel`);
- :func:`tabular_returns` simulates any tabular MDP from ``P``, ``r`` and a
  policy table, by inverse-CDF sampling.

Randomness: every episode of ``tabular_returns`` draws from its own SplitMix64
stream seeded by ``(seed, episode)``; ``linearq_returns`` reads one SplitMix64
stream per chunk of 4096 episodes, seeded by ``(seed, chunk)``. Either way the
results do not depend on the number of threads.
The plain-numpy baselines used by ``benchmarks/bench_rl_rollouts.py`` are here
too: :func:`linearq_returns_python_loop` (one episode at a time) and
:func:`linearq_returns_numpy_vectorized` (all episodes at once, one step at a
time). They draw from numpy's Generator, so they agree with the kernels in law,
not sample by sample.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from sims._splitmix import GOLDEN_GAMMA, STREAM_KEY, mix64, next_uniform53, stream_state
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


def _thresholds53(p: np.ndarray) -> np.ndarray:
    """``ceil(p * 2**53)`` as uint64, exact for ``p`` in [0, 1]: for an integer
    ``0 <= k < 2**53``, ``k / 2**53 < p`` if and only if ``k < ceil(p * 2**53)`` (scaling by a
    power of two and ``ceil`` are exact in float64). The comparison of integers then draws
    the same actions as the comparison of floats, without converting every draw."""
    return np.ceil(np.asarray(p, np.float64) * 2.0 ** 53).astype(np.uint64)


def _python_next(u, s, a):
    """Linearq's next state (plain Python: the baselines use it as it is, the kernel through
    the tables of :func:`_linearq_tables`)."""
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
    """Linearq's Q*(s, a) (plain Python; the kernel's rewards are tabulated from it)."""
    return 2.0 * max(0.0, 2.0 * u + 1.0 - s) if a == 0 else max(0.0, 3.0 * u + 1.5 - s)


_HIGH_BITS = np.uint64(0x8080808080808080)   # bit 7 of every byte
_LOW_BITS = np.uint64(0x7F7F7F7F7F7F7F7F)    # bits 0-6 of every byte
_BYTE_ONES = np.uint64(0x0101010101010101)   # bit 0 of every byte
_CHUNK = 4096      # episodes per random stream (fixed: results do not depend on threads)
_WORDS = 512       # 64-bit words of a stream drawn at a time (vectorised)
_TIE_KEY = STREAM_KEY      # separates a chunk's tie stream from its bytes


@njit(cache=True, inline="always")
def _first_stop(x, stop_at, never):
    """Index ``i`` in 0..7 of the first byte with ``x_i >= stop_at_i`` among the bytes whose
    bit 7 in ``never`` is clear, or 8 when there is none (bytes are unsigned, byte ``i`` is
    bits ``8i .. 8i+7``). SWAR: per byte, ``x >= y`` iff the high bits decide it, or they
    are equal and ``(x | 0x80) - (y & 0x7f)`` keeps bit 7 (no borrow crosses a byte)."""
    low7 = (x | _HIGH_BITS) - (stop_at & _LOW_BITS)
    ge = ((x & ~stop_at) | (~(x ^ stop_at) & low7)) & _HIGH_BITS & ~never
    flags = ge >> np.uint64(7)
    lowest = flags & (np.uint64(0) - flags)
    # the bytes below the lowest flag, counted by summing their bit 0 (0..8)
    return np.int64((((lowest - np.uint64(1)) & _BYTE_ONES) * _BYTE_ONES) >> np.uint64(56))


@njit(cache=True, parallel=True)
def _linearq_kernel(flip8, stop8, never8, path, path_reward2, hi8, lo45, nxt, reward2,
                    last, n, seed):
    """Episodes of a chain whose action at state ``s`` is 1 with probability
    ``thr[s] / 2**53``, ``thr[s] = hi8[s] 2**45 + lo45[s]`` (see :func:`_linearq_tables`).

    Randomness: chunk ``c`` of ``_CHUNK`` episodes reads the SplitMix64 words
    ``mix(key_c + k gamma)``, ``k = 1, 2, ...``, in order, and one more stream
    ``mix(tiekey_c + k gamma)`` for ties. Each step reads one fresh byte ``b``: the
    action is 1 iff ``b 2**45 + K < thr[s]`` with ``K`` 45 fresh bits, i.e. iff
    ``b < hi8[s]``, or ``b == hi8[s]`` (a tie, probability 1/256) and ``K < lo45[s]``:
    exactly the Bernoulli(``thr[s] / 2**53``) of one 53-bit uniform. A word holds the
    bytes of eight steps along the likely path (:func:`_linearq_tables`): the first step
    whose byte is not surely the likely action (:func:`_first_stop`) is taken one at a
    time; the steps before it are the likely actions, summed from the tables.
    """
    out = np.empty(n)
    n_chunks = (n + _CHUNK - 1) // _CHUNK
    for c in prange(n_chunks):
        e0 = c * _CHUNK
        key = stream_state(seed, c)
        tie_key = mix64(key ^ _TIE_KEY)
        words = np.empty(_WORDS, dtype=np.uint64)
        drawn = np.uint64(0)
        ties = np.uint64(0)
        pos = _WORDS
        for e in range(e0, min(n, e0 + _CHUNK)):
            s = 0
            total2 = 0          # twice the return: rewards are multiples of 1/2
            while True:
                if pos == _WORDS:
                    for k in range(_WORDS):   # vectorised
                        words[k] = mix64(key + (drawn + np.uint64(k + 1)) * GOLDEN_GAMMA)
                    drawn += np.uint64(_WORDS)
                    pos = 0
                w = words[pos]
                pos += 1
                i = _first_stop(w ^ flip8[s], stop8[s], never8[s])
                total2 += path_reward2[9 * s + i]
                s = path[9 * s + i]
                if i < 8:   # step i: one byte, a tie resolved by 45 more bits
                    b = np.int64((w >> np.uint64(8 * i)) & np.uint64(0xFF))
                    if b < hi8[s]:
                        a = 1
                    elif b > hi8[s]:
                        a = 0
                    else:
                        ties += np.uint64(1)
                        k45 = np.int64(mix64(tie_key + ties * GOLDEN_GAMMA) >> np.uint64(19))
                        a = 1 if k45 < lo45[s] else 0
                    total2 += reward2[2 * s + a]
                    s = nxt[2 * s + a]
                if s == last:
                    break
            out[e] = total2 * 0.5
    return out


def _linearq_tables(u: int, thr: np.ndarray) -> tuple:
    """The tables :func:`_linearq_kernel` walks, built from Linearq(u)'s definition
    (:func:`_python_next`, :func:`_python_q`) and the thresholds ``thr = ceil(p 2**53)``.

    Per state ``s``: ``nxt[2s+a]``, ``reward2[2s+a]`` (twice ``r(s, a)``, an integer),
    ``hi8 = thr >> 45`` (0..256), ``lo45 = thr mod 2**45``. The likely action ``m(s)`` is 1
    when ``hi8[s] >= 128``; the likely path from ``s`` visits ``path[9s+i]`` after ``i``
    likely steps (``path_reward2[9s+i]`` the sum of their ``reward2``). For the state
    ``c_i = path[9s+i]``, byte ``i`` of ``flip8[s]`` is 0 (``m = 1``) or 255 (``m = 0``) and
    byte ``i`` of ``stop8[s]`` is ``hi8[c_i]`` or ``255 - hi8[c_i]``: with ``x = b ^ flip``,
    ``x < stop`` means ``b < hi8`` (``m = 1``) or ``b > hi8`` (``m = 0``), the likely action
    for sure; ``x >= stop`` is the other action or a tie. Byte ``i`` of ``never8[s]`` is
    0x80 where no byte can leave the path (``c_i`` absorbing, or ``hi8[c_i] = 256``).

    Raises
    ------
    AssertionError
        If the definition breaks what the kernel relies on: ``r`` a multiple of 1/2, the
        absorbing state ``3u+2`` reward-free, every other state moving up (so an episode
        is absorbed within ``3u+2 < H`` steps and the horizon never cuts it).
    """
    last = 3 * u + 2
    states = range(last + 1)
    nxt = np.array([[_python_next(u, s, a) for a in (0, 1)] for s in states], dtype=np.int64)
    q = np.array([[_python_q(u, s, a) for a in (0, 1)] for s in states])
    reward2 = 2.0 * (q - q.max(axis=1)[nxt])
    assert np.array_equal(reward2, np.round(reward2)), "Linearq rewards are multiples of 1/2"
    reward2 = reward2.astype(np.int64)
    assert np.all(nxt[last] == last) and np.all(reward2[last] == 0), "absorbing, reward 0"
    assert np.all(nxt[:last] > np.arange(last)[:, None]), "every step moves up"
    hi8 = (thr >> np.uint64(45)).astype(np.int64)
    lo45 = (thr & np.uint64(2 ** 45 - 1)).astype(np.int64)
    likely = (hi8 >= 128).astype(np.int64)
    path = np.empty((last + 1, 9), dtype=np.int64)
    path_reward2 = np.empty((last + 1, 9), dtype=np.int64)
    flip8, stop8, never8 = (np.zeros(last + 1, dtype=np.uint64) for _ in range(3))
    for s in states:
        c, total, flip, stop, never = s, 0, 0, 0, 0
        for i in range(9):
            path[s, i], path_reward2[s, i] = c, total
            if i == 8:
                break
            if c == last or hi8[c] == 256:
                never |= 0x80 << (8 * i)
            else:
                stop |= int(hi8[c] if likely[c] else 255 - hi8[c]) << (8 * i)
            flip |= (0 if likely[c] else 0xFF) << (8 * i)
            total += reward2[c, likely[c]]
            c = nxt[c, likely[c]]
        flip8[s], stop8[s], never8[s] = flip, stop, never
    return (flip8, stop8, never8, path.ravel(), path_reward2.ravel(), hi8, lo45,
            nxt.ravel(), reward2.ravel(), last)


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
    return _linearq_kernel(*_linearq_tables(u, _thresholds53(p)), n, seed & 0xFFFFFFFF)


@njit(cache=True, parallel=True)
def _tabular_kernel(cum_P, r, start, cum_pi, n, seed):
    H, S, A = cum_pi.shape
    out = np.empty(n)
    for i in prange(n):
        state = stream_state(seed, i)
        s = start
        total = 0.0
        for h in range(H):
            state, x = next_uniform53(state)
            a = min(np.searchsorted(cum_pi[h, s], x, side="right"), A - 1)
            state, y = next_uniform53(state)
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
