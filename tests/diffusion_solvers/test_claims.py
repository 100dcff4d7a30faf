"""The diffusion.solvers claims catch planted bugs (a witness that cannot disagree is none)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from toytheory.claims import execute_claim, load_catalog
from tests._seeds import reseed

REGISTRY = load_catalog()


def _run(claim_id, seed, **quick):
    claim = REGISTRY[claim_id]
    if quick:
        claim = replace(claim, tiers={**claim.tiers, "quick": {**claim.tiers["quick"], **quick}})
    return execute_claim(claim, "quick", seed)


def test_exact_error_claim_fails_when_the_pushforward_is_wrong(monkeypatch, test_seed):
    """The Monte Carlo witness rejects a push-forward that inflates the covariance.

    Power: 1.3 x the covariance is a KS distance 0.0317 along every direction; at
    n_mc = 80,000 (the quick tier's 20,000 gave a miss bound of 9e-3) the critical value is
    0.0100 (5 directions, Bonferroni at 1e-6), so a miss needs sup|F_n - F| > 0.0217:
    probability <= 2 exp(-2 n 0.0217^2) = 5e-33 by the DKW bound."""
    from toytheory.diffusion.solvers import analysis

    original = analysis.gaussian_pushforward

    def wrong(affine, mean, cov):
        m, c = original(affine, mean, cov)
        return m, 1.3 * c

    monkeypatch.setattr(analysis, "gaussian_pushforward", wrong)
    result = _run("diffusion.solvers.exact_error.gaussian_laws_vs_nfe", test_seed, n_mc=80_000)
    assert result["verdict"] == "fails"


def test_order_claim_fails_when_the_exact_flow_map_is_wrong(monkeypatch, test_seed):
    """Power: deterministic (no draw enters the order claim): the planted 1.001 moves the
    composed flow map by 9.4e-4 against its 1e-10 tolerance."""
    from toytheory.diffusion import solvers
    from toytheory.diffusion.solvers import analysis

    original = analysis.gaussian_flow_to_grid_end

    def wrong(law, grid):
        m, c = original(law, grid)
        return 1.001 * m, c

    monkeypatch.setattr(analysis, "gaussian_flow_to_grid_end", wrong)
    monkeypatch.setitem(solvers.__dict__, "gaussian_flow_to_grid_end", wrong)
    assert _run("diffusion.solvers.order.dpmpp_2m", test_seed)["verdict"] == "fails"


def test_order_claim_is_refuted_for_a_planted_lower_order_solver(monkeypatch, test_seed):
    """Swap DPM-Solver++(2M) for DDIM: the measured order is 1 and the claim is refuted.

    Power: deterministic (exact errors, no draw): slope 0.99 against the 1.75 it needs."""
    from toytheory.diffusion import solvers

    def first_order(model, x, grid, lower_order_final=True, **kw):
        return solvers.sample_ddim(model, x, grid, **kw)

    monkeypatch.setitem(solvers.__dict__, "sample_dpmpp_2m", first_order)
    result = _run("diffusion.solvers.order.dpmpp_2m", test_seed)
    assert result["verdict"] == "refuted"


def test_time_shift_claim_fails_when_the_expected_variance_is_wrong(monkeypatch, test_seed):
    """The t-test witness compares sampled per-sample variances with v(t); a 12% error in v
    (a planted bug in expected_sample_variance) is caught.

    Power: over 8 draws of the claim's 400 samples the t statistic is -17.9 to -20.2 at 12%
    (it was -8.7 to -10.6 at 6%, a miss of ~1e-5) against the critical 4.97 (level 1e-6):
    a miss needs a 13-s.e. excursion, probability < 1e-30 by the normal tail."""
    from toytheory.diffusion import solvers
    from toytheory.diffusion.solvers import time_shift

    original = time_shift.expected_sample_variance

    def wrong(law, schedule):
        v = original(law, schedule)
        return lambda t: 1.12 * np.asarray(v(t))

    monkeypatch.setitem(solvers.__dict__, "expected_sample_variance", wrong)
    result = _run("diffusion.solvers.seed.time_shift_lowers_exposure_bias", test_seed)
    assert result["verdict"] == "fails"


def test_dc_claim_fails_when_dc_with_unit_ratios_is_not_unipc(monkeypatch, test_seed):
    """Power: deterministic (exact RMS errors): ratios 0.9 give 0.392 against UniPC's 0.327,
    1e9 times the 3.3e-11 tolerance."""
    from toytheory.diffusion import solvers

    original = solvers.sample_dc_solver

    def shifted(model, x, grid, ratios=None, **kw):
        ratios = np.full(grid.n_steps, 0.9) if ratios is None else ratios
        return original(model, x, grid, ratios=ratios, **kw)

    monkeypatch.setitem(solvers.__dict__, "sample_dc_solver", shifted)
    result = _run("diffusion.solvers.seed.dc_solver_beats_unipc_at_nfe5", test_seed)
    assert result["verdict"] == "fails"


def _reference_witness(smallest_error):
    from toytheory.claims.catalog import diffusion_solvers_order as order
    from toytheory.claims.evidence import Evidence

    ev = Evidence("diffusion.solvers.order.test", 0, ("exact",))
    order._gmm_witnesses(ev, smallest_error)
    return {n.name: n for n in ev.numbers}


def test_the_mixture_reference_is_accurate_enough_for_the_full_tier_errors():
    """UniPC-3's smallest full-tier error (N = 768) is 4.0e-9: the reference's own error
    (its distance to a ten times tighter solve) must sit 100 times below it."""
    numbers = _reference_witness(4.0e-9)
    ratio = numbers["smallest solver error / reference uncertainty"]
    assert ratio.passed is True and ratio.value >= 100


def test_the_reference_witness_rejects_a_coarse_reference(monkeypatch):
    """Planted: the "reference" is a DOP853 solve at rtol 1e-7; the witness must fail.

    Power: deterministic (an ODE solve at fixed points: no draw decides the ratio)."""
    from toytheory.claims.catalog import diffusion_solvers_common as common

    original = common.gmm_reference

    def coarse(n_points=6, seed=reseed(1), rtol=common.GMM_REFERENCE_RTOL):
        return original(n_points, seed, rtol * 1e5)

    monkeypatch.setattr(common, "gmm_reference", coarse)
    numbers = _reference_witness(4.0e-9)
    assert numbers["smallest solver error / reference uncertainty"].passed is False
