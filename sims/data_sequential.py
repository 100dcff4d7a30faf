"""Numba simulation of the sequential worst-group collector on least-squares groups.

An independent implementation of the process behind the equitable-datasets claims (the
claims' reference is :func:`toytheory.data.allocation.sequential_worst_group` driving
:class:`sims.data_groups.GroupPool`): every group keeps its normal equations
:math:`X^\\top X, X^\\top y` and refits by a linear solve after each batch; the collector
buys ``batch`` samples of the affordable group with the largest validation error until no
batch is affordable. Written from the process's definition; no closed form is used.

Randomness: run ``r`` reseeds Numba's generator with ``seed + r`` (serial, deterministic).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from toytheory._validation import check_int

__all__ = ["sequential_runs"]


@njit(cache=True)
def _kernel(dims, sigma2, costs, budget, start, batch, m_val, runs, seed):
    G = dims.size
    dmax = int(dims.max())
    counts = np.zeros((runs, G), np.int64)
    worst = np.zeros(runs)
    for r in range(runs):
        np.random.seed(seed + r)
        beta = np.zeros((G, dmax))
        XtX = np.zeros((G, dmax, dmax))
        Xty = np.zeros((G, dmax))
        Xv = np.zeros((G, m_val, dmax))
        yv = np.zeros((G, m_val))
        n = np.zeros(G, np.int64)
        for g in range(G):
            d = dims[g]
            for j in range(d):
                beta[g, j] = np.random.standard_normal()
            for i in range(m_val):
                s = 0.0
                for j in range(d):
                    Xv[g, i, j] = np.random.standard_normal()
                    s += Xv[g, i, j] * beta[g, j]
                yv[g, i] = s + np.sqrt(sigma2[g]) * np.random.standard_normal()
        spent = 0.0
        for g in range(G):
            spent += costs[g] * start[g]
        grow = start.copy()
        while True:
            # collect up to ``grow`` samples per group, then refit and validate
            for g in range(G):
                d = dims[g]
                x = np.zeros(d)
                while n[g] < grow[g]:
                    s = 0.0
                    for j in range(d):
                        x[j] = np.random.standard_normal()
                        s += x[j] * beta[g, j]
                    y = s + np.sqrt(sigma2[g]) * np.random.standard_normal()
                    for a in range(d):
                        Xty[g, a] += x[a] * y
                        for b in range(d):
                            XtX[g, a, b] += x[a] * x[b]
                    n[g] += 1
            best, best_err = -1, -np.inf
            for g in range(G):
                if spent + costs[g] * batch > budget + 1e-9:
                    continue
                d = dims[g]
                w = np.linalg.solve(XtX[g, :d, :d], Xty[g, :d])
                err = 0.0
                for i in range(m_val):
                    res = yv[g, i]
                    for j in range(d):
                        res -= Xv[g, i, j] * w[j]
                    err += res * res
                err /= m_val
                if err > best_err:
                    best, best_err = g, err
            if best < 0:
                break
            grow[best] += batch
            spent += costs[best] * batch
        wmax = 0.0
        for g in range(G):
            d = dims[g]
            w = np.linalg.solve(XtX[g, :d, :d], Xty[g, :d])
            e = sigma2[g]
            for j in range(d):
                e += (w[j] - beta[g, j]) ** 2
            wmax = max(wmax, e)
            counts[r, g] = n[g]
        worst[r] = wmax
    return counts, worst


def sequential_runs(dims, sigma2, costs, budget: float, start, batch: int, m_val: int,
                    runs: int, seed: int):
    """``runs`` independent runs of the sequential collector.

    Returns
    -------
    counts : (runs, G) int array
        Final samples per group.
    worst : (runs,) array
        The worst group's exact test error :math:`\\sigma_g^2 + \\|\\hat\\beta_g -
        \\beta_g\\|^2` at the end.
    """
    dims = np.asarray(dims, np.int64)
    start = np.asarray(start, np.int64)
    if np.any(start < dims):
        raise ValueError("start: every group needs at least d samples to fit")
    check_int("runs", runs, low=1)
    return _kernel(dims, np.asarray(sigma2, float), np.asarray(costs, float), float(budget),
                   start, check_int("batch", batch, low=1), check_int("m_val", m_val, low=1),
                   int(runs), int(seed))
