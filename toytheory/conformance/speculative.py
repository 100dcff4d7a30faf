r"""``check_speculative_decoder``: output-law equality with the target, acceptance vs the optimum.

For a target law :math:`p_t` and a draft law :math:`p_d` over one vocabulary, a lossless
speculative decoder outputs exactly :math:`p_t`, and keeps the draft token with
probability at most :math:`\sum_x\min(p_d, p_t) = 1 - \mathrm{TV}(p_d, p_t)` (the
maximal coupling; attained by speculative sampling,
:mod:`toytheory.decoding.speculative`; SpecTr, Section 3, k = 1).

On each problem the decoder is run ``n`` times; its outputs are held to :math:`p_t` by
the chi-square test on counts, and its acceptance count to the optimum by the exact
(Clopper–Pearson) interval: an interval wholly below the optimum means acceptance lost,
wholly above means a law other than :math:`p_t` must be coming out. Bonferroni over the
``2 x problems`` tests, so a lossless, optimal decoder fails with probability at most the
level. Power: see :func:`~toytheory.conformance.check_sampler_law` (total variation of
the output law), and the interval's half-width for the acceptance.
"""

from __future__ import annotations

import numpy as np

from ._defaults import resolve_level, resolve_seed
from ._result import CheckResult, check_callable, check_level
from .sampler_law import chisquare_detectable_tv

__all__ = ["check_speculative_decoder", "default_problems"]

_SIG = "decoder(target, draft, rng) -> (token, accepted)"


def default_problems():
    """Three (target, draft) pairs on 6 tokens: near, far, and one with disjoint mass."""
    t1 = np.array([0.30, 0.25, 0.15, 0.12, 0.10, 0.08])
    d1 = np.array([0.25, 0.30, 0.10, 0.15, 0.12, 0.08])
    t2 = np.array([0.05, 0.05, 0.10, 0.20, 0.25, 0.35])
    d2 = np.array([0.40, 0.25, 0.15, 0.10, 0.05, 0.05])
    t3 = np.array([0.50, 0.30, 0.20, 0.0, 0.0, 0.0])
    d3 = np.array([0.10, 0.10, 0.10, 0.30, 0.20, 0.20])
    return [(t1, d1), (t2, d2), (t3, d3)]


def check_speculative_decoder(decoder, problems=None, *, n_samples: int = 20_000,
                              level: float | None = None, miss: float | None = None,
                              seed: int | None = None) -> CheckResult:
    """Hold a one-token speculative decoder to losslessness and the optimal acceptance.

    Parameters
    ----------
    decoder : callable
        ``decoder(target, draft, rng) -> (token, accepted)``: one output token (an int
        in ``0..V-1``) and whether the draft token was kept, drawing from ``rng``.
    problems : sequence of (target, draft), optional
        Probability vectors of one size each; default :func:`default_problems`.
    n_samples : int
        Runs per problem.
    level, miss, seed
        As in :func:`~toytheory.conformance.check_sampler_law`.

    Returns
    -------
    CheckResult

    Raises
    ------
    ValueError
        Wrong signature, bad laws, level outside (0, 1), ``n_samples`` < 100, a token out
        of range.
    """
    from toytheory import stats
    from toytheory.decoding.speculative import check_pair, speculative_acceptance

    check_callable("decoder", decoder, 3, _SIG,
                   "wrap a batched decoder as lambda t, d, rng: one(t, d, rng)")
    level = resolve_level(level)
    miss = level if miss is None else check_level("miss", miss)
    if isinstance(n_samples, bool) or not isinstance(n_samples, int) or n_samples < 100:
        raise ValueError(f"n_samples: must be an int >= 100 (got {n_samples!r})")
    problems = default_problems() if problems is None else list(problems)
    if not problems:
        raise ValueError("problems: must hold at least one (target, draft) pair")
    pairs = [check_pair(t, d) for t, d in problems]
    seed = resolve_seed(seed, "check_speculative_decoder")
    per = level / (2 * len(pairs))
    gens = [np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(len(pairs))]
    ev, passed, measured, tvs = [], True, [], []
    for j, ((pt, pd), gen) in enumerate(zip(pairs, gens)):
        v = pt.size
        counts = np.zeros(v, dtype=np.int64)
        kept = 0
        for _ in range(n_samples):
            tok, acc = decoder(pt, pd, gen)
            tok = int(tok)
            if not 0 <= tok < v:
                raise ValueError(f"decoder: returned token {tok} outside 0..{v - 1}")
            counts[tok] += 1
            kept += bool(acc)
        law = stats.chisquare_gof(counts, pt, per)
        opt = speculative_acceptance(pt, pd)
        lo, hi = stats.exact_binomial_interval(kept, n_samples, per)
        acc_ok = lo <= opt <= hi
        ok = not law.reject and acc_ok
        passed = passed and ok
        tvs.append(chisquare_detectable_tv(n_samples, int(law.details.get("df", v - 1)), per,
                                           miss))
        where = ("" if acc_ok else " (below the optimum: acceptance lost)" if hi < opt else
                 " (above the optimum: the output cannot be the target law)")
        ev.append(f"problem {j}: output law chi-square p = {law.pvalue:.3g} "
                  f"[{'REJECT' if law.reject else 'ok'}]; acceptance {kept / n_samples:.4f}, "
                  f"interval [{lo:.4f}, {hi:.4f}] vs optimum 1 - TV = {opt:.4f}"
                  f"{where} [{'ok' if ok else 'FAIL'}]")
        measured.append({"counts": counts, "acceptance": kept / n_samples, "optimum": opt,
                         "interval": (lo, hi), "pvalue": law.pvalue})
    return CheckResult(
        "check_speculative_decoder", getattr(decoder, "__name__", "decoder"), passed,
        measured={"problems": measured, "n_samples": n_samples},
        bounds={"per_test_level": per}, level=level,
        power=(f"an output law at total variation >= {max(tvs):.3g} from the target, on any "
               f"problem, is detected with probability >= 1 - {miss:g}; acceptance off the "
               f"optimum by more than about twice the interval half-width likewise"),
        evidence=ev)
