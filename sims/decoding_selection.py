"""Numba simulation of answer selection over k samples, from the processes.

* :func:`majority_vote_wins`: draw k answers (correct with probability ``p``, the
  attractor wrong answer with ``q``, else a fresh wrong answer no other sample repeats),
  return a most frequent answer with ties broken by a uniform draw among the tied ones.
* :func:`best_of_k_wins`: draw k samples, each correct with probability ``p`` and scored
  by the reward model's law (``score_correct`` or ``score_wrong``), keep a top-scoring
  one (ties by reservoir sampling, uniform).
* :func:`fobar_wins`: FOBAR ("Forward-Backward Reasoning in Large Language Models for
  Mathematical Verification", Section 3.3): ``n_forward`` forward answers from the
  answer law, ``n_backward`` backward checks per distinct candidate, each succeeding
  with ``b1`` (correct candidate) or ``b0`` (wrong); the candidate with the largest
  forward-count^alpha * backward-count^(1 - alpha) wins (forward count alone when no
  backward check succeeds), ties uniform. ``alpha = 1`` is self-consistency.

Nothing here uses the closed forms of :mod:`toytheory.decoding`. Trial ``i`` draws from
its own SplitMix64 stream seeded by ``(seed, i)``. Each function returns the number of
trials (out of ``n``) whose selected answer is correct.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from sims._splitmix import next_uniform53, stream_state
from toytheory._validation import check_int, check_probability_vector

__all__ = ["majority_vote_wins", "best_of_k_wins", "fobar_wins"]


@njit(cache=True, parallel=True)
def _mv_kernel(p, q, k, n, seed):
    wins = np.zeros(n, np.int64)
    for i in prange(n):
        state = stream_state(seed, i)
        x = 0
        y = 0
        z = 0
        for _ in range(k):
            state, u = next_uniform53(state)
            if u < p:
                x += 1
            elif u < p + q:
                y += 1
            else:
                z += 1
        top = max(x, y)
        if z > 0 and top < 1:
            top = 1
        tied = 0
        if x == top:
            tied += 1
        if y == top:
            tied += 1
        if top == 1:
            tied += z
        if x == top and x > 0:
            state, u = next_uniform53(state)
            # the correct answer is tied entry 0 of `tied`
            if int(u * tied) == 0:
                wins[i] = 1
    return wins.sum()


@njit(cache=True, parallel=True)
def _bok_kernel(p, cdf1, cdf0, k, n, seed):
    wins = np.zeros(n, np.int64)
    for i in prange(n):
        state = stream_state(seed, i)
        best = -1
        count = 0
        chosen = 0
        for _ in range(k):
            state, u = next_uniform53(state)
            correct = 1 if u < p else 0
            cdf = cdf1 if correct == 1 else cdf0
            state, v = next_uniform53(state)
            s = 0
            while s < cdf.size - 1 and v >= cdf[s]:
                s += 1
            if s > best:
                best = s
                count = 1
                chosen = correct
            elif s == best:
                count += 1
                state, w = next_uniform53(state)
                if w * count < 1.0:
                    chosen = correct
        wins[i] = chosen
    return wins.sum()


@njit(cache=True, parallel=True)
def _fobar_kernel(cdf_answers, correct, n_forward, n_backward, b1, b0, alpha, n, seed):
    A = cdf_answers.size
    wins = np.zeros(n, np.int64)
    for i in prange(n):
        state = stream_state(seed, i)
        counts = np.zeros(A, np.int64)
        for _ in range(n_forward):
            state, u = next_uniform53(state)
            j = 0
            while j < A - 1 and u >= cdf_answers[j]:
                j += 1
            counts[j] += 1
        back = np.zeros(A, np.int64)
        total = 0
        for j in range(A):
            if counts[j] > 0:
                b = b1 if j == correct else b0
                for _ in range(n_backward):
                    state, u = next_uniform53(state)
                    if u < b:
                        back[j] += 1
                total += back[j]
        best = -1.0
        tied = 0
        chosen = -1
        for j in range(A):
            if counts[j] == 0:
                continue
            if total > 0 and alpha < 1.0:
                score = counts[j] ** alpha * back[j] ** (1.0 - alpha)
            else:
                score = float(counts[j])
            if score > best:
                best = score
                tied = 1
                chosen = j
            elif score == best:
                tied += 1
                state, u = next_uniform53(state)
                if u * tied < 1.0:
                    chosen = j
        if chosen == correct:
            wins[i] = 1
    return wins.sum()


def _check_rate(name, value):
    value = float(value)
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{name}: must lie in [0, 1] (got {value!r})")
    return value


def majority_vote_wins(p: float, q: float, k: int, n: int, seed: int) -> int:
    """Trials (of ``n``) in which majority vote over ``k`` samples returns the correct answer."""
    p, q = _check_rate("p", p), _check_rate("q", q)
    if p + q > 1.0 + 1e-12:
        raise ValueError("q: p + q must be at most one")
    k = check_int("k", k, low=1)
    n = check_int("n", n, low=1)
    return int(_mv_kernel(p, q, k, n, check_int("seed", seed, low=0)))


def best_of_k_wins(p: float, score_correct, score_wrong, k: int, n: int, seed: int) -> int:
    """Trials (of ``n``) in which best-of-k under the reward model returns a correct sample."""
    p = _check_rate("p", p)
    r1 = check_probability_vector("score_correct", score_correct)
    r0 = check_probability_vector("score_wrong", score_wrong)
    k = check_int("k", k, low=1)
    n = check_int("n", n, low=1)
    return int(_bok_kernel(p, np.cumsum(r1), np.cumsum(r0), k, n,
                           check_int("seed", seed, low=0)))


def fobar_wins(answers, n_forward: int, n_backward: int, b1: float, b0: float,
               alpha: float, n: int, seed: int) -> int:
    """Trials (of ``n``) in which FOBAR (``alpha = 1``: self-consistency) returns answer 0.

    Parameters
    ----------
    answers : array_like, shape (A,)
        The forward answer law; answer 0 is the correct one.
    """
    law = check_probability_vector("answers", answers)
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha: must lie in [0, 1] (got {alpha!r})")
    return int(_fobar_kernel(np.cumsum(law), 0, check_int("n_forward", n_forward, low=1),
                             check_int("n_backward", n_backward, low=1),
                             _check_rate("b1", b1), _check_rate("b0", b0), float(alpha),
                             check_int("n", n, low=1), check_int("seed", seed, low=0)))
