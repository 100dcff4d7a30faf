"""Sinkhorn (POT) on discretised Gaussian marginals: the simulated witness of the Gaussian
Schrödinger bridge.

The two marginals are sampled on regular 2-D (or d-D) grids of ``n_grid`` points per axis
spanning ``span`` standard deviations, with weights proportional to the Gaussian density
(moments of such a discretisation are exact up to terms like exp(-2 pi^2 s^2 / h^2) for
standard deviation s and spacing h). The cost is the reference transition's negative
log-density, ½ (y - M x)^T Q^{-1} (y - M x), and POT's log-domain Sinkhorn with
regulariser 1 solves the discrete static Schrödinger problem min <P, C> + sum P log P.
Nothing here uses the closed form.
"""

from __future__ import annotations

import numpy as np


def _grid(mean, cov, n_grid, span):
    mean = np.asarray(mean, float)
    cov = np.asarray(cov, float)
    sd = np.sqrt(np.diag(cov))
    axes = [np.linspace(mean[i] - span * sd[i], mean[i] + span * sd[i], n_grid)
            for i in range(mean.size)]
    pts = np.stack(np.meshgrid(*axes, indexing="ij"), -1).reshape(-1, mean.size)
    prec = np.linalg.inv(cov)
    dev = pts - mean
    logw = -0.5 * np.einsum("ni,ij,nj->n", dev, prec, dev)
    w = np.exp(logw - logw.max())
    return pts, w / w.sum()


def sinkhorn_cross_covariance(mean0, cov0, mean1, cov1, trans, noise, n_grid: int = 22,
                              span: float = 6.5, tol: float = 1e-13, max_iter: int = 20000):
    """Cross-covariance of the discrete Sinkhorn coupling between the discretised marginals.

    Returns
    -------
    cross : (d, d) array
        Cov(X, Y) under the plan.
    marginal_gap : float
        Largest deviation of the plan's row sums from the first marginal (convergence).
    """
    import ot

    x, a = _grid(mean0, cov0, n_grid, span)
    y, b = _grid(mean1, cov1, n_grid, span)
    prec = np.linalg.inv(np.asarray(noise, float))
    resid = y[None, :, :] - (x @ np.asarray(trans, float).T)[:, None, :]
    cost = 0.5 * np.einsum("abi,ij,abj->ab", resid, prec, resid)
    plan = ot.sinkhorn(a, b, cost, 1.0, method="sinkhorn_log", numItermax=max_iter,
                       stopThr=tol)
    mx, my = a @ x, b @ y
    cross = (x - mx).T @ plan @ (y - my)
    gap = max(float(np.abs(plan.sum(1) - a).max()), float(np.abs(plan.sum(0) - b).max()))
    return cross, gap


def _em_kernel():
    from numba import njit

    @njit(cache=True)
    def run(drift, diffusion, mean0, chol0, n_times, n_sub, dt, n_paths, seed):
        np.random.seed(seed)
        d = mean0.shape[0]
        out = np.empty((n_paths, n_times, d))
        h = dt / n_sub
        sq = diffusion * np.sqrt(h)
        x = np.empty(d)
        z = np.empty(d)
        for p in range(n_paths):
            for i in range(d):
                z[i] = np.random.standard_normal()
            for i in range(d):
                acc = mean0[i]
                for j in range(d):
                    acc += chol0[i, j] * z[j]
                x[i] = acc
            out[p, 0] = x
            for k in range(1, n_times):
                for _ in range(n_sub):
                    for i in range(d):
                        z[i] = np.random.standard_normal()
                    y = x.copy()
                    for i in range(d):
                        acc = 0.0
                        for j in range(d):
                            acc += drift[i, j] * y[j]
                        x[i] = y[i] + h * acc + sq * z[i]
                out[p, k] = x
        return out

    return run


_EM = None


def ou_snapshot_paths(drift, diffusion: float, mean0, cov0, n_times: int, dt: float,
                      n_paths: int, seed: int, n_sub: int = 100):
    """Euler–Maruyama paths of :math:`dX = BX\\,dt + s\\,dW` (``n_sub`` steps per gap,
    Numba), observed at ``n_times`` equally spaced times: an (n_paths, n_times, d) array.

    Written from the SDE alone (no transition formula); the discretisation bias of the
    covariances is O(dt / n_sub).
    """
    global _EM
    if _EM is None:
        _EM = _em_kernel()
    chol = np.linalg.cholesky(np.asarray(cov0, float))
    return _EM(np.asarray(drift, float), float(diffusion), np.asarray(mean0, float), chol,
               int(n_times), int(n_sub), float(dt), int(n_paths), int(seed))
