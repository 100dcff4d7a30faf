"""Sampling error of on-policy and adaptive (ROS, PROPS-style) data collection, exactly.

"On-Policy Policy Gradient Reinforcement Learning Without On-Policy Sampling" (Corrado and
Hanna): after n actions the *sampling error* is the distance between the empirical action
distribution :math:`\\hat\\pi_n = N/n` and the policy :math:`\\pi`. On a single-state
problem (a bandit) with K actions:

* **on-policy sampling** draws each action i.i.d. from :math:`\\pi`;
* **robust on-policy sampling** (ROS; Zhong et al., NeurIPS 2022) draws the next action
  from a behaviour policy moved against the gradient of the data's log-likelihood. For a
  softmax policy with logits :math:`\\theta` that gradient is :math:`N - t\\pi`, so
  :math:`b_t = \\mathrm{softmax}(\\theta - \\alpha (N_t - t \\pi))`: actions sampled less
  than their share become likelier;
* **PROPS-style** sampling (Corrado and Hanna's proximal version) keeps the behaviour
  policy near the current one: here, the ROS step with the ratio :math:`b_t/\\pi` clipped
  to :math:`[1-\\epsilon, 1+\\epsilon]` and renormalised. PROPS itself takes several
  gradient steps of a clipped surrogate with a KL penalty; at its first step the gradient
  is ROS's, and the clip bounds how far it moves, which is what is modelled.

Every expectation here is exact: a dynamic programme over the count vectors
:math:`N_t` (:math:`\\binom{t+K-1}{K-1}` of them at step t).
"""

from __future__ import annotations

import numpy as np

from toytheory._validation import check_int, check_probability_vector, check_real

__all__ = ["STATE_LIMIT", "ros_behaviour", "props_behaviour", "expected_sampling_error",
           "sampling_error"]

STATE_LIMIT = 2_000_000
"""The most (step, count vector) pairs :func:`expected_sampling_error` walks through."""


def _policy(policy) -> np.ndarray:
    pi = check_probability_vector("policy", policy)
    if np.any(pi <= 0):
        raise ValueError("policy: must give every action a positive probability")
    return pi


def ros_behaviour(policy, counts, step_size: float) -> np.ndarray:
    """ROS's behaviour policy :math:`\\mathrm{softmax}(\\log\\pi - \\alpha (N - t\\pi))`.

    Parameters
    ----------
    policy : array_like, shape (K,)
        The current policy :math:`\\pi` (all entries > 0).
    counts : array_like of int, shape (K,)
        Actions taken so far, :math:`N_t` (t = its sum).
    step_size : float, >= 0
        :math:`\\alpha` (0 gives on-policy sampling).
    """
    pi = _policy(policy)
    n = np.asarray(counts)
    if n.shape != pi.shape or np.any(n < 0) or not np.issubdtype(n.dtype, np.integer):
        raise ValueError(f"counts: must be {pi.size} non-negative integers")
    alpha = check_real("step_size", step_size, low=0.0)
    logits = np.log(pi) - alpha * (n - n.sum() * pi)
    w = np.exp(logits - logits.max())
    return w / w.sum()


def props_behaviour(policy, counts, step_size: float, clip: float) -> np.ndarray:
    """The ROS step with the ratio :math:`b/\\pi` clipped to :math:`[1-\\epsilon, 1+\\epsilon]`.

    Parameters
    ----------
    clip : float, in (0, 1)
        :math:`\\epsilon`, PROPS's clipping parameter.
    """
    pi = _policy(policy)
    eps = check_real("clip", clip, low=0.0, high=1.0, low_open=True, high_open=True)
    ratio = np.clip(ros_behaviour(pi, counts, step_size) / pi, 1.0 - eps, 1.0 + eps)
    b = pi * ratio
    return b / b.sum()


def sampling_error(counts, policy, metric: str = "tv") -> float:
    """The distance between the empirical action law :math:`N/n` and the policy.

    ``metric``: ``"tv"`` (total variation) or ``"kl"`` (:math:`\\mathrm{KL}(N/n \\| \\pi)`).
    """
    pi = _policy(policy)
    n = np.asarray(counts, dtype=float)
    if n.shape != pi.shape or np.any(n < 0) or n.sum() <= 0:
        raise ValueError(f"counts: must be {pi.size} non-negative counts with a positive sum")
    emp = n / n.sum()
    if metric == "tv":
        return 0.5 * float(np.abs(emp - pi).sum())
    if metric == "kl":
        nz = emp > 0
        return float(np.sum(emp[nz] * np.log(emp[nz] / pi[nz])))
    raise ValueError(f"metric: must be 'tv' or 'kl' (got {metric!r})")


def expected_sampling_error(policy, steps: int, *, sampler: str = "on_policy",
                            step_size: float = 0.0, clip: float = 0.2,
                            metric: str = "tv") -> np.ndarray:
    """:math:`\\mathbb E\\, d(\\hat\\pi_t, \\pi)` for t = 1..steps, exactly.

    Parameters
    ----------
    policy : array_like, shape (K,)
    steps : int, >= 1
    sampler : {"on_policy", "ros", "props"}
    step_size, clip : float
        ROS's :math:`\\alpha`, PROPS's :math:`\\epsilon`.
    metric : {"tv", "kl"}

    Returns
    -------
    ndarray, shape (steps,)
        Entry t-1 is the expected error after t actions.
    """
    pi = _policy(policy)
    steps = check_int("steps", steps, low=1)
    step_size = check_real("step_size", step_size, low=0.0)
    clip = check_real("clip", clip, low=0.0, high=1.0, low_open=True, high_open=True)
    if sampler not in ("on_policy", "ros", "props"):
        raise ValueError(f"sampler: must be 'on_policy', 'ros' or 'props' (got {sampler!r})")
    if metric not in ("tv", "kl"):
        raise ValueError(f"metric: must be 'tv' or 'kl' (got {metric!r})")
    K = pi.size
    from math import comb

    if sum(comb(t + K - 1, K - 1) for t in range(steps + 1)) > STATE_LIMIT:
        raise ValueError(f"steps: {steps} steps with {K} actions exceed {STATE_LIMIT} "
                         "count vectors; simulate instead")
    base = steps + 1
    powers = base ** np.arange(K)[::-1]
    counts = np.zeros((1, K), dtype=np.int64)
    weight = np.ones(1)
    out = np.empty(steps)
    log_pi = np.log(pi)
    for t in range(steps):
        if sampler == "on_policy":
            b = np.broadcast_to(pi, counts.shape)
        else:
            logits = log_pi - step_size * (counts - t * pi)
            b = np.exp(logits - logits.max(axis=1, keepdims=True))
            b /= b.sum(axis=1, keepdims=True)
            if sampler == "props":
                b = pi * np.clip(b / pi, 1.0 - clip, 1.0 + clip)
                b /= b.sum(axis=1, keepdims=True)
        children = (counts[:, None, :] + np.eye(K, dtype=np.int64)[None]).reshape(-1, K)
        mass = (weight[:, None] * b).ravel()
        codes, inverse = np.unique(children @ powers, return_inverse=True)
        weight = np.bincount(inverse.ravel(), weights=mass, minlength=codes.size)
        counts = (codes[:, None] // powers[None, :]) % base
        emp = counts / (t + 1.0)
        if metric == "tv":
            err = 0.5 * np.abs(emp - pi).sum(axis=1)
        else:
            with np.errstate(divide="ignore", invalid="ignore"):
                err = np.where(emp > 0, emp * np.log(emp / pi), 0.0).sum(axis=1)
        out[t] = float(weight @ err)
    return out
