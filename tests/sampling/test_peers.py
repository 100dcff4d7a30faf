"""Cross-checks against peer libraries installed as test extras: cvxpy and DPPy."""

from __future__ import annotations

import numpy as np
import pytest

from toytheory import stats
from toytheory.sampling import lp_sensitivities
from toytheory.sampling.dpp import count_subsets, projection_dpp_law, sample_projection_dpp
from tests._seeds import reseed

pytestmark = pytest.mark.peer
LEVEL = 1e-6


def _cvxpy_sensitivities(a, p):
    cp = pytest.importorskip("cvxpy")
    x = cp.Variable(a.shape[1])
    row = cp.Parameter(a.shape[1])
    prob = cp.Problem(cp.Minimize(cp.norm(a @ x, p)), [row @ x == 1])
    out = []
    for i in range(a.shape[0]):
        row.value = a[i]
        prob.solve(solver=cp.CLARABEL)
        out.append(1.0 / prob.value ** p)
    return np.array(out)


@pytest.mark.parametrize("p", [1.0, 1.5, 3.0])
@pytest.mark.parametrize("seed", [0, 1])
def test_sensitivities_agree_with_cvxpy_to_1e_6(p, seed):
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((15, 3)) * (rng.pareto(2, (15, 1)) + 1)
    ours = lp_sensitivities(a, p).values
    theirs = _cvxpy_sensitivities(a, p)
    np.testing.assert_allclose(ours, theirs, rtol=1e-6)


def _dppy_counts(v, draws, seed):
    exact = pytest.importorskip("dppy.exact_sampling")
    rs = np.random.RandomState(seed)
    kern = v @ v.T
    return [exact.proj_dpp_sampler_kernel_GS(kern, random_state=rs) for _ in range(draws)]


def test_dppy_gs_sampler_and_ours_agree_with_det_k_s_on_counts():
    rng = np.random.default_rng(reseed(3))
    v, _ = np.linalg.qr(rng.standard_normal((7, 3)) * rng.uniform(0.3, 2, (7, 1)))
    subsets, probs = projection_dpp_law(v @ v.T)
    probs = probs / probs.sum()
    theirs = count_subsets(_dppy_counts(v, 6000, 0), subsets)
    ours = count_subsets((sample_projection_dpp(v, rng=rng) for _ in range(6000)), subsets)
    family = stats.holm([stats.chisquare_gof(theirs, probs, LEVEL),
                         stats.chisquare_gof(ours, probs, LEVEL),
                         stats.chisquare_two_sample(theirs, ours, LEVEL)], LEVEL)
    assert family.verdict == "accept"


def test_dppy_comparison_on_counts_sees_a_wrong_kernel():
    rng = np.random.default_rng(reseed(3))
    v, _ = np.linalg.qr(rng.standard_normal((7, 3)) * rng.uniform(0.3, 2, (7, 1)))
    w, _ = np.linalg.qr(rng.standard_normal((7, 3)))  # a different projection
    subsets, _ = projection_dpp_law(v @ v.T)
    theirs = count_subsets(_dppy_counts(v, 6000, 0), subsets)
    ours = count_subsets((sample_projection_dpp(w, rng=rng) for _ in range(6000)), subsets)
    assert stats.chisquare_two_sample(theirs, ours, LEVEL).verdict == "reject"
