"""MBRCSL stitches on a grid version of the paper's Point Maze; RCSL and cloning do not."""

from __future__ import annotations

import numpy as np

from toytheory import stats
from toytheory.claims import claim
from toytheory.figures import register_figure

PAPER = ("Free from Bellman Completeness: Trajectory Stitching via Model-based "
         "Return-conditioned Supervised Learning")
LEVEL = 1e-6
H = 10
PAUSE = 0.1


def run_seed(seed: int, n_data: int, n_rollouts: int):
    """One seed: draw the dataset, run MBRCSL, RCSL and BC, evaluate exactly."""
    from toytheory.rl.pointmaze import mbrcsl, point_maze, point_maze_dataset

    maze = point_maze(H)
    rng = np.random.default_rng(seed)
    data = point_maze_dataset(maze, n_data, PAUSE, rng)
    return maze, data, mbrcsl(maze, data, n_rollouts, rng)


@register_figure("rl.pointmaze_paths",
                 caption="Grid Point Maze: the data's two families and the path MBRCSL learns")
def paths_figure(seed: int = 0, n_data: int = 1000, n_rollouts: int = 1000):
    from toytheory.rl.plots import maze_paths_figure

    maze, data, result = run_seed(seed, n_data, n_rollouts)
    return maze_paths_figure(maze, data, result.kept)


@claim(
    "rl.pointmaze.mbrcsl_stitches",
    paper=PAPER,
    statement=("On the Point Maze data (start (1,2); half the trajectories stop at (2,2), half "
               "detour (1,1) -> (2,1) -> (2,4)), MBRCSL (learned dynamics, learned behaviour "
               "policy, model rollouts above the data's best return, RCSL on them) reaches the "
               "optimal return, while RCSL and behaviour cloning on the data do not."),
    witnesses=("exact", "simulated"),
    quick={"seeds": 40, "n_data": 1000, "n_rollouts": 1000},
    full={"seeds": 400, "n_data": 1000, "n_rollouts": 1000},
)
def mbrcsl_stitches(ctx, seeds, n_data, n_rollouts):
    from toytheory.rl.pointmaze import point_maze

    ev = ctx.evidence()
    optimum = point_maze(H).optimal_return
    ev.equal(f"optimal return (value iteration, H = {H}): goal after 3 moves", str(optimum),
             str(H - 2))
    results = []
    for i in range(seeds):
        maze, data, res = run_seed(ctx.seed_for("seed", str(i)), n_data, n_rollouts)
        results.append(res)
    below = sum(r.dataset_best < r.optimal for r in results)
    ev.equal("seeds whose dataset lacks an optimal trajectory (stitching is needed)", below,
             seeds)
    ev.equal("seeds whose dataset's best return is the detour's, H - 4",
             sum(r.dataset_best == H - 4 for r in results), seeds)
    ev.at_most("seeds where RCSL on the model rollouts beats the optimum (impossible)",
               sum(r.mbrcsl > r.optimal for r in results), 0)
    counts = {
        "MBRCSL": sum(r.mbrcsl == r.optimal for r in results),
        "RCSL": sum(r.rcsl == r.optimal for r in results),
        "BC (stochastic)": sum(r.bc == r.optimal for r in results),
        "BC (most frequent action)": sum(r.bc_greedy == r.optimal for r in results),
    }
    lo, hi = stats.exact_binomial_interval(counts["MBRCSL"], seeds, LEVEL)
    ev.at_least("MBRCSL: probability of reaching the optimum, lower end of the exact interval",
                lo, 0.5, role="statement", headline=True,
                note=f"{counts['MBRCSL']}/{seeds} seeds; Clopper-Pearson at level {LEVEL:g}")
    for name in ("RCSL", "BC (stochastic)", "BC (most frequent action)"):
        lo, hi = stats.exact_binomial_interval(counts[name], seeds, LEVEL)
        ev.at_most(f"{name}: probability of reaching the optimum, upper end of the exact "
                   "interval", hi, 0.5, role="statement",
                   note=f"{counts[name]}/{seeds} seeds; Clopper-Pearson at level {LEVEL:g}")
    ev.record("mean exact return: MBRCSL / RCSL / BC (stochastic)",
              " / ".join(f"{np.mean([float(getattr(r, k)) for r in results]):.3f}"
                         for k in ("mbrcsl", "rcsl", "bc")))
    ev.record("mean number of model rollouts kept (return > data's best)",
              float(np.mean([r.n_kept for r in results])))
    ev.figure("paths", paths_figure(ctx.seed_for("figure"), n_data, n_rollouts),
              caption="the two data families and the stitched path MBRCSL keeps and learns")
    ev.note(f"Grid maze of the paper's code (maze_default.json), H = {H}, reward 1 per step "
            f"ending at the goal. Behaviour steps pause with probability {PAUSE}, so the data "
            "is random but never contains the shortest path. Dynamics and behaviour policy "
            "are fitted by counting; MBRCSL rolls out the behaviour policy "
            f"{n_rollouts} times in the learned model, keeps rollouts above the data's best "
            "return and fits tabular RCSL on them (most frequent action, conditioned on the "
            "best kept return). Every return is evaluated exactly in the true maze.")
    return ev
