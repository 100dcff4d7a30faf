"""Smaller D is more robust: the exact 1-D output law of the PFGM++ ODE by hand, bad input,
and planted failures of ``diffusion.pfgmpp.smaller_d_more_robust``.

The claim is deterministic up to the query points drawn from the run seed (they enter
only the witnesses, whose planted gaps are of order one at every draw), so each planted
failure is caught with probability 1 >= 1 - 1e-6 under any seed.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from scipy.stats import t

from toytheory.claims import execute_claim, load_catalog
from toytheory.diffusion import pfgmpp as P

REGISTRY = load_catalog()
CLAIM = "diffusion.pfgmpp.smaller_d_more_robust"
SMALL = {"grid": (1, 4, np.inf)}


def _run(seed, **quick):
    claim = REGISTRY[CLAIM]
    tiers = {**claim.tiers, "quick": {**claim.tiers["quick"], **quick}}
    return execute_claim(replace(claim, tiers=tiers), "quick", seed)


def test_one_point_posterior_mean_is_the_point(rng):
    x = rng.standard_normal(5)
    np.testing.assert_allclose(P.line_posterior_mean(x, [0.3], 1.0, 2), 0.3, atol=1e-15)


def test_prior_cdf_is_a_student_t_mixture_by_hand():
    """Two points, D = 1: the CDF is the mean of two Cauchy CDFs, 1/2 + arctan(z)/pi."""
    x, s = 0.4, 0.8
    expected = np.mean([0.5 + np.arctan((x - y) / s) / np.pi for y in (-1.0, 1.0)])
    assert float(P.line_prior_cdf(x, [-1.0, 1.0], s, 1)) == pytest.approx(expected,
                                                                           abs=1e-14)


def test_symmetric_data_split_evenly_and_a_shift_error_moves_mass():
    """Two symmetric points, exact denoiser: by symmetry the midpoint 0 stays put, so each
    side gets mass 1/2; an error pushing right moves mass to the right point."""
    exact = P.line_basin_masses([-1.0, 1.0], 3, 10.0, 0.01)
    np.testing.assert_allclose(exact, [0.5, 0.5], atol=1e-12)
    pushed = P.line_basin_masses([-1.0, 1.0], 3, 10.0, 0.01, error=lambda x, s: 0.1 * s)
    assert pushed[1] > 0.5 + 1e-3


def test_marginal_masses_by_hand():
    """Two points at -1, 1: mass of the left cell is the t_D CDF mixture at 0."""
    m = P.line_marginal_masses([-1.0, 1.0], 0.5, 3)
    assert m[0] == pytest.approx(0.5 * (t.cdf(2.0, 3) + t.cdf(-2.0, 3)), abs=1e-14)


@pytest.mark.parametrize("call, match", [
    (lambda: P.line_basin_masses([], 1, 2.0, 1.0), "data: "),
    (lambda: P.line_basin_masses([1.0, 1.0], 1, 2.0, 1.0), "data: "),
    (lambda: P.line_basin_masses([0.0, 1.0], 0, 2.0, 1.0), "D: "),
    (lambda: P.line_basin_masses([0.0, 1.0], 1, 1.0, 2.0), "sigma_min: "),
    (lambda: P.line_basin_masses([0.0, 1.0], 1, -1.0, 0.5), "sigma_max: "),
    (lambda: P.line_prior_cdf(0.0, [0.0, 1.0], 0.0, 1), "sigma: "),
])
def test_bad_input(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_the_claim_holds(test_seed):
    assert _run(test_seed)["verdict"] == "holds"


def test_a_fixed_size_x0_error_is_refuted(test_seed):
    """Planted false statement: 'smaller D is more robust' held for an x0-prediction error
    of fixed size (0.5 sin 3x): the excess TV falls with D (exact), so refuted.

    Power: deterministic (exact 1-D output laws): the excess TV fails to rise at 2 steps of
    D, the statement allows 0."""
    result = _run(test_seed, errors=("x0_sin3x",), **SMALL)
    assert result["verdict"] == "refuted"
    assert result["referee"] is not None


def test_a_prior_cdf_with_the_wrong_degrees_of_freedom_fails(monkeypatch, test_seed):
    """Planted toolkit bug: the perturbed law's CDF uses t_(D+1): the quadrature witness
    and the continuity (flow vs marginal) witness fail.

    Power: deterministic: the prior CDF leaves quadrature by 0.051 against 1e-8 (and the ODE
    output law by 0.038 against 1e-6) at the seed-drawn points."""
    original = P.line_prior_cdf
    monkeypatch.setattr(P, "line_prior_cdf", lambda x, data, sigma, D: original(
        x, data, sigma, D if D == np.inf else D + 1))
    assert _run(test_seed, **SMALL)["verdict"] == "fails"


def test_a_posterior_mean_with_a_gaussian_kernel_fails(monkeypatch, test_seed):
    """Planted toolkit bug: the 1-D denoiser ignores D (always EDM's): the posterior-mean
    witness and the continuity witness fail, instead of the trend being misreported.

    Power: deterministic: the posterior mean leaves the N-dimensional one by 1.1 against
    1e-12; no random draw decides it."""
    original = P.line_posterior_mean
    monkeypatch.setattr(P, "line_posterior_mean",
                        lambda x, data, sigma, D: original(x, data, sigma, np.inf))
    assert _run(test_seed, **SMALL)["verdict"] == "fails"
