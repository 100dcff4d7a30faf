"""The least-squares group simulators: exact curve at one size, Numba collector invariants."""

from __future__ import annotations

import numpy as np
import pytest

from sims.data_groups import GroupPool, ols_test_errors


def test_ols_errors_have_the_inverse_wishart_mean(rng):
    """d = 3, n = 20: E = 1 + 3/16. 20,000 fits; the standard error is about 0.002."""
    errs = ols_test_errors(3, 1.0, 20, 20_000, rng)
    assert errs.mean() == pytest.approx(1 + 3 / 16, abs=0.012)


def test_group_pool_grows_and_refits(rng):
    pool = GroupPool((2,), (0.5,), 10, rng)
    pool.grow(0, 5)
    first = pool.fit(0).copy()
    pool.grow(0, 500)
    assert pool.y[0].size == 500
    assert np.linalg.norm(pool.fit(0) - pool.beta[0]) < np.linalg.norm(first - pool.beta[0]) + 0.5
    assert pool.test_error(0) >= 0.5


def test_numba_collector_spends_within_budget_and_starts_at_start(test_seed):
    pytest.importorskip("numba")
    from sims.data_sequential import sequential_runs

    costs = np.array([1.0, 2.0])
    counts, worst = sequential_runs((2, 3), (1.0, 1.0), costs, 60.0, (4, 5), 3, 50, 20,
                                    test_seed)
    spent = counts @ costs
    assert np.all(spent <= 60.0) and np.all(spent > 60.0 - 2.0 * 3)
    assert np.all(counts >= [4, 5]) and np.all((counts - [4, 5]) % 3 == 0)
    assert np.all(worst >= 1.0)
    with pytest.raises(ValueError, match="start"):
        sequential_runs((2, 3), (1.0, 1.0), costs, 60.0, (1, 5), 3, 50, 2, test_seed)
