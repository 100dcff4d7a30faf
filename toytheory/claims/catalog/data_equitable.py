"""Equitable training datasets: certified optimal allocations, and the sequential strategy
that never sees the learning curves, on least-squares groups."""

from __future__ import annotations

import numpy as np

import toytheory.data.figures  # noqa: F401  (registers the data figures)
from toytheory import stats
from toytheory.claims import claim

PAPER = "Adaptive Sampling Strategies to Construct Equitable Training Datasets"
LEVEL = 1e-6

# the toy: three groups learned by OLS; the rarest group has the most features and the
# dearest samples (the majority is cheap and easy)
DIMS = (5, 10, 20)
SIGMA2 = (1.0, 1.0, 1.0)
COSTS = (1.0, 2.0, 4.0)
SHARES = (0.7, 0.2, 0.1)


def random_curves(rng):
    """A random instance: 2-4 groups, power-law or OLS curves, costs in [0.5, 4]."""
    from toytheory.data.allocation import OLSCurve, PowerLawCurve

    G = int(rng.integers(2, 5))
    if rng.random() < 0.5:
        curves = [PowerLawCurve(float(rng.uniform(0.5, 5)), float(rng.uniform(0.2, 1.5)),
                                float(rng.uniform(0, 0.3))) for _ in range(G)]
    else:
        curves = [OLSCurve(float(rng.uniform(0.5, 2)), int(rng.integers(1, 15)))
                  for _ in range(G)]
    costs = rng.uniform(0.5, 4, G)
    n_min = np.array([c.n_min for c in curves])
    budget = float(costs @ n_min) * float(rng.uniform(2, 30))
    return curves, costs, budget


@claim(
    "data.equitable.optimal_allocation_certified",
    paper=PAPER,
    kind="derived",
    statement=("For convex decreasing learning curves with costs per sample, the worst-group "
               "and the welfare allocations of a budget are found with a certificate (a "
               "bracket, a Lagrangian dual bound) that an independent SLSQP solve never "
               "beats, and they are never worse than equal or proportional allocation."),
    witnesses=("exact",),
    quick={"instances": 40},
    full={"instances": 2000},
)
def optimal_allocation_certified(ctx, instances):
    from toytheory.data.allocation import (equal_allocation, proportional_allocation,
                                           scipy_allocation, welfare_allocation,
                                           worst_group_allocation)

    ev = ctx.evidence()
    rng = ctx.rng("instances")
    worst_gap = welfare_gap = beat_wg = beat_wf = over_budget = 0.0
    heuristic_gain = np.inf
    skipped = 0
    for _ in range(instances):
        curves, costs, budget = random_curves(rng)
        G = len(curves)
        shares = rng.dirichlet(np.ones(G))
        wg = worst_group_allocation(curves, costs, budget)
        wf = welfare_allocation(curves, costs, budget, shares)
        worst_gap = max(worst_gap, wg.gap / wg.objective)
        welfare_gap = max(welfare_gap, wf.gap / wf.objective)
        over_budget = max(over_budget, (max(wg.spent, wf.spent) - budget) / budget)
        sp_wg = scipy_allocation(curves, costs, budget)
        sp_wf = scipy_allocation(curves, costs, budget, shares)
        if sp_wg.spent <= budget * (1 + 1e-9):
            beat_wg = max(beat_wg, (wg.lower - sp_wg.objective) / wg.objective)
        if sp_wf.spent <= budget * (1 + 1e-9):
            beat_wf = max(beat_wf, (wf.lower - sp_wf.objective) / wf.objective)
        n_min = np.array([cv.n_min for cv in curves])
        for rule in (equal_allocation(curves, costs, budget),
                     proportional_allocation(curves, costs, budget, shares)):
            if np.any(rule.n < n_min):  # outside the program's domain: not comparable
                skipped += 1
                continue
            e = rule.errors
            heuristic_gain = min(heuristic_gain, float(np.max(e)) - wg.objective,
                                 float(shares @ e) - wf.objective)
    ev.at_most(f"max relative certificate gap, worst-group allocation ({instances} instances)",
               worst_gap, 1e-9)
    ev.at_most("max relative duality gap, welfare allocation", welfare_gap, 1e-9)
    ev.at_most("max relative overspend of the certified allocations", over_budget, 1e-9)
    ev.at_most("max amount by which SLSQP beats the certified lower bound (worst group), "
               "relative", beat_wg, 1e-7)
    ev.at_most("max amount by which SLSQP beats the dual bound (welfare), relative",
               beat_wf, 1e-7)
    ev.at_least("min (heuristic objective - optimum), equal and proportional allocation "
                "(those giving every group its minimum sample)", heuristic_gain, -1e-9,
                headline=True)
    ev.record("heuristic allocations skipped (a group below its minimum sample)", skipped)
    from toytheory.data.figures import allocation_figure

    ev.figure("data.equitable.allocations",
              allocation_figure(ctx.seed, budgets=np.geomspace(250, 4000, 8)),
              "Certified optima against equal and proportional allocation, by budget")
    return ev


def _toy():
    from toytheory.data.allocation import OLSCurve

    return [OLSCurve(s, d) for s, d in zip(SIGMA2, DIMS)]


def _runs(ctx, runs, budget, batch, m_val):
    """Per run: the realised worst-group test error of the sequential strategy and of the
    certified optimum, equal and proportional allocations (fresh data for each)."""
    from sims.data_groups import GroupPool
    from toytheory.data.allocation import (equal_allocation, proportional_allocation,
                                           sequential_worst_group, worst_group_allocation)

    curves, costs = _toy(), np.array(COSTS)
    fixed = {"optimum": worst_group_allocation(curves, costs, budget),
             "equal": equal_allocation(curves, costs, budget),
             "proportional": proportional_allocation(curves, costs, budget, SHARES)}
    out = {k: np.empty(runs) for k in ("sequential", *fixed)}
    alloc_gap = np.empty(runs)
    for r in range(runs):
        rng = ctx.rng("run", str(r))
        pool = GroupPool(DIMS, SIGMA2, m_val, rng)
        n = sequential_worst_group(pool.validation_error, costs, budget,
                                   [d + 3 for d in DIMS], batch)
        for g in range(len(DIMS)):  # the last batch bought is collected before training
            pool.grow(g, int(n[g]))
        out["sequential"][r] = max(pool.test_error(g) for g in range(len(DIMS)))
        alloc_gap[r] = max(float(c.value(k)) for c, k in zip(curves, n))
        for name, a in fixed.items():
            other = GroupPool(DIMS, SIGMA2, 1, rng)
            n_fix = np.maximum(np.floor(a.n).astype(int), np.array(DIMS) + 1)
            for g in range(len(DIMS)):
                other.grow(g, int(n_fix[g]))
            out[name][r] = max(other.test_error(g) for g in range(len(DIMS)))
    return out, fixed, alloc_gap / fixed["optimum"].objective - 1.0


@claim(
    "data.equitable.sequential_outperforms_heuristics",
    paper=PAPER,
    kind="paper",
    source=("Abstract: \"We find that our adaptive sampling strategy outperforms several "
            "common data collection heuristics, including equal and proportional sampling\""),
    reading=("Toy: three groups (shares 0.7/0.2/0.1) each learned by ordinary least squares "
             "on 5/10/20 Gaussian features, costs 1/2/4 per sample, budget 600. The adaptive "
             "strategy buys batches of 5 for the group with the largest validation error "
             "(1000 validation points per group) and never sees the curves. Outcome per run: "
             "the worst group's exact test error of the trained models. 'Outperforms' read "
             "as: the adaptive run has the lower worst-group error with probability > 1/2 "
             "against equal and against proportional sampling (Clopper-Pearson at 1e-6 on "
             "the paired wins). Only the worst-group objective is tested; the paper's "
             "polygenic-score simulation is not reproduced."),
    statement=("On least-squares groups, the sequential worst-group strategy ends with a lower "
               "worst-group test error than equal and than proportional allocation in more "
               "than half of the runs."),
    witnesses=("exact", "simulated"),
    quick={"runs": 800, "budget": 600.0, "batch": 5, "m_val": 1000, "sim_reps": 3000},
    full={"runs": 5000, "budget": 600.0, "batch": 5, "m_val": 1000, "sim_reps": 50000},
)
def sequential_outperforms_heuristics(ctx, runs, budget, batch, m_val, sim_reps):
    from sims.data_groups import ols_test_errors

    ev = ctx.evidence()
    curves = _toy()
    from scipy.stats import f as f_law

    tests, gaps = [], []
    for g, (d, s2) in enumerate(zip(DIMS, SIGMA2)):
        n = 4 * d
        errs = ols_test_errors(d, s2, n, sim_reps, ctx.rng("curve", str(g)))
        # exact law, no normal approximation (the error has only about (n - d + 1)/2 finite
        # moments, too heavy a tail for a t-test at 1e-6): the OLS error is
        # beta_hat - beta = sqrt(s2) W^-1/2 z with W = X'X ~ Wishart_d(n, I) and z ~ N(0, I_d)
        # independent of W, so |beta_hat - beta|^2 / s2 = z'W^-1 z = chi2_d / chi2_(n-d+1)
        # (independent), i.e. (err / s2 - 1) (n - d + 1) / d ~ F(d, n - d + 1)
        law = f_law(d, n - d + 1)
        tests.append(stats.ks_1samp((errs / s2 - 1.0) * (n - d + 1) / d, law.cdf,
                                    LEVEL / len(DIMS)))
        gaps.append(abs(float(curves[g].value(n)) - s2 * (1.0 + d / (n - d + 1) * law.mean())))
    ev.close("exact curve s2 (1 + d/(n - d - 1)) at n = 4d vs the mean of the F law "
             "s2 (1 + d/(n - d + 1) E F(d, n - d + 1)), largest gap over groups", max(gaps),
             0.0, atol=1e-12)
    ev.test("simulated OLS test error has the exact law s2 (1 + d/(n - d + 1) F(d, n - d + 1)) "
            f"at n = 4d, {sim_reps} fits per group (KS, Bonferroni; the law's mean is the "
            "curve)", stats.bonferroni(tests, LEVEL))
    out, fixed, _ = _runs(ctx, runs, budget, batch, m_val)
    for name in ("equal", "proportional"):
        wins = int(np.count_nonzero(out["sequential"] < out[name]))
        lo, hi = stats.exact_binomial_interval(wins, runs, LEVEL)
        ev.interval(f"P(adaptive worst-group error < {name} allocation's), {runs} paired runs",
                    wins / runs, (lo, hi), 0.5, side=">=", level=LEVEL,
                    detectable=f"a win rate beyond 0.5 + {hi - wins / runs:.2f}",
                    decide_n=4 * runs, headline=name == "equal")
        ev.record(f"mean worst-group test error, {name} allocation", float(out[name].mean()))
    ev.record("mean worst-group test error, adaptive", float(out["sequential"].mean()))
    if ev.verdict != "holds":
        ev.referee_note(
            says="our adaptive sampling strategy outperforms ... equal and proportional sampling",
            toy="three OLS groups (d = 5/10/20, costs 1/2/4, shares 0.7/0.2/0.1), budget "
                f"{budget:g}, batches of {batch}, {m_val} validation points per group",
            measured="win rates of the adaptive run's worst-group test error against equal "
                     "and proportional allocation, Clopper-Pearson at 1e-6 (numbers above)",
            inside="the paper's setting: groups with decreasing learning curves, costs per "
                   "sample, a fixed budget, a worst-group objective, curves unknown",
            would_change="more runs (an undecided interval), or a budget where equal "
                         "allocation is itself near the worst-group optimum")
    return ev


@claim(
    "data.equitable.sequential_reaches_optimum",
    paper=PAPER,
    kind="paper",
    source=("Abstract: \"When data collection decisions are made sequentially, we show that "
            "under certain conditions this optimization problem can be efficiently solved "
            "even without prior knowledge of the learning rates.\""),
    reading=("Same toy as data.equitable.sequential_outperforms_heuristics (budget 600). "
             "The optimum is the certified worst-group allocation computed from the exact "
             "learning curves (known to the checker, not to the strategy). 'Solved without "
             "prior knowledge' read as: the adaptive run's worst-group test error is within "
             "5% of that of a model trained on the certified optimal allocation with "
             "probability > 1/2 (Clopper-Pearson at 1e-6). Weaker than convergence of the "
             "allocation itself, which is recorded (its expected-curve excess) but not held."),
    statement=("Without the learning curves, the sequential strategy's worst-group test error "
               "is within 5% of the certified optimal allocation's in more than half of the "
               "runs."),
    witnesses=("exact", "simulated"),
    quick={"runs": 300, "budget": 600.0, "batch": 5, "m_val": 1000,
           "other_budgets": (300.0, 1200.0), "other_runs": 60},
    full={"runs": 3000, "budget": 600.0, "batch": 5, "m_val": 1000,
          "other_budgets": (300.0, 1200.0, 2400.0), "other_runs": 1000},
)
def sequential_reaches_optimum(ctx, runs, budget, batch, m_val, other_budgets, other_runs):
    from toytheory.data.allocation import scipy_allocation

    ev = ctx.evidence()
    curves, costs = _toy(), np.array(COSTS)
    out, fixed, alloc_gap = _runs(ctx, runs, budget, batch, m_val)
    from sims.data_sequential import sequential_runs

    _, worst_numba = sequential_runs(DIMS, SIGMA2, COSTS, budget, [d + 3 for d in DIMS],
                                     batch, m_val, runs, ctx.seed_for("numba"))
    ev.test(f"worst-group error of the sequential collector: numpy reference = Numba "
            f"re-implementation ({runs} runs each, two-sample KS)",
            stats.ks_2samp(out["sequential"], worst_numba, LEVEL))
    opt = fixed["optimum"]
    ev.close("certified optimum = SLSQP optimum (worst group)",
             scipy_allocation(curves, costs, budget).objective, opt.objective, rtol=1e-7)
    ev.at_most("certificate gap of the optimum", opt.gap, 1e-10)
    ok = int(np.count_nonzero(out["sequential"] <= 1.05 * out["optimum"]))
    lo, hi = stats.exact_binomial_interval(ok, runs, LEVEL)
    ev.interval(f"P(adaptive worst-group error <= 1.05 x optimum allocation's), {runs} runs",
                ok / runs, (lo, hi), 0.5, side=">=", level=LEVEL,
                detectable=f"a rate beyond 0.5 + {hi - ok / runs:.2f}", decide_n=4 * runs,
                headline=True)
    ev.record("mean expected-curve excess of the adaptive allocation over the optimum "
              "(relative)", float(alloc_gap.mean()))
    for B in other_budgets:  # at what budget: the same rate elsewhere, recorded, not held
        o, _, g = _runs(ctx, other_runs, B, batch, m_val)
        ev.record(f"budget {B:g}: rate within 5% of the optimum's error ({other_runs} runs)",
                  float(np.mean(o["sequential"] <= 1.05 * o["optimum"])))
        ev.record(f"budget {B:g}: mean expected-curve excess of the adaptive allocation",
                  float(g.mean()))
    ev.note("The adaptive strategy chases realised errors, so its allocation differs from "
            "the expected-curve optimum (recorded excess) while its trained models do as well.")
    if ev.verdict != "holds":
        ev.referee_note(
            says="this optimization problem can be efficiently solved even without prior "
                 "knowledge of the learning rates",
            toy=f"three OLS groups, budget {budget:g}, batches of {batch}",
            measured="rate at which the adaptive worst-group test error is within 5% of the "
                     "certified optimal allocation's, Clopper-Pearson at 1e-6",
            inside="decreasing convex learning curves, sequential collection, curves unknown",
            would_change="more runs, smaller batches or larger validation sets")
    return ev
