"""Planted failures for the diffusion.exact claims added or rewritten for issues 13 and 14.

A planted toolkit bug (a wrong oracle) must show as ``fails``; a planted false statement
(a toy on which the statement is false) as ``refuted``. Every test runs the claim's own quick
tier under the suite's seed (``test_seed``); the docstrings give the power.
"""

from __future__ import annotations


import numpy as np

from toytheory.claims import execute_claim, load_catalog
from toytheory.claims.catalog import diffusion_exact_teleportation as tele_claims
from toytheory.diffusion import explained_variance as evar
from toytheory.diffusion import teleportation as tp
from toytheory.diffusion.laws import GaussianMixture
from toytheory.diffusion.toys import structured_gmm

REGISTRY = load_catalog()
FID_CLAIM = "diffusion.exact.teleportation_skip_fraction_64d"
KL_CLAIM = "diffusion.exact.teleportation_kl_detectability_64d"
EV_CLAIM = "diffusion.exact.gaussian_score_dominates_at_high_noise"


def _run(claim_id, seed, **overrides):
    claim = REGISTRY[claim_id]
    if overrides:
        claim = claim.with_params("quick", **overrides)
    result = execute_claim(claim, "quick", seed)
    assert result["traceback"] is None, result["traceback"]
    failed = {n["name"] for n in result["numbers"] if n["passed"] is False}
    return result["verdict"], failed


def test_fid_claim_is_refuted_on_a_toy_with_more_mixture_structure(monkeypatch, test_seed):
    """Planted false statement: 95% (not 60%) of the leading directions' variance comes from
    the spread of the component means, and the top standard deviation is 25 (not 15), so the
    Gaussian jump to sigma 12.9 (27.8%) loses far more structure. Measured under run seeds
    1-2 (median interval): the FID cost's ratio to the detectable cost has a lower end of
    4.8-5.5 at 27.8% (the statement needs the upper end below 1). The lower end is the 5e-7 end of a distribution-
    free order-statistic interval for the median of the 50 batch estimates divided by the
    5e-7 upper end of tau, so it falls below 1 with probability <= 1e-6 whenever the true
    ratio exceeds 1: caught with probability >= 1 - 1e-6."""
    monkeypatch.setattr(tele_claims, "structured_gmm",
                        lambda: structured_gmm(between_fraction=0.95, top_std=25.0))
    verdict, failed = _run(FID_CLAIM, test_seed)
    assert verdict == "refuted"
    assert any("after skipping 5/18" in name for name in failed)


def test_fid_claim_fails_when_the_jump_is_20_percent_too_wide(monkeypatch, test_seed):
    """Planted wrong oracle: the Gaussian jump scales the deviation from the data mean by
    1.2. The statement numbers alone would read this as a costlier skip (refuted); the
    witness that holds the jumped points to the exact teleported law (KS along 9 projections
    of 20,000 points, Bonferroni at 1e-6) must catch it first. A 1.2 scale about the mean
    moves a projected law by a KS distance of about 0.044 (exactly so for a Gaussian:
    Phi(1.092) - Phi(1.092 / 1.2)); the Bonferroni critical distance is
    sqrt(ln(2 * 9 / 1e-6) / 40,000) = 0.020, so by DKW the test misses with probability
    <= 2 exp(-2 * 20,000 * 0.024^2) < 1e-9: caught with probability >= 1 - 1e-6."""
    real = tp.gaussian_teleport

    def too_wide(x, law, schedule=None, t_from=80.0, t_to=10.0):
        centre = law.mean()
        return centre + 1.2 * (real(x, law, schedule, t_from, t_to) - centre)

    monkeypatch.setattr(tp, "gaussian_teleport", too_wide)
    verdict, failed = _run(FID_CLAIM, test_seed)
    assert verdict == "fails"
    assert any("jumped samples vs the exact teleported law" in name for name in failed)


def test_fid_claim_fails_when_the_frechet_distance_drops_the_trace_terms(monkeypatch,
                                                                       test_seed):
    """Planted wrong oracle: d_F^2 keeps only the mean term. The witness that computes d_F^2
    a second way (the transport cost of the optimal map between the fitted Gaussians) sees a
    relative difference of order one (the covariance term dominates at 27.8%), far above its
    1e-8 tolerance, whatever the seed: caught with probability 1."""
    def mean_only(m1, s1, m2, s2):
        return float(np.sum((np.asarray(m1) - np.asarray(m2)) ** 2))

    monkeypatch.setattr(tele_claims, "frechet_squared", mean_only)
    verdict, failed = _run(FID_CLAIM, test_seed)
    assert verdict == "fails"
    assert any("by the optimal map" in name for name in failed)


def test_kl_claim_fails_when_the_jump_is_20_percent_too_wide(monkeypatch, test_seed):
    """Planted wrong oracle: the jump's deviation from the data mean is 20% too large. The
    exact KL numbers never call the jump; the witness holding the jumped points to the exact
    teleported law does (KS along 9 projections of 20,000 points, Bonferroni at 1e-6): as in
    the FID claim's test, a KS distance of about 0.044 against a critical 0.020 is missed
    with probability < 1e-9 (DKW): caught with probability >= 1 - 1e-6."""
    real = tp.gaussian_teleport

    def too_wide(x, law, schedule=None, t_from=80.0, t_to=10.0):
        centre = law.mean()
        return centre + 1.2 * (real(x, law, schedule, t_from, t_to) - centre)

    monkeypatch.setattr(tp, "gaussian_teleport", too_wide)
    verdict, failed = _run(KL_CLAIM, test_seed)
    assert verdict == "fails"
    assert any("jumped samples vs the exact teleported law" in name for name in failed)


def test_kl_claim_is_refuted_when_the_detectable_level_is_placed_too_late(monkeypatch,
                                                                          test_seed):
    """Planted false statement: a toy whose mixture part carries 20% (not 60%) of the
    leading variance, so the jump stays undetectable at 22.2% and the derived 'detectable
    from 22.2% on' is false there. The KL at 22.2% then sits below the threshold by more than
    z(1e-6) standard errors (measured), so the '>=' statement's interval lies wholly below
    it: refuted with probability >= 1 - 1e-6 (the interval's level)."""
    monkeypatch.setattr(tele_claims, "structured_gmm",
                        lambda: structured_gmm(between_fraction=0.2))
    verdict, failed = _run(KL_CLAIM, test_seed)
    assert verdict in ("refuted", "fails")
    assert verdict == "refuted", failed
    assert any("skipping 4/18" in name for name in failed)


def test_explained_variance_claim_is_refuted_with_a_bound_twice_too_strong(monkeypatch,
                                                                        test_seed):
    """Planted false statement: twice the Fisher bound (capped at 1), i.e. 'the Gaussian
    score explains everything at sigma >= top std'. The 2-D grid's fraction there is a
    quadrature number below 1 by far more than its error estimate (deterministic, any
    seed): refuted with probability 1."""
    real = evar.fraction_lower_bound
    monkeypatch.setattr(evar, "fraction_lower_bound",
                        lambda law, alpha, sigma: min(1.0, 2 * real(law, alpha, sigma)))
    verdict, failed = _run(EV_CLAIM, test_seed)
    assert verdict == "refuted"
    assert any("Fisher bound" in name for name in failed)


def test_flow_claim_is_refuted_when_the_closed_form_misses_its_square_root(monkeypatch,
                                                                         test_seed):
    """Planted false statement: the symbolic closed form scales by (lambda + rho_t^2) /
    (lambda + rho_s^2) instead of its square root. The sympy residual of the PF-ODE is then
    not 0 (a deterministic simplification, no randomness), while the RK4 witnesses, which
    compare toytheory's numpy closed form with the fine solves, still pass: refuted with
    probability 1 under any seed."""
    import sympy as sp

    import proofs.diffusion_gaussian_flow as flow_proof

    def no_square_root(lam, mu, x_s):
        t, s = flow_proof.t, flow_proof.s
        rho_t2 = (flow_proof.sigma(t) / flow_proof.alpha(t)) ** 2
        rho_s2 = (flow_proof.sigma(s) / flow_proof.alpha(s)) ** 2
        return flow_proof.alpha(t) * mu + flow_proof.alpha(t) * sp.Mul(
            (lam + rho_t2), 1 / (lam + rho_s2)) * (x_s / flow_proof.alpha(s) - mu)

    monkeypatch.setattr(flow_proof, "closed_form_coordinate", no_square_root)
    verdict, failed = _run("diffusion.exact.gaussian_flow_solves_pf_ode", test_seed,
                           points=2)
    assert verdict == "refuted"
    assert any(name.startswith("sympy") for name in failed)


def test_explained_variance_claim_fails_with_a_sampler_too_wide(monkeypatch, test_seed):
    """Planted toolkit bug: the exact mixture sampler spreads its draws 1.2x about the mean.
    On the 1-D two-mode law at sigma = 0.03 x top std the modes move from +-2 to +-2.4 (std
    0.5 -> 0.6): the CDFs differ by 0.12 at x = -2 alone, against a KS critical value of
    about 0.048 at 4000 draws and level 1e-6 / 42: ``fails`` with
    probability >= 1 - 1e-6 under any seed (the KS law is exact for continuous laws)."""
    real = GaussianMixture.sample

    def too_wide(self, n, alpha=1.0, sigma=0.0, rng=None):
        x = real(self, n, alpha, sigma, rng=rng)
        centre = alpha * self.mean()
        return centre + 1.2 * (x - centre)

    monkeypatch.setattr(GaussianMixture, "sample", too_wide)
    verdict, failed = _run(EV_CLAIM, test_seed)
    assert verdict == "fails"
    assert any(name.startswith("exact sampler vs the exact marginal CDF") for name in failed)


def test_explained_variance_claim_fails_with_a_score_one_percent_off(monkeypatch, test_seed):
    """Planted toolkit bug: the mixture score scaled by 1.01. Central differences of the
    exact log-density then differ from it by 1% of |s| at every point with s != 0, far above
    the 1e-5 tolerance (deterministic given the points): ``fails`` with probability 1."""
    real = GaussianMixture.score
    monkeypatch.setattr(GaussianMixture, "score",
                        lambda self, x, alpha=1.0, sigma=0.0: 1.01 * real(self, x, alpha, sigma))
    verdict, failed = _run(EV_CLAIM, test_seed)
    assert verdict == "fails"
    assert any(name.startswith("exact score vs central differences") for name in failed)
