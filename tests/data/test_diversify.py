"""Cluster-based selection: k-means, balanced and refined subsets, exact errors, bad input."""

from __future__ import annotations

import numpy as np
import pytest

from toytheory.data.diversify import (block_ridge_fit, cluster_balanced_subset,
                                      exact_test_error, iterative_refinement, kmeans,
                                      ridge_fit)


def test_kmeans_separates_two_far_blobs(rng):
    X = np.vstack([rng.normal(0, 0.1, (20, 2)), rng.normal(10, 0.1, (30, 2))])
    a = kmeans(X, 2, rng)
    assert len(set(a[:20])) == 1 and len(set(a[20:])) == 1 and a[0] != a[-1]


def test_balanced_subset_takes_equal_counts(rng):
    assign = np.repeat([0, 1, 2], [50, 30, 20])
    S = cluster_balanced_subset(assign, 30, rng)
    counts = np.bincount(assign[S], minlength=3)
    assert counts.sum() == 30 and len(set(S)) == 30 and counts.min() >= 3


def test_exact_error_of_the_true_weights_is_the_noise():
    w = np.array([1.0, 2.0])
    assert exact_test_error(w, w, [np.zeros(1)], [np.eye(1)], [1.0], 0.3) == 0.3
    # slope off by 1 under x ~ N(2, 1): E[x^2] = 5
    assert exact_test_error([1.0, 3.0], w, [np.array([2.0])], [np.eye(1)], [1.0], 0.0) == 5.0


def test_ridge_and_block_fits_recover_a_noiseless_line(rng):
    X = rng.normal(size=(40, 2))
    y = 1 + X @ np.array([2.0, -1.0])
    np.testing.assert_allclose(ridge_fit(X, y, 0.0), [1, 2, -1], atol=1e-10)
    W = block_ridge_fit(X, y, np.zeros(40, int), 2, lam=1e-9)
    np.testing.assert_allclose(W[0], [1, 2, -1], atol=1e-6)
    assert np.all(W[1] == 0)


def test_refinement_avoids_a_cluster_of_pure_noise(rng):
    """Cluster 1 is pure noise (y ~ N(0, 30^2)): the refined weights shun it.

    Each cluster is scored on ``probe = 20`` unselected samples. With the default 5, the
    noise cluster's score (a mean of 5 squared N(0, 30^2)-ish residuals) is sometimes small
    enough to keep it: over 20,000 seeds the final w[1] had 1e-4 quantile 0.020 and maximum
    0.036 (tail growing ~3x a decade, so > 0.05 at about 1e-5), and the selected fraction
    reached 0.375 > 0.35 at least once (failure >= 5e-5). With probe = 20, over the same
    20,000 seeds: w[1] <= 0.0025 (1e-4 quantile 0.0022, 20x below 0.05) and the selected
    fraction <= 0.225 (mean 0.126, sd 0.028, set by the first batch's Bin(20, 1/2) count:
    0.35 is 7.9 sd away); no failure.
    """
    X = np.vstack([rng.normal(0, 1, (200, 1)), rng.normal(20, 1, (200, 1))])
    y = np.concatenate([2 * X[:200, 0], rng.normal(0, 30, 200)])
    assign = np.repeat([0, 1], 200)
    S, w = iterative_refinement(X, y, assign, 80, 4, rng, temperature=0.3, probe=20)
    assert w[1] < 0.05 and np.mean(assign[S] == 1) < 0.35


@pytest.mark.parametrize("call, name", [
    (lambda r: kmeans(np.zeros((3, 2)), 4, r), "K"),
    (lambda r: cluster_balanced_subset(np.zeros(5, int), 6, r), "k"),
    (lambda r: cluster_balanced_subset(np.array([0, 1]), 1, r, weights=[0.7, 0.7]), "weights"),
    (lambda r: exact_test_error([0, 0], [0, 0], [np.zeros(1)], [np.eye(1)], [1.2], 0.1), "mix"),
])
def test_bad_input_is_refused_naming_the_argument(call, name, rng):
    with pytest.raises(ValueError, match=name):
        call(rng)
