r"""``check_pass_at_k``: a pass@k estimator's bias and variance against the exact ones.

For ``c ~ Binomial(n, p)`` correct samples among ``n``, the estimand is
:math:`\text{pass@}k = 1 - (1-p)^k`. The estimator's mean and variance are summed over
all ``n + 1`` values of ``c`` in exact rational arithmetic (its float outputs converted
exactly), at a grid of ``(n, k)`` and of rational ``p``: no sampling, so the check is
exact. An unbiased estimator (the claim this checks by default) must have
:math:`|\mathbb E\,\hat\pi - \text{pass@}k| \le` ``atol`` everywhere (float rounding of
its outputs only). Since ``c`` is a complete sufficient statistic, the unbiased
estimator of Chen et al. (2021, "Evaluating Large Language Models Trained on Code",
eq. 1; :func:`toytheory.decoding.repeated_sampling.pass_at_k_unbiased`) is the only
unbiased function of ``c``; its exact variance is reported beside the estimator's.
"""

from __future__ import annotations

from fractions import Fraction
from math import comb

from ._result import CheckResult, check_callable

__all__ = ["check_pass_at_k"]

_SIG = "estimator(n, c, k) -> float"
DEFAULT_NK = ((10, 1), (10, 5), (20, 10), (50, 7), (100, 100))
DEFAULT_P = (Fraction(1, 50), Fraction(1, 5), Fraction(1, 2), Fraction(9, 10))


def check_pass_at_k(estimator, *, nk=DEFAULT_NK, p=DEFAULT_P, max_bias: float = 0.0,
                    atol: float = 1e-12, max_variance_ratio: float | None = None) -> CheckResult:
    """Hold a pass@k estimator to the exact mean (and optionally variance).

    Parameters
    ----------
    estimator : callable
        ``estimator(n, c, k) -> float``: the estimate from ``c`` correct of ``n`` samples.
    nk : sequence of (n, k)
        ``1 <= k <= n``.
    p : sequence of rationals in [0, 1]
        Success rates (``Fraction``, int or a string such as ``"1/3"``).
    max_bias : float
        The bias the estimator is claimed to stay within (0: unbiased).
    atol : float
        Added to ``max_bias`` for float rounding of the outputs.
    max_variance_ratio : float, optional
        If given, the estimator's variance may be at most this multiple of the unbiased
        estimator's (plus ``atol``).

    Returns
    -------
    CheckResult
        Exact check (``level`` is None); ``measured["rows"]`` lists (n, k, p, mean,
        target, bias, variance, unbiased variance).

    Raises
    ------
    ValueError
        Wrong signature; bad (n, k) or p; negative tolerances.
    """
    from toytheory.decoding.repeated_sampling import pass_at_k_unbiased

    check_callable("estimator", estimator, 3, _SIG,
                   "for a vectorised estimator pass lambda n, c, k: float(f(n, [c], k)[0])")
    pairs = []
    for pair in nk:
        try:
            n, k = (int(v) for v in pair)
        except (TypeError, ValueError):
            raise ValueError(f"nk: must be pairs (n, k) (got {pair!r})") from None
        if not 1 <= k <= n:
            raise ValueError(f"nk: need 1 <= k <= n (got n = {n}, k = {k})")
        pairs.append((n, k))
    if not pairs:
        raise ValueError("nk: must name at least one (n, k)")
    ps = []
    for v in p:
        try:
            f = Fraction(v)
        except (TypeError, ValueError):
            raise ValueError(f"p: must be exact rationals in [0, 1] (got {v!r})") from None
        if not 0 <= f <= 1:
            raise ValueError(f"p: must lie in [0, 1] (got {f})")
        ps.append(f)
    if not ps:
        raise ValueError("p: must name at least one success rate")
    if not max_bias >= 0 or not atol >= 0:
        raise ValueError("max_bias, atol: must be >= 0")
    rows, ev, passed = [], [], True
    for n, k in pairs:
        est = [Fraction(float(estimator(n, c, k))) for c in range(n + 1)]
        ref = [Fraction(pass_at_k_unbiased(n, c, k)) for c in range(n + 1)]
        for q in ps:
            w = [comb(n, c) * q ** c * (1 - q) ** (n - c) for c in range(n + 1)]
            mean = sum(wi * e for wi, e in zip(w, est))
            var = sum(wi * (e - mean) ** 2 for wi, e in zip(w, est))
            rmean = sum(wi * e for wi, e in zip(w, ref))
            rvar = sum(wi * (e - rmean) ** 2 for wi, e in zip(w, ref))
            target = 1 - (1 - q) ** k
            bias = float(mean - target)
            ok = abs(bias) <= max_bias + atol
            if max_variance_ratio is not None:
                ok = ok and float(var) <= max_variance_ratio * float(rvar) + atol
            passed = passed and ok
            rows.append((n, k, str(q), float(mean), float(target), bias, float(var), float(rvar)))
            ev.append(f"n = {n}, k = {k}, p = {q}: E[estimate] = {float(mean):.12g}, pass@k = "
                      f"{float(target):.12g}, bias {bias:.3g}; variance {float(var):.4g} "
                      f"(unbiased estimator {float(rvar):.4g}) [{'ok' if ok else 'FAIL'}]")
    worst = max(rows, key=lambda r: abs(r[5]))
    bounds = {"max_bias": max_bias + atol}
    if max_variance_ratio is not None:
        bounds["max_variance_ratio"] = max_variance_ratio
    return CheckResult("check_pass_at_k", getattr(estimator, "__name__", "estimator"), passed,
                       measured={"rows": rows, "worst_bias": worst[5]}, bounds=bounds,
                       level=None,
                       power=f"exact: any bias above {max_bias + atol:g} at a tested (n, k, p) "
                             "fails with certainty",
                       evidence=ev)
