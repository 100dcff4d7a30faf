"""Figures for the Bellman-completeness area (matplotlib ``Figure`` objects, no pyplot).

- :func:`linearq_breakpoints_figure`: ``Q*`` and ``r`` of Linearq(u) with the
  breakpoints a two-layer ReLU network needs to fit ``r(., a)``;
- :func:`width_figure`: width forced by Bellman completeness against ``|S|``;
- :func:`returns_figure`: returns of learned policies against ``u``;
- :func:`maze_paths_figure`: the grid Point Maze, the two data families and
  the MBRCSL path.

Paper: "Free from Bellman Completeness: Trajectory Stitching via Model-based
Return-conditioned Supervised Learning".
"""

from __future__ import annotations

import numpy as np

__all__ = ["linearq_breakpoints_figure", "width_figure", "returns_figure", "maze_paths_figure"]


def _figure(size):
    from matplotlib.figure import Figure

    return Figure(figsize=size)


def linearq_breakpoints_figure(u: int = 4):
    """``Q*(., a)`` and ``r(., a)`` of Linearq(u), with the breakpoints of a sparsest fit of r."""
    from .interpolation import breakpoint_lower_bound, sparsest_interpolant
    from .linearq_mdp import linearq_q_star, linearq_rewards

    q, r = linearq_q_star(u), linearq_rewards(u)
    n = q.shape[0]
    s = np.arange(n)
    fig = _figure((10, 3.6))
    for a in range(2):
        ax = fig.add_subplot(1, 2, a + 1)
        fit = sparsest_interpolant(list(r[:, a]))
        grid = np.linspace(0, n - 1, 600)
        ax.plot(s, [float(x) for x in q[:, a]], "o-", ms=3, label="Q*(s, a)")
        ax.plot(grid, [float(fit(x)) for x in grid], "-", color="C1", lw=1,
                label="sparsest fit of r(s, a)")
        ax.plot(s, [float(x) for x in r[:, a]], "s", ms=4, color="C1", label="r(s, a)")
        for knot in fit.knots:
            ax.axvline(float(knot), color="0.6", lw=0.6, ls=":")
        ax.set_title(f"a = {a}: r needs {breakpoint_lower_bound(list(r[:, a]))} breakpoints "
                     f"(dotted); Q* has 1", fontsize=9)
        ax.set_xlabel("state s")
        if a == 0:
            ax.set_ylabel("value")
        ax.legend(fontsize=7)
    fig.suptitle(f"Linearq(u = {u}), |S| = {n}: the reward zigzags, Q* is a single ReLU",
                 fontsize=10)
    return fig


def width_figure(us=range(1, 101)):
    """Least width of a Bellman-complete class of two-layer ReLU networks against ``|S|``."""
    from .width_gap import bellman_completeness_width

    rows = [bellman_completeness_width(int(u)) for u in us]
    n_states = np.array([w.n_states for w in rows])
    fig = _figure((6.5, 3.6))
    ax = fig.add_subplot()
    ax.plot(n_states, [w.upper for w in rows], "-", lw=2.5, alpha=0.5,
            label="width of an explicit network fitting T0 = r")
    ax.plot(n_states, [w.lower for w in rows], "k.", ms=3,
            label="lower bound m* (sign-refined breakpoint count)")
    ax.plot(n_states, [w.naive_lower for w in rows], "--", lw=1, label="naive bound ceil(m/2)")
    ax.plot(n_states, n_states / 3 + 1, ":", color="k", lw=1, label="|S|/3 + 1 = u + 2")
    ax.axhline(2, color="C3", lw=1.5, label="RCSL: width 2 for every |S|")
    ax.axhline(1, color="C2", lw=1, ls="-.", label="Q*: width 1 per action")
    ax.set_xlabel("|S| = 3(u + 1)")
    ax.set_ylabel("two-layer ReLU width")
    ax.legend(fontsize=7)
    ax.set_title("Bellman completeness forces width ~ |S|/3; RCSL needs 2", fontsize=10)
    return fig


def returns_figure(runs):
    """Learned policies on Linearq against ``u``: fraction of seeds reaching ``4u + 2``, shortfall.

    Left: fitted Q iteration at fixed widths 2, 4, 8, 16; middle: at widths
    ``u/4, u, 4u``; right: mean shortfall at the relative widths. RCSL in every panel.

    Parameters
    ----------
    runs : list of toytheory.rl.learners.LearnerRun
    """
    fig = _figure((12, 3.6))
    axes = [fig.add_subplot(1, 3, i + 1) for i in range(3)]
    fixed: dict[str, dict[int, list]] = {}
    relative: dict[str, dict[int, list]] = {}
    for run in runs:
        u = run.u
        names = {max(1, -(-u // 4)): "u/4", u: "u", 4 * u: "4u"}
        for (width, _), ret in run.returns.items():
            pair = (float(ret), float(run.optimum))
            if run.method == "rcsl":
                label = f"RCSL width {width}"
                fixed.setdefault(label, {}).setdefault(u, []).append(pair)
                relative.setdefault(label, {}).setdefault(u, []).append(pair)
                continue
            if width in (2, 4, 8, 16):
                fixed.setdefault(f"FQI width {width}", {}).setdefault(u, []).append(pair)
            if width in names:
                relative.setdefault(f"FQI width {names[width]}", {}).setdefault(
                    u, []).append(pair)

    def draw(ax, series, shortfall=False):
        for i, (label, by_u) in enumerate(sorted(series.items())):
            us = sorted(by_u)
            if shortfall:
                ys = [np.mean([o - r for r, o in by_u[u]]) for u in us]
            else:
                ys = [np.mean([r == o for r, o in by_u[u]]) for u in us]
            rcsl = label.startswith("RCSL")
            ax.plot(us, ys, "-o" if rcsl else "--s", ms=9 if rcsl else 4, lw=3 if rcsl else 1,
                    alpha=0.45 if rcsl else 1.0, label=label, color=f"C{i % 10}",
                    zorder=1 if rcsl else 3)
        ax.set_xscale("log", base=2)
        ax.set_xlabel("u  (|S| = 3u + 3)")
        ax.legend(fontsize=6)

    draw(axes[0], fixed)
    draw(axes[1], relative)
    draw(axes[2], relative, shortfall=True)
    axes[0].set_ylabel("fraction of seeds reaching 4u + 2")
    axes[0].set_title("fixed widths", fontsize=9)
    axes[1].set_title("widths u/4, u, 4u", fontsize=9)
    axes[2].set_ylabel("mean shortfall 4u + 2 - return")
    axes[2].set_title("shortfall, widths u/4, u, 4u", fontsize=9)
    fig.suptitle("Linearq: policies learned from the paper's dataset, exact returns", fontsize=10)
    return fig


def maze_paths_figure(maze, dataset, kept=None):
    """The grid maze, the dataset's two families, and the paths MBRCSL keeps."""
    from .pointmaze import GOAL, MAZE_MAP, START

    fig = _figure((6.5, 3.6))
    ax = fig.add_subplot()
    grid = np.array(MAZE_MAP)
    ax.imshow(grid, cmap="Greys", vmin=0, vmax=1.5)

    def draw(states, color, lw, alpha, offset):
        cells = np.array([maze.cells[s] for s in states], dtype=float)
        keep = np.concatenate([[True], np.any(np.diff(cells, axis=0) != 0, axis=1)])
        cells = cells[keep]
        ax.plot(cells[:, 1] + offset, cells[:, 0] + offset, "-o", color=color, lw=lw,
                alpha=alpha, ms=4)

    seen = set()
    for row in dataset.states:
        key = tuple(dict.fromkeys(int(s) for s in row))
        if key in seen:
            continue
        seen.add(key)
        goes_left = maze.cells[row[1]] == (1, 1) or (1, 1) in [maze.cells[s] for s in row]
        draw(row, "C0" if goes_left else "C1", 2, 0.7, -0.08 if goes_left else 0.0)
    if kept is not None and kept.n:
        returns = kept.returns()
        best = kept.states[int(np.argmax(returns))]
        draw(best, "C3", 3, 0.9, 0.08)
    ax.plot([], [], "-", color="C1", label="data: start -> (2,2), stop")
    ax.plot([], [], "-", color="C0", label="data: detour (1,1) -> (2,1) -> (2,4)")
    ax.plot([], [], "-", color="C3", label="MBRCSL: stitched path")
    ax.text(START[1], START[0] - 0.3, "start", ha="center", fontsize=8)
    ax.text(GOAL[1], GOAL[0] - 0.3, "goal", ha="center", fontsize=8)
    ax.set_xticks(range(grid.shape[1]))
    ax.set_yticks(range(grid.shape[0]))
    ax.legend(fontsize=7, loc="lower left", bbox_to_anchor=(0.0, -0.45))
    ax.set_title("Grid Point Maze: the best path is a stitch of the two families", fontsize=10)
    return fig
