"""Score distillation (toytheory.diffusion.score_distillation): updates by hand, exact moments,
bad input, and planted failures of the SDS / CDS / multi-view claims."""

from __future__ import annotations

import numpy as np
import pytest

from toytheory.claims import execute_claim, load_catalog
from toytheory.diffusion import score_distillation as sd
from toytheory.diffusion.laws import GaussianMixture

REGISTRY = load_catalog()
C3D = "diffusion.guided.consistent3d_steadier_guidance"
FIXED = "diffusion.guided.sds_mode_seeking_fixed_point"
JANUS = "diffusion.guided.boostdream_multiview_removes_janus"
G = GaussianMixture([1.0], [[0.5]], [[[0.25]]])


def test_gaussian_prior_updates_by_hand():
    """Prior N(m, v): eps_hat(z, s) = s (z - m)/(v + s^2). SDS's mean update over its noise is
    -w s^2 (x - m)/(v + s^2) (zero at the mode); for CDS, eps_hat at z' is linear too."""
    m, v = 0.5, 0.25
    x, t, tn = 1.3, 400, 250
    s, sn, w = sd.SIGMAS[t], sd.SIGMAS[tn], sd.WEIGHTS[t]
    e = np.array([[0.7]])
    eh = lambda z, ss: ss * (z - m) / (v + ss * ss)  # noqa: E731
    sds = sd._update(G, "sds", np.array([[x]]), np.array([t]), np.array([tn]), e)[0, 0]
    assert sds == pytest.approx(-w * (eh(x + s * 0.7, s) - 0.7), rel=1e-10)
    z = x + s * 0.7
    zn = z + (sn - s) * eh(z, s)
    cds = sd._update(G, "cds", np.array([[x]]), np.array([t]), np.array([tn]), e)[0, 0]
    assert cds == pytest.approx(w * (eh(zn, sn) - eh(z, s)), rel=1e-10)


def test_sds_fixed_point_of_a_gaussian_is_its_mean():
    assert sd.sds_fixed_point(G) == pytest.approx([0.5], abs=1e-8)


def test_janus_fraction():
    assert sd.janus_fraction([[1, 1], [1, -1], [-2, -1], [0.5, -0.1]]) == 0.5


@pytest.mark.parametrize("call,name", [
    (lambda: sd.fit(G, "vsd", np.zeros((2, 1)), 10, 0.1, np.random.default_rng()), "method"),
    (lambda: sd.fit(G, "sds", np.zeros((2, 1)), 10, 0.0, np.random.default_rng()), "lr"),
    (lambda: sd.fit(G, "sds", np.zeros((2, 2)), 10, 0.1, np.random.default_rng()), "x0"),
    (lambda: sd.time_window(0), "t_next"),
    (lambda: sd.gradient_moments(G, "sds", np.nan, 20), "x"),
    (lambda: sd.janus_fraction(np.zeros((3, 3))), "views"),
])
def test_bad_input(call, name):
    with pytest.raises(ValueError, match=name):
        call()


def test_planted_wrong_cds_variance_fails(monkeypatch, test_seed):
    """Planted: CDS's within-run variance returned without subtracting the squared mean.
    The Monte Carlo witness (E[u^2] = mean^2 + Var, 20,000 draws) then misses by the
    squared-mean term (~0.06) against 6 standard errors (~0.002): ``fails`` (a 6-s.e.
    excursion has probability < 1e-8)."""
    orig = sd.gradient_moments

    def wrong(law, method, x, t_next, n_nodes=48):
        m2, v = orig(law, method, x, t_next, n_nodes)
        return (m2, v + m2) if method == "cds" else (m2, v)

    monkeypatch.setattr(sd, "gradient_moments", wrong)
    assert execute_claim(REGISTRY[C3D], "quick", test_seed)["verdict"] == "fails"


def test_planted_noisy_cds_is_refuted(monkeypatch, test_seed):
    """Planted false statement: a CDS update with a large time-dependent jitter
    (0.5 cos(t)), the same in the quadrature and in the Monte Carlo witness. Its within-run
    variance then dwarfs its mean somewhere, so the smallest SNR ratio falls below 1
    (deterministic): ``refuted``."""
    orig = sd._update

    def jitter(law, method, x, t, t_next, noise):
        u = orig(law, method, x, t, t_next, noise)
        return u + 0.5 * np.cos(np.asarray(t, float))[:, None] if method == "cds" else u

    monkeypatch.setattr(sd, "_update", jitter)
    assert execute_claim(REGISTRY[C3D], "quick", test_seed)["verdict"] == "refuted"


def test_planted_symmetric_prior_is_refuted(monkeypatch, test_seed):
    """Planted false statement: an unbiased prior (weights 0.5/0.5). SDS then has two stable
    zeros, symmetric (deterministic): ``refuted``."""
    import toytheory.claims.catalog.diffusion_guided_score_distillation as mod

    monkeypatch.setattr(mod, "W_FRONT", 0.5)
    claim = REGISTRY[FIXED].with_params("quick", n_runs=100, n_iters=200, n_mc=5000)
    assert execute_claim(claim, "quick", test_seed)["verdict"] == "refuted"


def test_planted_no_joint_prior_is_refuted(monkeypatch, test_seed):
    """Planted false statement: 'multi-view' SDS run with the independent per-view prior. The
    two Janus shares then have the same law (both ~1 on this prior), so their difference
    interval (300 runs each, Clopper-Pearson) lies below 0.5 with probability >= 1 - 1e-6:
    ``refuted``."""
    import toytheory.claims.catalog.diffusion_guided_score_distillation as mod

    orig = mod._priors

    def same():
        view, ind, _ = orig()
        return view, ind, ind

    monkeypatch.setattr(mod, "_priors", same)
    assert execute_claim(REGISTRY[JANUS], "quick", test_seed)["verdict"] == "refuted"


def test_planted_wrong_independent_prior_fails(monkeypatch, test_seed):
    """Planted: the per-view prior built with its weights swapped across views (not a product
    of the per-view law). The exact witness (max |eps| difference vs the per-view denoisers,
    at 1e-10) fails deterministically: ``fails``."""
    import toytheory.claims.catalog.diffusion_guided_score_distillation as mod

    orig = mod._priors

    def wrong():
        view, ind, joint = orig()
        bad = GaussianMixture(ind.weights[::-1], ind.means, ind.covs)
        return view, bad, joint

    monkeypatch.setattr(mod, "_priors", wrong)
    claim = REGISTRY[JANUS].with_params("quick", n_runs=50, n_iters=100)
    assert execute_claim(claim, "quick", test_seed)["verdict"] == "fails"
