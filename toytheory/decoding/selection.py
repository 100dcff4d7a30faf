"""Picking one answer out of k samples: majority vote and a reward model, exactly.

"Large Language Monkeys: Scaling Inference Compute with Repeated Sampling" (Brown et al.,
2024) finds that coverage (some sample is correct) keeps growing with the number of
samples k while majority voting and reward-model selection "plateau beyond several
hundred samples". The toy here makes both selection rules exact.

A problem's sampled answer is the correct one with probability :math:`p`, one fixed
wrong answer (the *attractor*) with probability :math:`q`, and otherwise a wrong answer
that no other sample repeats (probability :math:`r = 1 - p - q`). With counts
:math:`(X, Y)` of the correct and attractor answers among k samples,

* **majority vote** returns a most frequent answer, ties broken uniformly:

  .. math::

      \\mathrm{acc}_{MV}(k) = P(X > Y, X \\ge 2) + \\tfrac12 P(X = Y \\ge 2)
      + \\tfrac1k P(X = 1, Y \\le 1),

  where :math:`X + Y \\sim \\mathrm{Bin}(k, p + q)` and
  :math:`X \\mid X + Y = m \\sim \\mathrm{Bin}(m, p/(p+q))`; its limit is
  :math:`1[p > q] + \\tfrac12 1[p = q > 0]`;
* **a reward model** scores every sample on levels :math:`0..S`, correct samples with
  law :math:`r_1`, wrong ones with :math:`r_0`, and best-of-k returns a top-scoring
  sample, ties uniform. With :math:`G(s) = pR_1(s) + (1-p)R_0(s)` (CDFs) and
  :math:`\\rho(s) = p r_1(s) / (p r_1(s) + (1-p) r_0(s))`,

  .. math::

      \\mathrm{acc}_{RM}(k) = \\sum_s \\big(G(s)^k - G(s-1)^k\\big)\\,\\rho(s)
      \\;\\longrightarrow\\; \\rho(s^\\star),

  :math:`s^\\star` the top level either law reaches (a sample at the top level is
  correct with probability :math:`\\rho(s^\\star)` however many samples are drawn);
* **coverage** is :math:`1 - (1-p)^k \\to 1` for every :math:`p > 0`.

A population of problems is a vector of :math:`p` (and :math:`q`); accuracies are
population means.
"""

from __future__ import annotations

import numpy as np

from toytheory._validation import as_float_array, check_int, check_probability_vector

__all__ = ["beta_population", "population_coverage", "majority_vote_accuracy",
           "majority_vote_limit", "best_of_k_accuracy", "best_of_k_limit"]


def _rates(name: str, value) -> np.ndarray:
    x = as_float_array(name, value)
    x = np.atleast_1d(x).astype(float)
    if x.ndim != 1 or x.size == 0:
        raise ValueError(f"{name}: must be a non-empty 1-D array of probabilities")
    if np.any((x < 0) | (x > 1)):
        raise ValueError(f"{name}: must lie in [0, 1]")
    return x


def _pair(p, q) -> tuple[np.ndarray, np.ndarray]:
    p = _rates("p", p)
    q = _rates("q", q)
    if q.size == 1 and p.size > 1:
        q = np.full_like(p, q[0])
    if p.shape != q.shape:
        raise ValueError(f"q: must have the shape of p {p.shape} (got {q.shape})")
    if np.any(p + q > 1 + 1e-12):
        raise ValueError("q: p + q must be at most one")
    return p, q


def beta_population(a: float, b: float, problems: int) -> np.ndarray:
    """Success rates of ``problems`` problems at the Beta(a, b) quantiles (i + 1/2)/problems.

    A fixed, seed-free stand-in for a benchmark whose per-problem success rates follow
    Beta(a, b).
    """
    from scipy.stats import beta as beta_law

    problems = check_int("problems", problems, low=1)
    if not (np.isfinite(a) and a > 0):
        raise ValueError(f"a: must be a finite number > 0 (got {a!r})")
    if not (np.isfinite(b) and b > 0):
        raise ValueError(f"b: must be a finite number > 0 (got {b!r})")
    return beta_law.ppf((np.arange(problems) + 0.5) / problems, a, b)


def population_coverage(k: int, p) -> float:
    """Mean over problems of :math:`1 - (1 - p)^k`."""
    k = check_int("k", k, low=1)
    p = _rates("p", p)
    with np.errstate(divide="ignore"):
        return float(np.mean(-np.expm1(k * np.log1p(-p))))


def _trinomial_pmf(k, x, y, p, q):
    from scipy.special import gammaln, xlogy

    r = np.clip(1.0 - p - q, 0.0, 1.0)
    z = k - x - y
    if z < 0:
        return np.zeros_like(p)
    log = (gammaln(k + 1) - gammaln(x + 1) - gammaln(y + 1) - gammaln(z + 1)
           + xlogy(x, p) + xlogy(y, q) + xlogy(z, r))
    return np.exp(log)


def majority_vote_accuracy(k: int, p, q, *, per_problem: bool = False):
    """Exact accuracy of majority vote over ``k`` samples (ties uniform).

    Parameters
    ----------
    k : int, >= 1
    p, q : array_like, shape (P,)
        Per problem: the probability of the correct answer and of the attractor wrong
        answer; the rest is spread over wrong answers that never repeat.
    per_problem : bool
        Return the (P,) vector instead of the population mean.
    """
    from scipy.stats import binom

    k = check_int("k", k, low=1)
    p, q = _pair(p, q)
    acc = np.empty_like(p)
    for i in range(p.size):
        acc[i] = _majority_vote_one(k, p[i], q[i])
    return acc if per_problem else float(acc.mean())


def _binom_pmf(x, n, p):
    from scipy.special import gammaln, xlog1py, xlogy

    return np.exp(gammaln(n + 1) - gammaln(x + 1) - gammaln(n - x + 1)
                  + xlogy(x, p) + xlog1py(n - x, -p))


def _majority_vote_one(k, p, q):
    """One problem. The sum over m = X + Y keeps the band k s +- (12 sd + 12), outside
    which Bin(k, s) has mass below 1e-30 (Bernstein)."""
    from scipy.special import bdtrc

    s = min(p + q, 1.0)
    theta = p / s if s > 0 else 0.0
    sd = np.sqrt(k * s * (1.0 - s))
    lo = max(0, int(np.floor(k * s - 12.0 * sd - 12.0)))
    hi = min(k, int(np.ceil(k * s + 12.0 * sd + 12.0)))
    m = np.arange(lo, hi + 1, dtype=float)
    weight = _binom_pmf(m, float(k), s)
    # P(Bin(m, theta) > m // 2); bdtrc is P(X > j) (m = 0 gives 0)
    mi = m.astype(np.int64)
    greater = float((weight * np.where(mi > 0, bdtrc(mi // 2, np.maximum(mi, 1), theta),
                                       0.0)).sum())
    even = m % 2 == 0
    equal = float((weight[even] * _binom_pmf(m[even] / 2, m[even], theta)).sum())
    pp, qq = np.array([p]), np.array([q])
    p10 = float(_trinomial_pmf(k, 1, 0, pp, qq)[0])
    p00 = float(_trinomial_pmf(k, 0, 0, pp, qq)[0])
    p11 = float(_trinomial_pmf(k, 1, 1, pp, qq)[0])
    acc = (greater - p10) + 0.5 * (equal - p00 - p11) + (p10 + p11) / k
    return min(max(acc, 0.0), 1.0)


def majority_vote_limit(p, q, *, per_problem: bool = False):
    """:math:`\\lim_k` of majority vote's accuracy: :math:`1[p > q] + \\frac12 1[p = q > 0]`."""
    p, q = _pair(p, q)
    lim = (p > q).astype(float) + 0.5 * ((p == q) & (p > 0))
    return lim if per_problem else float(lim.mean())


def _score_laws(score_correct, score_wrong):
    r1 = check_probability_vector("score_correct", score_correct)
    r0 = check_probability_vector("score_wrong", score_wrong)
    if r1.shape != r0.shape:
        raise ValueError(f"score_wrong: must have the shape of score_correct {r1.shape}")
    return r1, r0


def _rho(p, r1, r0):
    num = p[:, None] * r1[None, :]
    den = num + (1.0 - p)[:, None] * r0[None, :]
    return np.divide(num, den, out=np.zeros_like(num), where=den > 0), den


def best_of_k_accuracy(k: int, p, score_correct, score_wrong, *, per_problem: bool = False):
    """Exact accuracy of best-of-k under a reward model with discrete score levels.

    Parameters
    ----------
    k : int, >= 1
    p : array_like, shape (P,)
        Per-problem probability that a sample is correct.
    score_correct, score_wrong : array_like, shape (S + 1,)
        The reward model's score law on levels 0..S for correct and for wrong samples.
    """
    k = check_int("k", k, low=1)
    p = _rates("p", p)
    r1, r0 = _score_laws(score_correct, score_wrong)
    rho, den = _rho(p, r1, r0)
    cdf = np.cumsum(den, axis=1)
    cdf_prev = np.concatenate([np.zeros((p.size, 1)), cdf[:, :-1]], axis=1)
    top = np.clip(cdf, 0.0, 1.0) ** k - np.clip(cdf_prev, 0.0, 1.0) ** k
    acc = (top * rho).sum(axis=1)
    return acc if per_problem else float(acc.mean())


def best_of_k_limit(p, score_correct, score_wrong, *, per_problem: bool = False):
    """:math:`\\lim_k` of best-of-k accuracy: :math:`\\rho(s^\\star)` at the top level reached."""
    p = _rates("p", p)
    r1, r0 = _score_laws(score_correct, score_wrong)
    rho, den = _rho(p, r1, r0)
    top = np.array([np.flatnonzero(row > 0)[-1] for row in den])
    lim = rho[np.arange(p.size), top]
    return lim if per_problem else float(lim.mean())
