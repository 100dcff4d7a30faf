"""Self-consistency and FOBAR, exact by enumeration over multinomial counts.

"Forward-Backward Reasoning in Large Language Models for Mathematical Verification"
(Jiang et al., 2024). A problem's forward chains return answer :math:`a` with
probability :math:`\\pi_a` (answer 0 is the correct one), independently. With ``n``
forward chains the counts are :math:`c \\sim \\mathrm{Multinomial}(n, \\pi)`.

* **Self-consistency** (Wang et al., 2023) returns a most frequent answer, ties broken
  uniformly. As :math:`n \\to \\infty` its accuracy tends to
  :math:`P(\\text{mode of } \\pi \\text{ is correct}) = 1[\\pi_0 > \\max_{a>0} \\pi_a]`
  (half at a two-way tie), whatever the coverage :math:`1 - (1-\\pi_0)^n`.
* **Backward verification**: each distinct candidate gets ``m`` backward chains (mask a
  number of the question, ask for it given the candidate); each recovers it with
  probability :math:`b_1` for the correct candidate and :math:`b_0` for a wrong one, so
  the successes are :math:`B_a \\sim \\mathrm{Bin}(m, b_{1[a=0]})`.
* **FOBAR** (Section 3.3, eq. (4)): the candidate maximising
  :math:`P_F(a)^{\\alpha} P_B(a)^{1-\\alpha}` with :math:`P_F(a) = c_a/n` and
  :math:`P_B(a) = B_a / \\sum_{a'} B_{a'}` (the paper's default :math:`\\alpha = 1/2`).
  The normalisations do not change the argmax, so the score is
  :math:`c_a^{\\alpha} B_a^{1-\\alpha}`; when no backward chain succeeds
  (:math:`\\sum B = 0`, where :math:`P_B` is undefined) the forward count decides. Ties
  are broken uniformly. As :math:`n, m \\to \\infty` FOBAR is correct when
  :math:`\\pi_0^{\\alpha} b_1^{1-\\alpha} > \\max_{a>0} \\pi_a^{\\alpha} b_0^{1-\\alpha}`.

Exact accuracy sums over every count vector :math:`c` (compositions of ``n``) and every
backward vector :math:`B \\in \\{0..m\\}^A`; the win indicator depends on the law only
through the weights, so it is tabulated once per ``(A, n, m, alpha)``.
"""

from __future__ import annotations

from functools import lru_cache
from itertools import product

import numpy as np

from toytheory._validation import check_int, check_probability_vector

__all__ = ["FOBAR_ENUMERATION_LIMIT", "self_consistency_accuracy", "self_consistency_limit",
           "fobar_accuracy", "fobar_limit"]

FOBAR_ENUMERATION_LIMIT = 2_000_000
"""Largest table (count vectors x backward vectors) enumerated; beyond it, simulate
(``sims.decoding_selection.fobar_wins``)."""


def _compositions(n: int, parts: int) -> np.ndarray:
    if parts == 1:
        return np.array([[n]])
    rows = []
    for first in range(n + 1):
        for rest in _compositions(n - first, parts - 1):
            rows.append([first, *rest])
    return np.array(rows)


@lru_cache(maxsize=32)
def _win_table(A: int, n: int, m: int, alpha: float):
    """(compositions (C, A), wins (C, (m+1)^A)): the probability the correct answer is
    returned given forward counts and backward successes (ties uniform)."""
    comps = _compositions(n, A)
    backs = np.array(list(product(range(m + 1), repeat=A)))  # (G, A)
    present = comps[:, None, :] > 0                             # (C, 1, A)
    # backward successes of the candidates present (absent ones get no backward chains)
    total = (backs[None, :, :] * present).sum(axis=2, keepdims=True)  # (C, G, 1)
    fwd = np.broadcast_to(comps[:, None, :].astype(float), (comps.shape[0],) + backs.shape)
    if alpha < 1.0:
        mixed = fwd ** alpha * backs[None, :, :].astype(float) ** (1.0 - alpha)
        score = np.where(total > 0, mixed, fwd)
    else:
        score = fwd
    score = np.where(present, score, -1.0)
    best = score.max(axis=2, keepdims=True)
    at_best = np.isclose(score, best, rtol=1e-12, atol=0.0) & present
    wins = at_best[:, :, 0] / at_best.sum(axis=2)
    return comps, backs, wins


def _multinomial_weights(comps: np.ndarray, law: np.ndarray) -> np.ndarray:
    from scipy.special import gammaln, xlogy

    n = comps.sum(axis=1)[0]
    base = gammaln(n + 1) - gammaln(comps + 1).sum(axis=1)
    if law.ndim == 2:
        return np.exp(base[None, :] + xlogy(comps[None, :, :], law[:, None, :]).sum(axis=2))
    return np.exp(base + xlogy(comps, law).sum(axis=1))


def _laws(answers) -> np.ndarray:
    arr = np.asarray(answers, dtype=float)
    if arr.ndim == 2:
        return np.array([check_probability_vector("answers", row) for row in arr])
    return check_probability_vector("answers", arr)


def _check(answers, n, m=None):
    law = _laws(answers)
    n = check_int("n", n, low=1)
    A = law.shape[-1]
    if m is not None:
        m = check_int("m", m, low=1)
    from math import comb

    size = comb(n + A - 1, A - 1) * ((m + 1) ** A if m is not None else 1)
    if size > FOBAR_ENUMERATION_LIMIT:
        raise ValueError(f"answers: {A} answers with n = {n}" + (f", m = {m}" if m else "")
                         + f" need {size} table entries, above the enumeration limit "
                         f"{FOBAR_ENUMERATION_LIMIT}; use sims.decoding_selection.fobar_wins")
    return law, n, m


def self_consistency_accuracy(answers, n: int):
    """Exact accuracy of majority vote over ``n`` forward chains (ties uniform).

    Parameters
    ----------
    answers : array_like, shape (A,) or (P, A)
        The forward answer law (one row per problem); answer 0 is correct.
    n : int, >= 1

    Returns
    -------
    float, or ndarray of shape (P,) for a table of laws
    """
    law, n, _ = _check(answers, n)
    comps = _compositions(n, law.shape[-1])
    best = comps.max(axis=1, keepdims=True)
    at_best = comps == best
    wins = at_best[:, 0] / at_best.sum(axis=1)
    acc = _multinomial_weights(comps, law) @ wins
    return acc if law.ndim == 2 else float(acc)


def self_consistency_limit(answers) -> float:
    """:math:`\\lim_n`: 1 if the correct answer is the unique mode of the law, 1/t at a
    t-way tie, else 0."""
    law = check_probability_vector("answers", answers)
    top = law.max()
    if law[0] < top or top == 0:
        return 0.0
    return 1.0 / int(np.sum(law == top))


def _check_b(b1, b0):
    for name, value in (("b1", b1), ("b0", b0)):
        if not 0.0 <= float(value) <= 1.0:
            raise ValueError(f"{name}: must lie in [0, 1] (got {value!r})")
    return float(b1), float(b0)


def fobar_accuracy(answers, n: int, m: int, b1: float, b0: float, alpha: float = 0.5):
    """Exact accuracy of FOBAR with ``n`` forward and ``m`` backward chains per candidate.

    Parameters
    ----------
    answers : array_like, shape (A,) or (P, A)
        Forward answer law (one row per problem), answer 0 correct.
    n, m : int, >= 1
    b1, b0 : float in [0, 1]
        Backward success probabilities for the correct and for a wrong candidate.
    alpha : float in [0, 1]
        Weight of the forward score (``alpha = 1`` is self-consistency).
    """
    law, n, m = _check(answers, n, m)
    b1, b0 = _check_b(b1, b0)
    if not 0.0 <= float(alpha) <= 1.0:
        raise ValueError(f"alpha: must lie in [0, 1] (got {alpha!r})")
    from scipy.stats import binom

    comps, backs, wins = _win_table(law.shape[-1], n, m, float(alpha))
    pmf1 = binom.pmf(np.arange(m + 1), m, b1)
    pmf0 = binom.pmf(np.arange(m + 1), m, b0)
    weight_b = pmf1[backs[:, 0]] * np.prod(pmf0[backs[:, 1:]], axis=1)
    acc = _multinomial_weights(comps, law) @ (wins @ weight_b)
    return acc if law.ndim == 2 else float(acc)


def fobar_limit(answers, b1: float, b0: float, alpha: float = 0.5) -> float:
    """:math:`\\lim_{n, m}`: compare :math:`\\pi_a^{\\alpha} b^{1-\\alpha}` across answers."""
    law = check_probability_vector("answers", answers)
    b1, b0 = _check_b(b1, b0)
    score = law ** alpha * np.where(np.arange(law.size) == 0, b1, b0) ** (1 - alpha)
    score = np.where(law > 0, score, -1.0)
    top = score.max()
    if score[0] < top or top <= 0:
        return 0.0
    return 1.0 / int(np.sum(score == top))
