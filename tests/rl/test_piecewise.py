"""Exact piecewise-linear functions, two-layer ReLU networks, and the breakpoint bound."""

from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from toytheory.rl import interpolation
from toytheory.rl.interpolation import (breakpoint_lower_bound, interpolating_network,
                                        naive_breakpoint_lower_bound, second_differences,
                                        sparsest_interpolant)
from toytheory.rl.piecewise import PiecewiseLinear, TwoLayerReLU
from toytheory.testing.rl import grid_values, rationals, relu_networks


@given(relu_networks(), st.lists(rationals(20, 7), min_size=1, max_size=8))
def test_canonical_form_equals_the_network_everywhere(net, xs):
    pw = net.to_piecewise()
    for x in xs:
        assert pw(x) == net(x)


@given(relu_networks())
def test_a_width_w_network_has_at_most_w_breakpoints(net):
    assert net.n_breakpoints <= net.width


@given(relu_networks(), st.integers(1, 12))
def test_values_on_grid_equal_pointwise_evaluation(net, n):
    pw = net.to_piecewise()
    assert pw.values_on_grid(n) == [net(k) for k in range(n)]


@given(relu_networks(max_width=6), st.integers(3, 12))
def test_no_network_has_fewer_breakpoints_than_the_bound_on_its_own_values(net, n):
    """The lower bound m* is valid: every function's grid values need m* breakpoints."""
    values = net.to_piecewise().values_on_grid(n)
    assert breakpoint_lower_bound(values) <= net.n_breakpoints


@given(grid_values())
def test_sparsest_interpolant_fits_the_values_with_exactly_m_star_breakpoints(values):
    f = sparsest_interpolant(values)
    assert f.values_on_grid(len(values)) == [Fraction(v) for v in values]
    assert f.n_breakpoints == breakpoint_lower_bound(values)


@given(grid_values())
def test_interpolating_network_fits_the_values_with_m_star_or_one_more_neurons(values):
    net = interpolating_network(values)
    assert net.to_piecewise().values_on_grid(len(values)) == [Fraction(v) for v in values]
    assert breakpoint_lower_bound(values) <= net.width <= breakpoint_lower_bound(values) + 1


@given(grid_values())
def test_refined_bound_lies_between_the_naive_bound_and_the_count_of_kinks(values):
    m = sum(1 for d in second_differences(values) if d != 0)
    assert naive_breakpoint_lower_bound(values) <= breakpoint_lower_bound(values) <= m


def test_one_kink_between_two_grid_points_makes_two_second_differences():
    # ReLU(x - 3/2) on 0..3: D_1 = D_2 = 1/2 > 0, one breakpoint serves both
    values = [0, 0, Fraction(1, 2), Fraction(3, 2)]
    assert second_differences(values) == [Fraction(1, 2), Fraction(1, 2)]
    assert breakpoint_lower_bound(values) == 1
    assert sparsest_interpolant(values).knots == (Fraction(3, 2),)


def test_alternating_zigzag_needs_one_breakpoint_per_interior_point():
    values = [0, 1, 0, 1, 0, 1, 0]
    assert breakpoint_lower_bound(values) == 5
    assert naive_breakpoint_lower_bound(values) == 3
    # jumps are +-2 and the slope left of the data is 1: no orientation subset sums to -1,
    # so the construction spends one more neuron, and the bounds do not meet
    width = interpolation.interpolation_width(values)
    assert (width.lower, width.upper, width.exact) == (5, 6, False)


def test_zigzag_with_a_flat_start_is_fitted_by_m_star_neurons():
    values = [0, 0, 1, 0, 1, 0]
    assert interpolating_network(values).width == breakpoint_lower_bound(values) == 4


def test_counting_nonzero_second_differences_would_overcount_a_valid_network():
    """Planted bug: m (not m*) as the bound is refuted by ReLU(x - 3/2).
    Power: deterministic — exact arithmetic (Fractions), no random draw."""
    net = TwoLayerReLU((1,), (Fraction(-3, 2),), (1,))
    values = net.to_piecewise().values_on_grid(4)
    wrong = sum(1 for d in second_differences(values) if d != 0)
    assert wrong > net.n_breakpoints
    assert breakpoint_lower_bound(values) <= net.n_breakpoints


def test_planted_sign_blind_pairing_breaks_the_interpolant(monkeypatch):
    """Planted bug: pairing adjacent kinks of opposite sign cannot interpolate the zigzag.
    Power: deterministic — exact arithmetic (Fractions), no random draw."""
    def sign_blind_runs(values):
        d = second_differences(values)
        ks = [i + 1 for i, x in enumerate(d) if x != 0]
        return [ks] if ks else []

    monkeypatch.setattr(interpolation, "sign_runs", sign_blind_runs)
    values = [0, 1, 0, 1, 0, 1, 0]
    with pytest.raises((ZeroDivisionError, AssertionError)):
        f = sparsest_interpolant(values)
        assert f.values_on_grid(len(values)) == [Fraction(v) for v in values]


def test_bad_input_names_the_argument():
    with pytest.raises(ValueError, match=r"^values: must hold at least two"):
        second_differences([1])
    with pytest.raises(ValueError, match=r"^values\[1\]: must be a finite rational"):
        second_differences([0, float("nan"), 1])
    with pytest.raises(ValueError, match=r"^knots: must be strictly increasing"):
        PiecewiseLinear(0, 0, (1, 1), (1, 1))
    with pytest.raises(ValueError, match=r"^w, b, a: must have equal lengths"):
        TwoLayerReLU((1,), (1, 2), (1,))
