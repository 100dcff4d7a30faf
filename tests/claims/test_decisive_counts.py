"""decisive_counts against brute force: the bisections on the integers return the counts
and the size that a scan of every count / size finds."""

from __future__ import annotations

import pytest

from toytheory import stats
from toytheory.claims.catalog.decisive_counts import (deciding_size, holding_count,
                                                      refuting_count)


def _ends(n, level):
    return [stats.exact_binomial_interval(k, n, level) for k in range(n + 1)]


@pytest.mark.parametrize("n", [1, 7, 30])
@pytest.mark.parametrize("threshold", [0.1, 0.5, 0.8])
@pytest.mark.parametrize("level", [0.05, 1e-6])
def test_counts_match_a_scan_of_every_count(n, threshold, level):
    ends = _ends(n, level)
    hold_le = [k for k in range(n + 1) if ends[k][1] <= threshold]
    hold_ge = [k for k in range(n + 1) if ends[k][0] >= threshold]
    ref_le = [k for k in range(n + 1) if ends[k][0] > threshold]
    ref_ge = [k for k in range(n + 1) if ends[k][1] < threshold]
    assert holding_count(n, threshold, "<=", level) == (max(hold_le) if hold_le else None)
    assert holding_count(n, threshold, ">=", level) == (min(hold_ge) if hold_ge else None)
    assert refuting_count(n, threshold, "<=", level) == (min(ref_le) if ref_le else None)
    assert refuting_count(n, threshold, ">=", level) == (max(ref_ge) if ref_ge else None)


@pytest.mark.parametrize("rate, start", [(0.0, 1), (0.9, 3), (0.2, 5), (1.0, 2), (0.75, 4)])
def test_deciding_size_is_the_first_size_that_decides(rate, start):
    def decides(n):
        lo, hi = stats.exact_binomial_interval(int(round(rate * n)), n, 0.05)
        return lo > 0.5 or hi < 0.5

    n = deciding_size(rate, 0.5, 0.05, start)
    assert n is not None and n >= start and decides(n)
    # no size between the last doubling step below n and n decides (the doubling's range)
    assert not any(decides(m) for m in range(max(start, n // 2), n))
    assert deciding_size(0.5, 0.5, 0.05, start) is None
