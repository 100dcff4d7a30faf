"""Exact privacy accounting: per-answer costs, composition, budgets, conversions."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from toytheory.adaptive import accounting as acc
from toytheory.adaptive.mechanisms import (EXHAUSTED, GaussianMechanism, LaplaceMechanism,
                                           Thresholdout)
from toytheory.adaptive.queries import CoordinateAgreementQuery
from tests._seeds import reseed
Q = CoordinateAgreementQuery(0)


def positive_spends(*, max_length: int = 20, max_value: float = 2.0):
    """Lists of privacy spends, each finite and > 0 (a spend of 0 is refused by the ledger)."""
    return st.lists(st.floats(0.0, max_value, exclude_min=True, allow_nan=False,
                              allow_infinity=False), min_size=1, max_size=max_length)


def data(n):
    return np.ones((n, 2), dtype=np.int8)


@given(st.integers(1, 500), st.floats(1e-3, 5.0), st.integers(1, 30))
def test_k_laplace_answers_cost_exactly_k_epsilon(n, eps, k):
    mech = LaplaceMechanism(data(n), eps, rng=reseed(0))
    for _ in range(k):
        mech.answer(Q)
    assert mech.accountant.epsilon == k * Fraction(eps)
    assert acc.laplace_epsilon(mech.scale, 1.0 / n) == pytest.approx(eps, rel=1e-14)


@given(st.integers(1, 500), st.floats(1e-3, 1.0), st.integers(1, 30))
def test_k_gaussian_answers_cost_exactly_k_over_2_n2_sigma2(n, sigma, k):
    mech = GaussianMechanism(data(n), sigma, rng=reseed(0))
    for _ in range(k):
        mech.answer(Q)
    exact = Fraction(1, n * n) / (2 * Fraction(sigma) ** 2)
    assert mech.accountant.rho == k * exact
    assert mech.rho_per_query == pytest.approx(1 / (2 * n * n * sigma * sigma), rel=1e-14)
    assert acc.gaussian_rho(sigma, 1.0 / n) == pytest.approx(float(exact), rel=1e-14)


@given(st.integers(2, 300), st.floats(1e-3, 10.0), st.integers(1, 40))
def test_a_budgeted_laplace_mechanism_answers_exactly_m_queries(n, total, m):
    mech = LaplaceMechanism.for_budget(data(n), total, m, rng=reseed(1))
    answers = [mech.answer(Q) for _ in range(m + 2)]
    assert all(isinstance(a, float) for a in answers[:m]) and answers[m:] == [EXHAUSTED] * 2
    assert mech.accountant.epsilon <= Fraction(total)


@given(st.integers(2, 300), st.floats(1e-4, 10.0), st.integers(1, 40))
def test_a_budgeted_gaussian_mechanism_answers_exactly_m_queries(n, rho, m):
    mech = GaussianMechanism.for_budget(data(n), rho, m, rng=reseed(1))
    answers = [mech.answer(Q) for _ in range(m + 2)]
    assert all(isinstance(a, float) for a in answers[:m]) and answers[m:] == [EXHAUSTED] * 2
    assert mech.accountant.rho <= Fraction(rho)
    assert mech.sigma == pytest.approx(math.sqrt(m / (2 * n * n * rho)), rel=1e-12)


def test_thresholdout_spends_two_over_sigma_n_per_unit_of_budget_and_nothing_below():
    """Two of the four queries differ by 1 > T, two by 0 < T. With sigma = 1e-4 the noises
    are Lap(2e-4) and Lap(4e-4), so a query lands on the other side of T = 0.05 with
    probability < 0.5 e^-125 + 0.5 e^-62.5 < 1e-27 under any seed (at sigma = 0.01 it was
    about 0.2: suite seed 5 counted 3 crossings)."""
    n, sigma = 100, 1e-4
    mech = Thresholdout(np.zeros((1, 1)), np.zeros((n, 1)), 0.05, sigma, 3, rng=reseed(0))
    for t, h in [(0.5, 0.5), (0.0, 1.0), (0.5, 0.5), (0.0, 1.0)]:
        mech.answer_means(t, h)
    assert mech.over_threshold == 2
    assert mech.accountant.epsilon == 2 * (Fraction(2) / (Fraction(sigma) * n))
    assert mech.epsilon_guarantee == pytest.approx(2 * 3 / (sigma * n), rel=1e-14)
    assert acc.sparse_vector_epsilon(sigma, 1.0 / n) == pytest.approx(2 / (sigma * n), rel=1e-14)


@given(positive_spends())
def test_basic_composition_is_the_exact_sum(eps):
    total, delta = acc.basic_composition(eps, [0.0] * len(eps))
    assert total == float(sum((Fraction(e) for e in eps), Fraction(0))) and delta == 0.0
    ledger = acc.PrivacyAccountant()
    for e in eps:
        ledger.spend_pure(e)
    assert float(ledger.epsilon) == total == ledger.approx_dp(1e-6)


@given(positive_spends(max_value=1.0), positive_spends(max_value=1.0),
       st.floats(1e-12, 0.5))
def test_mixed_ledgers_compose_through_zcdp_and_never_beat_either_route(pure, rhos, delta):
    ledger = acc.PrivacyAccountant()
    for e in pure:
        ledger.spend_pure(e)
    for r in rhos:
        ledger.spend_zcdp(r)
    total_rho = sum(rhos) + sum(e * e / 2 for e in pure)
    assert ledger.zcdp_total() == pytest.approx(total_rho, rel=1e-12, abs=1e-300)
    eps = ledger.approx_dp(delta)
    assert eps == pytest.approx(min(acc.zcdp_to_approx_dp(total_rho, delta),
                                    sum(pure) + acc.zcdp_to_approx_dp(sum(rhos), delta)),
                                rel=1e-12, abs=1e-300)


def test_zcdp_conversion_and_pure_to_zcdp_match_bun_and_steinke():
    rho, delta = 0.3, 1e-6
    assert acc.zcdp_to_approx_dp(rho, delta) == pytest.approx(
        0.3 + 2 * math.sqrt(0.3 * math.log(1e6)), rel=1e-15)
    assert acc.pure_to_zcdp(0.4) == pytest.approx(0.08, rel=1e-15)


def test_advanced_composition_matches_dwork_rothblum_vadhan():
    eps, delta, k, dp = 0.1, 1e-7, 50, 1e-6
    e, d = acc.advanced_composition(eps, delta, k, dp)
    assert e == pytest.approx(math.sqrt(2 * k * math.log(1 / dp)) * eps + k * eps * math.expm1(eps))
    assert d == pytest.approx(k * delta + dp)
    assert e < k * eps  # better than basic composition here


@pytest.mark.parametrize("call, name", [
    (lambda: acc.laplace_epsilon(0.0, 1.0), "scale"),
    (lambda: acc.laplace_epsilon(1.0, -1.0), "sensitivity"),
    (lambda: acc.gaussian_rho(-1.0, 1.0), "sigma"),
    (lambda: acc.zcdp_to_approx_dp(0.1, 0.0), "delta"),
    (lambda: acc.zcdp_to_approx_dp(-0.1, 0.1), "rho"),
    (lambda: acc.advanced_composition(0.1, 0.0, 0, 1e-6), "k"),
    (lambda: acc.basic_composition([0.1, -0.2]), "epsilons"),
    (lambda: acc.PrivacyAccountant().spend_pure(float("nan")), "epsilon"),
    (lambda: acc.PrivacyAccountant().spend_zcdp(Fraction(-1, 2)), "rho"),
])
def test_bad_privacy_parameters_raise_value_errors_naming_them(call, name):
    with pytest.raises(ValueError, match=f"^{name}:"):
        call()


BAD_EPSILONS = [0.0, -0.5, float("nan"), float("inf")]


@pytest.mark.parametrize("bad", BAD_EPSILONS)
@pytest.mark.parametrize("call, name", [
    (lambda e: acc.pure_to_zcdp(e), "epsilon"),
    (lambda e: acc.advanced_composition(e, 0.0, 10, 1e-6), "epsilon"),
    (lambda e: acc.basic_composition([0.1, e]), "epsilons"),
    (lambda e: acc.PrivacyAccountant().spend_pure(e), "epsilon"),
    (lambda e: acc.PrivacyAccountant().spend_zcdp(e), "rho"),
])
def test_epsilon_zero_negative_or_non_finite_is_refused_naming_it(call, name, bad):
    with pytest.raises(ValueError, match=f"^{name}: must be"):
        call(bad)


@pytest.mark.parametrize("bad", [Fraction(0), Fraction(-1, 3)])
def test_exact_spends_of_zero_or_less_are_refused(bad):
    with pytest.raises(ValueError, match="^epsilon: must be > 0"):
        acc.PrivacyAccountant().spend_pure(bad)
    with pytest.raises(ValueError, match="^rho: must be > 0"):
        acc.PrivacyAccountant().spend_zcdp(bad)


@pytest.mark.parametrize("call, name", [
    (lambda: acc.advanced_composition(0.1, 1.0, 10, 1e-6), "delta"),
    (lambda: acc.advanced_composition(0.1, float("nan"), 10, 1e-6), "delta"),
    (lambda: acc.advanced_composition(0.1, 0.0, 10, 1.0), "delta_prime"),
    (lambda: acc.advanced_composition(0.1, 0.0, 2.5, 1e-6), "k"),
    (lambda: acc.basic_composition([0.1], [1.0]), "deltas"),
    (lambda: acc.basic_composition([0.1], [0.0, 0.0]), "deltas"),
    (lambda: acc.basic_composition(0.1), "epsilons"),
    (lambda: acc.basic_composition("0.1"), "epsilons"),
    (lambda: acc.PrivacyAccountant().approx_dp(0.0), "delta"),
    (lambda: acc.PrivacyAccountant().approx_dp(1.5), "delta"),
])
def test_deltas_outside_their_range_and_malformed_sequences_are_refused(call, name):
    with pytest.raises(ValueError, match=f"^{name}:"):
        call()


def test_small_positive_spends_are_still_accepted_exactly():
    ledger = acc.PrivacyAccountant()
    ledger.spend_pure(5e-324)
    ledger.spend_pure(Fraction(1, 3))
    assert ledger.epsilon == Fraction(5e-324) + Fraction(1, 3)
    assert acc.basic_composition([5e-324, 0.25], [0.0, 0.5]) == (0.25, 0.5)
