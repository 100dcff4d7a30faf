"""l_p Lewis weights: the fixed point, its sum, the convex program for p >= 4."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from toytheory.sampling import leverage_scores, lewis_weights, lp_sensitivities
from toytheory.sampling._checks import ConvergenceError
from toytheory.sampling.lewis import _fixed_point, lewis_residual
from toytheory.sampling.sample_complexity import FAMILIES, family_matrix
from toytheory.testing.sampling import design_matrices
from tests._seeds import reseed


@given(design_matrices(), st.sampled_from([1.0, 1.5, 2.0, 3.0, 3.5, 4.0, 6.0, 10.0]))
def test_lewis_weights_sum_to_d_and_solve_the_fixed_point(a, p):
    res = lewis_weights(a, p)
    assert res.weights.sum() == pytest.approx(a.shape[1], rel=1e-9)
    assert res.residual <= 1e-8
    assert lewis_residual(a, res.weights, p) <= 1e-8


@given(design_matrices(max_d=5, max_n=40), st.sampled_from([1.0, 1.5, 3.0, 5.0]))
def test_lewis_weights_sandwich_the_sensitivities(a, p):
    d = a.shape[1]
    w = lewis_weights(a, p).weights
    s = lp_sensitivities(a, p)
    tol = 1e-8 * w.max()
    if p <= 2:
        assert np.all(s.upper <= w + tol)
        assert np.all(s.lower >= d ** (p / 2 - 1) * w - tol)
    else:
        assert np.all(s.lower >= w - tol)
        assert np.all(s.upper <= d ** (p / 2 - 1) * w + tol)


@given(design_matrices(), st.sampled_from([2.0, 2.5, 3.0, 3.9]))
def test_fixed_point_and_convex_program_agree_where_both_apply(a, p):
    fp = lewis_weights(a, p, method="fixed_point").weights
    cv = lewis_weights(a, p, method="convex").weights
    np.testing.assert_allclose(fp, cv, rtol=1e-7)


def test_p_2_lewis_weights_are_leverage_scores():
    a = np.random.default_rng(reseed(0)).standard_normal((30, 4))
    np.testing.assert_allclose(lewis_weights(a, 2.0).weights, leverage_scores(a), rtol=1e-12)


def test_auto_uses_the_convex_program_from_p_4_on():
    a = np.random.default_rng(reseed(1)).standard_normal((30, 3))
    assert lewis_weights(a, 4.0).method == "convex"
    assert lewis_weights(a, 3.5).method == "fixed_point"


def test_methods_outside_their_range_raise():
    a = np.random.default_rng(reseed(1)).standard_normal((10, 2))
    with pytest.raises(ValueError, match="method: the fixed-point iteration needs p < 4"):
        lewis_weights(a, 5.0, method="fixed_point")
    with pytest.raises(ValueError, match="method: the convex program needs p >= 2"):
        lewis_weights(a, 1.5, method="convex")
    with pytest.raises(ValueError, match="p: must be >= 1"):
        lewis_weights(a, 0.5)
    with pytest.raises(ValueError, match="a: must have full column rank"):
        lewis_weights(np.ones((5, 2)), 1.0)


def _sums_to_d_and_matches_convex(a, w, p):
    """The check used below: sum w = d to 1e-9 and agreement with the convex program."""
    d = a.shape[1]
    convex = lewis_weights(a, p, method="convex").weights
    return abs(w.sum() - d) <= 1e-9 * d and np.allclose(w, convex, rtol=1e-9, atol=0.0)


@pytest.mark.parametrize("p", [3.9, 3.99])
@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("seed", [0, 1])
def test_auto_near_p_4_returns_converged_weights_that_sum_to_d(family, seed, p):
    # the contraction factor |1 - p/2| of the fixed point tends to 1 as p -> 4: at p = 3.99 it
    # stopped at max_iter with weights summing to 5.956 instead of 6, silently
    a = family_matrix(family, 60, 6, rng=seed)
    res = lewis_weights(a, p)
    assert res.residual <= 1e-10
    assert _sums_to_d_and_matches_convex(a, res.weights, p)
    if p == 3.99:
        assert res.method == "convex", "the fixed point cannot converge in 1000 steps at 3.99"


def test_the_near_p_4_check_rejects_the_unconverged_fixed_point():
    # planted bug: the iterate at max_iter, returned as if converged (the old behaviour).
    # Power: deterministic — a fixed iteration on one matrix; its residual (> 1e-4, asserted)
    # against the convex solution's tolerance
    a = family_matrix("spiky", 60, 6, rng=reseed(0))
    q = np.linalg.qr(a)[0]
    w, iterations, residual, converged = _fixed_point(q, 3.99, 1e-13, 1000)
    assert not converged and iterations == 1000 and residual > 1e-4
    assert not _sums_to_d_and_matches_convex(a, w, 3.99)


def test_an_explicitly_requested_fixed_point_that_does_not_converge_raises():
    a = family_matrix("gaussian", 60, 6, rng=reseed(0))
    with pytest.raises(ConvergenceError, match="max_iter: the fixed-point iteration must reach"):
        lewis_weights(a, 3.99, method="fixed_point")
    # p < 2 has no convex fallback: too few iterations raise even under "auto"
    with pytest.raises(ValueError, match="max_iter: the fixed-point iteration must reach"):
        lewis_weights(a, 1.5, max_iter=3)
    with pytest.raises(RuntimeError, match="max_iter: Newton's method on the convex program"):
        lewis_weights(a, 6.0, max_iter=1)


@pytest.mark.parametrize("bad, match", [
    (dict(tol=0.0), "tol: must be > 0"),
    (dict(tol=float("nan")), "tol: must be finite"),
    (dict(max_iter=0), "max_iter: must be >= 1"),
    (dict(method="newton"), "method: must be 'auto', 'fixed_point' or 'convex'"),
])
def test_lewis_weights_refuse_bad_controls(bad, match):
    a = family_matrix("gaussian", 10, 2, rng=reseed(0))
    with pytest.raises(ValueError, match=match):
        lewis_weights(a, 3.0, **bad)
