"""The mixture score on worker threads (toytheory.threads.parallel_map) and through the
augmented stacked-precision product, against the score written from its formula."""

from __future__ import annotations

import numpy as np
import pytest

from toytheory import threads
from toytheory.diffusion import laws
from toytheory.diffusion.laws import GaussianMixture


@pytest.fixture(autouse=True)
def _restore_policy():
    saved = threads._state["policy"]
    yield
    threads._state["policy"] = saved


def _law(rng, k, d):
    a = rng.standard_normal((k, d, d))
    covs = a @ a.transpose(0, 2, 1) / d + 0.1 * np.eye(d)
    return GaussianMixture(rng.dirichlet(np.ones(k)), 2 * rng.standard_normal((k, d)), covs)


def _score_from_the_formula(law, x, alpha, sigma):
    """grad log sum_k pi_k N(x; alpha mu_k, alpha^2 Sigma_k + sigma^2 I), by linear solves
    (no eigendecomposition, no stacked precisions): -sum_k w_k C_k^{-1}(x - alpha mu_k)."""
    d = law.dim
    logits, grads = [], []
    for pi, mu, cov in zip(law.weights, law.means, law.covs):
        c = alpha**2 * cov + sigma**2 * np.eye(d)
        r = x - alpha * mu
        sol = np.linalg.solve(c, r.T).T
        logits.append(np.log(pi) - 0.5 * (np.sum(r * sol, axis=1) + np.linalg.slogdet(c)[1]))
        grads.append(-sol)
    logits = np.stack(logits, axis=1)
    w = np.exp(logits - logits.max(axis=1, keepdims=True))
    w /= w.sum(axis=1, keepdims=True)
    return np.einsum("nk,knd->nd", w, np.stack(grads))


def _assert_is_the_formula(got, law, x, alpha, sigma):
    """``got`` is the formula's score at ``x`` to 1e-9 (relative, and of the largest)."""
    want = _score_from_the_formula(law, x, alpha, sigma)
    np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-9 * np.abs(want).max())


@pytest.mark.parametrize("policy", ["auto", 2, "bounded", "default"])
def test_chunked_score_on_worker_threads_is_the_formula(rng, policy):
    """Three chunks of points (K = 3, d = 8, 30,000 points: 10,922 a chunk) on two worker
    threads, one, or the library's threads: every point's score is the formula's."""
    threads.set_thread_policy(policy)
    law = _law(rng, 3, 8)
    x = law.sample(30_000, 0.9, 0.5, rng=rng)
    _assert_is_the_formula(law.score(x, 0.9, 0.5), law, x, 0.9, 0.5)


def test_d64_augmented_product_is_the_formula_far_from_the_origin(rng):
    """d = 64, means about 16 from the origin: the folded offset (a mu_k . Y_k from the
    same product) keeps the score at the formula's to 1e-9."""
    law = _law(rng, 8, 64)
    x = law.sample(3000, 1.0, 0.5, rng=rng)
    _assert_is_the_formula(law.score(x, 1.0, 0.5), law, x, 1.0, 0.5)
    np.testing.assert_allclose(law.log_prob(x, 1.0, 0.5),
                               law.log_prob(x, np.ones(3000), np.full(3000, 0.5)), rtol=1e-11)


def test_chunks_write_their_own_rows_whatever_order_they_run_in(rng, monkeypatch):
    """Each chunk writes its rows of the result in place (no list of chunk results to put
    in order): a parallel map that runs the chunks in reverse order gives the same score,
    to the last bit."""
    real = threads.parallel_map
    threads.set_thread_policy(2)
    law = _law(rng, 3, 8)
    x = law.sample(30_000, 0.9, 0.5, rng=rng)
    want = law.score(x, 0.9, 0.5)
    monkeypatch.setattr(laws, "parallel_map",
                        lambda fn, items, workers: real(fn, list(items)[::-1], workers))
    np.testing.assert_array_equal(law.score(x, 0.9, 0.5), want)


@pytest.mark.parametrize("d", [2, 64])
def test_the_formula_check_sees_rows_written_out_of_order(rng, monkeypatch, d):
    """Planted bug: every chunk writes its points' scores in reverse row order (d = 64: the
    stacked-precision path, which writes the score straight into the result; d = 2: the
    quadratic-feature path, whose score is copied in). The comparison with the formula
    fails (deterministically: the rows hold different points, whose scores differ by O(1)
    against the 1e-9 tolerance)."""
    from toytheory.diffusion import _mixture_core as core

    real = core.evaluate_chunk

    def planted(xp, x, alpha, sigma, plan, out=None):
        return real(xp, x[::-1], alpha, sigma, plan, out)

    monkeypatch.setattr(core, "evaluate_chunk", planted)
    threads.set_thread_policy(2)
    law = _law(rng, 3, d)
    x = law.sample(3000 if d == 64 else 30_000, 0.9, 0.5, rng=rng)
    with pytest.raises(AssertionError):
        _assert_is_the_formula(law.score(x, 0.9, 0.5), law, x, 0.9, 0.5)


def test_parallel_map_keeps_order_and_runs_nested_calls_in_place():
    seen = []

    def inner(i):
        return i * i

    def outer(i):
        seen.append(threads._in_worker.__dict__.get("active", False))
        return sum(threads.parallel_map(inner, range(i), 2))

    assert threads.parallel_map(outer, range(6), 2) == [sum(j * j for j in range(i))
                                                       for i in range(6)]
    assert all(seen)


@pytest.mark.parametrize("policy", ["auto", 2, "default"])
@pytest.mark.parametrize("d", [2, 8])
def test_torch_cpu_chunks_on_worker_threads_are_the_formula(rng, policy, d):
    """Torch float64 on the CPU, several chunks (d = 2: 16,384 points a chunk; d = 8:
    10,922), two workers or one: the formula's score, and a plain tensor (no graph)."""
    torch = pytest.importorskip("torch")
    threads.set_thread_policy(policy)
    law = _law(rng, 3, d) if d > 2 else _law(rng, 8, d)
    x = law.sample(40_000, 0.9, 0.5, rng=rng)
    got = law.to_torch(dtype=torch.float64).score(torch.as_tensor(x), 0.9, 0.5)
    assert not got.requires_grad
    _assert_is_the_formula(got.numpy(), law, x, 0.9, 0.5)


def test_torch_formula_check_sees_chunks_returned_out_of_order(rng, monkeypatch):
    """Planted bug in the torch path: chunk results reversed; the formula check fails.

    Power: deterministic given the points: the chunks hold different points, whose scores
    differ by O(1) against the 1e-9 tolerance; a random draw could hide it only if two
    chunks held equal scores (probability 0)."""
    torch = pytest.importorskip("torch")
    from toytheory.diffusion import torch_laws

    real = threads.parallel_map
    monkeypatch.setattr(torch_laws, "parallel_map",
                        lambda fn, items, workers, torch_too=False:
                        real(fn, items, workers, torch_too)[::-1])
    threads.set_thread_policy(2)
    law = _law(rng, 8, 2)
    x = law.sample(40_000, 0.9, 0.5, rng=rng)
    got = law.to_torch(dtype=torch.float64).score(torch.as_tensor(x), 0.9, 0.5).numpy()
    with pytest.raises(AssertionError):
        _assert_is_the_formula(got, law, x, 0.9, 0.5)


def _log_prob_from_the_formula(law, x, alpha, sigma):
    from scipy.special import logsumexp
    from scipy.stats import multivariate_normal

    d = law.dim
    return logsumexp(np.stack([np.log(pi) + multivariate_normal(
        alpha * mu, alpha**2 * cov + sigma**2 * np.eye(d)).logpdf(x)
        for pi, mu, cov in zip(law.weights, law.means, law.covs)], axis=1), axis=1)


@pytest.mark.parametrize("d", [1, 2, 3, 4])
@pytest.mark.parametrize("shift", [0.0, 40.0])
def test_small_d_quadratic_logits_are_the_formula(rng, d, shift):
    """d <= 4, one noise level: the logits as one product of quadratic features (centred
    at the average component centre). Score, log-density and posterior weights against
    the formula (scipy's multivariate_normal for the density), also with the whole
    mixture 40 away from the origin."""
    law0 = _law(rng, 5, d)
    law = GaussianMixture(law0.weights, law0.means + shift, law0.covs)
    x = law.sample(5000, 0.8, 0.4, rng=rng)
    _assert_is_the_formula(law.score(x, 0.8, 0.4), law, x, 0.8, 0.4)
    np.testing.assert_allclose(law.log_prob(x, 0.8, 0.4),
                               _log_prob_from_the_formula(law, x, 0.8, 0.4), rtol=1e-10)
    np.testing.assert_allclose(law.posterior(x, 0.8, 0.4).sum(axis=1), 1.0, rtol=1e-12)


def test_the_formula_check_sees_a_quadratic_plan_without_the_doubled_cross_term(
        rng, monkeypatch):
    """Planted bug: the z_0 z_1 feature's coefficient not doubled (P_01 counted once).
    The score then misses the formula's by O(|P_01|) at every point (deterministic)."""
    from toytheory.diffusion import _mixture_core as core

    real = core._quadratic_plan

    def planted(xp, centres, prec, log_norm):
        plan = real(xp, centres, prec, log_norm)
        plan["Qt"][:, 1] *= 0.5                    # pairs (0, 0), (0, 1), (1, 1): the cross
        return plan

    monkeypatch.setattr(core, "_quadratic_plan", planted)
    law = _law(rng, 5, 2)
    x = law.sample(5000, 0.8, 0.4, rng=rng)
    with pytest.raises(AssertionError):
        _assert_is_the_formula(law.score(x, 0.8, 0.4), law, x, 0.8, 0.4)
