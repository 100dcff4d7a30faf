"""Populations whose true answers are exact.

Three populations, each with ``sample(n, rng)`` and an exact
``true_answer(query)`` for the queries it knows:

:class:`RademacherPopulation`
    :math:`x \\sim \\mathrm{Unif}\\{-1, +1\\}^d`, :math:`y \\sim \\mathrm{Unif}\\{-1, +1\\}`
    independent of ``x``. Every coordinate and every sign classifier is right
    with probability exactly 1/2.
:class:`GaussianLabelPopulation`
    :math:`y \\sim \\mathrm{Unif}\\{-1,+1\\}`, :math:`x = y\\mu + g`, :math:`g \\sim N(0, I_d)`:
    the reusable-holdout experiment of Dwork et al. (Science 2015), with
    :math:`\\mu = 0` (no signal) or :math:`\\mu_j = 6/\\sqrt n` on 20 features.
    A sign classifier ``w`` has accuracy :math:`\\Phi(w\\cdot\\mu / \\|w\\|)` exactly.
:class:`FinitePopulation`
    a law ``p`` on ``{0, ..., N-1}``: :math:`\\mathbb{E}_P q = q \\cdot p` exactly.
"""

from __future__ import annotations

import itertools
import math

import numpy as np

from .._random import as_generator
from .._validation import as_float_array, check_int, check_probability_vector, check_real
from .queries import (ComplementQuery, CoordinateAgreementQuery, SignClassifierAgreement,
                      TableQuery, evaluate_query)

__all__ = ["RademacherPopulation", "GaussianLabelPopulation", "FinitePopulation"]

_ENUMERATE_MAX_BITS = 16


def _check_indices(name: str, value, size: int) -> np.ndarray:
    """A 1-D array of integer indices in ``[0, size)`` (integer-valued floats accepted)."""
    raw = np.asarray(value)
    if raw.dtype.kind == "b" or raw.dtype.kind not in "iuf":
        raise ValueError(f"{name}: must be integer indices (got dtype {raw.dtype})")
    if raw.ndim != 1:
        raise ValueError(f"{name}: must be 1-D (got shape {raw.shape})")
    if raw.dtype.kind == "f":
        if not np.all(np.isfinite(raw)) or np.any(raw != np.round(raw)):
            raise ValueError(f"{name}: must be integer indices (got fractional or non-finite "
                             "values)")
    if raw.size and (raw.min() < 0 or raw.max() >= size):
        raise ValueError(f"{name}: must lie in [0, {size}) (got values in "
                         f"[{raw.min():g}, {raw.max():g}])")
    return raw.astype(np.int64)


def _check_features(query, dim: int) -> None:
    """Refuse a coordinate or classifier query that reads a feature the population lacks."""
    if isinstance(query, CoordinateAgreementQuery) and query.feature >= dim:
        raise ValueError(f"query: reads feature {query.feature}, but the population has "
                         f"d = {dim} features")
    if (isinstance(query, SignClassifierAgreement) and query.indices.size
            and query.indices.max() >= dim):
        raise ValueError(f"query: reads feature {int(query.indices.max())}, but the "
                         f"population has d = {dim} features")


class RademacherPopulation:
    """Uniform :math:`\\{-1,+1\\}^{d}` features with an independent uniform label.

    Parameters
    ----------
    dim : int
        The number of features ``d``.
    """

    def __init__(self, dim: int):
        self.dim = check_int("dim", dim, low=1)

    def sample(self, n: int, rng=None) -> np.ndarray:
        """``n`` points, shape ``(n, d + 1)``, int8 in ``{-1, +1}``, label last."""
        n = check_int("n", n, low=1)
        gen = as_generator(rng)
        bits = gen.integers(0, 2, size=(n, self.dim + 1), dtype=np.int8)
        return (2 * bits - 1).astype(np.int8)

    def true_answer(self, query) -> float:
        """:math:`\\mathbb{E}_P \\phi`, exactly.

        Coordinate and sign-classifier agreements are 1/2 (the label is
        independent of ``x`` and symmetric: :math:`P(f(x) = y) = 1/2` for every
        ``f``); complements follow. Any other query is averaged over the
        :math:`2^{d+1}` points when :math:`d + 1 \\le 16`.
        """
        if isinstance(query, ComplementQuery):
            return 1.0 - self.true_answer(query.query)
        if isinstance(query, (CoordinateAgreementQuery, SignClassifierAgreement)):
            _check_features(query, self.dim)
            return 0.5
        return self.enumerate_answer(query)

    def enumerate_answer(self, query) -> float:
        """Average of ``query`` over all :math:`2^{d+1}` equally likely points."""
        if self.dim + 1 > _ENUMERATE_MAX_BITS:
            raise ValueError(f"query: no exact answer for {type(query).__name__} on d = "
                             f"{self.dim} features (enumeration needs d + 1 <= "
                             f"{_ENUMERATE_MAX_BITS})")
        points = np.array(list(itertools.product((-1, 1), repeat=self.dim + 1)), dtype=np.int8)
        return math.fsum(evaluate_query(query, points)) / len(points)


class GaussianLabelPopulation:
    """:math:`y` uniform on :math:`\\{-1,+1\\}`, :math:`x = y\\mu + N(0, I_d)`.

    Parameters
    ----------
    dim : int
        ``d``.
    mean_shift : (d,) array, optional
        :math:`\\mu` (default zero: labels independent of ``x``).
    """

    def __init__(self, dim: int, mean_shift=None):
        self.dim = check_int("dim", dim, low=1)
        mu = np.zeros(self.dim) if mean_shift is None else as_float_array(
            "mean_shift", mean_shift, ndim=1)
        if mu.shape != (self.dim,):
            raise ValueError(f"mean_shift: must have shape ({self.dim},) (got {mu.shape})")
        self.mean_shift = mu

    @classmethod
    def reusable_holdout(cls, n: int, dim: int, informative: int = 0,
                         strength: float = 6.0) -> "GaussianLabelPopulation":
        """Dwork et al.'s populations: ``informative`` features shifted by ``strength/sqrt(n)``.

        Parameters
        ----------
        n : int
            Points per split (>= 1); sets the shift's size.
        dim : int
            ``d`` (>= 1).
        informative : int
            In ``[0, d]``.
        strength : float
            Finite.
        """
        n = check_int("n", n, low=1)
        dim = check_int("dim", dim, low=1)
        informative = check_int("informative", informative, low=0, high=dim)
        strength = check_real("strength", strength)
        mu = np.zeros(dim)
        mu[:informative] = strength / math.sqrt(n)
        return cls(dim, mu)

    def sample(self, n: int, rng=None, dtype=np.float64) -> np.ndarray:
        """``n`` points, shape ``(n, d + 1)``, label last."""
        n = check_int("n", n, low=1)
        gen = as_generator(rng)
        y = 2.0 * gen.integers(0, 2, size=n) - 1.0
        x = gen.standard_normal((n, self.dim)) + y[:, None] * self.mean_shift
        return np.column_stack([x, y]).astype(dtype, copy=False)

    def classifier_accuracy(self, indices, weights) -> float:
        """:math:`P(\\operatorname{sign}(w\\cdot x) = y) = \\Phi(w\\cdot\\mu/\\|w\\|)` (1/2 if ``w = 0``).

        Parameters
        ----------
        indices : (k,) int array
            Features used, each in ``[0, d)`` (negative indices are refused,
            not wrapped; fractional ones are refused, not truncated). A
            repeated index adds its weights: the classifier scores
            :math:`\\sum_i w_i x_{j_i}`.
        weights : (k,) float array
            Finite.

        Returns
        -------
        float
        """
        from scipy.special import ndtr

        idx = _check_indices("indices", indices, self.dim)
        w = as_float_array("weights", weights, ndim=1)
        if w.shape != idx.shape:
            raise ValueError(f"weights: must have the shape of indices {idx.shape} "
                             f"(got {w.shape})")
        if np.unique(idx).size < idx.size:  # x_j counted twice: merge, so ||w|| is the real norm
            idx, inverse = np.unique(idx, return_inverse=True)
            w = np.bincount(inverse, weights=w, minlength=idx.size)
        norm = math.sqrt(math.fsum(w * w))
        if norm == 0.0:
            return 0.5
        return float(ndtr(float(w @ self.mean_shift[idx]) / norm))

    def true_answer(self, query) -> float:
        """Exact answers for coordinate and sign-classifier agreement (and complements)."""
        from scipy.special import ndtr

        if isinstance(query, ComplementQuery):
            return 1.0 - self.true_answer(query.query)
        if isinstance(query, CoordinateAgreementQuery):
            _check_features(query, self.dim)
            return float(ndtr(self.mean_shift[query.feature]))
        if isinstance(query, SignClassifierAgreement):
            return self.classifier_accuracy(query.indices, query.weights)
        raise ValueError(f"query: no exact answer for {type(query).__name__} on the "
                         "Gaussian population")

    def true_correlations(self) -> np.ndarray:
        """:math:`\\mathbb{E}[y x_j] = \\mu_j`."""
        return self.mean_shift.copy()


class FinitePopulation:
    """A law ``p`` on the finite universe ``{0, ..., N-1}``.

    Parameters
    ----------
    probabilities : (N,) array
        Non-negative, summing to one.
    """

    def __init__(self, probabilities):
        self.probabilities = check_probability_vector("probabilities", probabilities)

    @property
    def size(self) -> int:
        return self.probabilities.size

    def sample(self, n: int, rng=None) -> np.ndarray:
        """``n`` universe indices, shape ``(n,)``."""
        n = check_int("n", n, low=1)
        return as_generator(rng).choice(self.size, size=n, p=self.probabilities)

    def histogram(self, sample) -> np.ndarray:
        """Counts of each universe element in ``sample``, shape ``(N,)``.

        Parameters
        ----------
        sample : (n,) int array
            Universe indices, each an integer in ``[0, N)`` (integer-valued
            floats are accepted; fractional values, booleans and indices out
            of range are refused).

        Returns
        -------
        (N,) int array
        """
        idx = _check_indices("sample", sample, self.size)
        return np.bincount(idx, minlength=self.size)

    def true_answer(self, query) -> float:
        """:math:`\\sum_x p(x) q(x)` for a :class:`TableQuery` or a table ``(N,)``."""
        table = query.table if isinstance(query, TableQuery) else TableQuery(query).table
        if table.size != self.size:
            raise ValueError(f"query: table must have {self.size} entries (got {table.size})")
        return math.fsum(table * self.probabilities)
