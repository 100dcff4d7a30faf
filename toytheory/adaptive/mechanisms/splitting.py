"""Sample splitting: each query gets its own fresh part of the sample."""

from __future__ import annotations

from ..._validation import check_int
from ..queries import empirical_answer
from ._data import check_sample
from .base import Mechanism

__all__ = ["SampleSplittingMechanism"]


class SampleSplittingMechanism(Mechanism):
    """Answer query ``i`` with its mean on the ``i``-th of ``m`` disjoint parts.

    The sample is cut into ``m`` contiguous parts of :math:`\\lfloor n/m
    \\rfloor` points (the last ``n mod m`` points are unused). Query ``i`` is
    evaluated on part ``i`` only, which the analyst's choice of query cannot
    depend on, so every answer is a fresh, non-adaptive estimate: with
    probability :math:`1-\\beta` all ``m`` answers are within
    :func:`toytheory.adaptive.bounds.sample_splitting_width`. After ``m``
    queries the mechanism answers :data:`EXHAUSTED`.

    Parameters
    ----------
    data : array, shape (n, ...)
    m : int
        The number of queries (parts); ``n >= m`` is required.
    """

    name = "sample splitting"

    def __init__(self, data, m: int):
        super().__init__()
        self.data = check_sample("data", data)
        self.m = check_int("m", m, low=1)
        n = len(self.data)
        if n < self.m:
            raise ValueError(f"m: the sample of n = {n} points is too small to split into "
                             f"m = {self.m} parts (need n >= m)")
        self.part_size = n // self.m

    def _can_answer(self) -> bool:
        return self.queries_answered < self.m

    def part(self, i: int):
        """The rows that answer query ``i`` (0-based)."""
        i = check_int("i", i, low=0, high=self.m - 1)
        return self.data[i * self.part_size:(i + 1) * self.part_size]

    def _answer(self, query) -> float:
        return empirical_answer(query, self.part(self.queries_answered))
