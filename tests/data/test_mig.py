"""Label-graph information gain: hand-computed values, greedy on a worked pool, bad input."""

from __future__ import annotations

import numpy as np
import pytest

from toytheory.data.mig import (LabelGraphGain, all_subset_values, best_subset, greedy_select,
                                skill_posterior_error, submodularity_violations)


def _pool():
    Y = np.array([[1, 0], [1, 0], [0, 1]], float)
    return LabelGraphGain(Y, np.array([4.0, 4.0, 1.0]), np.array([[0, 1], [1, 0]], float),
                          alpha=0.0, gamma=0.5)


def test_value_is_the_sum_of_square_roots_of_label_mass():
    g = _pool()
    assert g.value([0, 1]) == pytest.approx(np.sqrt(8.0))
    assert g.value([0, 2]) == pytest.approx(2.0 + 1.0)


def test_greedy_prefers_the_new_label_after_the_first_pick():
    """Gains after picking sample 0: sample 1 adds sqrt(8) - 2 = 0.83, sample 2 adds 1."""
    assert greedy_select(_pool(), 2) == [0, 2]
    assert best_subset(_pool(), 2) == ([0, 2], pytest.approx(3.0))


def test_convex_gain_violates_submodularity_and_concave_does_not():
    Y = np.eye(3)[[0, 0, 1]]
    W = np.zeros((3, 3))
    concave = all_subset_values(LabelGraphGain(Y, np.ones(3), W, gamma=0.5))
    convex = all_subset_values(LabelGraphGain(Y, np.ones(3), W, gamma=2.0))
    assert submodularity_violations(concave)["submodular_violations"] == 0
    # S = {}, i = 0, j = 1: 1 + 1 < 0 + 4
    assert submodularity_violations(convex)["submodular_violations"] >= 1


def test_posterior_error_with_no_data_is_the_prior_trace():
    K = np.array([[2.0, 0.5], [0.5, 1.0]])
    assert skill_posterior_error(np.eye(2), np.ones(2), K, [0.5, 0.5], []) == pytest.approx(1.5)
    # one observation of skill 0 with precision 1: var 2 -> 2/(1+2)
    e = skill_posterior_error(np.eye(2), np.ones(2), np.eye(2) * 2, [1.0, 0.0], [0])
    assert e == pytest.approx(2.0 / 3.0)


@pytest.mark.parametrize("call, name", [
    (lambda: greedy_select(_pool(), 4), "k"),
    (lambda: best_subset(_pool(), -1), "k"),
    (lambda: LabelGraphGain(-np.eye(2), np.ones(2), np.zeros((2, 2))), "labels"),
    (lambda: LabelGraphGain(np.eye(2), np.ones(2), np.zeros((2, 2)), gamma=0.0), "gamma"),
    (lambda: skill_posterior_error(np.eye(2), np.ones(2), np.eye(2), [0.9, 0.9], [0]),
     "test_weights"),
])
def test_bad_input_is_refused_naming_the_argument(call, name):
    with pytest.raises(ValueError, match=name):
        call()
