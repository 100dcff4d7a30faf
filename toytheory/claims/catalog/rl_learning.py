"""Linearq(u) learned from the paper's dataset: RCSL MLPs against fitted Q iteration (DQN).

The experiment of the paper's section 5.1 on the toy: RCSL with a two-layer MLP
on (state, return-to-go) against DQN-style fitted Q iteration with two-layer
networks of widths {2, 4, 8, 16, u/4, u, 4u}, every policy evaluated exactly.
Verdicts are counts over seeds (which runs reach 4u + 2 exactly), with exact
(Clopper-Pearson) intervals reported beside them.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np

from toytheory import stats
from toytheory.claims import claim
from toytheory.claims.catalog.decisive_counts import holding_count, refuting_count
from toytheory.figures import register_figure

PAPER = ("Free from Bellman Completeness: Trajectory Stitching via Model-based "
         "Return-conditioned Supervised Learning")
LEVEL = 1e-6

QUICK_RCSL = {"us": (8, 16), "widths": (8, 16), "seeds": 4, "steps": 500}
FULL_RCSL = {"us": (4, 8, 16, 32, 64, 160), "widths": (8, 16), "seeds": 5, "steps": 2000}
QUICK_FQI = {"us": (16,), "seeds": 2, "steps": 50, "rcsl_steps": 500}
FULL_FQI = {"us": (4, 8, 16, 32, 64, 160), "seeds": 3, "steps": 50, "rcsl_steps": 2000}


def _interval(k: int, n: int) -> str:
    lo, hi = stats.exact_binomial_interval(k, n, LEVEL)
    return f"{k}/{n}; exact interval at level {LEVEL:g}: [{lo:.3f}, {hi:.3f}]"


def dataset_facts(u: int) -> dict:
    """The paper's dataset on Linearq(u): its make-up, and what exact tabular methods get."""
    from toytheory.rl.datasets import linearq_dataset
    from toytheory.rl.exact import DeterministicMDP, exact_return, exact_value_iteration
    from toytheory.rl.linearq_mdp import linearq
    from toytheory.rl.rcsl import fit_tabular_rcsl

    mdp = linearq(u)
    data = linearq_dataset(u)
    returns = data.returns()
    optimal_actions = (np.arange(mdp.n_states) >= u + 1).astype(np.int64)[
        np.minimum(np.arange(mdp.H), mdp.n_states - 1)]  # the optimal path visits s = h
    n_opt = int(np.sum(np.all(data.actions == optimal_actions[None, :], axis=1)))
    # tabular fitted Q iteration = value iteration on the empirical (here exact) model;
    # every (s, a) is in the data, so the empirical model is the MDP itself
    s, a = data.states[:, :-1].ravel(), data.actions.ravel()
    s2, r = data.states[:, 1:].ravel(), data.rewards.ravel()
    seen = np.zeros((mdp.n_states, 2), dtype=bool)
    seen[s, a] = True
    next_emp = np.arange(mdp.n_states)[:, None].repeat(2, axis=1)  # unseen pairs: stay, r = 0
    r_emp = np.zeros((mdp.n_states, 2))
    next_emp[s, a], r_emp[s, a] = s2, r  # deterministic: every copy of (s, a) agrees
    empirical = DeterministicMDP(next_emp, r_emp, mdp.H, mdp.start)
    values = exact_value_iteration(empirical)
    greedy = np.argmax(values.Q_scaled, axis=2)
    tabular_fqi = exact_return(mdp, greedy)
    tabular_rcsl = fit_tabular_rcsl(data, 2).expected_return(mdp, greedy=True)
    return {"n": data.n, "n_optimal": n_opt, "best": Fraction(float(returns.max())),
            "all_pairs_seen": bool(seen.all()), "tabular_fqi": tabular_fqi,
            "tabular_rcsl": tabular_rcsl}


def network_seeds(seeds, run_seed: int = 0) -> list[int]:
    """``seeds`` initialisation seeds derived from the claim's seed."""
    from toytheory._random import derive_seed

    return [derive_seed(run_seed, "network", str(i)) for i in range(seeds)]


def run_rcsl(us, widths, seeds, steps, device="cpu", run_seed=0):
    from toytheory.rl.learners import fit_rcsl_mlp

    init = network_seeds(seeds, run_seed)
    return [fit_rcsl_mlp(u, widths, init, steps=steps, device=device) for u in us]


def run_fqi(us, seeds, steps, device="cpu", run_seed=0):
    from toytheory.rl.learners import fit_q_iteration, paper_widths

    init = network_seeds(seeds, run_seed)
    return [fit_q_iteration(u, paper_widths(u), init, steps=steps, device=device) for u in us]


@register_figure("rl.returns_vs_u",
                 caption="Linearq: fraction of seeds reaching 4u + 2 and mean shortfall, "
                         "RCSL MLPs against fitted Q iteration")
def returns_vs_u_figure(seed: int = 0, runs=None):
    from toytheory.rl.plots import returns_figure

    if runs is None:  # standalone (toytheory figures): small u, two seeds
        runs = (run_rcsl((4, 8, 16), (8, 16), 2, 500, run_seed=seed)
                + run_fqi((4, 8, 16), 2, 50, run_seed=seed))
    return returns_figure(runs)


@claim(
    "rl.linearq.rcsl_mlp_reaches_optimum",
    paper=PAPER,
    kind="paper",
    source=("Abstract: We prove there exists a natural environment in which if one uses two-"
            "layer multilayer perceptron as the function approximator, the layer width needs to"
            " grow linearly with the state space size to satisfy Bellman completeness while a "
            "constant layer width is enough for RCSL. These findings take a step towards "
            "explaining the superior empirical performance of RCSL methods compared to DP-based"
            " methods in environments with near-optimal datasets. Section 5.1 (Linearq; "
            "REFERENCE.md section 5): RCSL with width 16 reaches exactly 4u + 2 for u = "
            "16..160."),
    reading=("'A constant layer width is enough for RCSL' is read empirically, as in the paper's"
             " Linearq experiment: RCSL MLPs of fixed widths 8 and 16, trained on the paper's "
             "dataset, attain 4u + 2 exactly (exact evaluation) on every seed at every u tested;"
             " a single short run refutes."),
    statement=("Trained on the paper's Linearq dataset (3|S| optimal trajectories and H "
               "one-flip trajectories), RCSL with a two-layer MLP of width 8 or 16 on "
               "(state, return-to-go), conditioned on the best return in the data, attains "
               "exactly 4u + 2 on every seed."),
    witnesses=("exact", "simulated"),
    quick=QUICK_RCSL,
    full=FULL_RCSL,
    timeout={"full": 7200},
)
def rcsl_mlp_reaches_optimum(ctx, us, widths, seeds, steps):
    ev = ctx.evidence()
    for u in us:
        f = dataset_facts(u)
        ev.equal(f"u = {u}: trajectories following the threshold policy throughout "
                 f"(3|S| = {9 * u + 9})",
                 f["n_optimal"], 9 * u + 9)
        ev.equal(f"u = {u}: best return in the dataset (the RCSL conditioning value)",
                 str(f["best"]), str(4 * u + 2))
        ev.equal(f"u = {u}: tabular RCSL (exact counts) on the same data earns 4u + 2",
                 str(f["tabular_rcsl"]), str(4 * u + 2))
    runs = run_rcsl(us, widths, seeds, steps, ctx.device, ctx.seed)
    for w in widths:
        k = sum(run.successes(w)[0] for run in runs)
        n = sum(run.successes(w)[1] for run in runs)
        ev.equal(f"RCSL width {w}: runs reaching 4u + 2 exactly (u in {list(us)}, "
                 f"{seeds} seeds each)", k, n, role="statement", headline=(w == max(widths)),
                 note=_interval(k, n))
    worst = min(min(v - run.optimum for v in run.returns.values()) for run in runs)
    ev.record("largest shortfall of any RCSL run below 4u + 2", float(-worst))
    ev.note(f"Adam, learning rate 1e-2, {steps} full-batch steps on the dataset's cross-entropy "
            "(distinct rows weighted by their counts); inputs s/(|S|-1) and g/(4u+2); "
            "the policy is rolled out exactly with the return-to-go updated by the exact "
            f"reward. Each of the {seeds} seeds (derived from the claim's seed) initialises "
            "one network per width and u.")
    return ev


SOURCE_DQN = ("Abstract: These findings take a step towards explaining the superior empirical "
              "performance of RCSL methods compared to DP-based methods in environments with "
              "near-optimal datasets. Section 5.1 (Linearq, the paper's code; REFERENCE.md "
              "section 5): DQN of widths u/4 to 4u usually ends one point short of 4u + 2, for "
              "u = 16..160.")
READING_DQN = ("'Usually ends short' is read as: at each u tested, the probability that a DQN "
               "run at the paper's widths in [u/4, 4u] (equal numbers of fresh seeds per width) "
               "ends below 4u + 2 is at least 1/2, decided by an exact Clopper-Pearson interval "
               "at level 1e-6 on the count of short runs (valid, and conservative, for runs of "
               "unequal success probabilities: Hoeffding 1956). The learner is a minibatch DQN "
               "with a target network and Adam; the paper gives no hyperparameters, so ours are "
               "stated and the verdict is about this DQN.")




def first_deviation(run, width, seed) -> int | None:
    """The first state on the optimal path 0, 1, ..., 3u+1 where the greedy action is wrong."""
    u = run.u
    greedy = np.array(run.details["greedy_actions"][(width, seed)])
    path = np.arange(3 * u + 2)
    wrong = np.flatnonzero(greedy[path] != (path >= u + 1))
    return int(wrong[0]) if wrong.size else None


DQN_SETTINGS = {"target_every": 50, "batch": 32, "lr": 1e-3}


def decisive_runs(p_hat: float, level: float = LEVEL, threshold: float = 0.5) -> int | None:
    """The fewest runs at which a short-run rate of ``p_hat`` gives an exact interval off
    ``threshold``.
    """
    if abs(p_hat - threshold) < 0.02:
        return None  # no size in reach decides a rate this close to the threshold

    def decides(n):
        lo, hi = stats.exact_binomial_interval(int(round(p_hat * n)), n, level)
        return lo >= threshold or hi < threshold

    lo, hi = 8, 8
    while not decides(hi):
        lo, hi = hi, 2 * hi
        if hi > 1_000_000:
            return None
    while lo < hi:  # bisection (decides is monotone up to rounding of p_hat n)
        mid = (lo + hi) // 2
        lo, hi = (lo, mid) if decides(mid) else (mid + 1, hi)
    return hi


def run_dqn(u, per_width, run_seed, settings=None):
    """DQN runs at every paper width in [u/4, 4u], ``per_width`` fresh seeds each."""
    import toytheory.rl.dqn as dqn

    from toytheory._random import derive_seed

    seeds = [derive_seed(run_seed, "dqn", str(u), str(i)) % (2 ** 31) for i in range(per_width)]
    return dqn.fit_dqn(u, dqn.dqn_widths(u), seeds, **(settings or DQN_SETTINGS))


@claim(
    "rl.linearq.dqn_falls_short",
    paper=PAPER,
    kind="paper",
    source=SOURCE_DQN,
    reading=READING_DQN,
    statement=("Trained on the paper's Linearq dataset, DQN with two-layer networks of widths "
               "u/4 to 4u usually does not attain 4u + 2: at each u of the paper's range "
               "16..160, at least half of the runs end short."),
    witnesses=("exact", "simulated"),
    quick={"us": (16, 32), "per_width": 6},
    full={"us": (16, 24, 32, 64), "per_width": 30},
    timeout={"full": 7200},
)
def dqn_falls_short(ctx, us, per_width):
    from toytheory.rl.learners import shortfall_summary

    ev = ctx.evidence()
    # witnesses: the data and the exact dynamic-programming baseline on it
    for u in us:
        f = dataset_facts(u)
        ev.equal(f"u = {u}: every (s, a) appears in the dataset", f["all_pairs_seen"], True)
        ev.equal(f"u = {u}: tabular fitted Q iteration (a Bellman-complete class) earns "
                 "4u + 2", str(f["tabular_fqi"]), str(4 * u + 2),
                 note="so any shortfall of the networks is the function class or the fit, "
                      "not the data")
    runs = [run_dqn(u, per_width, ctx.seed) for u in us]
    for run in runs:
        ev.equal(f"u = {run.u}: DQN runs with an exact return at or below 4u + 2",
                 sum(v <= run.optimum for v in run.returns.values()), len(run.returns),
                 note="no policy beats the optimum: the exact evaluation is consistent")
    where = {"s in {u, u+1} (action gap 1/2)": 0, "elsewhere": 0}
    measured = []
    for run in runs:
        u = run.u
        widths = sorted({w for w, _ in run.returns})
        k = sum(v < run.optimum for v in run.returns.values())
        n = len(run.returns)
        lo, hi = stats.exact_binomial_interval(k, n, LEVEL)
        undecided = lo < 0.5 <= hi
        decide = decisive_runs(k / n) if undecided else None
        ev.interval(f"u = {u}: probability that a DQN run at widths {widths} "
                    "ends short of 4u + 2", k / n, (lo, hi), 0.5, side=">=", level=LEVEL,
                    headline=(u == us[0]), decide_n=decide,
                    detectable=(f"{n} runs: decides at level {LEVEL:g} when the observed rate "
                                f"is at least {_decisive_rate(n, True):.3f} (holds) or at most "
                                f"{_decisive_rate(n, False):.3f} (refuted)"),
                    note=f"{k}/{n} runs short ({per_width} seeds x widths "
                         f"{widths}); Clopper-Pearson at level {LEVEL:g}")
        measured.append(f"u = {u}: {k}/{n} short, exact interval [{lo:.3f}, {hi:.3f}] at "
                        f"level {LEVEL:g}" + (f" (about {decide} runs would decide)"
                                               if decide else ""))
        for w in widths:
            kk, nn = run.successes(w)
            gaps = sorted({str(run.optimum - v) for (ww, _), v in run.returns.items() if ww == w})
            ev.record(f"u = {u}, width {w}: runs reaching 4u + 2", f"{kk}/{nn}",
                      note="shortfalls seen: " + ", ".join(gaps))
        for (w, seed), ret in run.returns.items():
            if ret < run.optimum:
                dev = first_deviation(run, w, seed)
                where["s in {u, u+1} (action gap 1/2)" if dev in (u, u + 1)
                      else "elsewhere"] += 1
    ev.record("where short runs first leave the optimal path (all widths)",
              ", ".join(f"{k}: {v}" for k, v in where.items()),
              note="Q*(s,1) - Q*(s,0) = s - u - 1/2 on [0, 2u+1]: the gap is 1/2 at s = u and "
                   "s = u + 1 while values are about 4u, so the fit must be accurate to a "
                   "relative 1/(8u + 4) there")
    ev.note(shortfall_summary(runs))
    ev.note(f"DQN: minibatch {DQN_SETTINGS['batch']} transitions drawn uniformly from the "
            f"dataset, Adam (lr {DQN_SETTINGS['lr']:g}), squared TD error against a target "
            f"network refreshed every {DQN_SETTINGS['target_every']} steps, 2|S| refreshes; "
            "rewards divided by the best return in the data; greedy policy evaluated exactly. "
            "The paper does not state its DQN's hyperparameters; more training makes fewer "
            "runs end short on this toy (at u = 16, 200 steps per refresh halves the short "
            "rate), so the verdict belongs to this protocol.")
    if ev.verdict in ("refuted", "inconclusive"):
        ev.referee_note(
            says="DQN with widths u/4..4u usually ends about one point short of 4u + 2 on "
                 "Linearq for u = 16..160 (section 5.1), part of the evidence that RCSL "
                 "outperforms DP-based methods on near-optimal datasets.",
            toy=f"Linearq(u) at u in {list(us)}, the paper's dataset, a minibatch DQN with a "
                f"target network (settings in the notes), {per_width} seeds per width at every "
                "paper width in [u/4, 4u], every greedy policy evaluated exactly.",
            measured="; ".join(measured),
            inside="Same environment, same dataset and the same width range as the paper; "
                   "the learner is DQN-style (replay minibatches, target network, Adam) but "
                   "its hyperparameters are ours, as the paper gives none.",
            would_change="More runs per u (decide_n above) decide the rate at each u; a "
                         "different training budget changes the rate itself.")
    return ev


def _decisive_rate(n: int, high: bool) -> float:
    """The smallest (largest) observed rate k/n whose exact interval lies above (below) 1/2."""
    k = (holding_count(n, 0.5, ">=", LEVEL) if high
         else refuting_count(n, 0.5, ">=", LEVEL))
    return float("nan") if k is None else k / n
