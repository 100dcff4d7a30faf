"""Issue 14, item 4: the diffusion oracles against their definitions, not only themselves.

- constructors (``GaussianMixture.diagonal/isotropic``, ``Gaussian.low_rank``,
  ``DeltaMixture``, the toys) against the matrices and laws they promise;
- schedules against their closed forms, and every grid option's spacing and end points;
- estimators on inputs where the weighting matters (unequal mixture weights, so an
  unweighted or wrongly weighted estimator gives a different answer);
- the Fréchet / FID helpers and the mixture split against direct formulas.

Each test asserts a value computed here from the definition, never by the code under test.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as sps

from toytheory.diffusion import teleportation as tp
from toytheory.diffusion.explained_variance import mixture_expectation
from toytheory.diffusion.frechet import (batch_mean_interval, coupled_moment_estimate,
                                         fid_identity, frechet_squared)
from toytheory.diffusion.laws import DeltaMixture, Gaussian, GaussianMixture
from toytheory.diffusion.marginal_tests import projected_cdf
from toytheory.diffusion.reduction import sample_moments, split_gaussian_part
from toytheory.diffusion.schedules import (EDM, VE, DiscreteVP, VPCosine, VPLinear,
                                           ddpm_linear_betas, karras_sigmas,
                                           scaled_linear_betas)
from toytheory.diffusion.toys import grid_25, grid_modes, structured_gmm, two_mode_1d

# ----------------------------------------------------------------------------- constructors


def test_isotropic_and_diagonal_constructors_build_the_promised_covariances(rng):
    w = rng.dirichlet(np.ones(3))
    mu = rng.standard_normal((3, 4))
    v = rng.uniform(0.1, 2.0, (3, 4))
    diag = GaussianMixture.diagonal(w, mu, v)
    iso = GaussianMixture.isotropic(w, mu, v[:, 0])
    for k in range(3):
        np.testing.assert_allclose(diag.covs[k], np.diag(v[k]), rtol=1e-14, atol=0)
        np.testing.assert_allclose(iso.covs[k], v[k, 0] * np.eye(4), rtol=1e-14, atol=0)
    np.testing.assert_array_equal(diag.weights, w)
    np.testing.assert_array_equal(diag.means, mu)


def test_low_rank_gaussian_has_covariance_factor_factor_transpose(rng):
    f = rng.standard_normal((5, 2))
    m = rng.standard_normal(5)
    g = Gaussian.low_rank(m, f)
    np.testing.assert_allclose(g.cov, f @ f.T, rtol=1e-12, atol=1e-13)
    np.testing.assert_array_equal(g.mean_vector, m)
    assert np.sum(g.eigvals[0] > 1e-12) == 2


def test_delta_mixture_is_point_masses_with_uniform_default_weights(rng):
    pts = rng.standard_normal((4, 3))
    law = DeltaMixture(pts)
    np.testing.assert_allclose(law.weights, np.full(4, 0.25), rtol=0, atol=1e-15)
    np.testing.assert_array_equal(law.means, pts)
    np.testing.assert_array_equal(law.covs, np.zeros((4, 3, 3)))


def test_mixture_mean_and_covariance_are_the_weighted_moments(rng):
    # unequal weights: an unweighted average of the components gives another answer
    w = np.array([0.7, 0.2, 0.1])
    mu = rng.standard_normal((3, 2)) * 3
    a = rng.standard_normal((3, 2, 2))
    covs = a @ a.transpose(0, 2, 1) + 0.1 * np.eye(2)
    law = GaussianMixture(w, mu, covs)
    mean = sum(w[k] * mu[k] for k in range(3))
    cov = sum(w[k] * (covs[k] + np.outer(mu[k] - mean, mu[k] - mean)) for k in range(3))
    np.testing.assert_allclose(law.mean(), mean, rtol=1e-13, atol=1e-14)
    np.testing.assert_allclose(law.covariance(), cov, rtol=1e-12, atol=1e-13)
    assert np.abs(law.mean() - mu.mean(axis=0)).max() > 0.1


def test_sampled_labels_follow_unequal_weights(rng):
    law = GaussianMixture.isotropic([0.6, 0.3, 0.1], [[0.0], [5.0], [10.0]], [0.1, 0.1, 0.1])
    _, labels = law.sample_data(30_000, rng, return_labels=True)
    counts = np.bincount(labels, minlength=3)
    # chi-square at 1e-6: a sampler ignoring the weights (10,000 each) is rejected at once
    assert sps.chisquare(counts, 30_000 * law.weights).pvalue > 1e-6


def test_toys_are_the_laws_their_docstrings_define():
    two = two_mode_1d(2.0, 0.5)
    np.testing.assert_array_equal(two.weights, [0.5, 0.5])
    np.testing.assert_array_equal(two.means[:, 0], [-2.0, 2.0])
    np.testing.assert_allclose(two.covs[:, 0, 0], [0.25, 0.25], rtol=1e-15)
    modes = grid_modes(5, 2.0)
    assert {tuple(p) for p in modes} == {(x, y) for x in (-4.0, -2.0, 0.0, 2.0, 4.0)
                                         for y in (-4.0, -2.0, 0.0, 2.0, 4.0)}
    grid = grid_25(2.0, 0.05)
    np.testing.assert_allclose(grid.covs, np.broadcast_to(0.0025 * np.eye(2), (25, 2, 2)),
                               rtol=1e-14)
    np.testing.assert_allclose(grid.weights, np.full(25, 0.04), rtol=1e-14)


def test_structured_gmm_splits_its_variance_as_defined():
    d, k, top, r, f = 12, 6, 4.0, 3, 0.6
    law = structured_gmm(dim=d, components=k, top_std=top, between_rank=r,
                         between_fraction=f)
    lam = top**2 / np.arange(1, d + 1)
    # total spectrum, between-component spectrum (rank r, f lambda_i), shared within cov
    np.testing.assert_allclose(np.sort(np.linalg.eigvalsh(law.covariance()))[::-1], lam,
                               rtol=1e-10)
    dev = law.means - law.means.mean(axis=0)
    between = np.sort(np.linalg.eigvalsh(dev.T @ dev / k))[::-1]
    np.testing.assert_allclose(between[:r], f * lam[:r], rtol=1e-10)
    np.testing.assert_allclose(between[r:], 0.0, atol=1e-10 * lam[0])
    np.testing.assert_allclose(law.covs, np.broadcast_to(law.covs[0], law.covs.shape),
                               rtol=0, atol=0)
    np.testing.assert_allclose(law.weights, np.full(k, 1 / k), rtol=1e-15)


# ----------------------------------------------------------------------------- schedules


def test_schedules_match_their_closed_forms(rng):
    t = rng.uniform(0.01, 0.99, 7)
    lin = VPLinear(0.1, 20.0)
    np.testing.assert_allclose(lin.alpha(t), np.exp(-0.25 * t**2 * 19.9 - 0.5 * t * 0.1),
                               rtol=1e-13)
    cos = VPCosine(0.008)
    tc = t * 0.99

    def f(u):
        return np.cos((u + 0.008) / 1.008 * np.pi / 2) ** 2

    np.testing.assert_allclose(cos.alpha(tc) ** 2, f(tc) / f(0.0), rtol=1e-11)
    ve = VE(0.01, 50.0)
    np.testing.assert_allclose(ve.sigma(t), 0.01 * 5000.0**t, rtol=1e-13)
    np.testing.assert_array_equal(ve.alpha(t), np.ones_like(t))
    edm = EDM(80.0)
    np.testing.assert_allclose(edm.sigma(t * 80), t * 80, rtol=1e-15)
    for sch in (lin, cos):  # variance preserving: alpha^2 + sigma^2 = 1
        u = tc if sch is cos else t
        np.testing.assert_allclose(sch.alpha(u) ** 2 + sch.sigma(u) ** 2, 1.0, rtol=1e-13)


def test_beta_tables_have_the_promised_end_points_and_spacing():
    b = ddpm_linear_betas(1000, 1e-4, 0.02)
    assert b[0] == pytest.approx(1e-4, rel=1e-15) and b[-1] == pytest.approx(0.02, rel=1e-15)
    np.testing.assert_allclose(np.diff(b), (0.02 - 1e-4) / 999, rtol=1e-9)
    s = scaled_linear_betas(1000, 0.00085, 0.012)
    assert s[0] == pytest.approx(0.00085, rel=1e-13) and s[-1] == pytest.approx(0.012, rel=1e-13)
    np.testing.assert_allclose(np.diff(np.sqrt(s)),
                               (math.sqrt(0.012) - math.sqrt(0.00085)) / 999, rtol=1e-9)
    sch = DiscreteVP.scaled_linear()
    np.testing.assert_allclose(sch.alpha(np.arange(1000)) ** 2, np.cumprod(1 - s), rtol=1e-12)


@pytest.mark.parametrize("rho", [1.0, 3.0, 7.0])
@pytest.mark.parametrize("append_zero", [True, False])
def test_karras_grid_end_points_and_spacing_under_every_option(rho, append_zero):
    n, lo, hi = 9, 0.01, 50.0
    sig = karras_sigmas(n, lo, hi, rho, append_zero=append_zero)
    assert sig.size == n + (1 if append_zero else 0)
    assert sig[0] == hi and sig[n - 1] == lo
    if append_zero:
        assert sig[-1] == 0.0
    # sigma^(1/rho) is equally spaced from hi^(1/rho) to lo^(1/rho)
    np.testing.assert_allclose(np.diff(sig[:n] ** (1 / rho)),
                               (lo ** (1 / rho) - hi ** (1 / rho)) / (n - 1), rtol=1e-9)


def test_skip_fractions_are_k_over_n_on_the_karras_grid():
    sig, fr = tp.skip_sigmas(18, 0.002, 80.0, 7.0)
    np.testing.assert_array_equal(fr, np.arange(18) / 18)
    np.testing.assert_array_equal(sig, karras_sigmas(18, 0.002, 80.0, 7.0))


def test_teleportation_level_grid_keeps_every_karras_level_and_is_geometric_between():
    from toytheory.claims.catalog.diffusion_exact_teleportation import level_grid

    for sub in (1, 3):
        nodes, index = level_grid(sub)
        sig, _ = tp.skip_sigmas(18, 0.002, 80.0)
        np.testing.assert_allclose(nodes[index], sig[:18], rtol=1e-14)
        assert nodes[0] == 80.0 and nodes[-1] == pytest.approx(0.002, rel=1e-14)
        assert len(nodes) == 17 * sub + 1
        for i0, i1 in zip(index[:-1], index[1:]):
            ratios = nodes[i0 + 1:i1 + 1] / nodes[i0:i1]
            np.testing.assert_allclose(ratios, ratios[0], rtol=1e-12)


# ----------------------------------------------------------------------------- estimators


def test_mixture_expectation_weights_the_components():
    # E[x^2] under 0.9 N(0, 1) + 0.1 N(4, 0.25) = 0.9 * 1 + 0.1 * (16 + 0.25)
    law = GaussianMixture.isotropic([0.9, 0.1], [[0.0], [4.0]], [1.0, 0.25])
    value, _ = mixture_expectation(lambda x: x[:, 0] ** 2, law, 1.0, 1e-300, 20)
    assert value == pytest.approx(0.9 + 0.1 * 16.25, rel=1e-12)


def test_projected_cdf_weights_the_components(rng):
    law = GaussianMixture.isotropic([0.8, 0.2], [[0.0, 0.0], [3.0, 1.0]], [1.0, 0.5])
    u = np.array([0.6, 0.8])
    cdf = projected_cdf(law, 0.9, 0.4, u)
    v = rng.uniform(-3, 4, 5)
    centre = 0.9 * np.array([0.0, 3.0 * 0.6 + 1.0 * 0.8])
    sd = np.sqrt(0.81 * np.array([1.0, 0.5]) + 0.16)
    ref = 0.8 * sps.norm.cdf(v, centre[0], sd[0]) + 0.2 * sps.norm.cdf(v, centre[1], sd[1])
    np.testing.assert_allclose(cdf(v), ref, rtol=1e-12, atol=1e-15)


def test_teleportation_kl_estimators_agree_on_unequal_weights(test_seed):
    """The two KL routes agree within z(1e-6) standard errors plus the quadrature's error
    estimate; with the weights swapped the KL is 0.09 instead of 0.27, 10x further than that
    tolerance, so an estimator that ignored or swapped the weights fails."""
    law = GaussianMixture.isotropic([0.8, 0.2], [[-1.0, 0.0], [3.0, 1.0]], [0.05, 1.0])
    sched = EDM(80.0)
    quad, err = tp.teleportation_kl(law, sched, 80.0, 1.0, method="quadrature", order=48)
    mc, se = tp.teleportation_kl(law, sched, 80.0, 1.0, method="monte_carlo", n=100_000,
                                 rng=test_seed)
    swapped = GaussianMixture.isotropic([0.2, 0.8], [[-1.0, 0.0], [3.0, 1.0]], [0.05, 1.0])
    other, _ = tp.teleportation_kl(swapped, sched, 80.0, 1.0, method="quadrature", order=48)
    z = float(sps.norm.isf(0.5e-6))
    assert abs(mc - quad) <= z * se + err
    assert abs(other - quad) > 10 * (z * se + err)


def test_frechet_squared_matches_the_commuting_closed_form(rng):
    # diagonal covariances commute: d_F^2 = |m1 - m2|^2 + sum (sqrt a - sqrt b)^2
    a, b = rng.uniform(0.1, 3, 4), rng.uniform(0.1, 3, 4)
    m1, m2 = rng.standard_normal(4), rng.standard_normal(4)
    want = np.sum((m1 - m2) ** 2) + np.sum((np.sqrt(a) - np.sqrt(b)) ** 2)
    assert frechet_squared(m1, np.diag(a), m2, np.diag(b)) == pytest.approx(want, rel=1e-12)
    # invariance under a common rotation (FID is rotation invariant)
    q, _ = np.linalg.qr(rng.standard_normal((4, 4)))
    rotated = frechet_squared(q @ m1, q @ np.diag(a) @ q.T, q @ m2, q @ np.diag(b) @ q.T)
    assert rotated == pytest.approx(want, rel=1e-10)


def test_fid_identity_uses_sample_means_and_unbiased_covariances(rng):
    x, y = rng.standard_normal((50, 3)), 2 + rng.standard_normal((70, 3))
    cx = (x - x.mean(0)).T @ (x - x.mean(0)) / 49
    cy = (y - y.mean(0)).T @ (y - y.mean(0)) / 69
    assert fid_identity(x, y) == pytest.approx(frechet_squared(x.mean(0), cx, y.mean(0), cy),
                                               rel=1e-13)


def test_coupled_moment_estimate_is_the_control_variate_formula(rng):
    b = rng.standard_normal((200, 2))
    a = b + 0.1 * rng.standard_normal((200, 2)) + 0.5
    m_b, s_b = np.array([0.0, 0.0]), np.eye(2)
    m, s = coupled_moment_estimate(a, b, m_b, s_b)
    np.testing.assert_allclose(m, a.mean(0) - b.mean(0), rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(s, np.cov(a.T) - np.cov(b.T) + np.eye(2), rtol=1e-12)


def test_batch_mean_interval_is_the_student_t_interval():
    v = np.array([1.0, 2.0, 4.0, 3.0])
    mean, (lo, hi) = batch_mean_interval(v, 0.01)
    half = sps.t.isf(0.005, 3) * np.std(v, ddof=1) / 2.0
    assert mean == 2.5 and lo == pytest.approx(2.5 - half) and hi == pytest.approx(2.5 + half)


def test_split_recovers_the_mixture_part_and_refuses_laws_that_do_not_split(rng):
    split = split_gaussian_part(structured_gmm(dim=10, components=5, between_rank=3))
    assert split.reduced.dim == 3 and split.complement.shape == (10, 7)
    full = GaussianMixture(np.array([0.5, 0.5]), rng.standard_normal((2, 3)),
                           np.stack([np.eye(3), 2 * np.eye(3)]))
    with pytest.raises(ValueError, match="law: does not split"):
        split_gaussian_part(full)


def test_sample_moments_has_the_law_of_the_direct_route(test_seed):
    """Power: a route that forgot the cross-covariance or the Gaussian factor's noise moves
    the FID law by many standard deviations; the two-sample KS at 1e-6 on 300 vs 300 values
    has a critical distance of about 0.22 and such an error gives distance 1."""
    rng = np.random.default_rng(test_seed)
    split = split_gaussian_part(structured_gmm(dim=12, components=6, between_rank=3))
    basis = np.hstack([split.basis, split.complement])
    chol = np.linalg.cholesky(split.gaussian_cov)
    n = 400

    def direct():
        a = split.reduced.sample_data(n, rng)
        b = split.gaussian_mean + rng.standard_normal((n, chol.shape[0])) @ chol.T
        x = np.hstack([a, b])
        return x.mean(0), np.cov(x.T)

    ref = direct()
    fast = [frechet_squared(*sample_moments(split, n, rng), *ref) for _ in range(300)]
    slow = [frechet_squared(*direct(), *ref) for _ in range(300)]
    assert sps.ks_2samp(fast, slow).pvalue > 1e-6
    assert basis.shape == (12, 12)


def test_frechet_and_split_helpers_refuse_bad_input_naming_the_argument():
    with pytest.raises(ValueError, match="mean2: must have shape"):
        frechet_squared([0.0, 0.0], np.eye(2), [0.0], np.eye(1))
    with pytest.raises(ValueError, match="cov1: must have shape"):
        frechet_squared([0.0, 0.0], np.eye(3), [0.0, 0.0], np.eye(2))
    with pytest.raises(ValueError, match="x, y: need at least 2 rows"):
        fid_identity(np.zeros((1, 2)), np.zeros((5, 2)))
    with pytest.raises(ValueError, match="y: must have 2 columns"):
        fid_identity(np.zeros((3, 2)), np.zeros((5, 3)))
    with pytest.raises(ValueError, match="b: must have the shape of a"):
        coupled_moment_estimate(np.zeros((3, 2)), np.zeros((4, 2)), np.zeros(2), np.eye(2))
    with pytest.raises(ValueError, match="estimates size: must be >= 2"):
        batch_mean_interval([1.0], 0.01)
    with pytest.raises(ValueError, match="law: must be a GaussianMixture"):
        split_gaussian_part("law")
    with pytest.raises(ValueError, match="law: the component means are all equal"):
        split_gaussian_part(Gaussian(np.zeros(2), np.eye(2)))
    with pytest.raises(ValueError, match="split: must be a MixtureSplit"):
        sample_moments("split", 10)
