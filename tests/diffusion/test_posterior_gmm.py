"""The exact GMM posterior, its diffused path, DPS's score and the active-subsampling
policy against their definitions; bad input."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats as sps
from scipy.integrate import quad

from toytheory.diffusion import Gaussian, GaussianMixture
from toytheory.diffusion.posterior.active import (IsotropicMixturePrior, max_entropy_masks,
                                                  posterior_trace, trace_bounds)
from toytheory.diffusion.posterior.gmm import (component_posteriors, denoiser_jacobian,
                                               exact_gmm_posterior, log_likelihood_at)
from toytheory.diffusion.posterior.samplers import (dps_score, exact_posterior_score,
                                                    halfplane_mass, reverse_sde)


def _prior2():
    return GaussianMixture([0.3, 0.7], [[-1.5, 0.5], [2.0, -0.3]],
                           [[[0.5, 0.2], [0.2, 0.8]], [[0.3, -0.1], [-0.1, 0.4]]])


def _grid_posterior(prior, A, s, y, half=8.0, n=801):
    """Bayes' rule on a 2-D grid: prior density (scipy) x Gaussian likelihood, normalised."""
    g = np.linspace(-half, half, n)
    X = np.stack(np.meshgrid(g, g, indexing="ij"), -1).reshape(-1, 2)
    dens = sum(w * sps.multivariate_normal(m, c).pdf(X)
               for w, m, c in zip(prior.weights, prior.means, prior.covs))
    lik = sps.multivariate_normal(np.zeros(len(y)), s * s * np.eye(len(y))).pdf(
        y[None, :] - X @ A.T)
    p = dens * lik
    return X, p / p.sum(), (g[1] - g[0]) ** 2


def test_one_d_posterior_is_bayes_by_quadrature():
    """d = 1, three components: the closed-form density equals prior x likelihood / evidence
    (quad), at 1e-10."""
    prior = GaussianMixture([0.2, 0.5, 0.3], [[-2.0], [0.5], [3.0]],
                            [[[0.4]], [[1.0]], [[0.2]]])
    A, s, y = np.array([[1.5]]), 0.4, np.array([1.1])

    def joint(x):
        pr = sum(w * sps.norm(m[0], np.sqrt(c[0, 0])).pdf(x)
                 for w, m, c in zip(prior.weights, prior.means, prior.covs))
        return pr * sps.norm(1.5 * x, s).pdf(y[0])

    z = quad(joint, -15, 15, points=[-2, 0.5, 3], limit=200, epsabs=1e-14)[0]
    post = exact_gmm_posterior(prior, A, s, y)
    xs = np.linspace(-4, 5, 19)
    np.testing.assert_allclose(np.exp(post.log_prob(xs[:, None])),
                               [joint(x) / z for x in xs], rtol=1e-9, atol=1e-14)


@pytest.mark.parametrize("A, s, y", [
    (np.array([[1.0, 1.0]]), 0.5, np.array([0.4])),
    (np.array([[0.0, 1.0]]), 0.3, np.array([-0.2])),           # a mask: x_2 observed
    (np.array([[1.0, 0.0], [0.5, -1.0]]), 0.6, np.array([0.3, 1.0])),
])
def test_two_d_posterior_is_bayes_on_a_grid(A, s, y):
    """Mean, covariance and the mass of {x_1 > 0} against Bayes on an 801^2 grid."""
    prior = _prior2()
    post = exact_gmm_posterior(prior, A, s, y)
    X, p, _ = _grid_posterior(prior, A, s, y)
    mean = p @ X
    np.testing.assert_allclose(post.mean(), mean, atol=1e-6)
    np.testing.assert_allclose(post.covariance(), (X - mean).T @ ((X - mean) * p[:, None]),
                               atol=1e-5)
    assert halfplane_mass(post, [1.0, 0.0]) == pytest.approx(p[X[:, 0] > 0].sum(), abs=3e-3)


def test_gaussian_prior_against_the_information_form():
    """One component: Sigma' = (Sigma^-1 + A^T A / s^2)^-1, mu' = Sigma'(Sigma^-1 mu + A^T y /
    s^2) (the precision form, a different route from the gain form)."""
    mu, cov = np.array([0.3, -1.0, 2.0]), np.array([[2.0, 0.3, 0.1], [0.3, 1.0, -0.2],
                                                     [0.1, -0.2, 0.5]])
    A, s, y = np.array([[1.0, 0.0, 2.0], [0.0, 1.0, 1.0]]), 0.7, np.array([1.0, 0.5])
    post = exact_gmm_posterior(Gaussian(mu, cov), A, s, y)
    prec = np.linalg.inv(cov) + A.T @ A / s ** 2
    c = np.linalg.inv(prec)
    np.testing.assert_allclose(post.covs[0], c, atol=1e-12)
    np.testing.assert_allclose(post.means[0], c @ (np.linalg.solve(cov, mu) + A.T @ y / s ** 2),
                               atol=1e-12)


def test_noise_free_limit_is_the_limit_of_small_noise():
    """s = 0 with A Sigma_k A^T invertible equals s -> 0 (1e-7), and x_1 = y exactly."""
    prior, A, y = _prior2(), np.array([[1.0, 0.0]]), np.array([0.7])
    exact = exact_gmm_posterior(prior, A, 0.0, y)
    near = exact_gmm_posterior(prior, A, 1e-7, y)
    np.testing.assert_allclose(exact.weights, near.weights, atol=1e-9)
    np.testing.assert_allclose(exact.means, near.means, atol=1e-9)
    np.testing.assert_allclose(exact.means[:, 0], 0.7, atol=1e-12)
    np.testing.assert_allclose(exact.covs[:, 0, :], 0.0, atol=1e-12)


def test_likelihood_at_time_t_is_bayes_of_the_marginals(rng):
    """p(y | x_t) = p(y) p_t(x_t | y) / p_t(x_t), with p(y) = sum pi_k N(y; A mu_k, S_k)."""
    prior, A, s, y = _prior2(), np.array([[1.0, -0.5]]), 0.4, np.array([0.8])
    post = exact_gmm_posterior(prior, A, s, y)
    py = sum(w * sps.norm((A @ m)[0], np.sqrt((A @ c @ A.T)[0, 0] + s * s)).pdf(y[0])
             for w, m, c in zip(prior.weights, prior.means, prior.covs))
    x = 2.0 * rng.standard_normal((20, 2))
    for sigma in (0.2, 1.0, 5.0):
        lhs = log_likelihood_at(prior, A, s, y, x, 1.0, sigma)
        rhs = np.log(py) + post.log_prob(x, 1.0, sigma) - prior.log_prob(x, 1.0, sigma)
        np.testing.assert_allclose(lhs, rhs, atol=1e-10)


def test_component_posteriors_average_to_tweedie_and_jacobian_is_a_derivative(rng):
    prior = _prior2()
    x = 1.5 * rng.standard_normal((10, 2))
    for alpha, sigma in ((1.0, 0.5), (0.8, 0.6), (0.3, 0.95)):
        w, m, _ = component_posteriors(prior, x, alpha, sigma)
        np.testing.assert_allclose(np.einsum("nk,nkd->nd", w, m),
                                   prior.denoise(x, alpha, sigma), atol=1e-12)
        h, jac = 1e-6, np.zeros((10, 2, 2))
        for j in range(2):
            e = np.eye(2)[j] * h
            jac[:, :, j] = (prior.denoise(x + e, alpha, sigma)
                            - prior.denoise(x - e, alpha, sigma)) / (2 * h)
        np.testing.assert_allclose(denoiser_jacobian(prior, x, alpha, sigma), jac, atol=1e-7)


def test_dps_score_is_the_gradient_of_its_definition(rng):
    """s_DPS = grad log p_t + zeta grad [-||y - A x0_hat||^2 / (2 s^2)], by differences."""
    prior, A, s, y, zeta = _prior2(), np.array([[1.0, 1.0]]), 0.5, np.array([0.4]), 0.7
    x = 1.5 * rng.standard_normal((8, 2))
    sigma = 0.8

    def f(z):
        r = y[None, :] - prior.denoise(z, 1.0, sigma) @ A.T
        return -zeta * np.sum(r * r, axis=1) / (2 * s * s)

    h, grad = 1e-6, np.zeros_like(x)
    for j in range(2):
        e = np.eye(2)[j] * h
        grad[:, j] = (f(x + e) - f(x - e)) / (2 * h)
    np.testing.assert_allclose(dps_score(prior, A, s, y, zeta)(x, sigma),
                               prior.score(x, 1.0, sigma) + grad, atol=1e-6)


def test_reverse_sde_adds_exactly_the_grid_variance(rng):
    """Zero score from x = 0 over sigmas (3, 2, 1, 0): N(0, 9) (KS at level 1e-6)."""
    x = reverse_sde(lambda z, s: np.zeros_like(z), np.zeros((20000, 1)), [3.0, 2.0, 1.0, 0.0],
                    rng)
    assert sps.kstest(x[:, 0] / 3.0, "norm").pvalue > 1e-6


def test_exact_score_sampler_on_a_gaussian_posterior(rng):
    """Gaussian prior: the exact-score reverse SDE's mean is within 6 standard errors + the
    grid's bias (0.02) of the closed form."""
    prior = Gaussian([1.0, -1.0], [[1.0, 0.3], [0.3, 0.5]])
    post = exact_gmm_posterior(prior, np.array([[1.0, 0.0]]), 0.5, np.array([0.0]))
    from toytheory.diffusion.schedules import karras_sigmas

    sig = karras_sigmas(256, 0.002, 80.0, append_zero=False)
    x = reverse_sde(exact_posterior_score(post), 80 * rng.standard_normal((8000, 2)), sig, rng)
    se = np.sqrt(np.diag(post.covariance()) / 8000)
    assert np.all(np.abs(x.mean(0) - post.mean()) < 6 * se + 0.02)


def test_halfplane_mass_by_grid():
    prior = _prior2()
    X, p, _ = _grid_posterior(prior, np.array([[1.0, 0.0]]), 100.0, np.array([0.0]))
    for v, c in (([1.0, 0.0], 0.0), ([1.0, 1.0], 0.5), ([-0.5, 2.0], -1.0)):
        inside = X @ np.asarray(v) > c
        post = exact_gmm_posterior(prior, np.array([[1.0, 0.0]]), 100.0, np.array([0.0]))
        assert halfplane_mass(post, v, c) == pytest.approx(p[inside].sum(), abs=3e-3)


def _iso_prior():
    means = np.array([[0, 3, 0, 0], [0, -3, 3, 0], [3, 0, 0, -3], [0, 0, 0, 0.0]])
    return IsotropicMixturePrior([0.1, 0.2, 0.3, 0.4], means, 0.6, 0.4)


def test_posterior_trace_is_the_trace_of_the_exact_posterior_covariance(rng):
    pr = _iso_prior()
    _, y = pr.sample(6, rng)
    masks = rng.random((6, 4)) < 0.5
    traces = posterior_trace(pr, y, masks)
    lo, hi = trace_bounds(pr, 0)
    for i in range(6):
        A = np.eye(4)[masks[i]]
        if A.shape[0] == 0:
            ref = np.trace(pr.law.covariance())
        else:
            ref = np.trace(exact_gmm_posterior(pr.law, A, 0.4, y[i, masks[i]]).covariance())
        assert traces[i] == pytest.approx(ref, abs=1e-10)


def test_max_entropy_policy_picks_the_largest_entropy_by_quadrature(rng):
    """The first two picks against entropies integrated by scipy.quad from the predictive
    law p(y_j | y_S) = sum_k w_k N(m_kj, tau^2 + s^2): the second pick's entropy is the
    largest up to 1e-8 (near-ties, where the posterior has collapsed onto one component,
    may go either way)."""
    pr = _iso_prior()
    _, y = pr.sample(4, rng)
    masks = max_entropy_masks(pr, y, 2)
    var = 0.6 ** 2 + 0.4 ** 2

    def entropy(w, m):
        w, m = np.asarray(w), np.asarray(m)

        def f(z):
            p = np.sum(w * np.exp(-0.5 * (z - m) ** 2 / var)) / np.sqrt(2 * np.pi * var)
            return -p * np.log(p) if p > 0 else 0.0

        return quad(f, m.min() - 12, m.max() + 12, points=sorted(set(m)), limit=200)[0]

    w0 = pr.law.weights
    first = int(np.argmax([entropy(w0, pr.means[:, j]) for j in range(4)]))
    assert np.all(masks[:, first])
    for i in range(4):
        post = exact_gmm_posterior(pr.law, np.eye(4)[[first]], 0.4, y[i, [first]])
        ents = np.array([entropy(post.weights, post.means[:, j]) if j != first else -np.inf
                         for j in range(4)])
        # the pick has the largest entropy up to quadrature error: once the posterior sits
        # on one component every free coordinate's entropy is 0.5 log(2 pi e var) to within
        # 1e-12 or so, and which of those near-ties wins is not the policy's business
        picked = np.flatnonzero(masks[i] & (np.arange(4) != first))
        assert masks[i].sum() == 2 and picked.size == 1
        assert ents[picked[0]] >= ents.max() - 1e-8


@pytest.mark.parametrize("call, match", [
    (lambda: exact_gmm_posterior(_prior2(), np.ones((1, 3)), 0.5, [0.0]), "A: "),
    (lambda: exact_gmm_posterior(_prior2(), np.ones(2), 0.5, [0.0]), "A: "),
    (lambda: exact_gmm_posterior(_prior2(), np.ones((1, 2)), -0.1, [0.0]), "noise_std: "),
    (lambda: exact_gmm_posterior(_prior2(), np.ones((1, 2)), np.nan, [0.0]), "noise_std: "),
    (lambda: exact_gmm_posterior(_prior2(), np.ones((1, 2)), 0.5, [0.0, 1.0]), "y: "),
    (lambda: exact_gmm_posterior(_prior2(), np.zeros((1, 2)), 0.0, [0.0]), "noise_std: "),
    (lambda: exact_gmm_posterior("prior", np.ones((1, 2)), 0.5, [0.0]), "prior: "),
    (lambda: log_likelihood_at(_prior2(), np.ones((1, 2)), 0.5, [0.0], np.zeros((2, 3)),
                               1.0, 0.5), "x: "),
    (lambda: component_posteriors(_prior2(), np.zeros((2, 2)), 1.0, 0.0), "sigma: "),
    (lambda: dps_score(_prior2(), np.ones((1, 2)), 0.0, [0.0]), "noise_std: "),
    (lambda: dps_score(_prior2(), np.ones((1, 2)), 0.5, [0.0], zeta=-1.0), "zeta: "),
    (lambda: reverse_sde(lambda x, s: x, np.zeros((2, 2)), [1.0, 2.0]), "sigmas: "),
    (lambda: halfplane_mass(_prior2(), [0.0, 0.0]), "v: "),
    (lambda: exact_posterior_score("post"), "posterior: "),
    (lambda: max_entropy_masks(_iso_prior(), np.zeros((2, 4)), 5), "budget: "),
    (lambda: max_entropy_masks(_iso_prior(), np.zeros((2, 3)), 2), "y_all: "),
    (lambda: posterior_trace(_iso_prior(), np.zeros((2, 4)), np.ones(4)), "mask: "),
    (lambda: IsotropicMixturePrior([1.0], [[0.0]], 0.5, 0.0), "noise_std: "),
    (lambda: trace_bounds(_iso_prior(), 5), "budget: "),
])
def test_bad_input(call, match):
    with pytest.raises(ValueError, match=match):
        call()
