"""check_sampler_law and check_dpp_sampler: exact samplers and DPPy pass, planted bugs fail.

Levels: every check runs at level 1e-6, so a correct sampler fails with probability at
most 1e-6 under any suite seed. Power: each planted bug's effect (a KS distance, or a
total variation) is computed exactly in the test and asserted to exceed the distance the
check's own power statement guarantees to detect with probability >= 1 - 1e-6 at the
size used; so each planted bug is caught with probability >= 1 - 1e-6.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as sps

from toytheory.conformance import check_dpp_sampler, check_sampler_law
from toytheory.conformance.sampler_law import (chisquare_detectable_tv, ks_detectable,
                                               ks_min_samples)
from toytheory.diffusion import Gaussian
from tests._seeds import reseed

LEVEL = 1e-6
P = np.array([0.05, 0.10, 0.15, 0.20, 0.25, 0.25])


def _categorical(p):
    def sampler(n, rng):
        return rng.choice(p.size, size=n, p=p)
    return sampler


def test_an_exact_categorical_sampler_passes(test_seed):
    res = check_sampler_law(_categorical(P), P, seed=test_seed)
    assert res, res.report()
    assert res.level == LEVEL and "total variation" in res.power


def test_a_categorical_sampler_off_by_tv_0_05_fails(test_seed):
    """Planted: 0.05 of mass moved from the last category to the first (TV 0.05). The
    check's detectable TV at 20 000 draws (df 5) is asserted below 0.05. Power: X^2 is at
    least its cell-0 term (O_0 - 1000)^2 / 1000 (no pooling: every expected count >= 1000),
    above chi2_5.isf(1e-6) = 35.9 unless O_0 < 1190; O_0 ~ Bin(20000, 0.10) has mean 2000,
    so by Hoeffding a miss has probability <= exp(-2 * 20000 * 0.0405^2) < 1e-28."""
    q = P.copy()
    q[0] += 0.05
    q[-1] -= 0.05
    assert chisquare_detectable_tv(20_000, 5, LEVEL, LEVEL) < 0.05
    res = check_sampler_law(_categorical(q), P, seed=test_seed)
    assert not res
    with pytest.raises(AssertionError, match="REJECT"):
        res.assert_ok()


def _law():
    q, _ = np.linalg.qr(np.array([[1.0, 0.3, 0.0], [0.2, 1.0, 0.5], [0.0, 0.4, 1.0]]))
    return Gaussian(np.array([0.3, -0.2, 1.0]), (q * np.array([0.2, 0.5, 1.5])) @ q.T)


def test_an_exact_gaussian_sampler_passes_on_every_projection(test_seed):
    law = _law()
    res = check_sampler_law(lambda n, rng: law.sample_data(n, rng), law, seed=test_seed)
    assert res, res.report()
    assert len(res.measured["ks_statistics"]) == 7  # 3 axes, 3 principal axes, the diagonal


def test_a_gaussian_sampler_with_a_20_percent_scale_error_fails(test_seed):
    """Planted: draws spread 1.2 times too wide about the mean. Along each projection the
    KS distance to the exact law is sup |Phi(x/1.2) - Phi(x)| = 0.0598 (computed below);
    the check detects 0.0390 at 20 000 draws and 7 projections. Power: the Bonferroni KS
    critical distance is sqrt(ln(2 * 7 / 1e-6) / 40000) = 0.0203, so by DKW a miss has
    probability <= 2 exp(-2 * 20000 * (0.0598 - 0.0203)^2) < 1e-26."""
    law = _law()
    grid = np.linspace(-5, 5, 20001)
    effect = float(np.max(np.abs(sps.norm.cdf(grid / 1.2) - sps.norm.cdf(grid))))
    assert effect > ks_detectable(20_000, LEVEL, LEVEL, 7)

    def wide(n, rng):
        return law.mean_vector + 1.2 * (law.sample_data(n, rng) - law.mean_vector)

    assert not check_sampler_law(wide, law, seed=test_seed)


def test_a_scipy_law_in_one_dimension(test_seed):
    law = sps.gamma(2.5, scale=0.7)
    assert check_sampler_law(lambda n, rng: law.rvs(n, random_state=rng), law, seed=test_seed)
    assert not check_sampler_law(lambda n, rng: sps.gamma(2.5, scale=0.8).rvs(
        n, random_state=rng), law, seed=test_seed)


def test_the_size_for_a_requested_detectable_distance_is_the_minimum(test_seed):
    law = sps.norm()
    n = ks_min_samples(0.02, LEVEL, LEVEL)
    assert ks_detectable(n, LEVEL, LEVEL) <= 0.02 < ks_detectable(n - 1, LEVEL, LEVEL)
    res = check_sampler_law(lambda k, rng: rng.standard_normal(k), law, detectable=0.02,
                            seed=test_seed)
    assert res.measured["n_samples"] == n
    with pytest.raises(ValueError, match=f"^n_samples: .*the minimum is {n}$"):
        check_sampler_law(lambda k, rng: rng.standard_normal(k), law, n_samples=n - 1,
                          detectable=0.02)


@pytest.mark.parametrize("level", [0, 1, -0.1, 1.5, float("nan")])
def test_a_level_outside_0_1_is_refused(level):
    with pytest.raises(ValueError, match="^level:"):
        check_sampler_law(_categorical(P), P, level=level)


def test_wrong_sampler_signature_and_bad_law_are_refused():
    with pytest.raises(ValueError, match=r"^sampler: must be a callable sampler\(n, rng\)"):
        check_sampler_law(lambda n: np.zeros(n), P)
    with pytest.raises(ValueError, match="^law:"):
        check_sampler_law(_categorical(P), [0.5, 0.6])
    with pytest.raises(ValueError, match="^sampler: drew category"):
        check_sampler_law(lambda n, rng: np.full(n, 9), P, n_samples=100)


# ------------------------------------------------------------------------ DPP
def _features(rng_seed=3):
    gen = np.random.default_rng(rng_seed)
    v, _ = np.linalg.qr(gen.standard_normal((7, 3)) * gen.uniform(0.3, 2, (7, 1)))
    return v


def _chain(v, rng, off_by_one=False):
    """The chain rule; ``off_by_one`` conditions each pick on all but the last point picked."""
    n, k = v.shape
    picked = []
    for t in range(k):
        cond = picked[:-1] if off_by_one else picked
        if cond:
            q, _ = np.linalg.qr(v[cond].T)
            res = v - (v @ q) @ q.T
        else:
            res = v
        w = np.einsum("ij,ij->i", res, res)
        w[picked] = 0.0 if not off_by_one else w[picked]
        w = np.clip(w, 0, None)
        picked.append(int(rng.choice(n, p=w / w.sum())))
    return np.array(picked)


def test_toytheorys_projection_dpp_sampler_passes(test_seed):
    from toytheory.sampling.dpp import sample_projection_dpp

    v = _features()
    res = check_dpp_sampler(lambda rng: sample_projection_dpp(v, rng=rng), v @ v.T,
                            n_samples=6000, seed=test_seed)
    assert res, res.report()


def test_a_chain_rule_sampler_passes_and_its_off_by_one_fails(test_seed):
    """Planted off-by-one: each pick conditions on one point too few, so the second pick
    can repeat the first (an invalid draw: the check fails with certainty once one occurs;
    here the second pick repeats the first with probability sum_i K_ii^2 / k^2 >= 1/7 per
    draw, so 6000 draws contain one with probability 1 - (6/7)^6000 ~ 1)."""
    v = _features()
    assert check_dpp_sampler(lambda rng: _chain(v, rng), v @ v.T, n_samples=6000,
                             seed=test_seed)
    bad = check_dpp_sampler(lambda rng: _chain(v, rng, off_by_one=True), v @ v.T,
                            n_samples=6000, seed=test_seed)
    assert not bad and bad.measured["invalid_draws"] > 0
    assert "outside the support" in bad.report()


@pytest.mark.peer
def test_dppys_gs_sampler_passes(test_seed):
    exact = pytest.importorskip("dppy.exact_sampling", reason="DPPy is a test extra (peers)")
    v = _features()
    kern = v @ v.T
    rs = np.random.RandomState(test_seed)
    res = check_dpp_sampler(lambda rng: exact.proj_dpp_sampler_kernel_GS(kern, random_state=rs),
                            kern, n_samples=6000, seed=test_seed)
    assert res, res.report()


def test_volume_sampling_law_and_a_uniform_subset_sampler(test_seed):
    from toytheory.sampling.volume import sample_volume

    x = np.random.default_rng(reseed(5)).standard_normal((6, 2)) * np.array([[1.0], [3.0], [0.2],
                                                                      [1.0], [2.0], [0.5]])
    assert check_dpp_sampler(lambda rng: sample_volume(x, 3, rng=rng), volume=(x, 3),
                             n_samples=6000, seed=test_seed)
    uniform = check_dpp_sampler(lambda rng: rng.choice(6, 3, replace=False), volume=(x, 3),
                                n_samples=6000, seed=test_seed)
    assert not uniform


def test_dpp_check_refuses_bad_input():
    v = _features()
    with pytest.raises(ValueError, match="^kernel, volume:"):
        check_dpp_sampler(lambda rng: [0, 1, 2])
    with pytest.raises(ValueError, match=r"^sampler: must be a callable sampler\(rng\)"):
        check_dpp_sampler(lambda: [0, 1, 2], v @ v.T)
    with pytest.raises(ValueError, match="^kernel:"):
        check_dpp_sampler(lambda rng: [0, 1, 2], np.eye(7) * 0.5)
