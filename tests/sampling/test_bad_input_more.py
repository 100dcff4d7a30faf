"""Bad input across the sampling area: each raises a ValueError naming the argument.

Every case here used to return a wrong answer silently (an identity kernel, a
truncated index, a wrapped negative index, a minimum-norm solution, a clipped
point) or to fail with an error that did not name the argument (a numpy
error, ``KeyError``, ``IndexError``, ``LinAlgError``, ``RuntimeError``).
"""

from __future__ import annotations

import numpy as np
import pytest

from toytheory.sampling import leverage_scores
from toytheory.sampling.bases import gauss_legendre_rule, legendre_basis
from toytheory.sampling.dpp import (count_subsets, inclusion_probabilities_exact,
                                    projection_dpp_law, projection_kernel)
from toytheory.sampling.interpolation import cell_multiset, dpp_interpolation_expected_error
from toytheory.sampling.l1_sensitivities import l1_sensitivities_lp, l1_sensitivities_vertex
from toytheory.sampling.sample_complexity import samples_needed
from toytheory.sampling.sensitivities import lp_sensitivities
from toytheory.sampling.sensitivity_sampling import DistortionOracle, embedding_distortion
from toytheory.sampling.volume import least_squares_loss, subset_least_squares
from toytheory.sampling.weighted_ls import draw_points
from tests._seeds import reseed

RNG = np.random.default_rng(reseed(0))
A = RNG.standard_normal((12, 3))
X = RNG.standard_normal((6, 2))
Y = RNG.standard_normal(6)
RANK_ONE = np.outer(RNG.standard_normal(8), RNG.standard_normal(3))
SCORES = np.full(12, 0.25)
SIZES = np.array([3.0, 6.0])
BASIS2 = legendre_basis(2)
COEF2 = np.zeros(2)
EDGES = np.linspace(-1.0, 1.0, 5)
SUBSETS = [(0, 1), (0, 2), (1, 2)]


def _cube(x):
    return x[:, 0] ** 3


CASES = [
    # projection_kernel: N < k used to return the identity
    ("projection_kernel N < k", lambda: projection_kernel(RNG.standard_normal((2, 3))),
     "v: must have shape \\(N, k\\) with 1 <= k <= N"),
    ("projection_kernel k = 0", lambda: projection_kernel(np.zeros((3, 0))),
     "v: must have shape \\(N, k\\) with 1 <= k <= N"),
    # lp_sensitivities controls
    ("lp_sensitivities tol = 0", lambda: lp_sensitivities(A, 1.5, tol=0.0), "tol: must be > 0"),
    ("lp_sensitivities tol < 0", lambda: lp_sensitivities(A, 1.5, tol=-1e-3), "tol: must be > 0"),
    ("lp_sensitivities max_iter = 0", lambda: lp_sensitivities(A, 1.5, max_iter=0),
     "max_iter: must be >= 1"),
    ("lp_sensitivities max_iter float", lambda: lp_sensitivities(A, 1.5, max_iter=10.0),
     "max_iter: must be an integer"),
    ("lp_sensitivities gap_tol = 0", lambda: lp_sensitivities(A, 1.5, gap_tol=0.0),
     "gap_tol: must be > 0"),
    # DistortionOracle work limits
    ("oracle max_rays = 0", lambda: DistortionOracle(A, 1.0, max_rays=0),
     "max_rays: must be >= 1"),
    ("oracle max_rays float", lambda: DistortionOracle(A, 1.0, max_rays=1e6),
     "max_rays: must be an integer"),
    ("oracle max_memory = -1", lambda: DistortionOracle(A, 1.0, max_memory=-1),
     "max_memory: must be >= 1"),
    # embedding_distortion: float indices used to be truncated to other rows
    ("distortion float indices",
     lambda: embedding_distortion(A, np.array([0.0, 1.7, 5.2]), np.ones(3), 2.0),
     "indices: must be integers"),
    ("distortion bool indices",
     lambda: embedding_distortion(A, np.ones(12, dtype=bool), np.ones(12), 2.0),
     "indices: must be integers"),
    ("oracle float indices", lambda: DistortionOracle(A, 2.0)(np.array([0.5, 2.0]), np.ones(2)),
     "indices: must be integers"),
    # samples_needed: the scores' length, the sizes' range, the oracle's matrix
    ("samples_needed short scores",
     lambda: samples_needed(A, 2.0, SCORES[:5], 0.5, sizes=SIZES, reps=1, rng=0),
     "scores: must have one entry per row of a, n = 12"),
    ("samples_needed long scores",
     lambda: samples_needed(A, 2.0, np.ones(20), 0.5, sizes=SIZES, reps=1, rng=0),
     "scores: must have one entry per row of a, n = 12"),
    ("samples_needed NaN scores",
     lambda: samples_needed(A, 2.0, np.full(12, np.nan), 0.5, sizes=SIZES, reps=1, rng=0),
     "scores: must contain only finite values"),
    ("samples_needed negative scores",
     lambda: samples_needed(A, 2.0, -SCORES, 0.5, sizes=SIZES, reps=1, rng=0),
     "scores: must be non-negative"),
    ("samples_needed sizes too large",
     lambda: samples_needed(A, 2.0, SCORES, 0.5, sizes=[3.0, 30.0], reps=1, rng=0),
     "sizes: must lie in \\(0, 12\\]"),
    ("samples_needed sizes beyond the positive scores",
     lambda: samples_needed(A, 2.0, np.r_[np.zeros(8), np.ones(4)], 0.5, sizes=SIZES, reps=1),
     "sizes: must lie in \\(0, 4\\]"),
    ("samples_needed foreign oracle",
     lambda: samples_needed(A, 2.0, SCORES, 0.5, sizes=SIZES, reps=1,
                            oracle=DistortionOracle(2.0 * A, 2.0)),
     "oracle: must be built for this a"),
    # subset_least_squares: negative indices wrapped, fewer than d rows solved by min norm
    ("subset negative index", lambda: subset_least_squares(X, Y, [-1, 0, 1]),
     "subset: must have row indices in \\[0, 6\\)"),
    ("subset index too large", lambda: subset_least_squares(X, Y, [0, 6]),
     "subset: must have row indices in \\[0, 6\\)"),
    ("subset fewer than d rows", lambda: subset_least_squares(X, Y, [3]),
     "subset: must have at least d = 2 rows"),
    ("subset repeated row", lambda: subset_least_squares(X, Y, [1, 1]),
     "subset: must not repeat a row"),
    ("subset float indices", lambda: subset_least_squares(X, Y, [0.0, 1.5]),
     "subset: must be a 1-D array of integer row indices"),
    ("subset rank deficient",
     lambda: subset_least_squares(np.vstack([X[:1], 2 * X[:1], X[2:]]), Y, [0, 1]),
     "subset: the rows x_S must have full column rank"),
    # gauss_legendre_rule breakpoints
    ("breakpoint outside", lambda: gauss_legendre_rule(4, 1, (1.5,)),
     "breakpoints: must lie in the open interval \\(-1, 1\\)"),
    ("breakpoint at the end", lambda: gauss_legendre_rule(4, 1, (-1.0,)),
     "breakpoints: must lie in the open interval \\(-1, 1\\)"),
    ("breakpoint NaN", lambda: gauss_legendre_rule(4, 1, (np.nan,)),
     "breakpoints: must contain only finite values"),
    # cell_multiset edges and points
    ("cell edges decreasing", lambda: cell_multiset([0.1, 0.2], EDGES[::-1]),
     "edges: must increase strictly from -1 to 1"),
    ("cell edges short of [-1, 1]", lambda: cell_multiset([0.1, 0.2], [-1.0, 0.0, 0.5]),
     "edges: must increase strictly from -1 to 1"),
    ("cell edges NaN", lambda: cell_multiset([0.1], [-1.0, np.nan, 1.0]),
     "edges: must contain only finite values"),
    ("cell point outside", lambda: cell_multiset([0.1, 1.5], EDGES),
     "points: must lie in \\[-1, 1\\]"),
    # projection_dpp_law of the empty matrix (a numpy reduction error before)
    ("law of an empty kernel", lambda: projection_dpp_law(np.zeros((0, 0))),
     "kernel: must be non-empty"),
    # least_squares_loss lengths (numpy matmul errors before)
    ("loss short y", lambda: least_squares_loss(X, Y[:4], np.zeros(2)),
     "y: must have one entry per row of x, 6"),
    ("loss long w", lambda: least_squares_loss(X, Y, np.zeros(3)),
     "w: must have one entry per column of x, 2"),
    # dpp_interpolation_expected_error lengths
    ("interpolation best_coef length",
     lambda: dpp_interpolation_expected_error(BASIS2, _cube, np.zeros(3), points=4),
     "best_coef: must have one entry per basis function, m = 2"),
    ("interpolation f shape",
     lambda: dpp_interpolation_expected_error(BASIS2, lambda x: x, COEF2, points=4),
     "f: must return shape \\(N,\\)"),
    ("interpolation f not callable",
     lambda: dpp_interpolation_expected_error(BASIS2, 3.0, COEF2, points=4),
     "f: must be callable"),
    # count_subsets: a KeyError before
    ("count a subset outside the support", lambda: count_subsets([np.array([0, 3])], SUBSETS),
     "samples: must lie among the 3 enumerated subsets"),
    ("count a sample with a repeat", lambda: count_subsets([np.array([1, 1])], SUBSETS),
     "samples: must not repeat an item"),
    # inclusion_probabilities_exact: an IndexError before
    ("inclusion item out of range",
     lambda: inclusion_probabilities_exact([(0, 5)], np.array([1.0]), 3),
     "subsets: must have items in \\[0, 3\\)"),
    ("inclusion length mismatch",
     lambda: inclusion_probabilities_exact(SUBSETS, np.array([0.5, 0.5]), 3),
     "probabilities: must have one entry per subset, 3"),
    ("inclusion n = 0", lambda: inclusion_probabilities_exact(SUBSETS, np.ones(3) / 3, 0),
     "n: must be >= 1"),
    # l1 sensitivities of a rank-deficient matrix: a LinAlgError before
    ("l1 lp rank deficient", lambda: l1_sensitivities_lp(RANK_ONE),
     "a: must have full column rank d = 3"),
    ("l1 vertex rank deficient", lambda: l1_sensitivities_vertex(RANK_ONE),
     "a: must have full column rank d = 3"),
    ("l1 lp row out of range", lambda: l1_sensitivities_lp(A, rows=[12]),
     "rows: must be row indices in \\[0, 12\\)"),
    ("l1 vertex max_pivots < 0", lambda: l1_sensitivities_vertex(A, max_pivots=-1),
     "max_pivots: must be >= 0"),
    # draw_points: a RuntimeError before
    ("draw_points max_redraws < 0",
     lambda: draw_points(legendre_basis(3), "iid", 6, rng=0, condition=0.5, max_redraws=-1),
     "max_redraws: must be >= 0"),
]


@pytest.mark.parametrize("call, match", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input_raises_value_error_naming_the_argument(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_the_rank_zero_projection_law_is_the_empty_set_with_probability_one():
    subsets, probs = projection_dpp_law(np.zeros((3, 3)))
    assert subsets == [()]
    np.testing.assert_array_equal(probs, [1.0])


def test_leverage_scores_with_fewer_rows_than_columns_are_documented_and_sum_to_the_rank():
    # n < d is no error: leverage scores are defined for any rank (documented)
    a = np.random.default_rng(reseed(1)).standard_normal((3, 5))
    tau = leverage_scores(a)
    np.testing.assert_allclose(tau, np.ones(3), atol=1e-12)


def test_valid_inputs_next_to_the_refused_ones_still_work():
    assert projection_kernel(RNG.standard_normal((3, 3))) == pytest.approx(np.eye(3), abs=1e-12)
    w = subset_least_squares(X, Y, np.array([4, 0]))
    np.testing.assert_allclose(w, np.linalg.solve(X[[4, 0]], Y[[4, 0]]), rtol=1e-12)
    nodes, weights = gauss_legendre_rule(3, 1, (0.0, 0.0))  # a repeat counts once
    assert nodes.shape == (6, 1) and weights.sum() == pytest.approx(1.0, abs=1e-15)
    assert cell_multiset([1.0, -1.0], EDGES) == (0, 3)
    assert embedding_distortion(A, np.arange(12), np.ones(12), 2.0).value == pytest.approx(
        0.0, abs=1e-12)
    counts = count_subsets([np.array([2, 0]), (1, 2)], SUBSETS)
    np.testing.assert_array_equal(counts, [0, 1, 1])
