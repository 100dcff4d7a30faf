"""Accuracy bounds: closed forms, the transfer theorem's optimisation, rates, bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy.special import ndtr

from toytheory.adaptive import bounds


@given(st.integers(1, 10**6), st.integers(1, 10**4), st.floats(1e-9, 0.99))
def test_hoeffding_union_bound_makes_the_union_of_tails_equal_beta(n, m, beta):
    tau = bounds.hoeffding_union_bound(n, m, beta)
    assert m * 2 * math.exp(-2 * n * tau * tau) == pytest.approx(beta, rel=1e-9)


@given(st.integers(1, 10**5), st.integers(1, 500), st.floats(1e-6, 0.5))
def test_sample_splitting_width_is_hoeffding_on_parts_of_n_over_m(n, m, beta):
    if n < m:
        with pytest.raises(ValueError, match="^m: the sample of n = .* too small to split"):
            bounds.sample_splitting_width(n, m, beta)
    else:
        assert bounds.sample_splitting_width(n, m, beta) == bounds.hoeffding_union_bound(
            n // m, m, beta)


@given(st.floats(1e-4, 1.0), st.integers(1, 1000), st.floats(1e-9, 0.5))
def test_noise_sample_accuracies_cover_the_exact_law_of_the_largest_noise(scale, m, beta):
    a_g = bounds.gaussian_sample_accuracy(scale, m, beta)
    exact_g = -math.expm1(m * math.log1p(-2 * ndtr(-a_g / scale)))
    a_l = bounds.laplace_sample_accuracy(scale, m, beta)
    exact_l = -math.expm1(m * math.log1p(-min(1.0, math.exp(-a_l / scale))))
    assert exact_g <= beta * (1 + 1e-9) and exact_l <= beta * (1 + 1e-9)
    assert 2 * m * ndtr(-a_g / scale) == pytest.approx(beta, rel=1e-7)  # the union bound is tight


@pytest.mark.parametrize("n, m, sigma", [(5000, 20, 0.03), (10**5, 1000, 0.017), (2000, 5, 0.1)])
def test_gaussian_transfer_bound_is_jungs_expression_at_a_feasible_point(n, m, sigma):
    beta = 0.05
    b = bounds.gaussian_transfer_bound(n, m, sigma, beta)
    rho = m / (2 * n * n * sigma * sigma)
    eps = rho + 2 * math.sqrt(rho * math.log(1 / b.delta))
    alpha = bounds.gaussian_sample_accuracy(sigma, m, b.beta_sample)
    assert b.epsilon == pytest.approx(eps, rel=1e-10) and b.alpha == pytest.approx(alpha, rel=1e-10)
    assert b.tau == pytest.approx(alpha + math.expm1(eps) + b.c + 2 * b.d, rel=1e-12)
    assert b.beta_sample / b.c + b.delta / b.d == pytest.approx(beta, rel=1e-9)


def test_transfer_bound_optimisation_beats_a_hand_picked_point():
    n, m, sigma, beta = 5000, 20, 0.03, 0.05
    b = bounds.gaussian_transfer_bound(n, m, sigma, beta)
    rho = m / (2 * n * n * sigma * sigma)
    c, d = 0.01, 0.005
    hand = (bounds.gaussian_sample_accuracy(sigma, m, beta * c / 2)
            + math.expm1(rho + 2 * math.sqrt(rho * math.log(1 / (beta * d / 2)))) + c + 2 * d)
    assert b.tau <= hand


def test_laplace_transfer_bound_uses_pure_dp_when_it_is_better():
    b = bounds.laplace_transfer_bound(5000, 20, 0.022, 0.05)
    assert b.delta == 0 and b.d == 0
    assert b.epsilon == pytest.approx(20 / (5000 * 0.022), rel=1e-12)
    assert b.beta_sample / b.c == pytest.approx(0.05, rel=1e-9)


def test_the_optimal_noise_scale_is_a_local_minimum_of_the_bound():
    sigma, b = bounds.optimal_gaussian_sigma(5000, 20, 0.05)
    for factor in (0.7, 1.4):
        assert b.tau <= bounds.gaussian_transfer_bound(5000, 20, factor * sigma, 0.05).tau
    scale, b = bounds.optimal_laplace_scale(5000, 20, 0.05)
    for factor in (0.7, 1.4):
        assert b.tau <= bounds.laplace_transfer_bound(5000, 20, factor * scale, 0.05).tau


def test_gaussian_bound_grows_like_m_to_the_quarter_up_to_logs_and_falls_like_root_n():
    ms = np.array([10**3, 10**4, 10**5])
    taus = [bounds.optimal_gaussian_sigma(10**8, int(m), 0.05)[1].tau for m in ms]
    slope_m = np.polyfit(np.log(ms), np.log(taus), 1)[0]
    assert 0.25 <= slope_m <= 0.32  # m^(1/4) times logarithms (Bassily et al.)
    ns = np.array([10**6, 10**7, 10**8])
    taus = [bounds.optimal_gaussian_sigma(int(n), 1000, 0.05)[1].tau for n in ns]
    assert np.polyfit(np.log(ns), np.log(taus), 1)[0] == pytest.approx(-0.5, abs=0.02)


def test_dp_noise_beats_sample_splitting_only_for_many_queries():
    n = 10**5
    assert bounds.optimal_gaussian_sigma(n, 20, 0.05)[1].tau > bounds.sample_splitting_width(
        n, 20, 0.05)
    assert bounds.optimal_gaussian_sigma(n, 2000, 0.05)[1].tau < bounds.sample_splitting_width(
        n, 2000, 0.05)


def test_thresholdout_parameters_and_privacy():
    T, sigma = bounds.thresholdout_parameters(0.01, 1000, 0.05)
    assert T == 0.0075 and sigma == pytest.approx(0.01 / (96 * math.log(80000)), rel=1e-15)
    assert bounds.thresholdout_epsilon(0.0025, 10_000, 100) == pytest.approx(8.0)
    b = bounds.thresholdout_transfer_bound(10**6, 100, 0.04, 0.01, 5, 0.05)
    assert b.epsilon == pytest.approx(1e-3) and b.tau > 0.04 and b.delta == 0


def test_pmw_update_bound_is_log_n_over_the_potential_drop():
    assert bounds.pmw_update_bound(1024, 0.1, 0.05) == pytest.approx(math.log(1024) / 0.0025)
    with pytest.raises(ValueError, match="^learning_rate: must be < alpha"):
        bounds.pmw_update_bound(16, 0.1, 0.2)


def test_gaussian_attack_error_is_phi_of_root_m_minus_one_over_n_minus_half():
    assert bounds.gaussian_attack_error(1000, 101) == pytest.approx(ndtr(0.1 ** 0.5 * 1) - 0.5)


@pytest.mark.parametrize("call, name", [
    (lambda: bounds.hoeffding_union_bound(0, 5, 0.1), "n"),
    (lambda: bounds.hoeffding_union_bound(10, 0, 0.1), "m"),
    (lambda: bounds.hoeffding_union_bound(10, 5, 0.0), "beta"),
    (lambda: bounds.hoeffding_union_bound(10, 5, 1.0), "beta"),
    (lambda: bounds.gaussian_transfer_bound(10, 5, 0.0, 0.1), "sigma"),
    (lambda: bounds.laplace_transfer_bound(10, 5, -1.0, 0.1), "scale"),
    (lambda: bounds.thresholdout_parameters(0.0, 5, 0.1), "tau"),
    (lambda: bounds.thresholdout_epsilon(0.01, 10, 0), "budget"),
    (lambda: bounds.gaussian_sample_accuracy(0.1, 3, float("nan")), "beta"),
])
def test_bad_bound_arguments_raise_value_errors_naming_them(call, name):
    with pytest.raises(ValueError, match=f"^{name}:"):
        call()
