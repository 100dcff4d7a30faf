"""The Laplace mechanism for statistical queries, with an epsilon budget."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np

from ..._random import as_generator
from ..._validation import check_int, check_real
from ..queries import empirical_answer
from ._data import check_sample
from .base import Mechanism

__all__ = ["LaplaceMechanism", "laplace_release"]


def laplace_release(value, epsilon: float, sensitivity: float, rng=None, size=None):
    """:math:`v + \\mathrm{Lap}(\\Delta/\\varepsilon)`: the Laplace mechanism's output.

    Parameters
    ----------
    value : float
        The true statistic.
    epsilon : float
        Privacy parameter (> 0).
    sensitivity : float
        :math:`\\Delta` (> 0).
    rng : Generator, int or None
    size : int, optional
        Draw this many independent releases (shape ``(size,)``).

    Returns
    -------
    float or (size,) array
    """
    value = check_real("value", value)
    epsilon = check_real("epsilon", epsilon, low=0.0, low_open=True)
    sensitivity = check_real("sensitivity", sensitivity, low=0.0, low_open=True)
    gen = as_generator(rng)
    scale = sensitivity / epsilon
    if size is None:
        return value + scale * gen.laplace(0.0, 1.0)
    size = check_int("size", size, low=1)
    return value + scale * gen.laplace(0.0, 1.0, size=size)


class LaplaceMechanism(Mechanism):
    """:math:`a_i = \\mathbb{E}_S\\phi_i + \\mathrm{Lap}(1/(n\\varepsilon))`.

    Each answer is :math:`\\varepsilon`-DP (the mean of an ``[0, 1]`` query
    has sensitivity :math:`1/n` under replacement of one point); ``k``
    answers are :math:`k\\varepsilon`-DP by basic composition, which the
    accountant records exactly. With ``total_epsilon`` set, the mechanism
    answers :data:`EXHAUSTED` once another answer would exceed it.

    Parameters
    ----------
    data : array, shape (n, ...)
    epsilon : float
        Per-query epsilon (> 0).
    total_epsilon : float, optional
        The budget (> 0).
    rng : Generator, int or None
    """

    name = "Laplace"
    private = True

    def __init__(self, data, epsilon: float, total_epsilon: float | None = None, rng=None):
        super().__init__()
        self.data = check_sample("data", data)
        self.epsilon = check_real("epsilon", epsilon, low=0.0, low_open=True)
        self.total_epsilon = (None if total_epsilon is None else
                              check_real("total_epsilon", total_epsilon, low=0.0,
                                         low_open=True))
        self.n = len(self.data)
        self.scale = 1.0 / (self.n * self.epsilon)
        self.rng = as_generator(rng)

    @classmethod
    def for_budget(cls, data, total_epsilon: float, m: int, rng=None) -> "LaplaceMechanism":
        """A mechanism that answers exactly ``m`` queries within ``total_epsilon``.

        The per-query epsilon is ``total_epsilon / m``, rounded down to the
        nearest float for which ``m`` spends fit the budget exactly.
        """
        total = check_real("total_epsilon", total_epsilon, low=0.0, low_open=True)
        m = check_int("m", m, low=1)
        eps = total / m
        while m * Fraction(eps) > Fraction(total):
            eps = math.nextafter(eps, 0.0)
        return cls(data, eps, total, rng)

    def _can_answer(self) -> bool:
        if self.total_epsilon is None:
            return True
        return self.accountant.epsilon + Fraction(self.epsilon) <= Fraction(self.total_epsilon)

    def _answer(self, query) -> float:
        value = empirical_answer(query, self.data)
        self.accountant.spend_pure(self.epsilon)
        return float(laplace_release(value, self.epsilon, 1.0 / self.n, self.rng))

    def noise(self, size: int) -> np.ndarray:
        """``size`` draws of this mechanism's noise (for audits; spends nothing)."""
        return laplace_release(0.0, self.epsilon, 1.0 / self.n, self.rng, size=size)
