"""Budget allocation (equitable datasets): closed forms checked by hand, bad input refused."""

from __future__ import annotations

import numpy as np
import pytest

from toytheory.data.allocation import (OLSCurve, PowerLawCurve, equal_allocation,
                                       proportional_allocation, sequential_worst_group,
                                       welfare_allocation, worst_group_allocation)


def test_two_identical_power_law_groups_split_the_budget_by_cost():
    """Equal curves a n^-1: the worst-group optimum equalises n, so n = B / (c1 + c2)."""
    curves = [PowerLawCurve(2.0, 1.0), PowerLawCurve(2.0, 1.0)]
    a = worst_group_allocation(curves, [1.0, 3.0], 100.0)
    np.testing.assert_allclose(a.n, [25.0, 25.0], rtol=1e-10)
    assert a.objective == pytest.approx(2.0 / 25.0, rel=1e-10)
    assert a.lower <= a.objective


def test_welfare_optimum_matches_the_hand_kkt_solution():
    """w_g a b n^-(b+1) = lam c_g with b = 1: n_g ∝ sqrt(w_g / c_g); the budget fixes scale."""
    curves = [PowerLawCurve(1.0, 1.0), PowerLawCurve(1.0, 1.0)]
    w, c, B = np.array([0.8, 0.2]), np.array([1.0, 4.0]), 200.0
    shape = np.sqrt(w / c)
    expected = B * shape / (c @ shape)
    a = welfare_allocation(curves, c, B, w)
    np.testing.assert_allclose(a.n, expected, rtol=1e-8)
    assert a.gap <= 1e-12


def test_ols_curve_is_the_inverse_wishart_mean():
    cv = OLSCurve(2.0, 3)
    assert float(cv.value(10)) == pytest.approx(2.0 * (1 + 3 / 6))
    assert float(cv.value(4)) == np.inf
    assert cv.inverse(float(cv.value(17))) == pytest.approx(17.0)


def test_equal_and_proportional_allocations_spend_the_budget():
    curves = [PowerLawCurve(1.0, 0.5), PowerLawCurve(3.0, 0.7)]
    c = [1.0, 2.0]
    assert equal_allocation(curves, c, 90.0).n.tolist() == [30.0, 30.0]
    p = proportional_allocation(curves, c, 90.0, [0.75, 0.25])
    np.testing.assert_allclose(p.n, [54.0, 18.0])


def test_sequential_strategy_buys_for_the_worst_estimate():
    errors = {0: lambda n: 1 / n, 1: lambda n: 5 / n}
    n = sequential_worst_group(lambda g, k: errors[g](k), [1.0, 1.0], 60.0, [1, 1], 1)
    assert n.sum() == 60 and n[1] > 4 * n[0] - 5  # equal error: n1 ≈ 5 n0


@pytest.mark.parametrize("call, name", [
    (lambda: PowerLawCurve(1.0, 0.0), "b"),
    (lambda: PowerLawCurve(1.0, -1.0), "b"),
    (lambda: worst_group_allocation([PowerLawCurve(1, 1)], [1.0], -1.0), "budget"),
    (lambda: worst_group_allocation([PowerLawCurve(1, 1)], [0.0], 10.0), "costs"),
    (lambda: welfare_allocation([PowerLawCurve(1, 1)] * 2, [1.0, -2.0], 10.0, [.5, .5]),
     "costs"),
    (lambda: proportional_allocation([PowerLawCurve(1, 1)] * 2, [1, 1], 10.0, [0.7, 0.7]),
     "shares"),
    (lambda: sequential_worst_group(lambda g, n: 0.0, [1.0], -5.0, [1], 1), "budget"),
])
def test_bad_input_is_refused_naming_the_argument(call, name):
    with pytest.raises(ValueError, match=name):
        call()
