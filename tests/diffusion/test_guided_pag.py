"""PAG on 1-D mixtures (toytheory.diffusion.pag): perturbed laws, the quantile push-forward,
bad input, and planted failures of the PAG claims."""

from __future__ import annotations

import numpy as np
import pytest

from toytheory.claims import execute_claim, load_catalog
from toytheory.diffusion import pag
from toytheory.diffusion.laws import GaussianMixture

REGISTRY = load_catalog()
QUALITY = "diffusion.guided.pag_improves_unconditional_quality"
TRADE = "diffusion.guided.pag_precision_diversity_tradeoff"
GMM = GaussianMixture([0.5, 0.5], [[-1.0], [1.0]], [[[0.1]], [[0.2]]])


def test_perturbed_laws_by_hand():
    m = pag.perturbed_law(GMM, "merged")
    assert m.mean()[0] == pytest.approx(0.0)
    assert m.covariance()[0, 0] == pytest.approx(0.15 + 1.0)
    b = pag.perturbed_law(GMM, "broadened", 2.0)
    assert np.allclose(b.covs[:, 0, 0], [0.4, 0.8])


def test_gaussian_guided_ode_by_hand():
    """Gaussian data N(0, v), perturbed N(0, V): the guided VE ODE is linear,
    dy/dlam = -c(lam) y with c = 1 - (1+s) v/(v+e^{-2lam}) + s V/(V+e^{-2lam}); the output is
    N(0, var_out) with sd_out = sd_start * exp(-int c dlam). Quantiles scale accordingly."""
    from scipy.integrate import quad

    v, V, s = 0.5, 2.0, 0.7
    base = GaussianMixture([1.0], [[0.0]], [[[v]]])
    pert = GaussianMixture([1.0], [[0.0]], [[[V]]])
    u, x = pag.pag_quantiles(base, pert, s, 50, rtol=1e-10, atol=1e-10)
    lam0, lam1 = -np.log(pag.SIGMA_MAX), -np.log(pag.SIGMA_MIN)
    def c(lam):
        return 1 - (1 + s) * v / (v + np.exp(-2 * lam)) + s * V / (V + np.exp(-2 * lam))

    gain = np.exp(-quad(c, lam0, lam1, limit=200)[0])
    from scipy.stats import norm
    sd_start = np.sqrt(v + pag.SIGMA_MAX ** 2)
    assert np.allclose(x, norm.ppf(u) * sd_start * gain, atol=2e-4)


@pytest.mark.parametrize("call,name", [
    (lambda: pag.pag_quantiles(GMM, GMM, -0.5), "scale"),
    (lambda: pag.pag_heun_sample(GMM, GMM, -1.0, 10, np.random.default_rng()), "scale"),
    (lambda: pag.perturbed_law(GMM, "attention"), "kind"),
    (lambda: pag.perturbed_law(GMM, "broadened", 0.5), "factor"),
    (lambda: pag.pag_quantiles(GMM, GMM, 1.0, 1), "n_quantiles"),
])
def test_bad_input(call, name):
    with pytest.raises(ValueError, match=name):
        call()


def test_planted_wrong_heun_guidance_fails(monkeypatch, test_seed):
    """Planted: the Heun sampler guides toward the perturbed model (scale negated). At s = 1
    it then samples the merged Gaussian's flow (unimodal) instead of a three-mode law: KS
    distance above 0.15 against a 1e-6 critical value ~0.055 at 2000 draws; by DKW a miss has
    probability < 2 exp(-2 * 2000 * 0.095^2) < 1e-15: ``fails``."""
    orig = pag.pag_heun_sample

    def toward(base, pert, scale, n, rng, **kw):
        return orig(pert, base, scale - 1.0 if scale >= 1 else scale, n, rng, **kw)

    monkeypatch.setattr(pag, "pag_heun_sample", toward)
    assert execute_claim(REGISTRY[TRADE], "quick", test_seed)["verdict"] == "fails"


def test_planted_merged_perturbation_is_refuted(monkeypatch, test_seed):
    """Planted false statement: the merged (moment-matched) perturbation in place of the
    blurred one; no scale then lowers W1 (deterministic quadrature): ``refuted``."""
    import toytheory.claims.catalog.diffusion_guided_pag as mod

    orig = mod._laws

    def merged():
        laws = orig()
        laws["blurred"] = laws["merged_base"]
        return laws

    monkeypatch.setattr(mod, "_laws", merged)
    claim = REGISTRY[QUALITY].with_params("quick", n_quantiles=400, n_sim=500)
    assert execute_claim(claim, "quick", test_seed)["verdict"] == "refuted"


def test_planted_reversed_scales_is_refuted(test_seed):
    """Planted false statement: the scales in decreasing order, so every trend reverses
    (deterministic): ``refuted``."""
    claim = REGISTRY[TRADE].with_params("quick", scales=(2.0, 1.0, 0.0), n_quantiles=400,
                                        n_sim=500)
    assert execute_claim(claim, "quick", test_seed)["verdict"] == "refuted"
