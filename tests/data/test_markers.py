"""Exact errors of linear predictors with and without inferred markers."""

from __future__ import annotations

import numpy as np
import pytest

from toytheory.data.markers import fit_lda, fit_ridge, linear_error, switched_error


def test_linear_error_by_hand():
    # e = (1, 2, 0) under x ~ N((1, 0), I): (1 + 2)^2 + 4 + 0 = 13, plus noise 0.5
    assert linear_error([1, 2, 0], [0, 0, 0], [1.0, 0.0], 0.5) == pytest.approx(13.5)


def test_switch_with_equal_branches_is_the_linear_error(rng):
    w, wh = rng.normal(size=3), rng.normal(size=3)
    mu, a = rng.normal(size=2), rng.normal(size=2)
    assert switched_error(wh, wh, w, mu, 0.1, a, 0.3) == pytest.approx(
        linear_error(wh, w, mu, 0.1), rel=1e-12)


def test_a_split_at_the_mean_averages_the_two_branches():
    """a = e1, b = 0, mu = 0, branch errors independent of x1: each branch gets half."""
    w = np.zeros(3)
    e0, e1 = np.array([1.0, 0, 0]), np.array([0, 0, 2.0])
    got = switched_error(e0, e1, w, np.zeros(2), 0.0, np.array([1.0, 0.0]), 0.0)
    assert got == pytest.approx(0.5 * 1.0 + 0.5 * 4.0)


def test_lda_recovers_the_bayes_rule_and_ridge_a_line(rng):
    X = np.vstack([rng.normal(0, 1, (4000, 1)), rng.normal(2, 1, (4000, 1))])
    z = np.repeat([False, True], 4000)
    a, b = fit_lda(X, z)
    assert -b / a[0] == pytest.approx(1.0, abs=0.1)
    np.testing.assert_allclose(fit_ridge(X, 3 - X[:, 0], 0.0), [3, -1], atol=1e-10)


def test_bad_input_is_refused_naming_the_argument():
    with pytest.raises(ValueError, match="z"):
        fit_lda(np.zeros((3, 1)), [True, True, True])
    with pytest.raises(ValueError, match="sigma2"):
        linear_error([0, 0], [0, 0], [0.0], -1.0)
