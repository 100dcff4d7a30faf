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
    kind="paper",
    source=("Abstract: Furthermore, in order to learn from sub-optimal datasets, we propose a "
            "simple framework called MBRCSL, granting RCSL methods the ability of dynamic "
            "programming to stitch together segments from distinct trajectories. MBRCSL "
            "leverages learned dynamics models and forward sampling to accomplish trajectory "
            "stitching while avoiding the need for Bellman completeness that plagues all "
            "dynamic programming algorithms. Section 5 (Point Maze; REFERENCE.md section 5)."),
    reading=("Read on a grid Point Maze with the paper's data layout: MBRCSL reaches the optimal"
             " return with probability above 1/2 over seeds, RCSL and behaviour cloning on the "
             "data with probability below 1/2, each by an exact Clopper-Pearson interval at "
             "level 1e-6."),
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
    decide = _decisive_n(LEVEL)
    lo, hi = stats.exact_binomial_interval(counts["MBRCSL"], seeds, LEVEL)
    ev.interval("MBRCSL: probability of reaching the optimum", counts["MBRCSL"] / seeds,
                (lo, hi), 0.5, side=">=", level=LEVEL, headline=True,
                detectable=f"with {seeds} seeds, all-or-nothing outcomes decide at level "
                           f"{LEVEL:g} ({decide} seeds suffice)",
                decide_n=decide if lo < 0.5 <= hi else None,
                note=f"{counts['MBRCSL']}/{seeds} seeds; Clopper-Pearson at level {LEVEL:g}")
    for name in ("RCSL", "BC (stochastic)", "BC (most frequent action)"):
        lo, hi = stats.exact_binomial_interval(counts[name], seeds, LEVEL)
        ev.interval(f"{name}: probability of reaching the optimum", counts[name] / seeds,
                    (lo, hi), 0.5, side="<=", level=LEVEL,
                    detectable=f"with {seeds} seeds, all-or-nothing outcomes decide at level "
                               f"{LEVEL:g} ({decide} seeds suffice)",
                    decide_n=decide if lo <= 0.5 < hi else None,
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


def _decisive_n(level: float) -> int:
    """The fewest seeds for which 0/n (or n/n) puts the exact interval on one side of 1/2."""
    lo, hi = 1, 64
    while lo < hi:
        mid = (lo + hi) // 2
        lo, hi = (lo, mid) if stats.exact_binomial_interval(0, mid, level)[1] < 0.5 else (
            mid + 1, hi)
    return hi
