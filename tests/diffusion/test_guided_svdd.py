"""SVDD on 1-D mixture data (toytheory.diffusion.svdd): exact pieces by hand, bad input, and
planted failures of the SVDD claims."""

from __future__ import annotations

import numpy as np
import pytest

from toytheory.claims import execute_claim, load_catalog
from toytheory.diffusion import svdd

REGISTRY = load_catalog()
NONDIFF = "diffusion.guided.svdd_non_differentiable_reward"
BIAS = "diffusion.guided.svdd_bias_at_finite_candidates"
CHAIN = svdd.MixtureChain1D([0.8, 0.2], [-1.0, 1.5], [0.4, 0.4], 10)


def test_kernel_preserves_the_marginals(rng):
    """E over x_i ~ p_i of the kernel's mean and second moment = those of p_{i-1} (exact
    quadrature over x_i by a fine grid)."""
    for i in (1, 5, 10):
        x = np.linspace(-8, 8, 40001)
        px = np.exp(CHAIN.log_marginal(x, i)) * (x[1] - x[0])
        w, m, var = CHAIN.kernel(x, i)
        m1 = px @ (w * m).sum(-1)
        m2 = px @ (w * (m * m + var)).sum(-1)
        a, s = CHAIN.a[i - 1], CHAIN.s[i - 1]
        mean = 0.8 * -1.0 * a + 0.2 * 1.5 * a
        second = sum(p * ((a * mu) ** 2 + a * a * 0.16 + s * s)
                     for p, mu in ((0.8, -1.0), (0.2, 1.5)))
        assert m1 == pytest.approx(mean, abs=1e-8)
        assert m2 == pytest.approx(second, abs=1e-8)


def test_soft_value_limits():
    """Level 0: v = r. Linear reward, one Gaussian component: v = a m + a^2 V/(2 alpha)."""
    ind = svdd.IndicatorReward(0.5)
    x = np.array([-1.0, 0.49, 0.5, 2.0])
    assert np.array_equal(ind.soft_value(CHAIN, x, 0, 0.3), [0.0, 0.0, 1.0, 1.0])
    one = svdd.MixtureChain1D([1.0], [0.3], [0.5], 4)
    lin = svdd.LinearReward(2.0)
    a, s = one.a[2], one.s[2]
    V = 1 / (1 / 0.25 + a * a / s ** 2)
    m = V * (0.3 / 0.25 + a * 0.7 / s ** 2)
    assert lin.soft_value(one, np.array([0.7]), 2, 0.5)[0] == pytest.approx(
        2 * m + 4 * V / (2 * 0.5), rel=1e-12)


def test_dps_on_the_indicator_is_the_pretrained_sampler(test_seed):
    """The indicator's gradient is zero, so DPS and M = 1 SVDD consume the same draws."""
    ind = svdd.IndicatorReward(0.5)
    a = svdd.dps_sample(CHAIN, ind, 0.5, 500, np.random.default_rng(test_seed))
    rng = np.random.default_rng(test_seed)
    x = CHAIN.sample_level(500, CHAIN.n_steps, rng)
    for i in range(CHAIN.n_steps, 0, -1):
        x = CHAIN.kernel_sample(x, i, rng, 1)[:, 0]
    assert np.array_equal(a, x)


@pytest.mark.parametrize("call,name", [
    (lambda: svdd.svdd_sample(CHAIN, svdd.LinearReward(1.0), 1.0, 0, 10, np.random.default_rng()),
     "n_candidates"),
    (lambda: svdd.svdd_sample(CHAIN, svdd.LinearReward(1.0), 0.0, 2, 10, np.random.default_rng()),
     "alpha"),
    (lambda: svdd.LinearReward(np.inf), "a"),
    (lambda: svdd.IndicatorReward(np.nan), "c"),
    (lambda: svdd.svdd_sample(CHAIN, lambda x: x, 1.0, 2, 10, np.random.default_rng()), "reward"),
    (lambda: svdd.dps_sample(CHAIN, svdd.LinearReward(1.0), 1.0, 10, np.random.default_rng(),
                             scale=-1.0), "scale"),
    (lambda: svdd.MixtureChain1D([0.5, 0.5], [0, 1], [0.0, 1.0], 5), "stds"),
    (lambda: svdd.MixtureChain1D([1.0], [0.0], [1.0], 0), "n_steps"),
])
def test_bad_input(call, name):
    with pytest.raises(ValueError, match=name):
        call()


def test_planted_wrong_soft_value_fails(monkeypatch, test_seed):
    """Planted: the indicator's soft value with 1/alpha in place of e^{1/alpha} - 1. The
    quadrature witness is deterministic (differences ~0.1 >> 1e-6): ``fails`` under any seed."""
    def wrong(self, chain, x, i, alpha):
        if i == 0:
            return self(x)
        w, m, V = chain.x0_posterior(x, i)
        from scipy.special import ndtr
        p = (w * ndtr((m - self.c) / np.sqrt(V))).sum(-1)
        return alpha * np.log1p(p / alpha)

    monkeypatch.setattr(svdd.IndicatorReward, "soft_value", wrong)
    claim = REGISTRY[NONDIFF].with_params("quick", n=500, n_check=200)
    assert execute_claim(claim, "quick", test_seed)["verdict"] == "fails"


def test_planted_wrong_kernel_fails(monkeypatch, test_seed):
    """Planted: kernel variances doubled. The M = 1 chain's output then has variance far
    above the data's (per-mode sd 0.4 -> ~0.57); KS on 4000 draws at 1e-6 rejects a shift of
    that size (KS distance ~0.1 vs the 1e-6 critical value ~0.04): ``fails`` with
    probability > 1 - 1e-6."""
    orig = svdd.MixtureChain1D.kernel

    def wide(self, x, i):
        w, m, var = orig(self, x, i)
        return w, m, 2 * var

    monkeypatch.setattr(svdd.MixtureChain1D, "kernel", wide)
    claim = REGISTRY[NONDIFF].with_params("quick", n=500)
    assert execute_claim(claim, "quick", test_seed)["verdict"] == "fails"


def test_planted_one_candidate_is_refuted(test_seed):
    """Planted false statement: M = 1 (SVDD = the pretrained sampler, gain 0). The
    Clopper-Pearson interval of the gain (6000 draws, half-width ~0.03) then lies below 0.2
    with probability >= 1 - 1e-6: ``refuted``."""
    claim = REGISTRY[NONDIFF].with_params("quick", n_candidates=1, n_check=500)
    assert execute_claim(claim, "quick", test_seed)["verdict"] == "refuted"


def test_planted_unbiased_sampler_is_not_held(monkeypatch, test_seed):
    """Planted: a 'SVDD' that draws the exact tilted target (no finite-M bias). The interval
    of target - mass then covers 0 with probability >= 1 - 1e-6, so the bias statement is
    never ``holds``."""
    def exact(chain, reward, alpha, M, n, rng):
        if isinstance(reward, svdd.LinearReward) or M == 2:
            return orig(chain, reward, alpha, M, n, rng)
        grid = np.linspace(-8, 8, 200_001)
        return np.interp(rng.random(n), svdd.tilted_cdf(chain, reward, alpha, grid), grid)

    orig = svdd.svdd_sample
    monkeypatch.setattr(svdd, "svdd_sample", exact)
    claim = REGISTRY[BIAS].with_params("quick", n=1500, n_check=300)
    assert execute_claim(claim, "quick", test_seed)["verdict"] != "holds"
