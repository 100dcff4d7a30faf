"""Analysts: adaptive attacks that overfit an unprotected sample, and controls.

An analyst asks queries one at a time and sees each answer before choosing
the next. :func:`run_interaction` plays an analyst against a mechanism on a
population whose true answers are exact, and returns the transcript.

Analysts
--------
:class:`LogOddsCorrelationAttack`
    ``m - 1`` coordinate queries, then one halfspace query weighted by the
    log-odds of the answers: the correlation (linear) attack. Against the
    empirical mechanism its last answer is off by about
    :math:`\\sqrt{(m-1)/(2\\pi n)}` although no feature carries signal.
:class:`BoostingAttack`
    ``m - 1`` random classifiers (the coordinates, whose predictions on the
    sample are independent uniform bits: "random vectors"), then the majority
    of those whose reported loss is at most 1/2 (Blum and Hardt's boosting
    attack on a holdout leaderboard).
:class:`NonAdaptiveAnalyst`
    the same number and kinds of queries, all fixed before any answer: the
    control, for which Hoeffding and a union bound hold.
Reusable-holdout analyst (Dwork et al., Science 2015)
    :func:`select_features` and :func:`top_k_sign_weights`: keep the features
    whose training and holdout correlations both exceed :math:`1/\\sqrt n` in size
    with the same sign, classify with the signs of the top ``k``.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass, field

import numpy as np

from .._random import as_generator
from .._validation import as_float_array, check_int, check_real
from .mechanisms.base import is_exhausted
from .queries import (ComplementQuery, CoordinateAgreementQuery, SignClassifierAgreement,
                      TableQuery)

__all__ = [
    "Transcript", "run_interaction", "LogOddsCorrelationAttack", "BoostingAttack",
    "NonAdaptiveAnalyst", "log_odds_weights", "select_features", "top_k_sign_weights",
    "SupportReconstructionAttack",
]


@dataclass
class Transcript:
    """What happened in one interaction.

    Attributes
    ----------
    queries : list
    answers : list of float or EXHAUSTED
    true_answers : list of float
        :math:`\\mathbb{E}_P\\phi_i`, exact.
    """

    queries: list = field(default_factory=list)
    answers: list = field(default_factory=list)
    true_answers: list = field(default_factory=list)

    @property
    def answered(self) -> np.ndarray:
        """Mask of the queries that got a number (not :data:`EXHAUSTED`)."""
        return np.array([not is_exhausted(a) for a in self.answers], dtype=bool)

    @property
    def errors(self) -> np.ndarray:
        """:math:`|a_i - \\mathbb{E}_P\\phi_i|` for the answered queries, in order."""
        mask = self.answered
        a = np.array([float(x) for x, ok in zip(self.answers, mask) if ok])
        t = np.array([float(x) for x, ok in zip(self.true_answers, mask) if ok])
        return np.abs(a - t)

    @property
    def worst_error(self) -> float:
        """:math:`\\max_i |a_i - \\mathbb{E}_P\\phi_i|` over the answered queries."""
        e = self.errors
        if e.size == 0:
            raise ValueError("transcript: no query was answered, so there is no error")
        return float(e.max())


def run_interaction(analyst, mechanism, population) -> Transcript:
    """Let ``analyst`` query ``mechanism``; record answers and exact true answers.

    Parameters
    ----------
    analyst : object
        With ``next_query() -> query or None`` and ``observe(answer)``.
    mechanism : Mechanism
    population : object
        With an exact ``true_answer(query)``.
    """
    transcript = Transcript()
    while True:
        query = analyst.next_query()
        if query is None:
            return transcript
        answer = mechanism.answer(query)
        analyst.observe(answer)
        transcript.queries.append(query)
        transcript.answers.append(answer)
        transcript.true_answers.append(population.true_answer(query))


def log_odds_weights(answers, clip: float) -> np.ndarray:
    """:math:`w_j = \\ln\\frac{a_j}{1 - a_j}`, answers clipped to ``[clip, 1 - clip]``.

    Sentinel answers (:data:`EXHAUSTED`) get weight 0.

    Parameters
    ----------
    answers : sequence of float or EXHAUSTED
        The first-stage answers. Each must be a finite real number (noisy
        mechanisms may answer outside [0, 1]; clipping handles that) or the
        sentinel; NaN, infinities, strings and complex values are refused.
    clip : float
        In ``(0, 1/2)``.

    Returns
    -------
    (len(answers),) float array

    Raises
    ------
    ValueError
        ``answers: ...`` naming the first bad position, or ``clip: ...``.
    """
    clip = check_real("clip", clip, low=0.0, high=0.5, low_open=True, high_open=True)
    values = []
    for j, x in enumerate(answers):
        if is_exhausted(x):
            values.append(0.5)
            continue
        if isinstance(x, bool) or not isinstance(x, numbers.Real):
            raise ValueError(f"answers: must be real numbers or EXHAUSTED (got "
                             f"{type(x).__name__} at position {j})")
        if not math.isfinite(float(x)):
            raise ValueError(f"answers: must be finite (got {float(x)!r} at position {j})")
        values.append(float(x))
    a = np.array(values, dtype=float)
    a = np.clip(a, clip, 1.0 - clip)
    return np.log(a / (1.0 - a))


class _TwoStageAnalyst:
    """``m - 1`` first-stage queries, then one final query built from their answers."""

    def __init__(self, m: int):
        self.m = check_int("m", m, low=2)
        self.answers: list = []
        self._asked = 0

    def first_stage_query(self, j: int):  # pragma: no cover - abstract
        raise NotImplementedError

    def final_query(self):  # pragma: no cover - abstract
        raise NotImplementedError

    def next_query(self):
        if self._asked < self.m - 1:
            q = self.first_stage_query(self._asked)
        elif self._asked == self.m - 1:
            q = self.final_query()
        else:
            return None
        self._asked += 1
        return q

    def observe(self, answer) -> None:
        self.answers.append(answer)


class LogOddsCorrelationAttack(_TwoStageAnalyst):
    """The correlation attack with log-odds weights.

    Queries :math:`\\phi_j(x, y) = \\mathbf 1\\{x_j = y\\}` for
    :math:`j < m - 1`, then

    .. math:: \\phi_m(x, y) = \\mathbf 1\\{y \\textstyle\\sum_j w_j x_j > 0\\}
              + \\tfrac12\\mathbf 1\\{\\textstyle\\sum_j w_j x_j = 0\\},
              \\qquad w_j = \\ln\\frac{a_j}{1-a_j}.

    On a population where ``y`` is independent of ``x``, every true answer is
    1/2; the empirical answer to :math:`\\phi_m` is not.

    Parameters
    ----------
    m : int
        Total number of queries (>= 2); the population needs ``m - 1`` features.
    clip : float
        Answers are clipped to ``[clip, 1 - clip]`` before the logarithm
        (noisy mechanisms can answer outside [0, 1]).
    """

    def __init__(self, m: int, clip: float = 1e-3):
        super().__init__(m)
        self.clip = check_real("clip", clip, low=0.0, high=0.5, low_open=True, high_open=True)

    def first_stage_query(self, j):
        return CoordinateAgreementQuery(j)

    def final_query(self):
        w = log_odds_weights(self.answers, self.clip)
        return SignClassifierAgreement(np.arange(self.m - 1), w)


class BoostingAttack(_TwoStageAnalyst):
    """The boosting attack: the majority of the classifiers whose reported loss is at most 1/2.

    Queries the losses :math:`\\ell_j = \\mathbf 1\\{x_j \\ne y\\}` of the ``m - 1``
    coordinate classifiers, keeps :math:`S = \\{j : a_j \\le 1/2\\}` and asks for
    the loss of the majority vote :math:`\\operatorname{sign}(\\sum_{j\\in S} x_j)`
    (a tie costs 1/2). The true loss of every classifier is 1/2; the sample
    loss of the majority is below it.
    """

    def first_stage_query(self, j):
        return ComplementQuery(CoordinateAgreementQuery(j))

    def final_query(self):
        keep = np.array([(not is_exhausted(a)) and float(a) <= 0.5 for a in self.answers])
        idx = np.flatnonzero(keep)
        return ComplementQuery(SignClassifierAgreement(idx, np.ones(idx.size)))


class NonAdaptiveAnalyst(_TwoStageAnalyst):
    """The control: the same queries as the log-odds attack, the final weights fixed in advance.

    The final halfspace has weights drawn from ``N(0, I)`` when the analyst is
    created, before any answer, so all ``m`` queries are non-adaptive.
    """

    def __init__(self, m: int, rng=None):
        super().__init__(m)
        self.weights = as_generator(rng).standard_normal(self.m - 1)

    def first_stage_query(self, j):
        return CoordinateAgreementQuery(j)

    def final_query(self):
        return SignClassifierAgreement(np.arange(self.m - 1), self.weights)


def select_features(train_corr, holdout_corr, n: int) -> np.ndarray:
    """The reusable-holdout analyst's selection (Dwork et al., Science 2015).

    Keep feature ``j`` when both correlations exceed :math:`1/\\sqrt n` in
    absolute value with the same sign:

    .. math:: (c^t_j > n^{-1/2} \\wedge c^h_j > n^{-1/2}) \\vee
              (c^t_j < -n^{-1/2} \\wedge c^h_j < -n^{-1/2})

    Parameters
    ----------
    train_corr, holdout_corr : (d,) arrays
    n : int
        Points per split.

    Returns
    -------
    (d,) bool array
    """
    ct = as_float_array("train_corr", train_corr, ndim=1)
    ch = as_float_array("holdout_corr", holdout_corr, ndim=1)
    if ch.shape != ct.shape:
        raise ValueError(f"holdout_corr: must have the shape of train_corr {ct.shape}")
    n = check_int("n", n, low=1)
    t = 1.0 / math.sqrt(n)
    return ((ct > t) & (ch > t)) | ((ct < -t) & (ch < -t))


def top_k_sign_weights(train_corr, selected, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` selected features with the largest :math:`|c^t_j|`, and their signs.

    Ranks the selected features by :math:`|c^t_j|` (descending, ties by
    index); fewer than ``k`` selected gives fewer features.

    Returns
    -------
    indices : (k',) int array
    signs : (k',) float array
        :math:`\\operatorname{sign}(c^t_j)`.
    """
    ct = as_float_array("train_corr", train_corr, ndim=1)
    sel = np.asarray(selected, dtype=bool)
    if sel.shape != ct.shape:
        raise ValueError(f"selected: must have the shape of train_corr {ct.shape}")
    k = check_int("k", k, low=0)
    idx = np.flatnonzero(sel)
    order = idx[np.lexsort((idx, -np.abs(ct[idx])))][:k]
    return order.astype(np.int64), np.sign(ct[order])


class SupportReconstructionAttack:
    """Reconstruct the sample's support with point queries, then ask for its mass.

    On the universe ``{0, ..., N-1}`` the analyst first asks ``warmup`` block
    queries (the indicator of the first half of the universe, then of the first
    quarter, and so on, which a mechanism must answer from the data), then the
    ``N`` point queries :math:`\\phi_x = \\mathbf 1\\{u = x\\}`, keeps
    :math:`S = \\{x : a_x > 1/(2n)\\}` (the points the answers say were sampled)
    and asks :math:`\\phi_S = \\mathbf 1\\{u \\in S\\}`: ``m = warmup + N + 1``
    queries. Against the empirical mechanism ``S`` is the sample's support,
    whose empirical mass is 1 while its true mass is at most ``n max_x p(x)``.

    Parameters
    ----------
    universe_size : int
        ``N >= 2``.
    n : int
        The sample size the analyst assumes (``>= 1``): sets the cut ``1/(2n)``.
    warmup : int
        Block queries first (``0 <= warmup < log2 N``).
    """

    def __init__(self, universe_size: int, n: int, warmup: int = 0):
        self.N = check_int("universe_size", universe_size, low=2)
        self.n = check_int("n", n, low=1)
        self.warmup = check_int("warmup", warmup, low=0)
        if 2 ** (self.warmup + 1) > self.N:
            raise ValueError(f"warmup: must satisfy 2^(warmup + 1) <= N = {self.N} "
                             f"(got {self.warmup})")
        self.m = self.warmup + self.N + 1
        self.answers: list = []
        self._asked = 0

    @staticmethod
    def _indicator(mask) -> TableQuery:
        return TableQuery(np.asarray(mask, dtype=float))

    def next_query(self):
        j = self._asked
        if j >= self.m:
            return None
        self._asked += 1
        if j < self.warmup:
            return self._indicator(np.arange(self.N) < self.N // 2 ** (j + 1))
        if j < self.warmup + self.N:
            return self._indicator(np.arange(self.N) == j - self.warmup)
        return self._indicator(self.support_guess())

    def support_guess(self) -> np.ndarray:
        """The points whose point-query answer exceeds ``1/(2n)`` (boolean mask, ``(N,)``)."""
        point = self.answers[self.warmup:self.warmup + self.N]
        values = np.array([-np.inf if is_exhausted(a) else float(a) for a in point])
        mask = np.zeros(self.N, dtype=bool)
        mask[:values.size] = values > 1.0 / (2.0 * self.n)
        return mask

    def observe(self, answer) -> None:
        self.answers.append(answer)
