"""Private multiplicative weights: many adaptive queries on a finite universe.

Hardt and Rothblum (2010), "A multiplicative weights mechanism for
privacy-preserving data analysis", in the sparse-vector form of Dwork and
Roth (2014), Section 4.2 ("Online Multiplicative Weights"). The data are a
histogram ``h`` on ``{0, ..., N-1}`` (``n`` points); queries are tables
:math:`q \\in [0, 1]^N`. The mechanism keeps a synthetic distribution ``x``
(uniform at the start) and, for each query:

1. compares the empirical answer :math:`q\\cdot h` with the synthetic one
   :math:`q\\cdot x` through sparse vector: if
   :math:`|q\\cdot h - q\\cdot x| > \\hat T + \\eta` (:math:`\\eta \\sim
   \\mathrm{Lap}(4\\sigma)`, :math:`\\hat T = T + \\mathrm{Lap}(2\\sigma)`) it is
   an *update round*: answer :math:`a = q\\cdot h + \\mathrm{Lap}(\\sigma)`,
   multiply :math:`x_i` by :math:`e^{\\pm\\lambda q_i}` (``+`` when the synthetic
   answer was too small), renormalise, redraw :math:`\\hat T`;
2. otherwise answers :math:`q\\cdot x` (free: it depends on the data only
   through the below-threshold outcome).

Each update round costs :math:`2/(\\sigma n)` pure DP (as in Thresholdout);
after ``max_updates`` rounds the mechanism answers :data:`EXHAUSTED`. The
number of rounds is at most :math:`\\ln N / (\\lambda\\alpha - \\lambda^2)` when
every update corrects a discrepancy of at least :math:`\\alpha` (relative
entropy potential; :func:`toytheory.adaptive.bounds.pmw_update_bound`), so the
number of queries answered can be exponential in ``n``.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np

from ..._random import as_generator
from ..._validation import as_float_array, check_counts, check_int, check_real
from ..queries import TableQuery
from .base import EXHAUSTED, Mechanism

__all__ = ["PrivateMultiplicativeWeights"]


class PrivateMultiplicativeWeights(Mechanism):
    """Online private multiplicative weights with a sparse-vector test.

    Parameters
    ----------
    counts : (N,) int array
        The sample as a histogram on the universe (``n = counts.sum() >= 1``).
    threshold : float
        :math:`T` (> 0).
    sigma : float
        Noise rate (> 0).
    max_updates : int
        The update budget (>= 1).
    learning_rate : float, optional
        :math:`\\lambda` in ``(0, 1]`` (default ``min(threshold / 2, 1)``).
        The relative-entropy potential argument (Hardt and Rothblum 2010;
        Dwork and Roth 2014, Section 4.2) bounds the fall of
        :math:`\\mathrm{KL}(h \\| x)` per update below by
        :math:`\\lambda\\alpha - \\lambda^2` using :math:`e^{u} \\le 1 + u + u^2`,
        which holds for :math:`u \\le 1`, at :math:`u = \\pm\\lambda q_i`; with
        :math:`q_i` up to 1 that needs :math:`\\lambda \\le 1`, so larger rates
        are refused. (Progress also needs :math:`\\lambda < \\alpha`, the
        discrepancy an update fixes, about ``threshold``; the analysis takes
        :math:`\\lambda = \\alpha/2`, hence the default.)
    rng : Generator, int or None

    Attributes
    ----------
    synthetic : (N,) array
        The current synthetic distribution ``x``.
    updates : int
    """

    name = "private multiplicative weights"
    private = True

    def __init__(self, counts, threshold: float, sigma: float, max_updates: int,
                 learning_rate: float | None = None, rng=None):
        super().__init__()
        counts = check_counts("counts", counts)
        self.n = int(counts.sum())
        if self.n < 1:
            raise ValueError("counts: must contain at least one data point")
        self.empirical = counts / self.n
        self.threshold = check_real("threshold", threshold, low=0.0, low_open=True)
        self.sigma = check_real("sigma", sigma, low=0.0, low_open=True)
        self.max_updates = check_int("max_updates", max_updates, low=1)
        if learning_rate is None:
            self.learning_rate = min(self.threshold / 2.0, 1.0)
        else:
            self.learning_rate = check_real("learning_rate", learning_rate, low=0.0,
                                            low_open=True)
            if self.learning_rate > 1.0:
                raise ValueError(
                    f"learning_rate: must be <= 1 (got {self.learning_rate!r}): the "
                    "multiplicative-weights potential argument (Hardt and Rothblum 2010; Dwork "
                    "and Roth 2014, Section 4.2) uses e^u <= 1 + u + u^2, true only for "
                    "u <= 1, at u = learning_rate * q_i with q_i up to 1")
        self.synthetic = np.full(counts.size, 1.0 / counts.size)
        self.updates = 0
        threshold_stream, comparison_stream, answer_stream = as_generator(rng).spawn(3)
        self._threshold_stream = threshold_stream
        self._comparison_stream = comparison_stream
        self._answer_stream = answer_stream
        self._epsilon_per_update = Fraction(2) / (Fraction(self.sigma) * self.n)
        self.noisy_threshold = self._draw_threshold()

    def _draw_threshold(self) -> float:
        return self.threshold + (2.0 * self.sigma) * self._threshold_stream.laplace(0.0, 1.0)

    @property
    def epsilon_guarantee(self) -> float:
        """:math:`2\\,\\mathrm{max\\_updates}/(\\sigma n)`."""
        return float(self.max_updates * self._epsilon_per_update)

    def _can_answer(self) -> bool:
        return self.updates < self.max_updates

    def _table(self, query) -> np.ndarray:
        if isinstance(query, TableQuery):
            table = query.table
        else:
            if np.asarray(query).dtype.kind not in "biuf":
                raise ValueError(f"query: must be a table of real numbers (got "
                                 f"{type(query).__name__} of dtype {np.asarray(query).dtype})")
            table = as_float_array("query", query, ndim=1)
            if np.any((table < 0) | (table > 1)):
                raise ValueError(f"query: must return values in [0, 1] (got values in "
                                 f"[{table.min():.6g}, {table.max():.6g}])")
        if table.size != self.synthetic.size:
            raise ValueError(f"query: table must have {self.synthetic.size} entries "
                             f"(got {table.size})")
        return table

    def answer(self, query):
        """Answer a table query (a :class:`TableQuery` or an ``(N,)`` array in [0, 1])."""
        table = self._table(query)
        if self.exhausted:
            return EXHAUSTED
        true = float(table @ self.empirical)
        synthetic = float(table @ self.synthetic)
        eta = (4.0 * self.sigma) * self._comparison_stream.laplace(0.0, 1.0)
        if abs(true - synthetic) > self.noisy_threshold + eta:
            noisy = true + self.sigma * self._answer_stream.laplace(0.0, 1.0)
            sign = 1.0 if noisy > synthetic else -1.0
            weights = self.synthetic * np.exp(sign * self.learning_rate * table)
            self.synthetic = weights / weights.sum()
            self.updates += 1
            self.accountant.spend_pure(self._epsilon_per_update)
            self.noisy_threshold = self._draw_threshold()
            answer = noisy
        else:
            answer = synthetic
        self.queries_answered += 1
        return float(answer)
