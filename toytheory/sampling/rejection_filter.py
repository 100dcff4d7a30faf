"""Back-translation checked by forward modelling and rejection, exactly, on tiny knapsacks.

Source paper: "OptMATH: A Scalable Bidirectional Data Synthesis Framework for Optimization
Modeling" (the forward-modelling rejection step that verifies NL against PD).

The toy. A problem (PD) is a 0/1 knapsack with ``n`` items, integer values and weights in
``1..L`` and a fixed capacity; its optimal value is found by enumerating the ``2^n`` subsets.
Back-translation to natural language is a noisy channel: each of the ``2n`` coefficients is
independently replaced, with probability ``p_back``, by a uniformly chosen *other* value
(the NL then describes another problem). Forward modelling reads the NL and writes a
formulation through the same kind of channel with probability ``p_forward``. The pair is
accepted when the forward formulation's optimal value equals the PD's (rejection on the
optimum). A pair is *faithful* when the NL describes exactly the PD.

Because the channels act coefficient-wise, the law of the forward formulation given the PD
is a product of ``L x L`` channel matrices (a Kronecker product, applied axis by axis), and
every quantity is an exact finite sum over
the ``L^{2n}`` formulations (:func:`filter_rates`):

- recall ``P(accept | faithful) = sum_F P_f(F | PD) 1[opt F = opt PD]``,
- ``P(accept) = sum_F P_{bf}(F | PD) 1[opt F = opt PD]`` (composed channel),
- precision ``P(faithful | accept) = P(faithful) recall / P(accept)``,
  with ``P(faithful) = (1 - p_back)^{2n}``.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from .._validation import check_int, check_real

__all__ = ["KnapsackToy", "FilterRates", "optimal_values", "channel_matrix", "filter_rates",
           "simulate_filter"]


@dataclass(frozen=True)
class KnapsackToy:
    """``n_items`` items, coefficients in ``1..levels``, capacity ``capacity``."""

    n_items: int = 3
    levels: int = 4
    capacity: int = 5

    def __post_init__(self):
        check_int("n_items", self.n_items, low=1, high=4)
        check_int("levels", self.levels, low=2, high=5)
        check_int("capacity", self.capacity, low=1)

    @property
    def n_coefficients(self) -> int:
        return 2 * self.n_items


@lru_cache(maxsize=8)
def optimal_values(toy: KnapsackToy) -> np.ndarray:
    """The optimal value of every problem, indexed by its coefficients (values then weights,
    each ``0..levels-1`` standing for ``1..levels``) in row-major order: shape
    ``(levels ** (2 n),)``."""
    if not isinstance(toy, KnapsackToy):
        raise ValueError("toy: must be a KnapsackToy")
    n, L = toy.n_items, toy.levels
    coeffs = np.array(list(itertools.product(range(1, L + 1), repeat=2 * n)), dtype=np.int64)
    values, weights = coeffs[:, :n], coeffs[:, n:]
    subsets = np.array(list(itertools.product((0, 1), repeat=n)), dtype=np.int64)  # (2^n, n)
    total_v = values @ subsets.T
    total_w = weights @ subsets.T
    return np.max(np.where(total_w <= toy.capacity, total_v, 0), axis=1)


def channel_matrix(levels: int, p: float) -> np.ndarray:
    """``M[a, b] = P(out = b | in = a)``: keep with ``1 - p``, else a uniform other level."""
    levels = check_int("levels", levels, low=2)
    p = check_real("p", p, low=0.0, high=1.0)
    return (1 - p) * np.eye(levels) + p * (1 - np.eye(levels)) / (levels - 1)


@dataclass(frozen=True)
class FilterRates:
    """Exact rates of the rejection filter, averaged over PDs drawn uniformly."""

    faithful: float        # P(NL describes the PD)
    accept: float          # P(accepted)
    recall: float          # P(accepted | faithful)
    false_accept: float    # P(accepted | not faithful)
    precision: float       # P(faithful | accepted)
    rejected_faithful: float   # P(faithful | rejected): faithful pairs the filter loses


def _accept_prob(toy: KnapsackToy, M: np.ndarray) -> np.ndarray:
    """``P(opt F = opt PD)`` for every PD, F drawn coefficient-wise through ``M``.

    For each optimal value v, the indicator ``1[opt F = v]`` (a tensor with one axis per
    coefficient) is pushed back through ``M`` along every axis, giving ``P(opt F = v | PD)``
    for all PDs at once.
    """
    opt = optimal_values(toy)
    L, d = toy.levels, toy.n_coefficients
    out = np.zeros(opt.size)
    for v in np.unique(opt):
        t = (opt == v).astype(np.float64).reshape((L,) * d)
        for axis in range(d):
            t = np.moveaxis(np.tensordot(M, t, axes=([1], [axis])), 0, axis)
        t = t.reshape(-1)
        out[opt == v] = t[opt == v]
    return out


def filter_rates(toy: KnapsackToy, p_back: float, p_forward: float) -> FilterRates:
    """Exact precision and recall of accept-if-optimal-values-match (PDs uniform)."""
    if not isinstance(toy, KnapsackToy):
        raise ValueError("toy: must be a KnapsackToy")
    pb = check_real("p_back", p_back, low=0.0, high=1.0)
    pf = check_real("p_forward", p_forward, low=0.0, high=1.0)
    if toy.levels ** toy.n_coefficients > 5_000:
        raise ValueError("toy: at most 5,000 problems (levels ** (2 n_items)) for exact sums")
    Mb, Mf = channel_matrix(toy.levels, pb), channel_matrix(toy.levels, pf)
    faithful = (1 - pb) ** toy.n_coefficients
    recall = float(np.mean(_accept_prob(toy, Mf)))
    accept = float(np.mean(_accept_prob(toy, Mb @ Mf)))
    both = faithful * recall
    false_accept = (accept - both) / (1 - faithful) if faithful < 1 else 0.0
    precision = both / accept if accept > 0 else float("nan")
    rejected_faithful = faithful * (1 - recall) / (1 - accept) if accept < 1 else float("nan")
    return FilterRates(faithful, accept, recall, false_accept, precision, rejected_faithful)


def simulate_filter(toy: KnapsackToy, p_back: float, p_forward: float, n: int,
                    rng: np.random.Generator) -> dict:
    """Run the pipeline ``n`` times from its definition (draw PD, corrupt to NL, corrupt to
    a formulation, solve both by enumeration): counts of faithful, accepted and both."""
    if not isinstance(toy, KnapsackToy):
        raise ValueError("toy: must be a KnapsackToy")
    pb = check_real("p_back", p_back, low=0.0, high=1.0)
    pf = check_real("p_forward", p_forward, low=0.0, high=1.0)
    n = check_int("n", n, low=1)
    L, d, items = toy.levels, toy.n_coefficients, toy.n_items

    def corrupt(x, p):
        hit = rng.random(x.shape) < p
        other = (x + rng.integers(1, L, size=x.shape)) % L            # a uniform other level
        return np.where(hit, other, x)

    def solve(x):
        v, w = x[:, :items] + 1, x[:, items:] + 1
        best = np.zeros(x.shape[0], dtype=np.int64)
        for subset in itertools.product((0, 1), repeat=items):
            s = np.array(subset)
            best = np.maximum(best, np.where(w @ s <= toy.capacity, v @ s, 0))
        return best

    pd = rng.integers(0, L, size=(n, d))
    nl = corrupt(pd, pb)
    form = corrupt(nl, pf)
    faithful = np.all(nl == pd, axis=1)
    accepted = solve(form) == solve(pd)
    return {"n": n, "faithful": int(faithful.sum()), "accepted": int(accepted.sum()),
            "both": int((faithful & accepted).sum())}
