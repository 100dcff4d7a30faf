"""Simulation of adaptive querying on noisy thresholds, from the process.

:func:`identification_errors` plays a count-state policy (the toolkit's tables of queries
and decisions) ``runs`` times against one problem: it draws each answer as ``1[x >= t]``
flipped with the problem's probability, written here from the definition, keeps the
counts, looks the next query up, and at the budget compares the named threshold with
``t``. Nothing here uses the exact forward recursion of
:mod:`toytheory.rl.active_learning`.
"""

from __future__ import annotations

import numpy as np

from toytheory._validation import check_int, check_probability_vector

__all__ = ["identification_errors"]


def _play(policy, threshold: int, flips: np.ndarray, runs: int,
          rng: np.random.Generator) -> np.ndarray:
    pr = policy.problem
    m, B = pr.n_points, pr.budget
    powers = (B + 1) ** np.arange(2 * m, dtype=np.int64)
    keys = np.zeros(runs, dtype=np.int64)
    counts = np.zeros((runs, 2 * m), dtype=np.int64)
    for n in range(B):
        level = np.sort(np.asarray(counts_keys(m, B, n, powers)))
        x = np.asarray(policy.actions[n])[np.searchsorted(level, keys)]
        truth = (x >= threshold).astype(np.int64)
        flip = rng.random(runs) < flips[x]
        y = np.where(flip, 1 - truth, truth)
        counts[np.arange(runs), 2 * x + y] += 1
        keys = counts @ powers
    level = np.sort(np.asarray(counts_keys(m, B, B, powers)))
    named = np.asarray(policy.decisions)[np.searchsorted(level, keys)]
    return named != threshold


def counts_keys(m: int, budget: int, n: int, powers: np.ndarray) -> list[int]:
    """Keys ``sum_i c_i (B + 1)^i`` of every count vector of 2m parts summing to n."""
    out = []

    def rec(i, left, key):
        if i == 2 * m - 1:
            out.append(key + left * int(powers[i]))
            return
        for c in range(left + 1):
            rec(i + 1, left - c, key + c * int(powers[i]))

    rec(0, n, 0)
    return out


def identification_errors(policies, mixture, problem_index: int, runs: int,
                          rng: np.random.Generator) -> int:
    """Number of ``runs`` plays of the randomised policy (``policies[i]`` with probability
    ``mixture[i]``) that name the wrong threshold on problem ``problem_index``."""
    q = check_probability_vector("mixture", mixture)
    runs = check_int("runs", runs, low=1)
    pr = policies[0].problem
    j = check_int("problem_index", problem_index, low=0, high=pr.n_problems - 1)
    threshold = j % pr.n_thresholds
    flips = pr.noise_profiles()[j // pr.n_thresholds]
    which = rng.choice(len(policies), size=runs, p=q)
    wrong = 0
    for i, policy in enumerate(policies):
        k = int(np.sum(which == i))
        if k:
            wrong += int(_play(policy, threshold, flips, k, rng).sum())
    return wrong
