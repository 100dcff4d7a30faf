"""Block drafts on a Markov target/draft pair: tokens per target call, exact by DP.

"SpecTr: Fast Speculative Decoding via Optimal Transport", Section 5 (SpecTr with k
drafts of length :math:`\\gamma`). The target is an order-1 chain :math:`P_t`, the draft a
chain :math:`P_d`. From the last token :math:`s`, the draft model writes ``k`` blocks of
:math:`\\gamma` tokens i.i.d.; one target call scores them all. Level by level, K-SEQ
(:mod:`toytheory.decoding.kseq`, with its :math:`\\rho` for the number of surviving
drafts ``j`` and the laws :math:`P_t(\\cdot|s)`, :math:`P_d(\\cdot|s)`) examines the
surviving drafts' tokens in draft order and keeps one token ``x`` or draws from the
residual. After keeping ``x`` the surviving drafts are those whose token at this level is
``x`` (examined and rejected ones included: their continuations are fresh draws from
:math:`P_d(\\cdot|x)`, so the next level is again K-SEQ on i.i.d. candidates and the
output follows the target). The call ends at a residual draw, or after :math:`\\gamma`
kept tokens with one token from the target: it yields between 1 and :math:`\\gamma + 1`
tokens. ``k = 1`` is ordinary speculative decoding, where the law is closed-form:
:math:`P(\\ge i \\text{ kept}) = e_s^\\top A^i \\mathbf 1`, :math:`A = \\min(P_d, P_t)`
entrywise.

The DP state is (token ``s``, surviving drafts ``j``, levels left); one level's outcome
law is enumerated over the :math:`V^j` ordered candidate tuples.
"""

from __future__ import annotations

import itertools
from functools import lru_cache

import numpy as np

from toytheory._validation import check_int, check_square

from .kseq import kseq_rho

__all__ = ["BLOCK_ENUMERATION_LIMIT", "kseq_level_outcomes", "tokens_per_call_law",
           "tokens_per_call_k1_closed_form", "rho_table"]

BLOCK_ENUMERATION_LIMIT = 100_000
"""Largest V^k enumerated at one level; beyond it simulate with
``sims.decoding_speculative.block_tokens_counts``."""


def _check_chains(target, draft):
    Pt = check_square("target", target)
    Pd = check_square("draft", draft)
    if Pt.shape != Pd.shape:
        raise ValueError(f"draft: must have the target's shape {Pt.shape}")
    for name, P in (("target", Pt), ("draft", Pd)):
        if np.any(P < 0) or np.any(np.abs(P.sum(axis=1) - 1) > 1e-9):
            raise ValueError(f"{name}: rows must be probability vectors")
    return Pt, Pd


def kseq_level_outcomes(target_row, draft_row, j: int, rho: float) -> tuple[dict, float]:
    """One K-SEQ level with ``j`` i.i.d. candidates.

    Returns
    -------
    kept : dict
        ``{(x, j_next): probability}``: token ``x`` kept with ``j_next`` drafts carrying it.
    rejected : float
        Probability that no candidate is kept (the residual is drawn).
    """
    pt = np.asarray(target_row, dtype=float)
    pd = np.asarray(draft_row, dtype=float)
    V = pt.size
    if V ** j > BLOCK_ENUMERATION_LIMIT:
        raise ValueError(f"j: V^j = {V ** j} candidate tuples exceed the enumeration limit "
                         f"{BLOCK_ENUMERATION_LIMIT}; simulate instead")
    with np.errstate(divide="ignore", invalid="ignore"):
        keep = np.where(pd > 0, np.minimum(1.0, pt / (rho * pd)), 0.0)
    kept, rejected = {}, 0.0
    for tup in itertools.product(range(V), repeat=j):
        w = float(np.prod(pd[list(tup)]))
        if w == 0.0:
            continue
        alive = w
        for i, x in enumerate(tup):
            a = keep[x]
            if a > 0:
                key = (x, sum(1 for y in tup if y == x))
                kept[key] = kept.get(key, 0.0) + alive * a
            alive *= 1.0 - a
        rejected += alive
    return kept, rejected


def rho_table(target, draft, k: int) -> np.ndarray:
    """:math:`\\rho(s, j)` of K-SEQ for every state and every ``j = 1..k`` (shape (V, k+1),
    column 0 unused)."""
    Pt, Pd = _check_chains(target, draft)
    k = check_int("k", k, low=1)
    table = np.ones((Pt.shape[0], k + 1))
    for s in range(Pt.shape[0]):
        for j in range(1, k + 1):
            table[s, j] = kseq_rho(Pt[s], Pd[s], j)
    return table


def tokens_per_call_law(target, draft, k: int, gamma: int, start: int) -> np.ndarray:
    """Exact law of the tokens one target call yields (index ``t`` = t tokens, 1..gamma+1).

    Parameters
    ----------
    target, draft : array_like, shape (V, V)
        Transition matrices of the target and the draft chain.
    k : int, >= 1
        Draft blocks per call.
    gamma : int, >= 1
        Block length.
    start : int
        The last token before the call.
    """
    Pt, Pd = _check_chains(target, draft)
    k = check_int("k", k, low=1)
    gamma = check_int("gamma", gamma, low=1)
    V = Pt.shape[0]
    start = check_int("start", start, low=0, high=V - 1)
    if V ** k > BLOCK_ENUMERATION_LIMIT:
        raise ValueError(f"k: V^k = {V ** k} exceeds the enumeration limit "
                         f"{BLOCK_ENUMERATION_LIMIT}; simulate instead")
    rho = rho_table(Pt, Pd, k)

    @lru_cache(maxsize=None)
    def level(s, j):
        return kseq_level_outcomes(Pt[s], Pd[s], j, rho[s, j])

    @lru_cache(maxsize=None)
    def law(s, j, left):
        out = np.zeros(gamma + 2)
        if left == 0:
            out[1] = 1.0            # the target's own token after gamma kept
            return out
        kept, rejected = level(s, j)
        out[1] += rejected
        for (x, j_next), w in kept.items():
            out[1:] += w * law(x, j_next, left - 1)[:-1]
        return out

    return law(start, k, gamma).copy()


def tokens_per_call_k1_closed_form(target, draft, gamma: int, start: int) -> float:
    """:math:`\\sum_{i=0}^{\\gamma} e_s^\\top A^i \\mathbf 1`, :math:`A = \\min(P_d, P_t)`."""
    Pt, Pd = _check_chains(target, draft)
    gamma = check_int("gamma", gamma, low=1)
    A = np.minimum(Pt, Pd)
    v = np.zeros(Pt.shape[0])
    v[check_int("start", start, low=0, high=Pt.shape[0] - 1)] = 1.0
    total = 0.0
    for _ in range(gamma + 1):
        total += v.sum()
        v = v @ A
    return float(total)
