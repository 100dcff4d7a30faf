"""K-SEQ, SpecTr's draft selection with k candidate tokens: ρ, acceptance, output law.

"SpecTr: Fast Speculative Decoding via Optimal Transport" (Sun, Suresh, Ro, Beirami,
Jain and Yu, NeurIPS 2023), Section 4, algorithm K-SEQ. With ``target`` :math:`p_t`
and ``draft`` :math:`p_d` (SpecTr writes q and p), k drafts
:math:`x_1, \\dots, x_k \\sim p_d` i.i.d. are examined in turn; draft :math:`x_i` is
returned with probability :math:`\\min(1, p_t(x_i) / (\\rho\\, p_d(x_i)))`; when none is,
the output is drawn from the residual law. With

.. math::

    \\beta(\\rho) = \\sum_x \\min\\big(p_d(x), p_t(x)/\\rho\\big),
    \\qquad 1 - (1 - \\beta(\\rho))^k = \\rho\\, \\beta(\\rho), \\quad \\rho \\in [1, k],

the accepted mass of each token is :math:`\\min(\\rho p_d(y), p_t(y))`, the acceptance is
:math:`1 - (1 - \\beta)^k`, and the residual
:math:`(p_t - \\min(\\rho p_d, p_t)) / (1 - \\beta)^k` makes the output law exactly
:math:`p_t`. SpecTr proves the acceptance is at least :math:`(1 - 1/e)` times that of
the optimal transport plan (:mod:`toytheory.decoding.optimal_draft_selection`).
"""

from __future__ import annotations

import itertools

import numpy as np
from scipy.optimize import brentq

from toytheory._validation import check_int

from .speculative import check_pair

__all__ = ["ENUMERATION_LIMIT", "kseq_rho", "kseq_beta", "kseq_acceptance",
           "kseq_residual", "kseq_output_law", "kseq_output_law_enumerated"]

ENUMERATION_LIMIT = 200_000
"""The most draft tuples (``V**k``) :func:`kseq_output_law_enumerated` walks through;
beyond it use :func:`kseq_output_law` (closed form) or the simulator in
``sims/decoding_speculative.py``."""


def kseq_beta(target, draft, rho: float) -> float:
    """:math:`\\beta(\\rho) = \\sum_x \\min(p_d(x), p_t(x)/\\rho)`, the chance one draft is kept."""
    p_t, p_d = check_pair(target, draft)
    if not np.isfinite(rho) or rho < 1.0:
        raise ValueError(f"rho: must be a finite number >= 1 (got {rho!r})")
    return float(np.minimum(p_d, p_t / rho).sum())


def kseq_rho(target, draft, k: int) -> float:
    """The ρ in [1, k] that solves :math:`1 - (1-\\beta(\\rho))^k = \\rho \\beta(\\rho)`.

    The gap :math:`g(\\rho) = 1 - (1-\\beta)^k - \\rho\\beta` is :math:`\\mathrm{TV} -
    \\mathrm{TV}^k \\ge 0` at ρ = 1 and at most 0 at ρ = k (because
    :math:`(1-\\beta)^k \\ge 1 - k\\beta`), so a root lies in [1, k]; it is found by
    Brent's method to 1e-14. ρ = 1 when g(1) = 0 (k = 1, equal laws, or disjoint ones).
    """
    p_t, p_d = check_pair(target, draft)
    k = check_int("k", k, low=1)

    def gap(rho):
        beta = float(np.minimum(p_d, p_t / rho).sum())
        return 1.0 - (1.0 - beta) ** k - rho * beta

    if k == 1 or gap(1.0) <= 1e-15:
        return 1.0
    if gap(float(k)) >= 0.0:
        return float(k)
    return float(brentq(gap, 1.0, float(k), xtol=1e-14, rtol=4 * np.finfo(float).eps))


def kseq_acceptance(target, draft, k: int) -> float:
    """K-SEQ's chance of returning one of the k drafts: :math:`1 - (1 - \\beta(\\rho))^k`."""
    rho = kseq_rho(target, draft, k)
    return 1.0 - (1.0 - kseq_beta(target, draft, rho)) ** int(k)


def kseq_residual(target, draft, rho: float) -> np.ndarray:
    """The law drawn from when no draft is kept: :math:`(p_t - \\min(\\rho p_d, p_t))`,
    normalised (``target`` itself when that is zero everywhere)."""
    p_t, p_d = check_pair(target, draft)
    if not np.isfinite(rho) or rho < 1.0:
        raise ValueError(f"rho: must be a finite number >= 1 (got {rho!r})")
    excess = p_t - np.minimum(rho * p_d, p_t)
    total = excess.sum()
    return p_t.copy() if total <= 0 else excess / total


def kseq_output_law(target, draft, k: int, rho: float | None = None) -> np.ndarray:
    """K-SEQ's output law from its two branches (closed form, any vocabulary size).

    .. math::

        P(y) = \\frac{1 - (1-\\beta)^k}{\\beta}\\, \\min(p_d(y), p_t(y)/\\rho)
               + (1-\\beta)^k\\, r_\\rho(y).

    Parameters
    ----------
    target, draft : array_like, shape (V,)
    k : int, >= 1
    rho : float, optional
        Defaults to :func:`kseq_rho`; pass another value to see the law it gives.
    """
    p_t, p_d = check_pair(target, draft)
    k = check_int("k", k, low=1)
    rho = kseq_rho(p_t, p_d, k) if rho is None else float(rho)
    kept = np.minimum(p_d, p_t / rho)
    beta = kept.sum()
    none = (1.0 - beta) ** k
    accepted = kept * (k if beta == 0 else (1.0 - none) / beta)
    return accepted + none * kseq_residual(p_t, p_d, rho)


def kseq_output_law_enumerated(target, draft, k: int, rho: float | None = None
                               ) -> tuple[np.ndarray, float]:
    """K-SEQ's output law and acceptance by walking every draft tuple (no geometric sums).

    For each :math:`(x_1, \\dots, x_k) \\in [V]^k` with probability
    :math:`\\prod_i p_d(x_i)`, the chance that draft i is the first kept is
    :math:`a(x_i) \\prod_{j<i} (1 - a(x_j))` with
    :math:`a(x) = \\min(1, p_t(x)/(\\rho p_d(x)))`; the rest goes to the residual.

    Returns
    -------
    law : ndarray, shape (V,)
    acceptance : float

    Raises
    ------
    ValueError
        When ``V**k`` exceeds :data:`ENUMERATION_LIMIT` (use :func:`kseq_output_law`).
    """
    p_t, p_d = check_pair(target, draft)
    k = check_int("k", k, low=1)
    V = p_t.size
    if V ** k > ENUMERATION_LIMIT:
        raise ValueError(f"k: V**k = {V}**{k} exceeds the enumeration limit "
                         f"{ENUMERATION_LIMIT}; use kseq_output_law (closed form) instead")
    rho = kseq_rho(p_t, p_d, k) if rho is None else float(rho)
    with np.errstate(divide="ignore", invalid="ignore"):
        keep = np.where(p_d > 0, np.minimum(1.0, p_t / (rho * np.where(p_d > 0, p_d, 1.0))),
                        0.0)
    law = np.zeros(V)
    none_total = 0.0
    for tup in itertools.product(range(V), repeat=k):
        weight = float(np.prod(p_d[list(tup)]))
        if weight == 0.0:
            continue
        alive = 1.0
        for x in tup:
            law[x] += weight * alive * keep[x]
            alive *= 1.0 - keep[x]
        none_total += weight * alive
    acceptance = float(law.sum())
    law += none_total * kseq_residual(p_t, p_d, rho)
    return law, acceptance
