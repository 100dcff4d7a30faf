"""The diffusion.solvers claims catch planted bugs (a witness that cannot disagree is none)."""

from __future__ import annotations

import numpy as np

from toytheory.claims import execute_claim, load_catalog
from tests._seeds import reseed

REGISTRY = load_catalog()


def _run(claim_id):
    return execute_claim(REGISTRY[claim_id], "quick", 0)


def test_exact_error_claim_fails_when_the_pushforward_is_wrong(monkeypatch):
    """The Monte Carlo witness rejects a push-forward that inflates the covariance."""
    from toytheory.diffusion.solvers import analysis

    original = analysis.gaussian_pushforward

    def wrong(affine, mean, cov):
        m, c = original(affine, mean, cov)
        return m, 1.3 * c

    monkeypatch.setattr(analysis, "gaussian_pushforward", wrong)
    assert _run("diffusion.solvers.exact_error.gaussian_laws_vs_nfe")["verdict"] == "fails"


def test_order_claim_fails_when_the_exact_flow_map_is_wrong(monkeypatch):
    from toytheory.diffusion import solvers
    from toytheory.diffusion.solvers import analysis

    original = analysis.gaussian_flow_to_grid_end

    def wrong(law, grid):
        m, c = original(law, grid)
        return 1.001 * m, c

    monkeypatch.setattr(analysis, "gaussian_flow_to_grid_end", wrong)
    monkeypatch.setitem(solvers.__dict__, "gaussian_flow_to_grid_end", wrong)
    assert _run("diffusion.solvers.order.dpmpp_2m")["verdict"] == "fails"


def test_order_claim_is_refuted_for_a_planted_lower_order_solver(monkeypatch):
    """Swap DPM-Solver++(2M) for DDIM: the measured order is 1 and the claim is refuted."""
    from toytheory.diffusion import solvers

    def first_order(model, x, grid, lower_order_final=True, **kw):
        return solvers.sample_ddim(model, x, grid, **kw)

    monkeypatch.setitem(solvers.__dict__, "sample_dpmpp_2m", first_order)
    result = _run("diffusion.solvers.order.dpmpp_2m")
    assert result["verdict"] == "refuted"


def test_time_shift_claim_fails_when_the_expected_variance_is_wrong(monkeypatch):
    """The t-test witness compares sampled per-sample variances with v(t); a 6% error in v
    (a planted bug in expected_sample_variance) is caught."""
    from toytheory.diffusion import solvers
    from toytheory.diffusion.solvers import time_shift

    original = time_shift.expected_sample_variance

    def wrong(law, schedule):
        v = original(law, schedule)
        return lambda t: 1.06 * np.asarray(v(t))

    monkeypatch.setitem(solvers.__dict__, "expected_sample_variance", wrong)
    assert _run("diffusion.solvers.seed.time_shift_lowers_exposure_bias")["verdict"] == "fails"


def test_dc_claim_fails_when_dc_with_unit_ratios_is_not_unipc(monkeypatch):
    from toytheory.diffusion import solvers

    original = solvers.sample_dc_solver

    def shifted(model, x, grid, ratios=None, **kw):
        ratios = np.full(grid.n_steps, 0.9) if ratios is None else ratios
        return original(model, x, grid, ratios=ratios, **kw)

    monkeypatch.setitem(solvers.__dict__, "sample_dc_solver", shifted)
    assert _run("diffusion.solvers.seed.dc_solver_beats_unipc_at_nfe5")["verdict"] == "fails"


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
    """Planted: the "reference" is a DOP853 solve at rtol 1e-7; the witness must fail."""
    from toytheory.claims.catalog import diffusion_solvers_common as common

    original = common.gmm_reference

    def coarse(n_points=6, seed=reseed(1), rtol=common.GMM_REFERENCE_RTOL):
        return original(n_points, seed, rtol * 1e5)

    monkeypatch.setattr(common, "gmm_reference", coarse)
    numbers = _reference_witness(4.0e-9)
    assert numbers["smallest solver error / reference uncertainty"].passed is False
