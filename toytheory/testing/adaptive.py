"""Hypothesis strategies for adaptive data analysis: queries, query sequences, populations.

Objects are built from drawn integer seeds through numpy (so shrinking acts
on seeds and sizes and every object is well formed).
"""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

from .strategies import probability_vectors, seeds

__all__ = ["query_tables", "finite_populations", "rademacher_samples", "query_sequences",
           "privacy_spends", "bad_query_values"]


@st.composite
def query_tables(draw, universe_size: int | st.SearchStrategy[int] | None = None, *,
                 max_size: int = 32) -> np.ndarray:
    """Tables :math:`q \\in [0, 1]^N` of a query on a finite universe (endpoints included)."""
    n = (draw(st.integers(1, max_size)) if universe_size is None else
         universe_size if isinstance(universe_size, int) else draw(universe_size))
    rng = np.random.default_rng(draw(seeds()))
    table = rng.random(n)
    kind = draw(st.sampled_from(["uniform", "binary", "mixed"]))
    if kind == "binary":
        table = (table > 0.5).astype(float)
    elif kind == "mixed":
        table[rng.random(n) < 0.3] = 0.0
        table[rng.random(n) < 0.3] = 1.0
    return table


def finite_populations(*, max_size: int = 32, min_size: int = 1):
    """:class:`~toytheory.adaptive.populations.FinitePopulation` on up to ``max_size`` points."""
    from toytheory.adaptive.populations import FinitePopulation

    return probability_vectors(min_size=min_size, max_size=max_size).map(FinitePopulation)


@st.composite
def rademacher_samples(draw, *, max_n: int = 200, max_dim: int = 12):
    """``(population, sample)``: a :class:`RademacherPopulation` and ``n`` of its points."""
    from toytheory.adaptive.populations import RademacherPopulation

    dim = draw(st.integers(1, max_dim))
    n = draw(st.integers(1, max_n))
    population = RademacherPopulation(dim)
    return population, population.sample(n, draw(seeds()))


@st.composite
def query_sequences(draw, dim: int, *, max_length: int = 12):
    """Lists of coordinate and sign-classifier queries on ``dim`` features (values in [0, 1])."""
    from toytheory.adaptive.queries import (ComplementQuery, CoordinateAgreementQuery,
                                            SignClassifierAgreement)

    length = draw(st.integers(1, max_length))
    rng = np.random.default_rng(draw(seeds()))
    out = []
    for _ in range(length):
        kind = draw(st.sampled_from(["coordinate", "halfspace", "loss"]))
        if kind == "coordinate":
            out.append(CoordinateAgreementQuery(int(rng.integers(dim))))
        else:
            k = int(rng.integers(1, dim + 1))
            idx = rng.choice(dim, size=k, replace=False)
            w = rng.standard_normal(k) if draw(st.booleans()) else np.sign(rng.standard_normal(k))
            q = SignClassifierAgreement(idx, w)
            out.append(q if kind == "halfspace" else ComplementQuery(q))
    return out


def privacy_spends(*, max_length: int = 20, max_value: float = 2.0):
    """Lists of positive privacy parameters (epsilons or rhos; the mechanisms and the
    accountant refuse 0)."""
    return st.lists(st.floats(0.0, max_value, exclude_min=True, allow_nan=False,
                              allow_infinity=False),
                    min_size=1, max_size=max_length)


@st.composite
def bad_query_values(draw, n: int):
    """Per-point query values that violate the [0, 1] range somewhere (or contain NaN/inf)."""
    rng = np.random.default_rng(draw(seeds()))
    values = rng.random(n)
    i = int(rng.integers(n))
    values[i] = draw(st.sampled_from([np.nan, np.inf, -np.inf, -1e-9, 1.0 + 1e-9, -3.0, 7.5]))
    return values
