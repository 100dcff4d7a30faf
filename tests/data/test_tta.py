"""Test-time tuning toy: the exact GMM posterior sampler, filtering, TPT, bad input."""

from __future__ import annotations

import numpy as np
import pytest

from toytheory.data.tta import (GMMSource, cosine_filter, diffusion_views,
                                gmm_posterior_sample, tpt_predict)


def test_one_component_posterior_is_the_gaussian_conditional(rng):
    """K = 1, var 2, a = 0.6: x0 | xt ~ N(m + a var/v (xt - a m), var (1 - a^2)/v),
    v = a^2 var + 1 - a^2 = 1.36 (computed by hand).

    n = 500,000 draws: the posterior variance is 2 (0.64) / 1.36 = 0.94, so the mean's sd is
    0.0014 and the tolerance 0.01 is 7.3 sd (two-sided normal tail 3e-13; at the former
    n = 200,000 it was 4.6 sd, failing with probability 4e-6); the variance's relative sd is
    sqrt(2 / n) = 0.0020 against rel = 0.02 (10 sd)."""
    src = GMMSource(np.array([[1.0]]), 2.0)
    x = gmm_posterior_sample(src, np.array([0.5]), 0.6, 500_000, rng)
    v = 0.36 * 2 + 0.64
    assert x.mean() == pytest.approx(1 + 0.6 * 2 / v * (0.5 - 0.6), abs=0.01)
    assert x.var() == pytest.approx(2 * 0.64 / v, rel=0.02)


def test_noise_level_one_returns_the_test_point_and_zero_forgets_it(rng):
    src = GMMSource(np.array([[0.0, 0.0], [5.0, 5.0]]), 1.0)
    x = np.array([4.0, 6.0])
    np.testing.assert_allclose(diffusion_views(src, x, 3, 1.0, rng), np.tile(x, (3, 1)))
    # a = 0: prior draws, x forgotten. A row's mean is 2.5 +- 2.5 (the component) plus
    # N(0, 1/2): variance 6.75, so over 8000 views far.mean() has sd 0.029 and 0.2 is 6.9 sd
    # (normal tail 5e-12; at the former 4000 views it was 4.9 sd, 1.1e-6)
    far = diffusion_views(src, np.array([100.0, 100.0]), 8000, 0.0, rng)
    assert abs(far.mean() - 2.5) < 0.2


def test_cosine_filter_keeps_the_most_aligned_views():
    views = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    np.testing.assert_array_equal(cosine_filter(np.array([1.0, 0.1]), views, 1), [[1.0, 0.0]])


def test_tpt_without_steps_is_the_zero_shot_rule(rng):
    src = GMMSource(rng.normal(size=(3, 4)), 1.0)
    x = rng.normal(size=4)
    assert tpt_predict(src, x, x[None], steps=0) == int(np.argmax(src.logits(x)[0]))


def test_bad_input_is_refused_naming_the_argument(rng):
    src = GMMSource(np.zeros((2, 2)), 1.0)
    with pytest.raises(ValueError, match="keep"):
        cosine_filter(np.ones(2), np.ones((3, 2)), 4)
    with pytest.raises(ValueError, match="a"):
        gmm_posterior_sample(src, np.zeros(2), 1.5, 1, rng)
    with pytest.raises(ValueError, match="var"):
        GMMSource(np.zeros((2, 2)), 1.0, var=[1.0, -1.0])
    with pytest.raises(ValueError, match="s2"):
        GMMSource(np.zeros((2, 2)), 0.0)


def test_batched_tpt_matches_a_hand_loop(rng):
    """The batch (one prompt per test point) against an independent per-point loop written
    here from the definition: confidence selection, one entropy step by finite differences."""
    from toytheory.data.tta import tpt_predict_batch

    src = GMMSource(rng.normal(size=(3, 4)), 1.0, rng.uniform(0.5, 2, 4))
    X = rng.normal(size=(25, 4))
    views = X[:, None, :] + 0.7 * rng.normal(size=(25, 19, 4))
    got = tpt_predict_batch(src, X, views, confident=0.2, lr=2.0)

    def entropy_of_mean(sel, p):
        q = src.probs(sel, p).mean(axis=0)
        return -np.sum(q * np.log(q))

    for b in range(25):
        allv = np.vstack([X[b], views[b]])
        P = src.probs(allv)
        H = -np.sum(P * np.log(P), axis=1)
        sel = allv[np.argsort(H, kind="stable")[:4]]
        p0 = np.zeros(4)
        grad = np.array([(entropy_of_mean(sel, p0 + 1e-6 * e)
                          - entropy_of_mean(sel, p0 - 1e-6 * e)) / 2e-6 for e in np.eye(4)])
        p = -2.0 * grad
        assert got[b] == int(np.argmax(src.logits(X[b], p)[0]))
