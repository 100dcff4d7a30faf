"""Hypothesis strategies for the Bellman-completeness area.

- :func:`tabular_mdps`: random finite-horizon MDPs (Dirichlet transition rows,
  integer or half-integer rewards), with a start state;
- :func:`deterministic_mdps`: random deterministic MDPs with rational rewards;
- :func:`stochastic_policies` / :func:`deterministic_policies`: policy tables
  for a given MDP shape;
- :func:`relu_networks`: exact two-layer ReLU networks with small rational weights;
- :func:`grid_values`: rational values on an integer grid.

Every random object is built from a drawn seed through numpy (so shrinking
acts on the seed) or from small drawn integers (so shrinking simplifies it).
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np
from hypothesis import strategies as st

from .strategies import seeds

__all__ = ["tabular_mdps", "deterministic_mdps", "stochastic_policies",
           "deterministic_policies", "relu_networks", "grid_values", "rationals"]


@st.composite
def tabular_mdps(draw, max_states: int = 6, max_actions: int = 3, max_horizon: int = 6,
                 sparse: bool = False):
    """Random :class:`~toytheory.rl.mdp.TabularMDP` objects.

    Parameters
    ----------
    max_states, max_actions, max_horizon : int
    sparse : bool
        If True, some transition probabilities are exactly zero.
    """
    from toytheory.rl.mdp import TabularMDP

    S = draw(st.integers(1, max_states))
    A = draw(st.integers(1, max_actions))
    H = draw(st.integers(1, max_horizon))
    rng = np.random.default_rng(draw(seeds()))
    P = rng.dirichlet(np.ones(S), size=(S, A))
    if sparse:
        P = np.where(rng.random(P.shape) < 0.4, 0.0, P)
        P[..., 0] += (P.sum(axis=2) == 0)
        P /= P.sum(axis=2, keepdims=True)
    r = rng.integers(-4, 5, size=(S, A)) / 2.0
    start = draw(st.integers(0, S - 1))
    return TabularMDP(P, r, H, start)


def rationals(max_numerator: int = 8, max_denominator: int = 4) -> st.SearchStrategy[Fraction]:
    """Small rationals ``p / q``."""
    return st.builds(Fraction, st.integers(-max_numerator, max_numerator),
                     st.integers(1, max_denominator))


@st.composite
def deterministic_mdps(draw, max_states: int = 6, max_actions: int = 3, max_horizon: int = 6):
    """Random :class:`~toytheory.rl.exact.DeterministicMDP` objects with rational rewards."""
    from toytheory.rl.exact import DeterministicMDP

    S = draw(st.integers(1, max_states))
    A = draw(st.integers(1, max_actions))
    H = draw(st.integers(1, max_horizon))
    nxt = draw(st.lists(st.integers(0, S - 1), min_size=S * A, max_size=S * A))
    r = draw(st.lists(rationals(), min_size=S * A, max_size=S * A))
    rewards = np.empty((S, A), dtype=object)
    for i, x in enumerate(r):
        rewards[i // A, i % A] = x
    return DeterministicMDP(np.array(nxt, dtype=np.int64).reshape(S, A), rewards, H,
                            draw(st.integers(0, S - 1)))


@st.composite
def stochastic_policies(draw, H: int, S: int, A: int, time_dependent: bool = True):
    """Action-probability tables of shape ``(H, S, A)`` (or ``(S, A)``)."""
    rng = np.random.default_rng(draw(seeds()))
    shape = (H, S) if time_dependent else (S,)
    return rng.dirichlet(np.ones(A), size=shape)


@st.composite
def deterministic_policies(draw, H: int, S: int, A: int, time_dependent: bool = True):
    """Integer action tables of shape ``(H, S)`` (or ``(S,)``)."""
    shape = (H, S) if time_dependent else (S,)
    size = int(np.prod(shape))
    flat = draw(st.lists(st.integers(0, A - 1), min_size=size, max_size=size))
    return np.array(flat, dtype=np.int64).reshape(shape)


@st.composite
def relu_networks(draw, max_width: int = 5):
    """Exact :class:`~toytheory.rl.piecewise.TwoLayerReLU` networks with small rational weights."""
    from toytheory.rl.piecewise import TwoLayerReLU

    w = draw(st.integers(0, max_width))
    weights = st.lists(rationals(), min_size=w, max_size=w)
    return TwoLayerReLU(tuple(draw(weights)), tuple(draw(weights)), tuple(draw(weights)),
                        draw(rationals()))


def grid_values(min_size: int = 2, max_size: int = 14) -> st.SearchStrategy[list]:
    """Rational values at ``x = 0, 1, ..., n``."""
    return st.lists(rationals(6, 2), min_size=min_size, max_size=max_size)
