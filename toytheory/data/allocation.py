"""Allocating a data-collection budget across groups, exactly (equitable datasets).

Paper: Cai, Encarnacion, Chern, Corbett-Davies, Bogen, Bergman and Goel, "Adaptive
Sampling Strategies to Construct Equitable Training Datasets" (FAccT 2022). Group
:math:`g` has a learning curve :math:`e_g(n)` (the expected error of a model trained on
:math:`n_g` samples of the group), a cost per sample :math:`c_g` and a population share
:math:`p_g`. A budget :math:`B` buys :math:`n` with :math:`\\sum_g c_g n_g \\le B`.

Objectives (both convex programs when every :math:`e_g` is convex and decreasing):

* worst group: :math:`\\min_n \\max_g e_g(n_g)`;
* welfare: :math:`\\min_n \\sum_g w_g e_g(n_g)` (``w = p`` is the population error).

Both are solved here with a certificate: the worst-group optimum is bracketed by a
feasible level and an infeasible one (the cost of reaching a level is monotone), the
welfare optimum by a Lagrangian dual bound (weak duality), so the gap is known.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

from .._validation import as_float_array, check_int, check_real

__all__ = ["PowerLawCurve", "OLSCurve", "Allocation", "worst_group_allocation",
           "welfare_allocation", "equal_allocation", "proportional_allocation",
           "sequential_worst_group", "check_budget", "check_costs", "scipy_allocation"]


@dataclass(frozen=True)
class PowerLawCurve:
    """The paper's learning curve :math:`e(n) = a n^{-b} + c` (``a > 0``, ``b > 0``, ``c >= 0``)."""

    a: float
    b: float
    c: float = 0.0

    def __post_init__(self):
        check_real("a", self.a, low=0.0, low_open=True)
        check_real("b", self.b, low=0.0, low_open=True)
        check_real("c", self.c, low=0.0)

    @property
    def n_min(self) -> float:
        return 1.0

    def value(self, n):
        return self.a * np.asarray(n, float) ** (-self.b) + self.c

    def inverse(self, t: float) -> float:
        """The n with e(n) = t (``t > c``)."""
        return float(((t - self.c) / self.a) ** (-1.0 / self.b))

    def argmin_linear(self, w: float, price: float) -> float:
        """argmin over n > 0 of ``w e(n) + price n``: :math:`(w a b / price)^{1/(b+1)}`."""
        return float((w * self.a * self.b / price) ** (1.0 / (self.b + 1.0)))


@dataclass(frozen=True)
class OLSCurve:
    """Least squares on ``d`` Gaussian features with noise variance ``sigma2``.

    The expected test error of ordinary least squares with :math:`x \\sim N(0, I_d)`,
    :math:`y = x^\\top\\beta + \\sigma\\varepsilon` and ``n > d + 1`` samples is exactly
    :math:`e(n) = \\sigma^2 (1 + d/(n - d - 1))` (the mean of an inverse Wishart,
    :math:`E\\,\\mathrm{tr}(X^\\top X)^{-1} = d/(n-d-1)`): convex and decreasing, with
    floor :math:`\\sigma^2`. It is the toy's ground truth; the paper fits power laws.
    """

    sigma2: float
    d: int

    def __post_init__(self):
        check_real("sigma2", self.sigma2, low=0.0, low_open=True)
        check_int("d", self.d, low=1)

    @property
    def c(self) -> float:
        return self.sigma2

    @property
    def n_min(self) -> float:
        return self.d + 2.0

    def value(self, n):
        n = np.asarray(n, float)
        with np.errstate(divide="ignore"):
            gap = n - self.d - 1.0
            return np.where(gap > 0, self.sigma2 * (1.0 + self.d / np.where(gap > 0, gap, 1.0)),
                            np.inf)

    def inverse(self, t: float) -> float:
        return float(self.d + 1.0 + self.d / (t / self.sigma2 - 1.0))

    def argmin_linear(self, w: float, price: float) -> float:
        return float(self.d + 1.0 + np.sqrt(w * self.sigma2 * self.d / price))


@dataclass(frozen=True)
class Allocation:
    """An allocation ``n`` (per group), its group errors, objective and certificate.

    ``lower`` is a certified lower bound on the optimum of the objective (equal to
    ``objective`` up to ``gap`` for the optimisers; ``nan`` for a heuristic).
    """

    n: np.ndarray
    errors: np.ndarray
    objective: float
    lower: float
    spent: float

    @property
    def gap(self) -> float:
        return float(self.objective - self.lower)


def check_budget(budget) -> float:
    return check_real("budget", budget, low=0.0)


def check_costs(costs, G: int | None = None) -> np.ndarray:
    c = as_float_array("costs", costs, ndim=1)
    if np.any(c <= 0):
        raise ValueError(f"costs: must be > 0 (got min {c.min()!r})")
    if G is not None and c.size != G:
        raise ValueError(f"costs: must have one entry per group ({G}), got {c.size}")
    return c


def _setup(curves, costs, budget):
    curves = list(curves)
    if not curves:
        raise ValueError("curves: must name at least one group")
    costs = check_costs(costs, len(curves))
    budget = check_budget(budget)
    n_min = np.array([cv.n_min for cv in curves])
    if float(costs @ n_min) > budget:
        raise ValueError(f"budget: must cover every group's minimum sample "
                         f"(sum c_g n_min_g = {float(costs @ n_min)!r}, got {budget!r})")
    return curves, costs, budget, n_min


def _evaluate(curves, n, costs, weights=None, lower=float("nan")) -> Allocation:
    n = np.asarray(n, float)
    errors = np.array([float(cv.value(k)) for cv, k in zip(curves, n)])
    obj = float(errors.max()) if weights is None else float(np.asarray(weights) @ errors)
    return Allocation(n, errors, obj, float(lower), float(costs @ n))


def worst_group_allocation(curves: Sequence, costs, budget: float, *,
                           tol: float = 1e-13) -> Allocation:
    """The allocation minimising the worst group's error, with a bracket certificate.

    For a level ``t``, the cheapest allocation with every error ``<= t`` is
    :math:`n_g(t) = \\max(n_{\\min,g}, e_g^{-1}(t))`, and its cost is decreasing in
    ``t``; the optimum is the smallest affordable ``t``, found by bisection. The returned
    ``lower`` is an unaffordable level (every level below it costs more than the budget),
    so ``lower <= OPT <= objective``.

    Parameters
    ----------
    curves : sequence of curves (``value``, ``inverse``, ``n_min``, ``c``)
    costs : (G,) array, every entry > 0
    budget : float, >= sum of ``costs * n_min``
    """
    curves, costs, budget, n_min = _setup(curves, costs, budget)
    floors = np.array([cv.c for cv in curves])

    def need(t):
        return np.array([max(m, cv.inverse(t)) if t > f else np.inf
                         for cv, m, f in zip(curves, n_min, floors)])

    hi = float(max(cv.value(m) for cv, m in zip(curves, n_min)))  # affordable by _setup
    lo = float(floors.max())
    for _ in range(400):
        mid = 0.5 * (lo + hi)
        if costs @ need(mid) <= budget:
            hi = mid
        else:
            lo = mid
        if hi - lo <= tol * max(1.0, hi):
            break
    n = need(hi)
    # spend what is left evenly in value terms: scale up (keeps the certificate valid)
    return _evaluate(curves, n, costs, lower=lo)


def welfare_allocation(curves: Sequence, costs, budget: float, weights, *,
                       tol: float = 1e-13) -> Allocation:
    """The allocation minimising :math:`\\sum_g w_g e_g(n_g)` under the budget.

    KKT: :math:`n_g(\\lambda) = \\max(n_{\\min,g}, \\arg\\min_n w_g e_g(n) + \\lambda c_g n)`,
    with :math:`\\lambda > 0` chosen by bisection so the budget is spent. The dual
    function :math:`D(\\lambda) = \\sum_g \\min_{n \\ge n_{\\min}} [w_g e_g(n) + \\lambda
    c_g n] - \\lambda B` is a lower bound on the optimum for every :math:`\\lambda \\ge 0`
    (weak duality); ``lower`` is it at the final :math:`\\lambda`.
    """
    curves, costs, budget, n_min = _setup(curves, costs, budget)
    w = as_float_array("weights", weights, ndim=1)
    if w.size != len(curves) or np.any(w < 0) or not np.any(w > 0):
        raise ValueError("weights: must be non-negative, one per group, not all zero")

    def n_of(lam):
        return np.array([max(m, cv.argmin_linear(wg, lam * c)) if wg > 0 else m
                         for cv, m, wg, c in zip(curves, n_min, w, costs)])

    def dual(lam):
        n = n_of(lam)
        vals = np.array([float(cv.value(k)) for cv, k in zip(curves, n)])
        return float(w @ vals + lam * (costs @ n - budget))

    lo, hi = 1e-300, 1.0
    while costs @ n_of(hi) > budget:
        hi *= 2.0
    if costs @ n_of(lo) <= budget:  # the budget exceeds any useful spend (never for e' < 0)
        lo = hi
    for _ in range(2000):
        mid = np.sqrt(lo * hi) if hi / lo > 4 else 0.5 * (lo + hi)
        if costs @ n_of(mid) > budget:
            lo = mid
        else:
            hi = mid
        if hi - lo <= tol * hi:
            break
    lam = hi
    n = n_of(lam)
    return _evaluate(curves, n, costs, weights=w, lower=max(dual(lam), dual(lo)))


def equal_allocation(curves: Sequence, costs, budget: float, weights=None) -> Allocation:
    """Equal numbers per group: :math:`n_g = B / \\sum_h c_h`."""
    curves, costs, budget, _ = _setup(curves, costs, budget)
    n = np.full(len(curves), budget / costs.sum())
    return _evaluate(curves, n, costs, weights)


def proportional_allocation(curves: Sequence, costs, budget: float, shares,
                            weights=None) -> Allocation:
    """Numbers proportional to the population shares: :math:`n_g = B p_g / \\sum_h c_h p_h`."""
    curves, costs, budget, _ = _setup(curves, costs, budget)
    p = as_float_array("shares", shares, ndim=1)
    if p.size != len(curves) or np.any(p < 0) or abs(p.sum() - 1) > 1e-9:
        raise ValueError("shares: must be a distribution over the groups (non-negative, sum 1)")
    n = budget * p / (costs @ p)
    return _evaluate(curves, n, costs, weights)


def scipy_allocation(curves: Sequence, costs, budget: float, weights=None) -> Allocation:
    """The same programs solved by ``scipy.optimize.minimize`` (SLSQP), as an independent
    witness (no certificate: ``lower = nan``). Worst group via the epigraph
    :math:`\\min t` s.t. :math:`e_g(n_g) \\le t`; welfare directly."""
    from scipy.optimize import minimize

    curves, costs, budget, n_min = _setup(curves, costs, budget)
    G = len(curves)
    x0 = n_min + (budget - costs @ n_min) / costs.sum() * 0.999
    bounds = [(m, None) for m in n_min]
    budget_con = {"type": "ineq", "fun": lambda n: budget - costs @ n[:G]}
    if weights is None:
        z0 = np.append(x0, max(float(cv.value(k)) for cv, k in zip(curves, x0)))
        cons = [budget_con] + [{"type": "ineq",
                                "fun": (lambda z, g=g: z[G] - float(curves[g].value(z[g])))}
                               for g in range(G)]
        res = minimize(lambda z: z[G], z0, method="SLSQP", bounds=bounds + [(None, None)],
                       constraints=cons, options={"ftol": 1e-14, "maxiter": 2000})
        return _evaluate(curves, res.x[:G], costs)
    w = np.asarray(weights, float)
    res = minimize(lambda n: float(w @ np.array([float(cv.value(k))
                                                  for cv, k in zip(curves, n)])),
                   x0, method="SLSQP", bounds=bounds, constraints=[budget_con],
                   options={"ftol": 1e-15, "maxiter": 2000})
    return _evaluate(curves, res.x, costs, weights=w)


def sequential_worst_group(estimate: Callable[[int, int], float], costs, budget: float,
                           start, batch: int) -> np.ndarray:
    """The sequential strategy for the worst group that never sees the learning curves.

    Start from ``start`` samples per group; while a batch of the chosen group is
    affordable, estimate every group's current error (``estimate(g, n_g)``, e.g. on a
    validation set) and buy ``batch`` samples of the group with the largest estimate.
    Groups whose batch no longer fits are skipped. Returns the final counts (integers).

    When the curves are decreasing and the estimates consistent, the counts track the
    equal-error allocation, which is the worst-group optimum (every group at the same
    level): the paper's "solved even without prior knowledge of the learning rates".
    """
    costs = check_costs(costs)
    budget = check_budget(budget)
    n = np.array(start, dtype=np.int64)
    if n.shape != costs.shape or np.any(n < 1):
        raise ValueError("start: must give at least one sample per group")
    batch = check_int("batch", batch, low=1)
    spent = float(costs @ n)
    if spent > budget:
        raise ValueError(f"budget: must cover the start allocation (cost {spent!r}, "
                         f"got {budget!r})")
    while True:
        afford = spent + costs * batch <= budget + 1e-9
        if not afford.any():
            return n
        est = np.array([estimate(g, int(n[g])) if afford[g] else -np.inf
                        for g in range(costs.size)])
        g = int(np.argmax(est))
        n[g] += batch
        spent += float(costs[g] * batch)
