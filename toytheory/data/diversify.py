"""Cluster-based data selection with iterative refinement, for a linear model in closed form.

Paper: "Diversify and Conquer: Diversity-Centric Data Selection with Iterative Refinement".
The pool is clustered by k-means; a diverse subset takes the same number of samples from
every cluster; the iterative refinement trains on what it has selected, scores every
cluster by the trained model's loss on the cluster's selected samples, and draws the next
batch with cluster weights that fall with that loss (the paper reweights clusters by the
quality of the model's outputs on them each training iteration).

The model is ridge regression with an intercept, so training is closed form, and its test
error under a known Gaussian-mixture test law is exact:
:math:`\\sigma^2 + (\\hat w - w)^\\top M (\\hat w - w)`, ``M`` the test second moment of
:math:`(1, x)`.
"""

from __future__ import annotations

import numpy as np

from .._validation import as_float_array, check_int, check_real

__all__ = ["kmeans", "ridge_fit", "exact_test_error", "block_ridge_fit", "block_test_error",
           "cluster_balanced_subset", "iterative_refinement", "check_weights"]


def check_weights(weights, name: str = "weights") -> np.ndarray:
    """A sampling policy over clusters: non-negative, summing to one."""
    w = as_float_array(name, weights, ndim=1)
    if np.any(w < 0) or abs(w.sum() - 1.0) > 1e-9:
        raise ValueError(f"{name}: must be a distribution (non-negative, sum 1), "
                         f"got sum {w.sum()!r}")
    return w


def kmeans(X, K: int, rng, iters: int = 50) -> np.ndarray:
    """Lloyd's algorithm with k-means++ seeding; returns the cluster of every row."""
    X = as_float_array("X", X, ndim=2)
    K = check_int("K", K, low=1)
    if K > X.shape[0]:
        raise ValueError(f"K: must be <= the pool size {X.shape[0]} (got {K})")
    sq = np.sum(X * X, axis=1)
    C = np.empty((K, X.shape[1]))
    C[0] = X[rng.integers(X.shape[0])]
    d2 = np.sum((X - C[0]) ** 2, axis=1)
    for c in range(1, K):  # k-means++: the next centre with probability ~ squared distance
        tot = d2.sum()
        C[c] = X[rng.choice(X.shape[0], p=d2 / tot) if tot > 0 else rng.integers(X.shape[0])]
        d2 = np.minimum(d2, np.sum((X - C[c]) ** 2, axis=1))
    assign = np.full(X.shape[0], -1, dtype=np.int64)
    for _ in range(iters):
        new = np.argmin(sq[:, None] - 2.0 * X @ C.T + np.sum(C * C, axis=1)[None], axis=1)
        if np.array_equal(new, assign):
            break
        assign = new
        for c in range(K):
            if np.any(assign == c):
                C[c] = X[assign == c].mean(axis=0)
    return assign


def ridge_fit(X, y, lam: float = 1e-3) -> np.ndarray:
    """Ridge with an unpenalised intercept; returns ``(d + 1,)`` = (intercept, slope)."""
    X = as_float_array("X", X, ndim=2)
    y = as_float_array("y", y, ndim=1)
    lam = check_real("lam", lam, low=0.0)
    Z = np.column_stack([np.ones(len(y)), X])
    P = lam * np.eye(Z.shape[1])
    P[0, 0] = 0.0
    return np.linalg.solve(Z.T @ Z + P, Z.T @ y)


def exact_test_error(w_hat, w_true, means, covs, mix, sigma2: float) -> float:
    """Expected squared error of :math:`(1, x)^\\top \\hat w` on :math:`y = (1, x)^\\top w +
    \\sigma\\varepsilon` with :math:`x \\sim \\sum_c \\pi_c N(\\mu_c, \\Sigma_c)`: exact."""
    mix = check_weights(mix, "mix")
    d = len(w_true) - 1
    M = np.zeros((d + 1, d + 1))
    for p, mu, S in zip(mix, means, covs):
        z = np.concatenate([[1.0], mu])
        M += p * (np.outer(z, z) + np.pad(S, ((1, 0), (1, 0))))
    e = np.asarray(w_hat, float) - np.asarray(w_true, float)
    return float(sigma2 + e @ M @ e)


def block_ridge_fit(X, y, groups, G: int, lam: float = 1.0) -> np.ndarray:
    """One ridge fit (intercept penalised too, so an empty block predicts 0) per category:
    ``(G, d + 1)``. The learner knows each sample's category (its task), not its quality."""
    X = as_float_array("X", X, ndim=2)
    y = as_float_array("y", y, ndim=1)
    lam = check_real("lam", lam, low=0.0, low_open=True)
    groups = np.asarray(groups)
    W = np.zeros((G, X.shape[1] + 1))
    for g in range(G):
        m = groups == g
        Z = np.column_stack([np.ones(m.sum()), X[m]])
        W[g] = np.linalg.solve(Z.T @ Z + lam * np.eye(Z.shape[1]), Z.T @ y[m])
    return W


def block_test_error(W_hat, W_true, means, covs, test_mix, sigma2: float) -> float:
    """Exact expected squared error when test category ``c`` (probability ``test_mix[c]``)
    has :math:`x \\sim N(\\mu_c, \\Sigma_c)`, :math:`y = (1, x)^\\top w_c + \\sigma\\varepsilon`
    and is predicted by block ``c``: :math:`\\sigma^2 + \\sum_c \\pi_c e_c^\\top M_c e_c`."""
    test_mix = check_weights(test_mix, "test_mix")
    total = 0.0
    for c, p in enumerate(test_mix):
        total += p * (exact_test_error(W_hat[c], W_true[c], [means[c]], [covs[c]], [1.0],
                                       sigma2) - sigma2)
    return float(sigma2 + total)


def cluster_balanced_subset(assign, k: int, rng, weights=None) -> np.ndarray:
    """``k`` pool indices: cluster counts multinomial by ``weights`` (equal by default),
    uniform within each cluster (a cluster short of its count gives its remainder to the
    others)."""
    assign = np.asarray(assign)
    K = int(assign.max()) + 1
    k = check_int("k", k, low=0)
    if k > assign.size:
        raise ValueError(f"k: must be <= the pool size {assign.size} (got {k})")
    w = np.full(K, 1.0 / K) if weights is None else check_weights(weights)
    return _draw(assign, np.ones(assign.size, bool), k, w, rng)


def _draw(assign, available, k, w, rng):
    """Counts per cluster multinomial by ``w``; a cluster short of its count gives the rest
    to the others (redrawn by ``w`` over the clusters left); uniform within clusters."""
    K = w.size
    members = [rng.permutation(np.flatnonzero((assign == c) & available)) for c in range(K)]
    size = np.array([m.size for m in members])
    take = np.zeros(K, dtype=np.int64)
    left = min(k, int(size.sum()))
    while left > 0:
        alive = take < size
        p = np.where(alive, w, 0.0)
        p = p / p.sum() if p.sum() > 0 else alive / alive.sum()
        extra = np.minimum(rng.multinomial(left, p), size - take)
        take += extra
        left -= int(extra.sum())
    return np.concatenate([m[:t] for m, t in zip(members, take)]).astype(np.int64)


def iterative_refinement(X, y, assign, k: int, rounds: int, rng, *, temperature: float = 1.0,
                         probe: int = 5, fit=None) -> tuple[np.ndarray, np.ndarray]:
    """The refined selection: ``rounds`` batches of ``k / rounds``; before each batch after
    the first, fit on the selection so far, score cluster ``c`` by the model's mean squared
    error :math:`\\ell_c` on ``probe`` of its samples not yet selected (labels as they are,
    noisy or not), and sample the batch with weights
    :math:`\\propto \\exp(-\\ell_c / (\\tau\\, \\mathrm{median}_c \\ell_c))`. Returns the
    selection and the final weights. ``fit(train, probe)`` trains the model on ``train``
    and returns its predictions on ``probe`` (default: one ridge fit with an intercept)."""
    X = as_float_array("X", X, ndim=2)
    y = as_float_array("y", y, ndim=1)
    assign = np.asarray(assign)
    k = check_int("k", k, low=1)
    rounds = check_int("rounds", rounds, low=1)
    if k > assign.size:
        raise ValueError(f"k: must be <= the pool size {assign.size} (got {k})")
    K = int(assign.max()) + 1
    w = np.full(K, 1.0 / K)
    selected = np.zeros(0, dtype=np.int64)
    available = np.ones(assign.size, bool)
    for r in range(rounds):
        if r:
            # each cluster is scored on up to ``probe`` of its samples not yet selected
            probe_idx = np.concatenate([rng.permutation(np.flatnonzero(
                (assign == c) & available))[:probe] for c in range(K)]).astype(np.int64)
            if fit is None:
                coef = ridge_fit(X[selected], y[selected])
                pred = coef[0] + X[probe_idx] @ coef[1:]
            else:
                pred = fit(selected, probe_idx)
            resid = (y[probe_idx] - pred) ** 2
            loss = np.array([resid[assign[probe_idx] == c].mean()
                             if np.any(assign[probe_idx] == c) else np.nan for c in range(K)])
            ref = np.nanmedian(loss)
            loss = np.where(np.isnan(loss), np.nanmax(loss), loss)
            logits = -loss / (temperature * ref)
            w = np.exp(logits - logits.max())
            w = w / w.sum()
        size = k * (r + 1) // rounds - selected.size
        batch = _draw(assign, available, size, w, rng)
        available[batch] = False
        selected = np.concatenate([selected, batch])
    return selected, w
