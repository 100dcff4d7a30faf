"""Figures of the data-selection toys: certified allocations against budget, and the
downstream error of selection rules on the label-graph toy.

Each figure function takes a seed and returns a :class:`matplotlib.figure.Figure`; they are
registered with :func:`toytheory.figures.register_figure`.
"""

from __future__ import annotations

import numpy as np

from ..figures import register_figure

__all__ = ["allocation_figure", "mig_figure"]

# the equitable-datasets toy (also used by its claims)
DIMS = (5, 10, 20)
COSTS = (1.0, 2.0, 4.0)
SHARES = (0.7, 0.2, 0.1)


@register_figure("data.equitable.allocations",
                 caption="Worst-group and population error against budget: the certified "
                         "optima, equal and proportional allocation (least-squares groups "
                         "with 5/10/20 features, costs 1/2/4, shares 0.7/0.2/0.1)")
def allocation_figure(seed: int = 0, budgets=None):
    from matplotlib.figure import Figure

    from .allocation import (OLSCurve, equal_allocation, proportional_allocation,
                             welfare_allocation, worst_group_allocation)

    curves = [OLSCurve(1.0, d) for d in DIMS]
    budgets = np.geomspace(250, 4000, 25) if budgets is None else np.asarray(budgets)
    rows = {k: [] for k in ("worst-group optimum", "welfare optimum", "equal", "proportional")}
    for B in budgets:
        allocs = {"worst-group optimum": worst_group_allocation(curves, COSTS, B),
                  "welfare optimum": welfare_allocation(curves, COSTS, B, SHARES),
                  "equal": equal_allocation(curves, COSTS, B),
                  "proportional": proportional_allocation(curves, COSTS, B, SHARES)}
        for k, a in allocs.items():
            rows[k].append((a.errors.max(), float(np.asarray(SHARES) @ a.errors)))
    fig = Figure(figsize=(9, 3.6), layout="constrained")
    axes = fig.subplots(1, 2, sharex=True)
    for k, v in rows.items():
        v = np.array(v)
        for j in range(2):
            axes[j].plot(budgets, v[:, j] - 1.0, label=k)
    for ax, title in zip(axes, ("worst-group excess error", "population excess error")):
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xticks([250, 500, 1000, 2000, 4000], ["250", "500", "1000", "2000", "4000"])
        ax.minorticks_off()
        ax.set_xlabel("budget")
        ax.set_title(title, fontsize=9)
    axes[0].legend(fontsize=7)
    return fig


@register_figure("data.mig.selection_rules",
                 caption="Exact downstream error of MIG, quality-only, diversity-only and "
                         "random selection on random labelled pools (Gaussian skill model)")
def mig_figure(seed: int = 0, pools: int = 100, k_values=(4, 8, 12, 16)):
    from matplotlib.figure import Figure

    from .mig import LabelGraphGain, greedy_select, skill_posterior_error

    rng = np.random.default_rng(seed)
    L, N = 8, 40
    W = np.zeros((L, L))
    for j in range(L):
        W[j, (j + 1) % L] = W[(j + 1) % L, j] = 1.0
    K = np.linalg.inv(np.eye(L) + np.diag(W.sum(1)) - W)
    names = ("MIG", "quality-only", "diversity-only", "random")
    means = {n: [] for n in names}
    for k in k_values:
        acc = {n: [] for n in names}
        for _ in range(pools):
            freq = 1.0 / np.arange(1, L + 1) ** 1.2
            freq = (freq / freq.sum())[rng.permutation(L)]
            Y = np.zeros((N, L))
            prim = rng.choice(L, N, p=freq)
            Y[np.arange(N), prim] = 1.0
            q = np.where(rng.random(N) < 0.5, rng.uniform(0.05, 0.2, N), rng.uniform(1, 4, N))
            sel = {"MIG": greedy_select(LabelGraphGain(Y, q, W), k),
                   "quality-only": list(np.argsort(-q, kind="stable")[:k]),
                   "diversity-only": greedy_select(LabelGraphGain(Y, np.ones(N), W), k),
                   "random": list(rng.choice(N, k, replace=False))}
            for n, S in sel.items():
                acc[n].append(skill_posterior_error(Y, q, K, np.full(L, 1 / L), S))
        for n in names:
            means[n].append(np.mean(acc[n]))
    fig = Figure(figsize=(5, 3.6), layout="constrained")
    ax = fig.subplots()
    for n in names:
        ax.plot(k_values, means[n], marker="o", label=n)
    ax.set_xlabel("subset size k (pool of 40)")
    ax.set_ylabel("mean exact downstream error")
    ax.legend(fontsize=7)
    return fig
