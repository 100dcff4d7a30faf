"""Thresholdout: the reusable holdout, with its budget.

Dwork, Feldman, Hardt, Pitassi, Reingold and Roth, "The reusable holdout:
Preserving validity in adaptive data analysis" (Science 349, 2015), as
written in REFERENCE.md section 7 **[read]**:

Input: a training set :math:`S_t`, a holdout set :math:`S_h`, a threshold
:math:`T`, a noise rate :math:`\\sigma` and a budget :math:`B`.

1. :math:`\\hat T \\leftarrow T + \\gamma`, :math:`\\gamma \\sim \\mathrm{Lap}(2\\sigma)`.
2. For each query :math:`\\phi`:

   a. if the budget left is below 1, answer :math:`\\bot` (:data:`EXHAUSTED`);
   b. draw :math:`\\eta \\sim \\mathrm{Lap}(4\\sigma)`;
   c. if :math:`|\\mathbb{E}_{S_h}\\phi - \\mathbb{E}_{S_t}\\phi| > \\hat T + \\eta`:
      draw :math:`\\xi \\sim \\mathrm{Lap}(\\sigma)`, spend one unit of budget,
      redraw :math:`\\hat T \\leftarrow T + \\mathrm{Lap}(2\\sigma)`, and answer
      :math:`\\mathbb{E}_{S_h}\\phi + \\xi`;
   d. otherwise answer :math:`\\mathbb{E}_{S_t}\\phi`.

Privacy (with respect to the holdout): each unit of budget is one
above-threshold round of the sparse vector technique (threshold noise
``Lap(2 sigma)``, comparison noise ``Lap(4 sigma)``, sensitivity :math:`1/n`
of the difference) plus one Laplace answer, :math:`2/(\\sigma n)` in all
(:func:`toytheory.adaptive.accounting.sparse_vector_epsilon`); below-threshold
answers are free. So Thresholdout is :math:`(2B/(\\sigma n), 0)`-DP. The
accountant records :math:`2/(\\sigma n)` at every above-threshold answer.

The three noise streams (threshold, comparison, answer) are drawn from three
generators spawned from ``rng``, each a sequence of standard Laplace variates
scaled at use, so that an independent implementation fed the same three
sequences (``sims/adaptive_holdout.py``) gives identical answers.
"""

from __future__ import annotations


from fractions import Fraction

from ..._random import as_generator
from ..._validation import check_int, check_real
from ..queries import empirical_answer
from ._data import check_sample
from .base import EXHAUSTED, Mechanism

__all__ = ["Thresholdout"]


class Thresholdout(Mechanism):
    """The reusable holdout of Dwork et al. (Science 2015), with budget ``B``.

    Parameters
    ----------
    train : array, shape (n_t, ...)
        The training set :math:`S_t` (the analyst may see it).
    holdout : array, shape (n, ...)
        The holdout set :math:`S_h`.
    threshold : float
        :math:`T` (> 0).
    sigma : float
        The noise rate :math:`\\sigma` (> 0).
    budget : int
        :math:`B` (>= 1): the number of above-threshold answers allowed.
    rng : Generator, int or None

    Attributes
    ----------
    budget_left : int
    over_threshold : int
        Above-threshold answers so far (budget spent).
    """

    name = "Thresholdout"
    private = True

    def __init__(self, train, holdout, threshold: float, sigma: float, budget: int, rng=None):
        super().__init__()
        self.train = check_sample("train", train)
        self.holdout = check_sample("holdout", holdout)
        self.threshold = check_real("threshold", threshold, low=0.0, low_open=True)
        self.sigma = check_real("sigma", sigma, low=0.0, low_open=True)
        self.budget = check_int("budget", budget, low=1)
        self.budget_left = self.budget
        self.over_threshold = 0
        self.n_holdout = len(self.holdout)
        threshold_stream, comparison_stream, answer_stream = as_generator(rng).spawn(3)
        self._threshold_stream = threshold_stream
        self._comparison_stream = comparison_stream
        self._answer_stream = answer_stream
        self._epsilon_per_unit = Fraction(2) / (Fraction(self.sigma) * self.n_holdout)
        self.noisy_threshold = self._draw_threshold()

    # -- the three noise streams (standard Laplace, scaled at use)
    def _draw_threshold(self) -> float:
        return self.threshold + (2.0 * self.sigma) * self._threshold_stream.laplace(0.0, 1.0)

    def _draw_comparison(self) -> float:
        return (4.0 * self.sigma) * self._comparison_stream.laplace(0.0, 1.0)

    def _draw_answer_noise(self) -> float:
        return self.sigma * self._answer_stream.laplace(0.0, 1.0)

    @property
    def epsilon_guarantee(self) -> float:
        """:math:`2B/(\\sigma n)`: the pure DP of the whole interaction, whatever the analyst does."""
        return float(self.budget * self._epsilon_per_unit)

    def _can_answer(self) -> bool:
        return self.budget_left >= 1

    def _step(self, train_mean: float, holdout_mean: float) -> float:
        eta = self._draw_comparison()
        if abs(holdout_mean - train_mean) > self.noisy_threshold + eta:
            xi = self._draw_answer_noise()
            self.budget_left -= 1
            self.over_threshold += 1
            self.accountant.spend_pure(self._epsilon_per_unit)
            self.noisy_threshold = self._draw_threshold()
            return holdout_mean + xi
        return train_mean

    def _query_samples(self) -> tuple:
        return (self.train, self.holdout)

    def _answer(self, query) -> float:
        train_mean = empirical_answer(query, self.train)
        holdout_mean = empirical_answer(query, self.holdout)
        return self._step(train_mean, holdout_mean)

    def answer_means(self, train_mean: float, holdout_mean: float):
        """One Thresholdout step on precomputed means (a float or :data:`EXHAUSTED`).

        For statistics that are not ``[0, 1]`` queries, such as the label
        correlations of the reusable-holdout experiment (whose paper applies
        Thresholdout to them in the same way); the accuracy guarantee assumes
        ``[0, 1]`` queries and does not cover them.
        """
        train_mean = check_real("train_mean", train_mean)
        holdout_mean = check_real("holdout_mean", holdout_mean)
        if self.exhausted:
            return EXHAUSTED
        value = self._step(train_mean, holdout_mean)
        self.queries_answered += 1
        return float(value)

    def __repr__(self) -> str:
        return (f"Thresholdout(T={self.threshold:g}, sigma={self.sigma:g}, budget "
                f"{self.budget_left}/{self.budget}, n_holdout={self.n_holdout})")


