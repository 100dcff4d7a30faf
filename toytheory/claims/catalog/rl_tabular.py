"""Tabular foundations: value iteration and policy evaluation against brute force and rollouts."""

from __future__ import annotations

import itertools

import numpy as np

from toytheory import stats
from toytheory.claims import claim

PAPER = ("Free from Bellman Completeness: Trajectory Stitching via Model-based "
         "Return-conditioned Supervised Learning")
LEVEL = 1e-6


def random_mdp(rng, S: int, A: int, H: int):
    """A random finite-horizon MDP: Dirichlet(1) rows, integer-valued rewards in [-3, 3]."""
    from toytheory.rl.mdp import TabularMDP

    P = rng.dirichlet(np.ones(S), size=(S, A))
    r = rng.integers(-3, 4, size=(S, A)).astype(float)
    return TabularMDP(P, r, H, int(rng.integers(S)))


def random_policy(rng, H: int, S: int, A: int) -> np.ndarray:
    return rng.dirichlet(np.ones(A), size=(H, S))


def best_deterministic_value(mdp) -> float:
    """max over every deterministic time-dependent policy of its value (brute force)."""
    from toytheory.rl.mdp import policy_evaluation

    H, S, A = mdp.H, mdp.n_states, mdp.n_actions
    best = -np.inf
    for flat in itertools.product(range(A), repeat=H * S):
        pol = np.array(flat, dtype=np.int64).reshape(H, S)
        best = max(best, policy_evaluation(mdp, pol).V[0, mdp.start])
    return float(best)


@claim(
    "rl.tabular.values_match_brute_force_and_rollouts",
    paper=PAPER,
    kind="background",
    source=("Bellman (1957), Dynamic Programming; Puterman (1994), Markov Decision Processes, "
            "Theorem 4.3.3 (finite-horizon backward induction is optimal among all policies) "
            "and section 4.2 (policy evaluation)"),
    statement=("Finite-horizon value iteration attains the best value over all deterministic "
               "policies, and policy evaluation equals the mean return of simulated episodes."),
    witnesses=("exact", "simulated"),
    quick={"n_brute": 10, "n_sim": 6, "episodes": 20_000},
    full={"n_brute": 100, "n_sim": 40, "episodes": 1_000_000},
)
def values_match_brute_force_and_rollouts(ctx, n_brute, n_sim, episodes):
    from sims.rl_rollouts import tabular_returns
    from toytheory.rl.mdp import policy_evaluation, value_iteration

    ev = ctx.evidence()
    rng = ctx.rng("brute force")
    worst = 0.0
    for _ in range(n_brute):
        S, A, H = int(rng.integers(2, 4)), 2, int(rng.integers(1, 4))
        mdp = random_mdp(rng, S, A, H)
        vi = value_iteration(mdp).V[0, mdp.start]
        worst = max(worst, abs(vi - best_deterministic_value(mdp)))
    ev.close(f"max |value iteration - best of all deterministic policies| over {n_brute} "
             "random MDPs (S <= 3, A = 2, H <= 3)", worst, 0.0, atol=1e-12)
    rng = ctx.rng("rollouts")
    tests, constant_gap, n_constant = [], 0.0, 0
    for i in range(n_sim):
        S, A, H = int(rng.integers(2, 7)), int(rng.integers(2, 4)), int(rng.integers(1, 8))
        mdp = random_mdp(rng, S, A, H)
        pol = random_policy(rng, H, S, A)
        exact = policy_evaluation(mdp, pol).V[0, mdp.start]
        sim = tabular_returns(mdp.P, mdp.r, mdp.start, pol, episodes,
                              ctx.seed_for("episodes", str(i)))
        if np.all(sim == sim[0]):
            # every episode earns the same (e.g. H = 1 and equal rewards): nothing to test
            # statistically; the exact value must equal it up to rounding
            constant_gap = max(constant_gap, abs(float(sim[0]) - exact))
            n_constant += 1
        else:
            # a return is a sum of H rewards in [min r, max r]: bounded, so an empirical-
            # Bernstein test holds its level for every law (a t-test would not where a rare
            # transition makes the returns nearly constant with a far outlier)
            lo_r, hi_r = H * float(mdp.r.min()), H * float(mdp.r.max())
            tests.append(stats.bounded_mean_test(sim, exact, lo_r, hi_r, LEVEL / n_sim))
    ev.test(f"policy evaluation = mean of {episodes} Numba episodes, {len(tests)} random MDPs "
            "and policies (empirical-Bernstein tests on returns in [H min r, H max r], "
            "Bonferroni)", stats.bonferroni(tests, LEVEL), headline=True)
    ev.close(f"max |constant return - policy evaluation| over the {n_constant} cases whose "
             "episodes all earn the same", constant_gap, 0.0, atol=1e-9)
    return ev
