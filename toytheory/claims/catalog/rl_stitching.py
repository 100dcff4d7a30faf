"""RCSL cannot stitch, even with deterministic transitions and uniform coverage (exact)."""

from __future__ import annotations

from fractions import Fraction

import numpy as np

from toytheory.claims import claim

PAPER = ("Free from Bellman Completeness: Trajectory Stitching via Model-based "
         "Return-conditioned Supervised Learning")


def stitching_facts(half_length: int, n_per_family: int) -> dict:
    """Exact returns of RCSL and of dynamic programming on the stitching chain."""
    from toytheory.rl.datasets import state_action_counts
    from toytheory.rl.exact import DeterministicMDP, exact_return, exact_value_iteration
    from toytheory.rl.rcsl import fit_tabular_rcsl
    from toytheory.rl.stitching import stitching_dataset, stitching_mdp

    L = half_length
    mdp = stitching_mdp(L)
    data = stitching_dataset(L, n_per_family)
    counts = state_action_counts(data, mdp.n_states, 2)[: 2 * L]
    rcsl = fit_tabular_rcsl(data, 2)
    start_returns = sorted({Fraction(float(g)) for g in data.returns()})
    # RCSL conditioned on every return that the data shows at the start state
    rcsl_in_data = {g: rcsl.expected_return(mdp, g) for g in start_returns}
    rcsl_greedy = rcsl.expected_return(mdp, greedy=True)
    # decision-transformer-style contexts: the previous K - 1 steps, up to the whole horizon
    dt = {K: fit_tabular_rcsl(data, 2, K) for K in sorted({2, 2 * L})}
    dt_in_data = {(K, g): model.expected_return(mdp, g) for K, model in dt.items()
                  for g in start_returns}
    before = rcsl.fallbacks
    rcsl_optimum_target = rcsl.expected_return(mdp, 2 * L)
    fallbacks = rcsl.fallbacks - before
    # offline dynamic programming: value iteration on the model the data shows
    s, a = data.states[:, :-1].ravel(), data.actions.ravel()
    nxt = np.arange(mdp.n_states)[:, None].repeat(2, axis=1)
    r = np.zeros((mdp.n_states, 2))
    nxt[s, a], r[s, a] = data.states[:, 1:].ravel(), data.rewards.ravel()
    empirical = DeterministicMDP(nxt, r, mdp.H, mdp.start)
    dp_policy = np.argmax(exact_value_iteration(empirical).Q_scaled, axis=2)
    return {
        "optimum": exact_value_iteration(mdp).v(0, mdp.start),
        "uniform": bool(np.all(counts == n_per_family)),
        "deterministic": True,
        "data_best": max(start_returns),
        "rcsl_in_data": rcsl_in_data,
        "rcsl_greedy": rcsl_greedy,
        "dt_in_data": dt_in_data,
        "rcsl_optimum_target": rcsl_optimum_target,
        "fallbacks_at_optimum_target": fallbacks,
        "offline_dp": exact_return(mdp, dp_policy),
    }


@claim(
    "rl.stitching.rcsl_cannot_stitch",
    paper=PAPER,
    kind="paper",
    source=("Abstract: Furthermore, in order to learn from sub-optimal datasets, we propose a "
            "simple framework called MBRCSL, granting RCSL methods the ability of dynamic "
            "programming to stitch together segments from distinct trajectories. Section 4 "
            "(RCSL cannot perform trajectory stitching; REFERENCE.md section 5)."),
    reading=("The need for MBRCSL to 'stitch together segments from distinct trajectories' is "
             "read as the paper's negative result for plain RCSL: on a deterministic MDP with "
             "uniform coverage whose optimal path is a stitch of two data families, every RCSL "
             "policy (Markovian, and decision-transformer style with any context) conditioned on"
             " any return in the data earns strictly less than the optimum, computed exactly."),
    statement=("RCSL cannot stitch: on an MDP with deterministic transitions and a dataset "
               "with uniform coverage made of two sub-optimal families whose stitch is optimal, "
               "Markovian RCSL and decision-transformer-style RCSL (any context length) "
               "conditioned on any return in the data earn strictly less than the optimum."),
    witnesses=("exact",),
    quick={"half_lengths": (1, 2, 3, 4, 5, 6), "copies": (1, 2, 3)},
    full={"half_lengths": tuple(range(1, 21)), "copies": (1, 2, 5, 10)},
)
def rcsl_cannot_stitch(ctx, half_lengths, copies):
    ev = ctx.evidence()
    cases = [(L, n) for L in half_lengths for n in copies]
    facts = {case: stitching_facts(*case) for case in cases}
    N = len(cases)
    ev.equal("cases where value iteration gives the optimum 2L (the stitch)",
             sum(f["optimum"] == 2 * L for (L, _), f in facts.items()), N)
    ev.equal("cases where every (t, a), t < 2L, appears exactly n times (uniform coverage)",
             sum(f["uniform"] for f in facts.values()), N)
    ev.equal("cases where the best return in the data is L (both families are sub-optimal)",
             sum(f["data_best"] == L for (L, _), f in facts.items()), N)
    ev.equal("cases where offline dynamic programming on the data's model earns 2L",
             sum(f["offline_dp"] == 2 * L for (L, _), f in facts.items()), N,
             note="the data does support the stitch: DP finds it")
    exact_L = sum(all(v == L for v in f["rcsl_in_data"].values()) and f["rcsl_greedy"] == L
                  for (L, _), f in facts.items())
    ev.equal("cases where RCSL conditioned on any return in the data earns exactly L "
             "(stochastic and greedy)", exact_L, N, role="statement")
    ev.equal("cases where RCSL with a context of 2 steps or of the whole horizon (a tabular "
             "decision transformer, cross-entropy fit) earns exactly L",
             sum(all(v == L for v in f["dt_in_data"].values()) for (L, _), f in facts.items()),
             N, role="statement")
    gap = min(f["optimum"] - max(max(f["rcsl_in_data"].values()), max(f["dt_in_data"].values()))
              for f in facts.values())
    ev.at_least("min over cases of optimum - RCSL return", float(gap), 1, role="statement",
                headline=True, note="the gap is L: RCSL follows one family from start to end")
    out = {f"L={L}": str(f["rcsl_optimum_target"]) for (L, n), f in facts.items() if n == 1}
    ev.record("RCSL conditioned on the optimum 2L (not in the data; nearest-return fallback)",
              ", ".join(f"{k}: {v}" for k, v in out.items()),
              note="L + 1/2: still short of 2L; out-of-data conditioning is undefined for "
                   "tabular RCSL, and this fallback is one arbitrary choice")
    ev.note("Chain 0 -> 1 -> ... -> 2L under either action. Action 0 pays 1 in the first half, "
            "action 1 pays 1 in the second half. Data: n trajectories 'always 0' and n "
            "'always 1', each of return L. At the start both families show return-to-go L, so "
            "RCSL picks either; from then on the return-to-go identifies the family, and RCSL "
            "follows it to the end. Every return is exact (Fractions).")
    return ev
