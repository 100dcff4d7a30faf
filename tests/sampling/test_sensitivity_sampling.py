"""Sensitivity sampling: inclusion probabilities, unbiasedness, exact and certified distortions."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from toytheory import stats
from toytheory.sampling import (DistortionOracle, embedding_distortion, lp_sensitivities,
                                sample_rows)
from toytheory.sampling.sample_complexity import (fit_exponent, sample_complexity_study,
                                                  samples_needed, family_matrix)
from toytheory.sampling.sensitivity_sampling import (alpha_for_expected_size,
                                                     arrangement_rays, inclusion_probabilities)
from toytheory.testing.sampling import design_matrices
from tests._seeds import reseed


@given(st.lists(st.one_of(st.just(0.0), st.floats(1e-6, 10.0)), min_size=2, max_size=40).filter(
    lambda s: sum(v > 0 for v in s) >= 2), st.floats(0.05, 1.0))
def test_alpha_for_expected_size_makes_the_probabilities_sum_to_the_target(scores, frac):
    s = np.array(scores)
    m = frac * np.sum(s > 0)
    alpha = alpha_for_expected_size(s, m)
    assert inclusion_probabilities(s, alpha).sum() == pytest.approx(m, rel=1e-10, abs=1e-10)


def test_sketch_is_unbiased_for_the_pth_power_norm():
    rng = np.random.default_rng(reseed(0))
    a = rng.standard_normal((40, 3)) * (rng.pareto(2, (40, 1)) + 1)
    x = rng.standard_normal(3)
    for p in (1.0, 3.0):
        s = lp_sensitivities(a, p).values
        target = np.sum(np.abs(a @ x) ** p)
        vals = []
        for r in range(3000):
            smp = sample_rows(s, p, expected_size=8, rng=rng)
            vals.append(np.sum(smp.weights ** p * np.abs(a[smp.indices] @ x) ** p) / target)
        assert stats.mean_test(np.array(vals), 1.0, 1e-6).verdict == "accept"


def test_sketch_unbiasedness_test_catches_a_planted_rescaling_bug():
    """Planted: weights q^(-1/2) instead of q^(-1/p) (p = 1). Power: the sketch's mean is
    then sum_i sqrt(q_i) |a_i x| / sum_i |a_i x| = 0.46-0.49 (five random matrices of this
    shape) against 1, per-draw sd 0.17, an expected t of 160-177 against 4.9; each draw is
    bounded by sum_i q_i^(-1/2) |a_i x| / target, so a miss (a deviation of 0.5 - 4.9 * sd /
    sqrt(3000) = 0.48 of the mean) has, by Bernstein, probability far below 1e-6."""
    rng = np.random.default_rng(reseed(0))
    a = rng.standard_normal((40, 3))
    x = rng.standard_normal(3)
    s = lp_sensitivities(a, 1.0).values
    target = np.sum(np.abs(a @ x))
    vals = []
    for r in range(3000):
        smp = sample_rows(s, 1.0, expected_size=8, rng=rng)
        wrong = smp.weights ** 0.5  # q^{-1/2} instead of q^{-1/p}
        vals.append(np.sum(wrong * np.abs(a[smp.indices] @ x)) / target)
    assert stats.mean_test(np.array(vals), 1.0, 1e-6).verdict == "reject"


@settings(max_examples=20)
@given(design_matrices(max_d=3, max_n=30, structures=("gaussian", "heavy_tailed", "sign")),
       st.integers(0, 2**32 - 1))
def test_l1_distortion_by_rays_lies_in_the_certified_bracket_and_above_any_direction(a, seed):
    rng = np.random.default_rng(seed)
    s = lp_sensitivities(a, 1.0).values
    smp = sample_rows(s, 1.0, expected_size=max(2.0, a.shape[0] / 3), rng=rng)
    exact = embedding_distortion(a, smp.indices, smp.weights, 1.0)
    assert exact.exact and exact.method == "rays"
    bnb = embedding_distortion(a, smp.indices, smp.weights, 1.0, method="branch_and_bound",
                               tol=1e-4)
    assert bnb.lower - 1e-12 <= exact.value <= bnb.upper + 1e-12
    x = rng.standard_normal((500, a.shape[1]))
    c = np.bincount(smp.indices, smp.weights, a.shape[0])
    ratio = (np.abs(x @ a.T) @ c) / np.abs(x @ a.T).sum(axis=1)
    assert np.max(np.abs(ratio - 1)) <= exact.value + 1e-12


@settings(max_examples=20)
@given(design_matrices(max_d=3, max_n=40), st.integers(0, 2**32 - 1))
def test_l2_distortion_by_eigenvalues_lies_in_the_certified_bracket(a, seed):
    rng = np.random.default_rng(seed)
    s = lp_sensitivities(a, 2.0).values
    smp = sample_rows(s, 2.0, expected_size=max(2.0, a.shape[0] / 2), rng=rng)
    exact = embedding_distortion(a, smp.indices, smp.weights, 2.0)
    bnb = embedding_distortion(a, smp.indices, smp.weights, 2.0, method="branch_and_bound",
                               tol=1e-3)
    assert bnb.lower - 1e-9 <= exact.value <= bnb.upper + 1e-9


def test_keeping_every_row_has_zero_distortion_for_every_p():
    a = np.random.default_rng(reseed(3)).standard_normal((20, 3))
    idx, w = np.arange(20), np.ones(20)
    for p in (1.0, 1.5, 2.0, 4.0):
        res = embedding_distortion(a, idx, w, p)
        assert res.upper <= 1e-3 if not res.exact else res.value <= 1e-12


def test_dropping_a_spike_loses_its_whole_share_of_the_norm():
    a = np.vstack([np.eye(2), 0.01 * np.ones((3, 2))])
    idx = np.array([1, 2, 3, 4])
    res = embedding_distortion(a, idx, np.ones(4), 1.0)
    # x = e_1: ||SAx||_1 = 0.03 of ||Ax||_1 = 1.03
    assert res.value == pytest.approx(1.0 - 0.03 / 1.03, abs=1e-12)


def test_oracle_reuses_work_and_agrees_with_the_function():
    rng = np.random.default_rng(reseed(4))
    a = rng.standard_normal((30, 3))
    s = lp_sensitivities(a, 1.0).values
    orc = DistortionOracle(a, 1.0)
    for _ in range(5):
        smp = sample_rows(s, 1.0, expected_size=10, rng=rng)
        assert orc(smp.indices, smp.weights).value == pytest.approx(
            embedding_distortion(a, smp.indices, smp.weights, 1.0).value, abs=1e-12)
    assert arrangement_rays(a).shape == (30 * 29 // 2, 3)


def test_samples_needed_interpolates_between_the_bracketing_sizes():
    a = family_matrix("gaussian", 60, 2, rng=reseed(0))
    s = lp_sensitivities(a, 2.0).values
    res = samples_needed(a, 2.0, s, 0.3, sizes=np.geomspace(2, 30, 6), reps=5, rng=reseed(1))
    j = int(np.flatnonzero(res.median_distortion <= 0.3)[0])
    assert res.sizes[j - 1] <= res.m_needed <= res.sizes[j]


def test_fit_exponent_recovers_a_planted_power_law_with_group_intercepts():
    """A planted true law recovered (a null test, not a planted bug). The log errors are
    exactly Gaussian, so the OLS t-interval at level 1e-6 covers 1.7 with probability
    exactly 1 - 1e-6, and the slope's error (s.e. 0.0027) exceeds 0.02 with probability
    < 1e-11: passes with probability >= 1 - 1e-6 under any seed. (At the default level
    0.05 it failed under suite seed 8: a 95% interval misses 1 seed in 20.)"""
    rng = np.random.default_rng(reseed(5))
    x = np.tile(np.geomspace(1, 10, 8), 3)
    groups = np.repeat(["a", "b", "c"], 8)
    y = np.exp(np.repeat([0.0, 1.0, 2.0], 8)) * x ** 1.7 * np.exp(0.01 * rng.standard_normal(24))
    fit = fit_exponent(x, y, groups=groups, level=1e-6)
    assert fit.interval[0] <= 1.7 <= fit.interval[1]
    assert fit.slope == pytest.approx(1.7, abs=0.02)


def test_study_marks_rows_whose_target_is_reached_at_the_first_size_as_censored():
    rows = sample_complexity_study(1.0, dims=(2,), families=("spiky",), n=30, eps=0.3, reps=3,
                                   sizes=4, rng=reseed(0))
    assert rows[0].censored == "below"


@pytest.mark.parametrize("call, match", [
    (lambda: sample_rows([1.0, -1.0], 1.0, alpha=1.0), "scores: must be non-negative"),
    (lambda: sample_rows([1.0, 1.0], 1.0), "alpha, expected_size: give exactly one"),
    (lambda: sample_rows([1.0, 1.0], 0.5, alpha=1.0), "p: must be >= 1"),
    (lambda: alpha_for_expected_size([1.0, 0.0], 2.0), "expected_size: must be <= 1"),
    (lambda: embedding_distortion(np.eye(2), [0, 5], [1.0, 1.0], 1.0), "indices: must be"),
    (lambda: embedding_distortion(np.eye(2), [0], [1.0, 1.0], 1.0), "weights: must have"),
    (lambda: embedding_distortion(np.eye(2), [0], [1.0], 3.0, method="rays"),
     "method: 'rays' needs p = 1"),
    (lambda: family_matrix("flat", 5, 2), "family: must be one of"),
])
def test_bad_input_raises_value_error_naming_the_argument(call, match):
    with pytest.raises(ValueError, match=match):
        call()
