"""Numba rollouts of finite-horizon MDPs, written from the MDP definitions.

Two kernels:

- :func:`linearq_returns` simulates Linearq(u) from its definition (the
  transition rule and ``r(s, a) = Q*(s, a) - max_a' Q*(s', a')`` with
  ``Q*(s, 0) = 2 ReLU(2u+1-s)``, ``Q*(s, 1) = ReLU(3u+3/2-s)``), tabulated here
  (:func:`_linearq_tables`), without any table from :mod:`toytheory.rl`; one
  64-bit random word per *segment* (the run of likely actions up to the first
  unlikely one), drawn from the segment's exact law (:func:`_linearq_kernel`);
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

from contextlib import contextmanager

import numpy as np
from numba import njit, prange

from sims._splitmix import GOLDEN_GAMMA, mix64, next_uniform53, stream_state
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


_CHUNK = 4096      # episodes per random stream (fixed: results do not depend on threads)
_WORDS = 512       # 64-bit words of a stream drawn at a time (vectorised)
_GUIDE_BITS = 10   # guide table of a segment law: its first outcome per 2^-10 of [0, 1)
_GUIDE_SHIFT = np.uint64(64 - _GUIDE_BITS)
_COMPOSE_MAX = 4   # a segment with at most this many outcomes is folded into the one before
_FIXED_BITS = 192  # fixed-point precision of the tables' probabilities before rounding to 64


@njit(cache=True, parallel=True)
def _linearq_kernel(seg_of, offset, length, cdf64, guide, out_reward2, out_next, last, n,
                    seed):
    """Episodes of Linearq(u), one *segment* (a run of likely actions ended by the first
    unlikely one, or by absorption) per 64-bit random word; see :func:`_linearq_tables`.

    A segment from state ``s`` (index ``g = seg_of[s]``) has ``length[g] + 1`` outcomes
    ``i`` (where the first unlikely action falls, or absorption without one, possibly
    followed by a short segment: see :func:`_linearq_tables`). With ``o = offset[g]``, the
    outcome of a word ``w`` is the first ``i < length[g]`` with ``w < cdf64[o + i]``, else
    ``length[g]``; the search starts at ``guide[g, w >> (64 - _GUIDE_BITS)]`` (no earlier
    outcome can hold). The segment adds ``out_reward2[o + i]`` (twice its rewards) and moves
    to ``out_next[o + i]``.

    Randomness: chunk ``c`` of ``_CHUNK`` episodes reads the SplitMix64 words
    ``mix(key_c + k gamma)``, ``k = 1, 2, ...``, one per segment, in order.
    """
    out = np.empty(n)
    n_chunks = (n + _CHUNK - 1) // _CHUNK
    for c in prange(n_chunks):
        e0 = c * _CHUNK
        key = stream_state(seed, c)
        words = np.empty(_WORDS, dtype=np.uint64)
        drawn = np.uint64(0)
        pos = _WORDS
        for e in range(e0, min(n, e0 + _CHUNK)):
            s = 0
            total2 = 0          # twice the return: rewards are multiples of 1/2
            while s != last:
                if pos == _WORDS:
                    for k in range(_WORDS):   # vectorised
                        words[k] = mix64(key + (drawn + np.uint64(k + 1)) * GOLDEN_GAMMA)
                    drawn += np.uint64(_WORDS)
                    pos = 0
                w = words[pos]
                pos += 1
                g = seg_of[s]
                o = offset[g]
                end = length[g]
                i = guide[g, np.int64(w >> _GUIDE_SHIFT)]
                while i < end and w >= cdf64[o + i]:
                    i += 1
                total2 += out_reward2[o + i]
                s = out_next[o + i]
            out[e] = total2 * 0.5
    return out


def _linearq_tables(u: int, thr: np.ndarray) -> tuple:
    """The segment laws :func:`_linearq_kernel` samples, built from Linearq(u)'s definition
    (:func:`_python_next`, :func:`_python_q`) and the thresholds ``thr = ceil(p 2**53)``:
    the step-by-step chain takes action 1 at ``s`` with probability ``thr[s] / 2**53``.

    The likely action is ``m(s) = 1[thr[s] >= 2**52]``; ``d(s)`` the probability of the
    other one (``thr[s] / 2**53`` or ``1 - thr[s] / 2**53``, at most 1/2). From a segment
    start ``s`` the likely path ``c_0 = s, c_1, ...`` (``c_{i+1} = nxt(c_i, m(c_i))``)
    reaches the absorbing state ``3u+2`` after ``L`` steps. Its outcomes: "the first
    unlikely action is at ``c_i``", probability ``d(c_i) prod_{j<i} (1 - d(c_j))`` (left
    out where ``d(c_i) = 0``), and "absorbed without one", the rest: the law of the
    step-by-step chain. An outcome that leads to a state whose own segment has at most
    ``_COMPOSE_MAX`` outcomes (Linearq's ``3u+1``: one step left) is replaced by its
    compositions with them (probabilities multiplied, rewards added), so most episodes
    take one word. Segment starts: 0 and every state an outcome leads to (closed under
    that rule).

    ``cdf64[o + i]`` is ``2**64 P(outcome <= i)`` rounded to the nearest integer (at most
    ``2**64 - 1``), computed in Python integers with ``_FIXED_BITS = 192`` bits (the products
    truncated: less than ``2**-140`` off in all for any u below 10^6), so each outcome's
    probability ``(cdf64[o+i] - cdf64[o+i-1]) / 2**64`` is within ``2**-63`` of the chain's.

    Returns
    -------
    seg_of : (3u+3,) int64
        Segment index of each segment start, -1 elsewhere.
    offset, length : (G,) int64
        Outcome ``i`` of segment ``g`` lives at ``offset[g] + i``; ``length[g] = L``.
    cdf64 : (sum (L+1),) uint64
        As above (the entry at ``i = L`` is unused and set to ``2**64 - 1``).
    guide : (G, 2**_GUIDE_BITS) int64
        ``guide[g, b]`` = the first ``i`` with ``cdf64[o + i] > b 2**(64 - _GUIDE_BITS)``
        (``L`` if none).
    out_reward2, out_next : (sum (L+1),) int64
        Twice the rewards of the outcome's steps, and the state after them.
    last : int
        The absorbing state ``3u+2``.

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
    thr_int = [int(t) for t in thr]
    likely = [1 if t >= 2 ** 52 else 0 for t in thr_int]
    other_num = [(t if m == 0 else 2 ** 53 - t) for t, m in zip(thr_int, likely)]
    nxt_l, reward2_l = nxt.tolist(), reward2.tolist()

    one = 1 << _FIXED_BITS

    def base(c):
        """The outcomes of the segment from ``c``: ``(prob, reward2, next)``, ``prob`` in
        fixed point (``prob / 2**_FIXED_BITS``, truncated: at most ``3u+3`` units below the
        exact rational), in path order, the absorption without an unlikely action last."""
        atoms, surv, total2 = [], one, 0
        while c != last:
            m, d = likely[c], other_num[c]
            if d:
                atoms.append(((surv * d) >> 53, total2 + reward2_l[c][1 - m], nxt_l[c][1 - m]))
            surv = (surv * (2 ** 53 - d)) >> 53
            total2 += reward2_l[c][m]
            c = nxt_l[c][m]
        atoms.append((surv, total2, last))
        return atoms

    bases = {}

    def segment(c):
        if c not in bases:
            bases[c] = base(c)
        return bases[c]

    starts, seg_of = [0], np.full(last + 1, -1, dtype=np.int64)
    seg_of[0] = 0
    cdf, rew, nxt_out, offset, length, guide = [], [], [], [], [], []
    top = 2 ** 64 - 1
    half = 1 << (_FIXED_BITS - 65)
    lows = np.arange(2 ** _GUIDE_BITS, dtype=np.uint64) * np.uint64(2 ** (64 - _GUIDE_BITS))
    k = 0
    while k < len(starts):
        atoms = []
        for atom in segment(starts[k]):
            follow = segment(atom[2]) if atom[2] != last else None
            if follow is not None and len(follow) <= _COMPOSE_MAX:
                # the segment from atom[2] is short: its outcomes join this one's (one word less)
                atoms += [((atom[0] * f[0]) >> _FIXED_BITS, atom[1] + f[1], f[2])
                          for f in follow]
            else:
                atoms.append(atom)
        cum, seg_cdf = 0, []
        for prob, total2, target in atoms:
            cum += prob
            seg_cdf.append(min(top, (cum + half) >> (_FIXED_BITS - 64)))
            rew.append(total2)
            nxt_out.append(target)
            if target != last and seg_of[target] < 0:
                seg_of[target] = len(starts)
                starts.append(target)
        # truncation: each atom at most 2 (3u+3) + 1 units below its exact value
        assert 0 <= one - cum <= len(atoms) * (2 * last + 8), "outcome probabilities sum to 1"
        offset.append(len(cdf))
        length.append(len(atoms) - 1)
        cdf += seg_cdf[:-1] + [top]
        guide.append(np.searchsorted(np.asarray(seg_cdf[:-1], dtype=np.uint64), lows,
                                     side="right"))
        k += 1
    return (seg_of, np.asarray(offset, np.int64), np.asarray(length, np.int64),
            np.asarray(cdf, np.uint64), np.asarray(guide, np.int64),
            np.asarray(rew, np.int64), np.asarray(nxt_out, np.int64), last)


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

    Notes
    -----
    The law is that of the step-by-step chain whose action at ``s`` is 1 with probability
    ``ceil(p_s 2^53) / 2^53``, drawn one run of likely actions per random word
    (:func:`_linearq_tables`: every segment outcome within ``2^-63`` of that law). The
    result depends on ``seed`` only, not on the number of threads.
    """
    u, p, n = _check_linearq(u, prob_one, n)
    seed = check_int("seed", seed)
    tables = _linearq_tables(u, _thresholds53(p))
    with _kernel_threads(n):
        return _linearq_kernel(*tables, n, seed & 0xFFFFFFFF)


@contextmanager
def _kernel_threads(n: int):
    """Numba threads for :func:`_linearq_kernel` on ``n`` episodes: one for a single chunk,
    else the load-aware count of :func:`toytheory.threads.effective_threads` (``None``:
    Numba's own). The kernel's calls are short (5 ms for 10^6 episodes on one thread), so
    a parallel region that waits for a thread without a free core loses more than it gains
    (measured with the two cores loaded by other processes: every two-thread call took at
    least 4-8 ms, even for 10^4 episodes, against 0.05 ms on one thread). The results do
    not depend on the thread count (one stream per chunk)."""
    import numba

    from toytheory.threads import effective_threads

    want = 1 if n <= _CHUNK else effective_threads()
    before = numba.get_num_threads()
    if want is None or want >= before:
        yield
        return
    numba.set_num_threads(want)
    try:
        yield
    finally:
        numba.set_num_threads(before)


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
