"""Oracles against their definitions, grid options against their promised spacing and end
points, and estimators on inputs where the weighting matters (issue 14, item 4).

The manifold laws' own tests check score and Jacobian against finite differences of
``log_prob`` (self-consistency); here ``log_prob`` itself is checked against the
definition :math:`p_t(x) = \\int N(x; \\alpha y, \\sigma^2 I)\\,d\\mu(y)` by quadrature
over the manifold, or against a peer library (scipy).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import integrate, stats
from scipy.special import logsumexp

from toytheory.gauge.manifolds import FlatTorus, LinearSubspace, Sphere, SwissRoll


def _native_and_rest(m, x):
    """Coordinates of ``x`` in the manifold's frame: the native block and the rest."""
    z = x @ m.embedding
    return z[:, :m.native_dim], z[:, m.native_dim:]


def _gauss_log(z, var):
    """Sum over columns of log N(z_j; 0, var)."""
    return -0.5 * np.sum(z * z, axis=1) / var - 0.5 * z.shape[1] * math.log(2 * math.pi * var)


def _points(m, rng, alpha, sigma, n=6):
    """Points of p_t and a few far from the manifold."""
    x = m.sample(n, alpha, sigma, rng)
    return np.concatenate([x, x[:2] * 1.7 + 0.3])


# --------------------------------------------------------------------------- manifold laws

@pytest.mark.parametrize("k, d, radius", [(1, 3, 1.0), (2, 5, 1.5), (3, 4, 0.7), (5, 8, 1.2)])
@pytest.mark.parametrize("alpha, sigma", [(0.9, 0.3), (0.6, 0.8)])
def test_sphere_log_density_is_its_definition(k, d, radius, alpha, sigma, rng):
    """log p_t of the uniform k-sphere against the definition: the average of N(alpha R u,
    sigma^2 I) over u uniform on S^k, reduced to the 1-D integral over the angle to z (quad),
    independent of the Bessel functions the oracle uses."""
    m = Sphere(k, d, radius=radius, rng=rng)
    x = _points(m, rng, alpha, sigma)
    z, rest = _native_and_rest(m, x)
    p = k + 1
    s2 = sigma * sigma
    expected = []
    for zi in z:
        norm = float(np.linalg.norm(zi))
        kappa = alpha * radius * norm / s2

        def integrand(th, power):
            return math.exp(kappa * (math.cos(th) - 1.0)) * math.sin(th) ** power

        num = integrate.quad(integrand, 0.0, math.pi, args=(p - 2,), epsabs=0, epsrel=1e-13,
                             limit=200)[0]
        den = integrate.quad(lambda th: math.sin(th) ** (p - 2), 0.0, math.pi, epsabs=0,
                             epsrel=1e-13)[0]
        log_mean = math.log(num / den) + kappa                  # log E_u exp(kappa zhat.u)
        expected.append(-(norm ** 2 + (alpha * radius) ** 2) / (2 * s2)
                        - 0.5 * p * math.log(2 * math.pi * s2) + log_mean)
    expected = np.asarray(expected) + _gauss_log(rest, s2)
    np.testing.assert_allclose(m.log_prob(x, alpha, sigma), expected, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("alpha, sigma", [(0.9, 0.35), (0.5, 0.7)])
def test_flat_torus_log_density_is_its_definition(alpha, sigma, rng):
    """The 2-torus (S^1 x S^1 in R^4, inside R^6): p_t by the double trapezoid rule over both
    angles (spectrally accurate for a periodic analytic integrand), not by the product of
    circle factors the oracle uses."""
    m = FlatTorus(2, 6, radius=1.3, rng=rng)
    x = _points(m, rng, alpha, sigma)
    z, rest = _native_and_rest(m, x)
    th = np.linspace(0.0, 2 * np.pi, 256, endpoint=False)
    t1, t2 = (a.ravel() for a in np.meshgrid(th, th, indexing="ij"))
    centres = alpha * 1.3 * np.stack([np.cos(t1), np.sin(t1), np.cos(t2), np.sin(t2)], axis=1)
    s2 = sigma * sigma
    d2 = np.sum((z[:, None, :] - centres[None]) ** 2, axis=2)
    native = (logsumexp(-0.5 * d2 / s2, axis=1) - math.log(centres.shape[0])
              - 2.0 * math.log(2 * math.pi * s2))
    np.testing.assert_allclose(m.log_prob(x, alpha, sigma), native + _gauss_log(rest, s2),
                               rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("k, d", [(1, 3), (3, 7)])
def test_linear_subspace_log_density_is_scipys_gaussian(k, d, rng):
    """N(0, s^2 I_k) on span(B): p_t = N(0, alpha^2 s^2 B B^T + sigma^2 I) (scipy)."""
    m = LinearSubspace(k, d, scale=1.7, rng=rng)
    alpha, sigma = 0.8, 0.4
    x = _points(m, rng, alpha, sigma)
    b = m.basis
    cov = alpha ** 2 * 1.7 ** 2 * b @ b.T + sigma ** 2 * np.eye(d)
    np.testing.assert_allclose(m.log_prob(x, alpha, sigma),
                               stats.multivariate_normal(np.zeros(d), cov).logpdf(x),
                               rtol=1e-12, atol=1e-12)


def test_swiss_roll_log_density_is_its_definition(rng):
    """(c u cos u, h, c u sin u), u uniform on n equally spaced values of [1.5 pi, 4.5 pi],
    h ~ N(0, s_h^2): p_t as the explicit average over the n spiral points (logsumexp)."""
    n, c, s_h = 300, 0.15, 0.8
    m = SwissRoll(5, scale=c, height=s_h, n_spiral=n, rng=rng)
    alpha, sigma = 0.9, 0.3
    x = _points(m, rng, alpha, sigma)
    z, rest = _native_and_rest(m, x)
    u = np.linspace(1.5 * np.pi, 4.5 * np.pi, n)
    spiral = alpha * c * np.stack([u * np.cos(u), u * np.sin(u)], axis=1)
    s2 = sigma * sigma
    d2 = (z[:, None, 0] - spiral[None, :, 0]) ** 2 + (z[:, None, 2] - spiral[None, :, 1]) ** 2
    plane = logsumexp(-0.5 * d2 / s2, axis=1) - math.log(n) - math.log(2 * math.pi * s2)
    height = _gauss_log(z[:, 1:2], alpha ** 2 * s_h ** 2 + s2)
    np.testing.assert_allclose(m.log_prob(x, alpha, sigma), plane + height + _gauss_log(rest, s2),
                               rtol=1e-10, atol=1e-10)


# --------------------------------------------------------------------------- grid options

@pytest.mark.parametrize("lower, upper, shape", [((-1.0,), (2.5,), (7,)),
                                                 ((-4.0, 0.5), (4.0, 1.25), (65, 4)),
                                                 ((-0.3, -2.0, 1.0), (0.3, 2.0, 1.1), (3, 9, 5))])
def test_grid_nodes_have_the_promised_end_points_and_spacing(lower, upper, shape):
    """Every axis: first node = lower, last = upper, equal steps (u - l)/(n - 1); the same
    for the refined grid (factor 2 and 3) and for the cube constructor."""
    from toytheory.gauge.grid import Grid

    grids = [Grid(lower, upper, shape)]
    grids += [grids[0].refined(f) for f in (2, 3)]
    for g in grids:
        nodes = g.nodes()
        for a in range(g.ndim):
            coords = g.axis_coordinates(a)
            assert coords[0] == lower[a] and coords[-1] == upper[a]
            np.testing.assert_allclose(np.diff(coords), (upper[a] - lower[a]) / (coords.size - 1),
                                       rtol=1e-12)
            assert g.spacing[a] == pytest.approx((upper[a] - lower[a]) / (g.shape[a] - 1),
                                                 rel=1e-15)
            assert np.take(nodes[..., a], 0, axis=a).min() == lower[a]
            assert np.take(nodes[..., a], -1, axis=a).max() == upper[a]
            mids = g.edge_midpoints(a)[:, a]
            assert mids.min() == pytest.approx(lower[a] + 0.5 * g.spacing[a], rel=1e-12)
            assert mids.max() == pytest.approx(upper[a] - 0.5 * g.spacing[a], rel=1e-12)
    for f, g in zip((2, 3), grids[1:]):
        assert g.shape == tuple((n - 1) * f + 1 for n in shape)
        np.testing.assert_allclose(g.spacing, np.asarray(grids[0].spacing) / f, rtol=1e-12)
    cube = Grid.cube(-2.0, 3.0, 2, 11)
    assert cube.spacing == (0.5, 0.5)
    assert cube.axis_coordinates(1)[0] == -2.0 and cube.axis_coordinates(1)[-1] == 3.0


def _schedules():
    from toytheory.diffusion import schedules as sch

    return [sch.VPLinear(), sch.VPLinear(beta_min=0.5, beta_max=10.0), sch.VPCosine(),
            sch.VE(), sch.EDM()]


@pytest.mark.parametrize("schedule", _schedules(), ids=lambda s: repr(s))
@pytest.mark.parametrize("steps", [1, 7, 160])
def test_log_snr_time_grid_has_exact_end_points_and_equal_log_snr_steps(schedule, steps):
    """The grid option of the flow-Jacobian estimator: steps + 1 increasing times from t_min
    to t_max exactly, equally spaced in log-SNR, under every schedule."""
    from toytheory.gauge.intrinsic_dimension import log_snr_time_grid

    lo, hi = float(schedule.t_min), float(schedule.t_max)
    t_min = lo + 0.01 * (hi - lo) if lo > 0 else 0.01 * hi
    t_max = lo + 0.9 * (hi - lo)
    grid = log_snr_time_grid(schedule, t_min, t_max, steps)
    assert grid.shape == (steps + 1,)
    assert grid[0] == t_min and grid[-1] == t_max
    assert np.all(np.diff(grid) > 0)
    lam = np.asarray(schedule.log_snr(grid), float)
    step = (float(schedule.log_snr(t_max)) - float(schedule.log_snr(t_min))) / steps
    np.testing.assert_allclose(np.diff(lam), step, rtol=1e-8, atol=1e-10)


def test_time_at_noise_gives_the_requested_sigma():
    """The base time of the estimators: sigma_t / alpha_t equals the requested level (the
    documented definition), under two schedules."""
    from toytheory.gauge.id_experiments import time_at_noise
    from toytheory.gauge.toys import schedule

    from toytheory.diffusion.schedules import VPCosine

    for sched in (schedule(), VPCosine()):
        for target in (0.01, 0.1, 0.5):
            t = time_at_noise(sched, target)
            a, s = (float(v) for v in sched.marginal(t))
            assert s / a == pytest.approx(target, rel=1e-9)


# --------------------------------------------------------------------------- weighting

def test_mixture_expectation_uses_the_weights():
    """Unequal weights and distant means: the quadrature's first and second moments are
    the mixture's (closed form), and differ from those of the equally weighted mixture by
    far more than the tolerance, so a dropped or uniform weighting is caught."""
    from toytheory.diffusion.laws import GaussianMixture
    from toytheory.gauge.quadrature import mixture_expectation

    law = GaussianMixture([0.1, 0.9], np.array([[-2.0, 1.0], [1.5, -0.5]]),
                          np.array([[[0.5, 0.2], [0.2, 0.3]], [[0.2, -0.05], [-0.05, 0.6]]]))
    mean = mixture_expectation(law, lambda x: x, 20)
    second = mixture_expectation(law, lambda x: x[:, :, None] * x[:, None, :], 20)
    np.testing.assert_allclose(mean, law.mean(), atol=1e-13)
    np.testing.assert_allclose(second, law.covariance() + np.outer(law.mean(), law.mean()),
                               atol=1e-12)
    equal = GaussianMixture([0.5, 0.5], law.means, law.covs)
    assert np.max(np.abs(mean - equal.mean())) > 1.0
    # a quartic moment is integrated exactly by 3 nodes per axis (degree <= 5)
    fourth = mixture_expectation(law, lambda x: x[:, 0] ** 4, 3)
    direct = sum(w * (m[0] ** 4 + 6 * m[0] ** 2 * c[0, 0] + 3 * c[0, 0] ** 2)
                 for w, m, c in zip(law.weights, law.means, law.covs))
    assert float(fourth) == pytest.approx(direct, rel=1e-12)


def test_mixture_expectation_refuses_bad_input():
    from toytheory.gauge import toys
    from toytheory.gauge.quadrature import mixture_expectation

    law = toys.gmm_2d()
    with pytest.raises(ValueError, match="order"):
        mixture_expectation(law, lambda x: x, 0)
    with pytest.raises(ValueError, match="order"):
        mixture_expectation(toys.gmm_3d(), lambda x: x, 200)
    with pytest.raises(ValueError, match="law"):
        mixture_expectation(object(), lambda x: x)
    with pytest.raises(ValueError, match="f"):
        mixture_expectation(law, lambda x: np.ones(3))
    with pytest.raises(ValueError, match="f"):
        mixture_expectation(law, lambda x: np.full(x.shape[0], np.nan))


def test_gap_rules_differ_where_linear_and_log_gaps_disagree():
    """An input where the two gap rules give different answers: the linear rule (score SVD)
    reads the 90 -> 1 drop, the log rule (flow Jacobian) the 1 -> 1e-3 drop."""
    from toytheory.gauge.intrinsic_dimension import gap_dimension

    sv = np.array([[100.0, 90.0, 1.0, 1e-3]])
    assert gap_dimension(sv, log=False, normal=False).tolist() == [2]
    assert gap_dimension(sv, log=True, normal=False).tolist() == [3]
    assert gap_dimension(sv, log=False, normal=True).tolist() == [2]
    assert gap_dimension(sv, log=True, normal=True).tolist() == [1]


def test_projected_cdf_uses_the_mixture_weights():
    """Unequal weights: the projected CDF equals the half-plane probability of the 2-D
    mixture computed by scipy's bivariate normal CDF in a rotated frame, and differs from
    the equally weighted mixture's."""
    from toytheory.diffusion.laws import GaussianMixture
    from toytheory.gauge.marginal_tests import projected_mixture_cdf

    means = np.array([[-1.5, 0.5], [1.0, -0.2], [0.2, 2.0]])
    covs = np.array([np.diag([0.3, 0.5]), [[0.6, 0.2], [0.2, 0.4]], np.diag([0.2, 0.2])])
    law = GaussianMixture([0.15, 0.6, 0.25], means, covs)
    u = np.array([0.6, 0.8])
    v = np.array([-0.8, 0.6])
    rot = np.stack([u, v])                                  # rows: u, v (orthonormal)
    z = np.array([-1.0, 0.0, 0.7, 2.0])
    expected = np.zeros_like(z)
    for w, mu, cov in zip(law.weights, means, covs):
        mvn = stats.multivariate_normal(rot @ mu, rot @ cov @ rot.T)
        expected += w * np.array([mvn.cdf([zi, 50.0]) for zi in z])
    np.testing.assert_allclose(projected_mixture_cdf(law, u)(z), expected, atol=1e-7)
    equal = projected_mixture_cdf(GaussianMixture([1 / 3] * 3, means, covs), u)(z)
    assert np.max(np.abs(equal - expected)) > 0.05


# --------------------------------------------------------------------------- stochastic options

@pytest.mark.parametrize("k", [2, 5])
def test_sphere_samples_are_uniform(k, rng):
    """Samples of the uniform k-sphere against the exact law of one native coordinate:
    (u_1 + 1)/2 ~ Beta(k/2, k/2) for u uniform on S^k (scipy). KS at level 1e-6: a correct
    sampler fails with probability <= 1e-6 under any seed; a sampler whose coordinate law is
    off by a Kolmogorov distance >= 0.04 is caught with probability >= 1 - 1e-6 (DKW)."""
    m = Sphere(k, k + 3, radius=2.0, rng=rng)
    z, rest = _native_and_rest(m, m.sample_data(20000, rng))
    assert np.max(np.abs(rest)) < 1e-12
    u1 = z[:, 0] / 2.0
    assert stats.kstest((u1 + 1) / 2, stats.beta(k / 2, k / 2).cdf).pvalue > 1e-6


def test_torus_and_subspace_samples_follow_their_laws(rng):
    """Flat torus: each circle coordinate R cos(theta) has the arcsine law on [-R, R];
    subspace: each native coordinate is N(0, s^2); the noised sample adds N(0, sigma^2) off the
    manifold (four KS tests, at 1e-6 / 4 each so that a correct sampler fails with
    probability <= 1e-6 in all; scipy laws)."""
    torus = FlatTorus(2, 5, radius=1.5, rng=rng)
    z, _ = _native_and_rest(torus, torus.sample_data(20000, rng))
    for j in (0, 3):
        assert stats.kstest(z[:, j], stats.arcsine(loc=-1.5, scale=3.0).cdf).pvalue > 1e-6 / 4
    sub = LinearSubspace(2, 4, scale=0.7, rng=rng)
    z, rest = _native_and_rest(sub, sub.sample(20000, 0.8, 0.3, rng))
    var = 0.8 ** 2 * 0.7 ** 2 + 0.3 ** 2
    assert stats.kstest(z[:, 1], stats.norm(scale=math.sqrt(var)).cdf).pvalue > 1e-6 / 4
    assert stats.kstest(rest[:, 0], stats.norm(scale=0.3).cdf).pvalue > 1e-6 / 4
