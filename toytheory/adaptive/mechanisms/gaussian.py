"""The Gaussian mechanism for statistical queries, calibrated to zCDP."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np

from ..._random import as_generator
from ..._validation import check_int, check_real
from ..queries import empirical_answer
from ._data import check_sample
from .base import Mechanism

__all__ = ["GaussianMechanism", "gaussian_release"]


def gaussian_release(value, sigma: float, rng=None, size=None):
    """:math:`v + N(0, \\sigma^2)`: the Gaussian mechanism's output.

    Parameters
    ----------
    value : float
    sigma : float
        > 0.
    rng : Generator, int or None
    size : int, optional
        Draw this many independent releases.
    """
    value = check_real("value", value)
    sigma = check_real("sigma", sigma, low=0.0, low_open=True)
    gen = as_generator(rng)
    if size is None:
        return value + sigma * gen.standard_normal()
    size = check_int("size", size, low=1)
    return value + sigma * gen.standard_normal(size)


def _rho_exact(sigma: float, n: int) -> Fraction:
    s = Fraction(sigma)
    return Fraction(1, n * n) / (2 * s * s)


class GaussianMechanism(Mechanism):
    """:math:`a_i = \\mathbb{E}_S\\phi_i + N(0, \\sigma^2)`, :math:`\\rho = 1/(2n^2\\sigma^2)`-zCDP per query.

    Bun and Steinke (2016), Proposition 1.6, with sensitivity :math:`1/n`;
    zCDP composes additively, so ``k`` answers cost :math:`k\\rho` (recorded
    exactly by the accountant). Bassily et al. ("Algorithmic Stability for
    Adaptive Data Analysis") show this mechanism answers ``m`` adaptive
    queries to accuracy :math:`\\tilde O(m^{1/4}/\\sqrt n)`; see
    :func:`toytheory.adaptive.bounds.gaussian_transfer_bound` for the
    concrete bound (Jung et al.'s transfer theorem).

    Parameters
    ----------
    data : array, shape (n, ...)
    sigma : float
        Noise standard deviation (> 0).
    rho_budget : float, optional
        Total zCDP budget (> 0); :data:`EXHAUSTED` once another answer would
        exceed it.
    rng : Generator, int or None
    """

    name = "Gaussian"
    private = True

    def __init__(self, data, sigma: float, rho_budget: float | None = None, rng=None):
        super().__init__()
        self.data = check_sample("data", data)
        self.sigma = check_real("sigma", sigma, low=0.0, low_open=True)
        self.rho_budget = (None if rho_budget is None else
                           check_real("rho_budget", rho_budget, low=0.0, low_open=True))
        self.n = len(self.data)
        self._rho = _rho_exact(self.sigma, self.n)
        self.rng = as_generator(rng)

    @property
    def rho_per_query(self) -> float:
        """:math:`1/(2 n^2 \\sigma^2)`."""
        return float(self._rho)

    @classmethod
    def for_budget(cls, data, rho_budget: float, m: int, rng=None) -> "GaussianMechanism":
        """The mechanism with the smallest sigma whose ``m`` answers fit ``rho_budget``.

        :math:`\\sigma = \\sqrt{m / (2 n^2 \\rho)}`, nudged up to the nearest
        float for which ``m`` exact spends fit the budget.
        """
        data = check_sample("data", data)
        rho = check_real("rho_budget", rho_budget, low=0.0, low_open=True)
        m = check_int("m", m, low=1)
        n = len(data)
        sigma = math.sqrt(m / (2.0 * n * n * rho))
        while m * _rho_exact(sigma, n) > Fraction(rho):
            sigma = math.nextafter(sigma, math.inf)
        return cls(data, sigma, rho, rng)

    def _can_answer(self) -> bool:
        if self.rho_budget is None:
            return True
        return self.accountant.rho + self._rho <= Fraction(self.rho_budget)

    def _answer(self, query) -> float:
        value = empirical_answer(query, self.data)
        self.accountant.spend_zcdp(self._rho)
        return float(gaussian_release(value, self.sigma, self.rng))

    def noise(self, size: int) -> np.ndarray:
        """``size`` draws of this mechanism's noise (for audits; spends nothing)."""
        return gaussian_release(0.0, self.sigma, self.rng, size=size)
