"""Minority guidance (toytheory.diffusion.minority): the score and set by hand, the grid law,
bad input, and planted failures of its claims."""

from __future__ import annotations

import numpy as np
import pytest

from toytheory.claims import execute_claim, load_catalog
from toytheory.diffusion import minority as mg
from toytheory.diffusion.svdd import MixtureChain1D

REGISTRY = load_catalog()
TWEEDIE = "diffusion.guided.minority_tweedie_favours_majority"
GUIDE = "diffusion.guided.minority_guidance_raises_minority_mass"
CHAIN = MixtureChain1D([0.9, 0.1], [-1.0, 2.0], [0.5, 0.5], 20)


def test_single_gaussian_score_by_hand():
    """One component N(m, v): x0_hat = m + a v (x - a m)/(a^2 v + s^2), so
    x0 - x0_hat(a x0 + s e) = (x0 - m) s^2/(a^2 v + s^2) - a v s e/(a^2 v + s^2), and
    l(x0) = [(x0 - m)^2 s^4 + a^2 v^2 s^2]/(a^2 v + s^2)^2."""
    one = MixtureChain1D([1.0], [0.5], [0.7], 10)
    a, s, v = one.a[4], one.s[4], 0.49
    x0 = np.array([-1.0, 0.5, 2.0])
    want = ((x0 - 0.5) ** 2 * s ** 4 + a * a * v * v * s * s) / (a * a * v + s * s) ** 2
    assert np.allclose(mg.minority_score(one, x0, 4), want, rtol=1e-12)


def test_minority_set_has_the_stated_mass():
    tau, iv = mg.minority_set(CHAIN, 10, 0.8)
    from scipy.special import ndtr
    total = sum(p * (ndtr((b - m) / 0.5) - ndtr((a - m) / 0.5))
                for p, m in ((0.9, -1.0), (0.1, 2.0)) for a, b in iv)
    assert total == pytest.approx(0.2, abs=2e-3)


def test_grid_law_at_zero_is_the_data_law():
    grid = np.linspace(-6, 7, 781)
    d = mg.guided_law_grid(CHAIN, np.array([[0.0, np.inf]]), 0.0, grid)
    data = np.exp(CHAIN.log_marginal(grid, 0))
    assert np.max(np.abs(d - data)) < 2e-4


@pytest.mark.parametrize("call,name", [
    (lambda: mg.guided_sample(CHAIN, [[0, 1]], -1.0, 10, np.random.default_rng()), "w"),
    (lambda: mg.guided_law_grid(CHAIN, [[0, 1]], -0.5, np.linspace(-1, 1, 5)), "w"),
    (lambda: mg.minority_set(CHAIN, 10, 1.0), "quantile"),
    (lambda: mg.minority_score(CHAIN, [0.0], 0), "level"),
    (lambda: mg.guided_sample(CHAIN, [[0, 1]], 1.0, 0, np.random.default_rng()), "n"),
    (lambda: mg.minority_score("chain", [0.0], 1), "chain"),
])
def test_bad_input(call, name):
    with pytest.raises(ValueError, match=name):
        call()


def test_planted_wrong_score_quadrature_fails(monkeypatch, test_seed):
    """Planted: the minority score computed at half the noise. Its component expectations move
    by far more than 6 Monte Carlo standard errors (40,000 draws; the MC side uses the
    denoiser directly), so ``fails`` under any seed (the witness is an at-most-6-s.e. check:
    a 6-s.e. excursion of the MC mean has probability < 1e-8).

    Power: the planted majority loss moves by 0.085 against the tolerance 0.016 (6 s.e., so
    1 s.e. = 0.0027): a miss needs the MC mean to cover the remaining 0.069 = 26 s.e.,
    probability < 1e-100 by the normal tail (the minority witness, 0.17 against 0.088, is a
    second chance)."""
    def half(chain, x0, level, n_nodes=64):
        z, wz = np.polynomial.hermite_e.hermegauss(n_nodes)
        wz = wz / wz.sum()
        x0 = np.asarray(x0, float)
        xt = chain.a[level] * x0[..., None] + 0.5 * chain.s[level] * z
        return ((x0[..., None] - chain.denoise(xt, level)) ** 2 * wz).sum(-1)

    monkeypatch.setattr(mg, "minority_score", half)
    assert execute_claim(REGISTRY[TWEEDIE], "quick", test_seed)["verdict"] == "fails"


def test_planted_swapped_weights_is_refuted(monkeypatch, test_seed):
    """Planted false statement: the 'minority' component given weight 0.9. Its loss is then the
    smaller (deterministic quadrature): ``refuted``."""
    import toytheory.claims.catalog.diffusion_guided_minority as mod

    monkeypatch.setattr(mod, "DATA", dict(mod.DATA, weights=[0.1, 0.9]))
    assert execute_claim(REGISTRY[TWEEDIE], "quick", test_seed)["verdict"] == "refuted"


def test_planted_grid_law_without_guidance_fails(monkeypatch, test_seed):
    """Planted: the grid propagation drops the guidance shift. At w = 1 it then gives minority
    mass 0.10 while the simulation (3000 draws) gives about 0.47: the exact binomial test
    rejects at 1e-6 with probability 1 - 1e-100: ``fails``."""
    orig = mg.guided_law_grid
    monkeypatch.setattr(mg, "guided_law_grid",
                        lambda chain, iv, w, grid: orig(chain, iv, 0.0, grid))
    assert execute_claim(REGISTRY[GUIDE], "quick", test_seed)["verdict"] == "fails"


def test_planted_guidance_away_is_refuted(monkeypatch, test_seed):
    """Planted false statement: guidance away from the minority set (gradient sign flipped in
    both the simulation and the grid law). The minority mass then falls with w
    (deterministic grid law): ``refuted``."""
    orig = mg._log_h_grad
    monkeypatch.setattr(mg, "_log_h_grad", lambda *a, **k: -orig(*a, **k))
    assert execute_claim(REGISTRY[GUIDE], "quick", test_seed)["verdict"] == "refuted"
