"""Which counts decide an exact (Clopper-Pearson) interval statement; registers no claim.

For ``k`` successes in ``n`` trials, the Clopper-Pearson interval's ends grow with ``k``,
so the counts that put the whole interval on one side of a threshold form a run at one
end of ``0..n``; each limit is found by bisection on the integers (``log2 n`` intervals,
each a scipy root search).
"""

from __future__ import annotations

import bisect
import functools

from toytheory import stats


def _first(lo: int, hi: int, pred) -> int:
    """Smallest k in lo..hi with pred(k) (pred monotone False -> True), or hi + 1: an exact
    bisection on the integers (:func:`bisect.bisect_left` over the range, keyed by pred)."""
    return lo + bisect.bisect_left(range(lo, hi + 1), True, key=pred)


@functools.lru_cache(maxsize=None)
def holding_count(n: int, threshold: float, side: str, level: float) -> int | None:
    """The count at the edge of ``holds`` for the statement ``p <side> threshold``.

    ``side = "<="``: the largest ``k`` whose upper end is ``<= threshold`` (``holds`` for
    every ``k`` up to it); ``">="``: the smallest ``k`` whose lower end is ``>= threshold``.
    None if no count holds.
    """
    if side == "<=":
        k = _first(0, n, lambda k: stats.exact_binomial_interval(k, n, level)[1] > threshold) - 1
        return k if k >= 0 else None
    k = _first(0, n, lambda k: stats.exact_binomial_interval(k, n, level)[0] >= threshold)
    return k if k <= n else None


@functools.lru_cache(maxsize=None)
def refuting_count(n: int, threshold: float, side: str, level: float) -> int | None:
    """The count at the edge of ``refuted`` for the statement ``p <side> threshold``.

    ``side = "<="``: the smallest ``k`` whose lower end is ``> threshold``; ``">="``: the
    largest ``k`` whose upper end is ``< threshold``. None if no count refutes.
    """
    if side == "<=":
        k = _first(0, n, lambda k: stats.exact_binomial_interval(k, n, level)[0] > threshold)
        return k if k <= n else None
    k = _first(0, n, lambda k: stats.exact_binomial_interval(k, n, level)[1] >= threshold) - 1
    return k if k >= 0 else None


def deciding_size(rate: float, threshold: float, level: float, start: int,
                  limit: int = 10 ** 8) -> int | None:
    """The smallest number of trials n >= ``start`` at which a success rate ``rate`` (the
    count ``round(rate n)``) puts the whole Clopper-Pearson interval at ``level`` on one
    side of ``threshold``; None when ``rate`` equals ``threshold`` (no size decides) or
    no n up to ``limit`` does."""
    if abs(rate - threshold) < 1e-12:
        return None

    def decides(n: int) -> bool:
        lo, hi = stats.exact_binomial_interval(int(round(rate * n)), n, level)
        return lo > threshold or hi < threshold

    n = max(int(start), 1)
    while not decides(n):
        n *= 2
        if n > limit:
            return None
    return _first(max(int(start), n // 2), n - 1, decides)     # n itself decides
