"""The trained MLP's score error against n (diffusion.imperfect.mlp_score_error_vs_n): the
quadrature, the plug-in's closed form, bad input, and planted failures of the claim."""

from __future__ import annotations

import numpy as np
import pytest

from toytheory.diffusion import score_rates_mlp as M
from toytheory.diffusion.schedules import DiscreteVP

SCHED = DiscreteVP.ddpm_linear(1000)
CLAIM = "diffusion.imperfect.mlp_score_error_vs_n"


def test_quadrature_is_exact_for_the_plugin_and_zero_for_the_truth(rng):
    """Gauss-Hermite quadrature of the plug-in's squared eps error is a quadratic integrand:
    it equals the closed form to rounding; the exact eps itself has error 0; a 10% scaled
    eps has relative error exactly 0.01."""
    from toytheory.diffusion.score_rates import plugin_estimate

    mu, v = np.array(M.RATES_MEAN), np.array(M.RATES_VAR)
    mh, ch = plugin_estimate(mu + np.sqrt(v) * rng.standard_normal((12, 2)))
    ts = [0, 7, 123, 640, 999]
    quad = M.eps_error_by_level(M.plugin_eps_fn(mh, ch, SCHED), mu, v, SCHED, ts, n_nodes=6)
    assert np.allclose(quad["error"], M.plugin_eps_error(mu, v, mh, ch, SCHED, ts),
                       rtol=1e-10, atol=0)

    def exact(x, t):
        acp = SCHED.alphas_cumprod[t]
        return M.gaussian_eps(x, mu, v, np.sqrt(acp), np.sqrt(1 - acp))

    assert np.all(M.eps_error_by_level(exact, mu, v, SCHED, ts)["error"] == 0)
    scaled = M.eps_error_by_level(lambda x, t: 1.1 * exact(x, t), mu, v, SCHED, ts)
    assert np.allclose(scaled["relative"], 0.01, rtol=1e-10)


def test_empirical_error_is_the_plugin_error_at_the_largest_noise(rng):
    """At t = 999 both the empirical law's and the plug-in's eps depend on the data only
    through the sample mean (to 1e-4 relative): their errors agree there."""
    pts = np.array(M.RATES_MEAN) + rng.standard_normal((40, 2))
    from toytheory.diffusion.score_rates import plugin_estimate

    mh, ch = plugin_estimate(pts)
    emp = M.empirical_eps_error(pts, M.RATES_MEAN, M.RATES_VAR, SCHED, [999], 4000, rng)
    plug = M.plugin_eps_error(M.RATES_MEAN, M.RATES_VAR, mh, ch, SCHED, [999])
    assert abs(emp[0] / plug[0] - 1) < 0.05


def test_bad_input_names_the_argument():
    with pytest.raises(ValueError, match="var"):
        M.rates_law((0.0, 1.0), (1.0, -1.0))
    with pytest.raises(ValueError, match="n_nodes"):
        M.eps_error_by_level(lambda x, t: x, np.zeros(4), np.ones(4), SCHED, [0], n_nodes=40)
    with pytest.raises(ValueError, match="seeds"):
        M.compare_by_n([16, 64], [range(2)])
    with pytest.raises(ValueError, match="ns"):
        M.compare_by_n([2], [range(1)])


torch = pytest.importorskip("torch")


def _run(seed, **overrides):
    from toytheory.claims import execute_claim, load_catalog

    claim = load_catalog()[CLAIM]
    if overrides:
        claim = claim.with_params("quick", **overrides)
    return execute_claim(claim, "quick", seed)


def test_a_wrong_exact_score_fails(monkeypatch, test_seed):
    """Planted toolkit bug: the exact eps of the toy uses variances 10% too large. It differs
    from the mixture oracle's eps by about 1e-2 at the probed points (tolerance 1e-12), so
    the first witness fails: ``fails`` with probability 1 (no sampling decides it)."""
    right = M.gaussian_eps
    monkeypatch.setattr(M, "gaussian_eps",
                        lambda x, mean, var, a, s: right(x, mean, 1.1 * np.asarray(var), a, s))
    assert _run(test_seed)["verdict"] == "fails"


def test_more_data_worse_is_refuted(test_seed):
    """Planted false statement: the sizes reversed (n = 1024 first, n = 16 last), so the
    claim asserts the error falls from 1024 to 16 points. On the cached training seeds 0..20
    every n = 1024 model beats its n = 16 pair (ratio at least 2.2), so the sign test
    counts 0 of 21 and its Clopper-Pearson interval at 1e-6 lies below 1/2: ``refuted``
    with probability 1 (the seeds are fixed; the verdict does not depend on the run seed)."""
    r = _run(test_seed, ns=(1024, 64, 256, 16))
    assert r["verdict"] == "refuted"


def test_a_large_n_network_trained_on_wrong_noise_scale_is_refuted(monkeypatch, test_seed):
    """Planted false statement: every n = 1024 network predicts 1.5 times its noise (as if
    trained on targets 1.5 eps). Its time-averaged error is then at least 0.25 E||eps*||^2/d
    minus cross terms, about 0.2, against at most about 0.06 for the n = 16 networks, so the
    sign test counts 0 of 21 and the claim is ``refuted`` with probability 1 (the seeds are
    fixed, the quadrature deterministic)."""
    right = M.trained_rates_model

    def wrong(n_train, seed=0, train=None, cache_dir=None):
        model = right(n_train, seed, train, cache_dir)
        if n_train == 1024:
            eps = model.eps
            model.eps = lambda x, t: 1.5 * eps(x, t)
        return model

    monkeypatch.setattr(M, "trained_rates_model", wrong)
    assert _run(test_seed)["verdict"] == "refuted"
