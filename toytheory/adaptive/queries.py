"""Statistical queries: functions of one data point with values in [0, 1].

A statistical query is a callable ``query(data) -> values`` that maps a
sample of shape ``(n, ...)`` to the per-point values :math:`\\phi(x_i) \\in
[0, 1]`, shape ``(n,)``. Its answer on the sample is the mean
:math:`\\mathbb{E}_S \\phi = \\frac1n\\sum_i \\phi(x_i)` and its true answer is
:math:`\\mathbb{E}_P \\phi` (see :mod:`toytheory.adaptive.populations`).

Labelled data are stored with the label in the last column: ``data[:, :-1]``
are the features ``x`` and ``data[:, -1]`` the label ``y`` in ``{-1, +1}``.

Every mechanism evaluates queries through :func:`evaluate_query`, which
refuses values outside ``[0, 1]``, NaN or infinities with a ``ValueError``
naming the query: the accuracy guarantees of the seed paper ("Preserving
Statistical Validity in Adaptive Data Analysis", Section 2) are for queries
with range ``[0, 1]`` only.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass

import numpy as np

from .._validation import as_float_array, check_int

__all__ = [
    "evaluate_query", "empirical_answer", "CoordinateAgreementQuery",
    "SignClassifierAgreement", "ComplementQuery", "TableQuery", "label_correlations",
]


def _real_values(name: str, raw) -> np.ndarray:
    """``raw`` as float64 if it holds real numbers only (booleans count as 0 and 1)."""
    try:
        array = np.asarray(raw)
    except (TypeError, ValueError) as exc:  # ragged nesting, objects numpy cannot hold
        raise ValueError(f"{name}: must return real numbers (got {type(raw).__name__})") from exc
    kind = array.dtype.kind
    if kind == "O":
        if not all(isinstance(v, numbers.Real) for v in array.ravel()):
            bad = next(v for v in array.ravel() if not isinstance(v, numbers.Real))
            raise ValueError(f"{name}: must return real numbers (got a value of type "
                             f"{type(bad).__name__})")
    elif kind not in "biuf":
        what = {"c": "complex values", "U": "strings", "S": "bytes"}.get(
            kind, f"values of dtype {array.dtype}")
        raise ValueError(f"{name}: must return real numbers (got {what})")
    try:
        return array.astype(np.float64)
    except (TypeError, ValueError) as exc:  # pragma: no cover - guarded above
        raise ValueError(f"{name}: must return real numbers (got {type(raw).__name__})") from exc


def evaluate_query(query, data, *, name: str = "query") -> np.ndarray:
    """Evaluate ``query`` on every point of ``data`` and check its range.

    Parameters
    ----------
    query : callable
        ``query(data) -> (n,)`` values.
    data : array, shape (n, ...)
        The sample.
    name : str
        The argument name used in error messages.

    Returns
    -------
    (n,) float64 array with values in [0, 1].

    Raises
    ------
    ValueError
        ``query: must return values in [0, 1]`` when a value is outside the
        range, NaN or infinite; ``query: must return real numbers`` for
        complex values, strings or other non-numeric output (never coerced:
        ``"0.5"`` or ``0.5 + 0j`` is a bug in the query, not a value); or
        the shape is not ``(n,)``.
    """
    if not callable(query):
        raise ValueError(f"{name}: must be callable (got {type(query).__name__})")
    n = len(data)
    raw = query(data)
    values = _real_values(name, raw)
    if values.shape != (n,):
        raise ValueError(f"{name}: must return one value per data point, shape ({n},) "
                         f"(got shape {values.shape})")
    if np.any(np.isnan(values)):
        raise ValueError(f"{name}: must return values in [0, 1] (got NaN)")
    bad = (values < 0.0) | (values > 1.0)
    if np.any(bad):
        raise ValueError(f"{name}: must return values in [0, 1] (got values in "
                         f"[{values.min():.6g}, {values.max():.6g}])")
    return values


def empirical_answer(query, data, *, name: str = "query") -> float:
    """:math:`\\mathbb{E}_S\\phi = \\frac1n\\sum_{i} \\phi(x_i)` for a checked query."""
    values = evaluate_query(query, data, name=name)
    if values.size == 0:
        raise ValueError("data: must contain at least one point")
    return float(np.mean(values))


def _features_labels(data):
    data = np.asarray(data)
    if data.ndim != 2 or data.shape[1] < 2:
        raise ValueError(f"data: must have shape (n, d + 1) with the label last "
                         f"(got shape {data.shape})")
    return data[:, :-1], data[:, -1]


@dataclass(frozen=True)
class CoordinateAgreementQuery:
    """:math:`\\phi_j(x, y) = \\mathbf 1\\{\\operatorname{sign}(x_j) = y\\}` (ties count 1/2).

    On ``{-1, +1}`` features this is :math:`(1 + y x_j)/2`.
    """

    feature: int

    def __post_init__(self):
        check_int("feature", self.feature, low=0)

    def __call__(self, data) -> np.ndarray:
        x, y = _features_labels(data)
        if self.feature >= x.shape[1]:
            raise ValueError(f"feature: must be < d = {x.shape[1]} (got {self.feature})")
        s = np.sign(x[:, self.feature].astype(np.float64))
        return 0.5 * (1.0 + s * y.astype(np.float64))


@dataclass(frozen=True, eq=False)
class SignClassifierAgreement:
    """Agreement of the linear sign classifier :math:`f(x) = \\operatorname{sign}(w \\cdot x)` with ``y``.

    .. math:: \\phi_w(x, y) = \\mathbf 1\\{y\\, w\\cdot x > 0\\} + \\tfrac12 \\mathbf 1\\{w \\cdot x = 0\\}

    (the accuracy query of a classifier; a tie is a coin flip).

    Parameters
    ----------
    indices : (k,) int array
        The features the classifier uses.
    weights : (k,) float array
        Their weights.
    """

    indices: np.ndarray
    weights: np.ndarray

    def __post_init__(self):
        idx = np.asarray(self.indices)
        if idx.ndim != 1 or (idx.size and (not np.issubdtype(idx.dtype, np.integer)
                                           or idx.min() < 0)):
            raise ValueError("indices: must be a 1-D array of non-negative integers")
        w = as_float_array("weights", self.weights, ndim=1)
        if w.shape != idx.shape:
            raise ValueError(f"weights: must have the shape of indices {idx.shape} "
                             f"(got {w.shape})")
        object.__setattr__(self, "indices", idx.astype(np.int64))
        object.__setattr__(self, "weights", w)

    def scores(self, data) -> np.ndarray:
        """:math:`w \\cdot x` for every point, shape ``(n,)``."""
        x, _ = _features_labels(data)
        if self.indices.size and self.indices.max() >= x.shape[1]:
            raise ValueError(f"indices: must be < d = {x.shape[1]}")
        return x[:, self.indices].astype(np.float64) @ self.weights

    def __call__(self, data) -> np.ndarray:
        _, y = _features_labels(data)
        margin = y.astype(np.float64) * self.scores(data)
        return (margin > 0).astype(np.float64) + 0.5 * (margin == 0)


@dataclass(frozen=True, eq=False)
class ComplementQuery:
    """:math:`1 - \\phi` (a loss from an accuracy, and back)."""

    query: object

    def __call__(self, data) -> np.ndarray:
        return 1.0 - _real_values("query", self.query(data))


@dataclass(frozen=True, eq=False)
class TableQuery:
    """A query on a finite universe ``{0, ..., N-1}`` given by its table of values.

    ``data`` are universe indices, shape ``(n,)``; :math:`\\phi(i) = q_i`.
    """

    table: np.ndarray

    def __post_init__(self):
        kind = np.asarray(self.table).dtype.kind
        if kind not in "biuf":
            raise ValueError(f"table: must hold real numbers (got dtype "
                             f"{np.asarray(self.table).dtype})")
        q = as_float_array("table", self.table, ndim=1)
        if q.size == 0 or np.any((q < 0) | (q > 1)):
            raise ValueError("table: must be a non-empty vector with values in [0, 1]")
        object.__setattr__(self, "table", q)

    def __call__(self, data) -> np.ndarray:
        idx = np.asarray(data)
        if idx.size and (idx.min() < 0 or idx.max() >= self.table.size):
            raise ValueError(f"data: universe indices must lie in [0, {self.table.size})")
        return self.table[idx]


def label_correlations(data) -> np.ndarray:
    """:math:`c_j = \\frac1n \\sum_i y_i x_{ij}` for every feature, shape ``(d,)``.

    Not a statistical query in the sense above (the values :math:`y x_j` are
    unbounded for Gaussian features); the reusable-holdout experiment of Dwork
    et al. (Science 2015) feeds these correlations to Thresholdout all the
    same, through :meth:`Thresholdout.answer_means`.
    """
    x, y = _features_labels(data)
    return x.T.astype(np.float64) @ y.astype(np.float64) / len(y)
