"""Learning to actively learn (a robust approach): exact minimax adaptive querying of noisy
thresholds with a budget of a few queries, one policy for several classes of problems."""

from __future__ import annotations

import numpy as np

from toytheory.claims import claim
from toytheory.figures import register_figure

PAPER = "Learning to Actively Learn: A Robust Approach"
LEVEL = 1e-6
N_POINTS = 3
NOISES = ((0.02, 0.4, 0.4), (0.4, 0.4, 0.02), (0.2, 0.02, 0.2))
"""The toy's equivalence classes: per-point flip probabilities (clean on the left, on the
right, in the middle). Each class holds the 4 thresholds on 3 points."""
TRAINING = {"steps": 700, "lr": 0.05, "temperature": 0.003}
"""Adversarial training: Adam steps of the learner against the adversary's softmax."""


def _solve(budget: int):
    """Per-class minimax errors, the robust policy, and the baselines' errors."""
    from toytheory.rl import active_learning as al

    problem = al.ThresholdProblem(N_POINTS, NOISES, budget)
    per_class = [al.minimax_policy(al.ThresholdProblem(N_POINTS, (eta,), budget))
                 for eta in NOISES]
    offset = np.repeat([r.value for r in per_class], problem.n_thresholds)
    robust = al.minimax_policy(problem, offset)
    learned = al.learned_policy_errors(al.adversarial_training(
        problem, offset, steps=TRAINING["steps"], lr=TRAINING["lr"],
        temperature=TRAINING["temperature"]))
    uniform = np.full(problem.n_problems, 1.0 / problem.n_problems)
    baselines = {
        "binary search": al.policy_errors(al.binary_search_policy(problem)),
        "generalised binary search": al.policy_errors(al.gbs_policy(problem)),
        "Bayes policy for the uniform prior": al.policy_errors(al.bayes_policy(problem,
                                                                                uniform)),
    }
    return problem, per_class, offset, robust, baselines, learned


@claim(
    "active.thresholds.robust_policy_competes_per_class",
    paper=PAPER,
    kind="paper",
    statement=("On noisy thresholds (3 points, 4 thresholds, three noise classes) with 3 to 6 "
               "queries, one adaptive policy, learned by adversarial training over the "
               "classes, has a worst-case error in every class within 0.05 of that "
               "class's own minimax policy, and closer than binary search, generalised binary search and the "
               "Bayes policy for a uniform prior."),
    source=('Abstract: "our adaptive algorithm is learned via adversarial training over '
            'equivalence classes of problems derived from information theoretic lower '
            'bounds. In particular, a single adaptive learning algorithm is learned that '
            'competes with the best adaptive algorithm learned for each equivalence class." '
            'and "This is in contrast to existing meta-learning work that learns an adaptive '
            'algorithm relative to an explicit, user-defined subset or prior distribution '
            'over problems"'),
    reading=("A class is a noise profile (where the labels are clean); within a class every "
             "threshold has the same information-theoretic difficulty, so classes stand for "
             "the paper's equivalence classes (here chosen by hand, not cut from a complexity "
             "measure). 'Competes with the best algorithm for each class' is read as the "
             "paper's objective: the excess max_k [worst error in class k - V_k], V_k the "
             "exact minimax error of class k. The policy is learned as the paper learns it, "
             "by adversarial training, in tabular form: a randomised policy over count "
             "states (query and decision logits) takes 700 Adam steps with exact gradients "
             "against an adversary that plays the softmax (temperature 0.003) of the "
             "current excesses; no network. The objective's exact optimum (double oracle: "
             "LP adversary, Bayes best response by dynamic programming, 1e-9 certificate) "
             "is computed beside it: the learned policy can approach it, never beat it. "
             "Holds if the learned policy's excess is <= 0.05 at every budget and below "
             "each baseline's. 0.05 is ours (the paper states no number); the measured "
             "excess is <= 0.04 (exact optimum <= 0.03) and the baselines' >= 0.09, so any "
             "threshold in between reads the same. The Bayes "
             "policy for a uniform prior stands for the explicit-prior meta-learning the "
             "abstract contrasts with."),
    witnesses=("exact", "simulated"),
    quick={"budgets": (3, 4, 6), "runs": 3_000, "max_excess": 0.05},
    full={"budgets": (3, 4, 5, 6, 7, 8), "runs": 40_000, "max_excess": 0.05},
)
def robust_policy_competes_per_class(ctx, budgets, runs, max_excess):
    from sims.active_thresholds import identification_errors
    from toytheory import stats

    ev = ctx.evidence()
    results = {b: _solve(b) for b in budgets}
    # witnesses first: certificates, then simulation of the robust policy at the first budget
    worst_gap = max(max(r.value - r.lower for r in per_class) + (robust.value - robust.lower)
                    for _, per_class, _, robust, _, _ in results.values())
    ev.at_most("largest minimax certificate gap (mixed policy's value - adversary prior's "
               "Bayes value), all budgets and classes", worst_gap, 1e-8)
    below = max(robust.value - float(np.max(learned - offset))
                for _, _, offset, robust, _, learned in results.values())
    ev.at_most("largest amount by which the learned policy's excess is below the certified "
               "optimum (must not be positive)", below, 1e-9)
    problem, _, _, robust, _, _ = results[budgets[0]]
    rng = ctx.rng("simulation")
    outside = 0
    level = LEVEL / problem.n_problems
    for j in range(problem.n_problems):
        wrong = identification_errors(robust.policies, robust.mixture, j, runs, rng)
        lo, hi = stats.exact_binomial_interval(wrong, runs, level)
        outside += int(not lo <= robust.errors[j] <= hi)
    ev.equal(f"problems (of {problem.n_problems}) whose exact robust-policy error at budget "
             f"{budgets[0]} is outside the Clopper-Pearson interval of {runs} simulated "
             "plays (1e-6 over all)", outside, 0)

    excess, beaten = [], 0
    for b, (problem, per_class, offset, robust, baselines, learned) in results.items():
        K, T = len(NOISES), problem.n_thresholds
        mine = float(np.max(learned - offset))
        excess.append(mine)
        base = {name: float(np.max(e - offset)) for name, e in baselines.items()}
        beaten += int(all(mine < v for v in base.values()))
        worst = learned.reshape(K, T).max(axis=1)
        average = learned.reshape(K, T).mean(axis=1)
        ev.record(f"B = {b}: class minimax errors V_k", float(per_class[0].value),
                  note=", ".join(f"{r.value:.3f}" for r in per_class))
        ev.record(f"B = {b}: learned policy's excess (exact optimum)", mine,
                  note=f"exact optimum of the objective {robust.value:.4f}")
        ev.record(f"B = {b}: learned policy's worst-case error per class", float(worst.max()),
                  note=", ".join(f"{w:.3f}" for w in worst)
                  + "; average over thresholds " + ", ".join(f"{a:.3f}" for a in average))
        ev.record(f"B = {b}: baselines' excess over V_k", min(base.values()),
                  note="; ".join(f"{n} {v:.3f}" for n, v in base.items()))
    ev.at_most("largest excess of the learned policy's worst-case error over the class "
               "minimax, all budgets", max(excess), max_excess, role="statement",
               headline=True)
    ev.equal("budgets at which the learned policy's excess is below every baseline's", beaten,
             len(budgets), role="statement")
    if max(excess) > max_excess or beaten < len(budgets):
        ev.referee_note(
            says="a single adaptive algorithm is learned that competes with the best "
                 "adaptive algorithm learned for each equivalence class",
            toy=f"thresholds on {N_POINTS} points, noise classes {NOISES}, budgets {budgets}",
            measured=f"exact excess over the class minimax {max(excess):.4f} (threshold "
                     f"{max_excess}); below every baseline at {beaten} of {len(budgets)} "
                     "budgets",
            inside="the policy is learned by the paper's adversarial objective, whose exact "
                   "optimum is reported beside it",
            would_change="a looser reading of 'competes' (a larger excess allowed)")
    ev.note("The excess is not zero: no single policy is minimax in every class at once "
            "(the classes want different points queried), and the exact price is what the "
            "paper's objective minimises.")
    return ev


@claim(
    "active.thresholds.exact_minimax_matches_brute_force",
    paper=PAPER,
    kind="derived",
    statement=("The double-oracle minimax policy's value equals the minimax error over all "
               "randomised history-based policies, found by enumerating every decision tree, "
               "on every problem with at most 2 points and 2 queries."),
    witnesses=("exact",),
    quick={"noises": (0.1, 0.3)},
)
def exact_minimax_matches_brute_force(ctx, noises):
    from toytheory.rl import active_learning as al

    ev = ctx.evidence()
    worst = 0.0
    for m in (1, 2):
        for b in (1, 2):
            for eta in noises:
                for classes in ((eta,), (eta, (0.0,) * m)):
                    pr = al.ThresholdProblem(m, classes, b)
                    worst = max(worst, abs(al.minimax_policy(pr).value
                                           - al.brute_force_minimax(pr)))
    ev.at_most("largest |double oracle - brute force| minimax error", worst, 1e-9,
               headline=True)
    ev.note("The count states are a sufficient statistic: the best response depends on the "
            "answers only through their counts, so no history-based policy does better.")
    return ev


@register_figure("active.threshold_errors",
                 caption="Worst-case error per noise class against the query budget: "
                         "class minimax, the robust policy, and the baselines")
def threshold_errors_figure(seed: int = 0, budgets=(2, 3, 4, 5)):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(9, 3.2), layout="constrained")
    rows = [_solve(b) for b in budgets]
    for k in range(len(NOISES)):
        ax = fig.add_subplot(1, len(NOISES), k + 1)
        T = N_POINTS + 1
        ax.plot(budgets, [r[1][k].value for r in rows], "k-", label="class minimax")
        ax.plot(budgets, [r[3].errors.reshape(-1, T)[k].max() for r in rows], "o-",
                label="robust, exact optimum")
        ax.plot(budgets, [r[5].reshape(-1, T)[k].max() for r in rows], "s:",
                label="robust, adversarially trained")
        for name in rows[0][4]:
            ax.plot(budgets, [r[4][name].reshape(-1, T)[k].max() for r in rows], ".--",
                    label=name)
        ax.set_title(f"noise {NOISES[k]}", fontsize=8)
        ax.set_xlabel("query budget")
        if k == 0:
            ax.set_ylabel("worst-case error")
            ax.legend(frameon=False, fontsize=6)
    return fig
