"""Masked diffusion samplers driven by the exact denoiser, with exact output laws.

"Masked Diffusion Models are Secretly Time-Agnostic Masked Models and Exploit
Inaccurate Categorical Sampling" (Zheng et al., 2024). Data: a joint law ``joint`` over
sequences of length L on a vocabulary of V tokens (an array of shape ``(V,) * L``). A
partial sequence has some positions masked (written ``MASK = -1``). The exact denoiser
gives each masked position the conditional law of its token given the unmasked ones,

.. math:: \\mu_i(v \\mid x_U) = P(X_i = v \\mid X_U = x_U),

and an MDM unmasks tokens independently from these per-position conditionals.

* **The original (step) sampler** on a grid with unmasked fractions
  :math:`0 = \\alpha_0 < \\alpha_1 < \\dots < \\alpha_N = 1`: at step n each masked position
  is unmasked with probability :math:`(\\alpha_{n+1} - \\alpha_n)/(1 - \\alpha_n)`, its
  token drawn from :math:`\\mu_i` given the tokens unmasked *before* the step. Tokens
  unmasked in the same step are drawn independently, so the output law is not the data
  law; the error vanishes as the steps get finer.
* **The first-hitting sampler (FHS)** (Zheng et al., Section 4): draw the time at which
  the next token is unmasked (:math:`1-\\alpha_\\tau = (1-\\alpha_t)\\, u^{1/m}` with m
  masked tokens), pick a masked position uniformly, draw its token from
  :math:`\\mu_i`. One token at a time, the continuous-time process in the limit of
  infinitely fine steps: its output law is the data law exactly, whatever the schedule
  (which only sets the times, never the tokens).

Both laws are computed here by dynamic programming over partial sequences
(:math:`(V+1)^L` states), exactly in float64.
"""

from __future__ import annotations

import itertools

import numpy as np

from toytheory._validation import as_float_array, check_int

__all__ = ["MASK", "STATE_LIMIT", "check_joint", "conditional_marginals",
           "step_sampler_law", "first_hitting_sampler_law", "linear_schedule",
           "markov_chain_joint"]

MASK = -1
STATE_LIMIT = 20_000
"""The most partial sequences ((V+1)**L) the exact laws walk through."""


def check_joint(joint) -> np.ndarray:
    """A joint law over sequences: shape ``(V,) * L``, non-negative, summing to one."""
    p = as_float_array("joint", joint)
    if p.ndim < 1 or len(set(p.shape)) != 1 or p.shape[0] < 2:
        raise ValueError(f"joint: must have shape (V,) * L with V >= 2 (got {p.shape})")
    if np.any(p < 0):
        raise ValueError("joint: must be non-negative")
    if abs(p.sum() - 1.0) > 1e-9:
        raise ValueError(f"joint: must sum to one (got {p.sum()!r})")
    V, L = p.shape[0], p.ndim
    if (V + 1) ** L > STATE_LIMIT:
        raise ValueError(f"joint: (V+1)**L = {(V + 1) ** L} partial sequences exceed the "
                         f"limit {STATE_LIMIT}; use the simulator in sims/ instead")
    return p


def markov_chain_joint(initial, transition, length: int) -> np.ndarray:
    """The joint law of an order-1 Markov chain: ``p(x) = initial[x0] prod P[x_i, x_i+1]``.

    Parameters
    ----------
    initial : array_like, shape (V,)
    transition : array_like, shape (V, V), rows summing to one
    length : int, >= 1

    Returns
    -------
    ndarray, shape ``(V,) * length``
    """
    from toytheory._validation import check_probability_vector

    init = check_probability_vector("initial", initial)
    P = as_float_array("transition", transition, ndim=2)
    V = init.size
    if P.shape != (V, V):
        raise ValueError(f"transition: must have shape ({V}, {V}) (got {P.shape})")
    if np.any(P < 0) or np.any(np.abs(P.sum(axis=1) - 1.0) > 1e-9):
        raise ValueError("transition: rows must be non-negative and sum to one")
    length = check_int("length", length, low=1)
    joint = init
    for _ in range(length - 1):
        joint = joint[..., None] * P.reshape((1,) * (joint.ndim - 1) + (V, V))
    return joint


def linear_schedule(steps: int) -> np.ndarray:
    """Unmasked fractions ``alpha_n = n / steps``, n = 0..steps (the linear schedule)."""
    steps = check_int("steps", steps, low=1)
    return np.arange(steps + 1) / steps


def conditional_marginals(joint, partial) -> np.ndarray:
    """The exact denoiser: per-position conditional laws given the unmasked tokens.

    Parameters
    ----------
    joint : array_like, shape ``(V,) * L``
    partial : sequence of int, length L
        A token in ``0..V-1``, or ``MASK`` (-1) where masked.

    Returns
    -------
    ndarray, shape (L, V)
        Row i: :math:`P(X_i = \\cdot \\mid X_U = x_U)` (one-hot at unmasked positions).

    Raises
    ------
    ValueError
        When the unmasked tokens have probability zero under ``joint``.
    """
    p = check_joint(joint)
    V, L = p.shape[0], p.ndim
    partial = tuple(int(v) for v in partial)
    if len(partial) != L or any(v < MASK or v >= V for v in partial):
        raise ValueError(f"partial: must be {L} tokens in 0..{V - 1} or MASK (got {partial})")
    return _marginals(p, partial)


def _marginals(p: np.ndarray, partial: tuple) -> np.ndarray:
    V, L = p.shape[0], p.ndim
    index = tuple(slice(None) if v == MASK else v for v in partial)
    sub = p[index]
    total = sub.sum()
    if total <= 0:
        raise ValueError(f"partial: the unmasked tokens of {partial} have probability 0")
    out = np.zeros((L, V))
    masked = [i for i, v in enumerate(partial) if v == MASK]
    for axis, i in enumerate(masked):
        others = tuple(a for a in range(len(masked)) if a != axis)
        out[i] = sub.sum(axis=others) / total
    for i, v in enumerate(partial):
        if v != MASK:
            out[i, v] = 1.0
    return out


def _check_schedule(alphas) -> np.ndarray:
    a = as_float_array("alphas", alphas, ndim=1)
    if a.size < 2 or a[0] != 0.0 or a[-1] != 1.0 or np.any(np.diff(a) <= 0):
        raise ValueError("alphas: must increase strictly from 0 to 1 (unmasked fractions "
                         "on the sampling grid)")
    return a


def _unmask(states: dict, state: tuple, positions, tokens, weight: float) -> None:
    """Add ``weight`` to the partial sequence ``state`` with ``tokens`` put at ``positions``."""
    if weight == 0.0:
        return
    new = list(state)
    for i, v in zip(positions, tokens):
        new[i] = v
    key = tuple(new)
    states[key] = states.get(key, 0.0) + weight


def _law(states: dict, shape) -> np.ndarray:
    """The law over complete sequences held by ``states`` (partial sequence -> mass)."""
    law = np.zeros(shape)
    for state, weight in states.items():
        law[state] += weight
    return law


def step_sampler_law(joint, alphas) -> np.ndarray:
    """The exact output law of the original MDM sampler on the grid ``alphas``.

    Parameters
    ----------
    joint : array_like, shape ``(V,) * L``
    alphas : array_like, shape (N + 1,)
        Unmasked fractions, strictly increasing from 0 to 1.

    Returns
    -------
    ndarray, shape ``(V,) * L``
    """
    p = check_joint(joint)
    a = _check_schedule(alphas)
    V, L = p.shape[0], p.ndim
    states = {(MASK,) * L: 1.0}
    for n in range(a.size - 1):
        r = (a[n + 1] - a[n]) / (1.0 - a[n])
        nxt: dict[tuple, float] = {}
        for state, weight in states.items():
            masked = [i for i, v in enumerate(state) if v == MASK]
            if not masked:
                nxt[state] = nxt.get(state, 0.0) + weight
                continue
            mu = _marginals(p, state)
            for size in range(len(masked) + 1):
                w_size = weight * r ** size * (1.0 - r) ** (len(masked) - size)
                if w_size == 0.0:
                    continue
                for chosen in itertools.combinations(masked, size):
                    for tokens in itertools.product(range(V), repeat=size):
                        w = w_size * float(np.prod([mu[i, v] for i, v in zip(chosen, tokens)]))
                        _unmask(nxt, state, chosen, tokens, w)
        states = nxt
    return _law(states, p.shape)


def first_hitting_sampler_law(joint) -> np.ndarray:
    """The exact output law of the first-hitting sampler with the exact denoiser.

    The schedule sets only when tokens are unmasked, never which or to what, so the law
    does not depend on it: a uniformly chosen masked position is unmasked at each event,
    its token drawn from the exact conditional.

    Returns
    -------
    ndarray, shape ``(V,) * L``
    """
    p = check_joint(joint)
    V, L = p.shape[0], p.ndim
    states = {(MASK,) * L: 1.0}
    for _ in range(L):
        nxt: dict[tuple, float] = {}
        for state, weight in states.items():
            masked = [i for i, v in enumerate(state) if v == MASK]
            mu = _marginals(p, state)
            for i in masked:
                for v in range(V):
                    _unmask(nxt, state, (i,), (v,), weight * mu[i, v] / len(masked))
        states = nxt
    return _law(states, p.shape)
