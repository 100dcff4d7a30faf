"""Information gain on a label graph (MIG), its greedy maximiser and the exact optimum.

Paper: "MIG: Automatic Data Selection for Instruction Tuning by Maximizing Information Gain
in Semantic Space". A pool of ``N`` samples carries labels ``Y`` (``(N, L)``, non-negative)
and qualities ``q`` (``(N,)``). The label graph ``W`` (``(L, L)``) propagates each sample's
information to related labels: sample ``i`` contributes :math:`q_i\\, (Y A)_i` with
:math:`A = I + \\alpha W`. The information of a subset ``S`` is

.. math:: E(S) = \\sum_{j=1}^{L} \\phi\\Big(\\sum_{i \\in S} q_i (Y A)_{ij}\\Big),
   \\qquad \\phi(x) = x^{\\gamma}.

With non-negative contributions and :math:`0 < \\gamma \\le 1` (concave :math:`\\phi`),
:math:`E` is monotone submodular (a concave function of a modular one, summed), so the
greedy selection by marginal gain is within :math:`1 - 1/e` of the best subset of size
``k`` (Nemhauser, Wolsey and Fisher 1978). With :math:`\\gamma > 1` or a negative edge it
need not be: :func:`submodularity_violations` finds where it fails, by enumeration.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations

import numpy as np

from .._validation import as_float_array, check_int, check_real

__all__ = ["LabelGraphGain", "greedy_select", "best_subset", "all_subset_values",
           "skill_posterior_error",
           "submodularity_violations", "check_k"]


def check_k(k, N: int) -> int:
    k = check_int("k", k, low=0)
    if k > N:
        raise ValueError(f"k: must be <= the pool size {N} (got {k})")
    return k


@dataclass(frozen=True)
class LabelGraphGain:
    """The information :math:`E(S)` of subsets of a labelled pool.

    Parameters
    ----------
    labels : (N, L) array, non-negative
    quality : (N,) array, non-negative
    graph : (L, L) array
        Edge weights of the label graph (zero diagonal; may be negative to show failure).
    alpha : float
        Propagation strength (``A = I + alpha * graph``).
    gamma : float > 0
        Exponent of :math:`\\phi(x) = x^\\gamma` (concave for ``gamma <= 1``).
    """

    labels: np.ndarray
    quality: np.ndarray
    graph: np.ndarray
    alpha: float = 0.5
    gamma: float = 0.5

    def __post_init__(self):
        Y = as_float_array("labels", self.labels, ndim=2)
        q = as_float_array("quality", self.quality, ndim=1)
        W = as_float_array("graph", self.graph, ndim=2)
        if np.any(Y < 0):
            raise ValueError("labels: must be non-negative")
        if q.size != Y.shape[0] or np.any(q < 0):
            raise ValueError("quality: must be non-negative, one per sample")
        if W.shape != (Y.shape[1], Y.shape[1]):
            raise ValueError(f"graph: must be (L, L) = {(Y.shape[1],) * 2}")
        check_real("alpha", self.alpha)
        check_real("gamma", self.gamma, low=0.0, low_open=True)
        object.__setattr__(self, "labels", Y)
        object.__setattr__(self, "quality", q)
        object.__setattr__(self, "graph", W)

    @property
    def contributions(self) -> np.ndarray:
        """``(N, L)``: :math:`q_i (Y A)_i`, each sample's propagated information."""
        A = np.eye(self.graph.shape[0]) + self.alpha * self.graph
        return self.quality[:, None] * (self.labels @ A)

    def phi(self, x):
        x = np.asarray(x, float)
        return np.sign(x) * np.abs(x) ** self.gamma

    def value(self, subset) -> float:
        idx = np.asarray(list(subset), dtype=np.int64)
        mass = self.contributions[idx].sum(axis=0) if idx.size else np.zeros(
            self.graph.shape[0])
        return float(self.phi(mass).sum())


def greedy_select(gain: LabelGraphGain, k: int) -> list[int]:
    """The MIG sampler: ``k`` times, add the sample of largest marginal gain (ties: lowest
    index)."""
    C = gain.contributions
    k = check_k(k, C.shape[0])
    chosen: list[int] = []
    mass = np.zeros(C.shape[1])
    base = float(gain.phi(mass).sum())
    for _ in range(k):
        rest = [i for i in range(C.shape[0]) if i not in chosen]
        vals = gain.phi(mass[None, :] + C[rest]).sum(axis=1) - base
        best = rest[int(np.argmax(vals))]
        chosen.append(best)
        mass = mass + C[best]
        base = float(gain.phi(mass).sum())
    return chosen


def best_subset(gain: LabelGraphGain, k: int) -> tuple[list[int], float]:
    """The exact optimum of :math:`E` over subsets of size ``k``, by enumeration."""
    C = gain.contributions
    k = check_k(k, C.shape[0])
    best, best_val = None, -np.inf
    for S in combinations(range(C.shape[0]), k):
        v = float(gain.phi(C[list(S)].sum(axis=0)).sum())
        if v > best_val:
            best, best_val = list(S), v
    return best, best_val


def all_subset_values(gain: LabelGraphGain) -> np.ndarray:
    """``E`` of every subset, indexed by bitmask (``2**N`` values; ``N <= 16``)."""
    C = gain.contributions
    N = C.shape[0]
    if N > 16:
        raise ValueError(f"labels: enumeration needs N <= 16 samples (got {N})")
    mass = np.zeros((1 << N, C.shape[1]))
    for m in range(1, 1 << N):
        low = (m & -m).bit_length() - 1
        mass[m] = mass[m & (m - 1)] + C[low]
    return gain.phi(mass).sum(axis=1)


def submodularity_violations(values: np.ndarray, tol: float = 1e-12) -> dict:
    """Count, over every ``S`` and ``i != j`` outside ``S``, the violations of
    :math:`E(S+i) + E(S+j) \\ge E(S) + E(S+i+j)` (submodularity) and of
    :math:`E(S+i) \\ge E(S)` (monotonicity); ``values`` from :func:`all_subset_values`.
    Returns the counts, the number of checks and the worst violation."""
    values = np.asarray(values, float)
    N = int(round(np.log2(values.size)))
    masks = np.arange(values.size)
    sub = mono = checks = 0
    worst = 0.0
    for i in range(N):
        out_i = masks[(masks >> i) & 1 == 0]
        d = values[out_i | (1 << i)] - values[out_i]
        mono += int(np.count_nonzero(d < -tol))
        for j in range(i + 1, N):
            S = out_i[(out_i >> j) & 1 == 0]
            gap = values[S | (1 << i)] + values[S | (1 << j)] - values[S] - values[
                S | (1 << i) | (1 << j)]
            sub += int(np.count_nonzero(gap < -tol))
            checks += S.size
            worst = min(worst, float(gap.min()))
    return {"submodular_violations": sub, "monotone_violations": mono, "checks": checks,
            "worst": -worst}


def skill_posterior_error(labels, quality, prior_cov, test_weights, subset) -> float:
    """Downstream error of training on ``subset``, exact for a Gaussian skill model.

    The skills :math:`\\theta \\sim N(0, K)` (``K = prior_cov``, ``(L, L)``, the label
    graph's covariance); sample ``i`` is an observation :math:`y_i^\\top \\theta + \\epsilon_i`,
    :math:`\\epsilon_i \\sim N(0, 1/q_i)` (quality is precision). The posterior covariance is
    :math:`\\Sigma = (K^{-1} + \\sum_{i \\in S} q_i y_i y_i^\\top)^{-1}` and the downstream
    error is :math:`\\mathrm{tr}(D \\Sigma)`, ``D = diag(test_weights)``: the expected squared
    error of the posterior-mean skills on test labels drawn from ``test_weights``.
    """
    Y = as_float_array("labels", labels, ndim=2)
    q = as_float_array("quality", quality, ndim=1)
    K = as_float_array("prior_cov", prior_cov, ndim=2)
    w = as_float_array("test_weights", test_weights, ndim=1)
    if np.any(w < 0) or abs(w.sum() - 1) > 1e-9:
        raise ValueError("test_weights: must be a distribution over the labels")
    idx = np.asarray(list(subset), dtype=np.int64)
    prec = np.linalg.inv(K) + (Y[idx].T * q[idx]) @ Y[idx]
    return float(np.trace(np.diag(w) @ np.linalg.inv(prec)))
