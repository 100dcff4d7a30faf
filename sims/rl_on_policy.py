"""Simulation of on-policy and adaptive (ROS, PROPS-style) action sampling, from the process.

:func:`sampling_error_runs` runs ``runs`` independent data collections of ``steps``
actions on a single-state problem and returns each run's total-variation sampling error
after every step. The behaviour rules are written here from their definitions (ROS: the
softmax of ``log pi - alpha (N - t pi)``; PROPS-style: that behaviour with ``b / pi``
clipped to ``[1 - clip, 1 + clip]``, renormalised); nothing here uses the exact
expectations of :mod:`toytheory.rl.on_policy_sampling`.
"""

from __future__ import annotations

import numpy as np

from toytheory._validation import check_int, check_probability_vector

__all__ = ["behaviour_rule", "sampling_error_runs"]


def behaviour_rule(pi: np.ndarray, counts: np.ndarray, t: int, sampler: str,
                   step_size: float, clip: float) -> np.ndarray:
    """Each run's behaviour policy, shape (runs, K), given its counts after t actions."""
    if sampler == "on_policy":
        return np.broadcast_to(pi, counts.shape)
    logits = np.log(pi) - step_size * (counts - t * pi)
    b = np.exp(logits - logits.max(axis=1, keepdims=True))
    b /= b.sum(axis=1, keepdims=True)
    if sampler == "props":
        b = pi * np.clip(b / pi, 1.0 - clip, 1.0 + clip)
        b /= b.sum(axis=1, keepdims=True)
    return b


def sampling_error_runs(policy, steps: int, runs: int, rng: np.random.Generator, *,
                        sampler: str = "on_policy", step_size: float = 0.0,
                        clip: float = 0.2) -> np.ndarray:
    """TV(N_t / t, pi) for t = 1..steps in each of ``runs`` simulated collections.

    Returns
    -------
    ndarray, shape (runs, steps)
    """
    pi = check_probability_vector("policy", policy)
    steps = check_int("steps", steps, low=1)
    runs = check_int("runs", runs, low=1)
    if not isinstance(rng, np.random.Generator):
        raise ValueError("rng: must be a numpy.random.Generator")
    K = pi.size
    counts = np.zeros((runs, K))
    out = np.empty((runs, steps))
    for t in range(steps):
        b = behaviour_rule(pi, counts, t, sampler, step_size, clip)
        u = rng.random(runs)[:, None]
        action = np.minimum((u >= np.cumsum(b, axis=1)).sum(axis=1), K - 1)
        counts[np.arange(runs), action] += 1
        out[:, t] = 0.5 * np.abs(counts / (t + 1) - pi).sum(axis=1)
    return out
