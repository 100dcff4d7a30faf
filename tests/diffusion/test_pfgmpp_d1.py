"""D = 1 is PFGM: the kernel and field by hand, bad input, and planted failures of the
claim ``diffusion.pfgmpp.d1_is_pfgm``.

Every planted failure below is deterministic given the run seed and breaks an identity by
a relative amount of order one at every seed (the data and query points are Gaussian
draws, so the gaps are bounded away from the tolerances with probability 1): the power
is 1 >= 1 - 1e-6 under any seed.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from scipy.special import gamma

from toytheory.claims import execute_claim, load_catalog
from toytheory.diffusion import pfgmpp as P

REGISTRY = load_catalog()
CLAIM = "diffusion.pfgmpp.d1_is_pfgm"


def _run(seed, **quick):
    claim = REGISTRY[CLAIM]
    tiers = {**claim.tiers, "quick": {**claim.tiers["quick"], **quick}}
    return execute_claim(replace(claim, tiers=tiers), "quick", seed)


def test_n1_d1_kernel_is_the_cauchy_density(rng):
    """N = D = 1: p_r(x|y) = r / (pi ((x - y)^2 + r^2)), by hand."""
    x = rng.standard_normal((9, 1)) * 3
    r = 0.7
    np.testing.assert_allclose(P.kernel_density(x, np.array([0.4]), r, 1),
                               r / (np.pi * ((x[:, 0] - 0.4) ** 2 + r * r)), rtol=1e-13)


def test_n2_field_of_one_charge_by_hand(rng):
    """N = 2 (three dimensions): E = u / (4 pi |u|^3) for a unit charge."""
    p = rng.standard_normal((5, 3))
    u = p - np.array([0.3, -0.2, 0.0])
    expected = u / (4 * np.pi * np.linalg.norm(u, axis=1, keepdims=True) ** 3)
    np.testing.assert_allclose(P.poisson_field(p, [[0.3, -0.2]]), expected, rtol=1e-13)
    np.testing.assert_allclose(P.poisson_potential(p, [[0.3, -0.2]]),
                               1 / (4 * np.pi * np.linalg.norm(u, axis=1)), rtol=1e-13)


def test_kernel_normaliser_by_hand():
    """N = 3, D = 2 at x = y: Gamma(5/2) / (pi^(3/2) Gamma(1)) r^2 r^-5."""
    r = 1.7
    got = P.kernel_density(np.zeros((1, 3)), np.zeros(3), r, 2)[0]
    assert got == pytest.approx(gamma(2.5) / np.pi ** 1.5 * r ** -3, rel=1e-13)


@pytest.mark.parametrize("call, match", [
    (lambda: P.kernel_density(np.zeros((2, 2)), np.zeros(3), 1.0, 1), "x: "),
    (lambda: P.kernel_density(np.zeros((2, 2)), np.zeros(2), 0.0, 1), "r: "),
    (lambda: P.kernel_density(np.zeros((2, 2)), np.zeros(2), 1.0, 0), "D: "),
    (lambda: P.poisson_field(np.zeros((2, 2)), np.zeros((3, 2))), "points: "),
    (lambda: P.poisson_field(np.zeros((2, 3)), np.zeros((0, 2))), "data: "),
    (lambda: P.poisson_potential(np.zeros((2, 2)), np.zeros((3, 2))), "points: "),
])
def test_bad_input(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_the_claim_holds(test_seed):
    assert _run(test_seed)["verdict"] == "holds"


def test_d2_is_not_pfgm_and_is_refuted(test_seed):
    """Planted false statement: 'D = 2 is PFGM' (the exponent (N + 2)/2 is not the Poisson
    field's): refuted at every seed.

    Power: deterministic: the D = 2 kernel leaves 2 E_z by a relative 1.2 against 1e-12 (and
    the ODE by 0.05 against 1e-10)."""
    assert _run(test_seed, D=2)["verdict"] == "refuted"


def test_a_field_with_the_wrong_power_fails(monkeypatch, test_seed):
    """Planted toolkit bug: the field falls like |u|^-(N+2) (the potential does not), so
    the gradient witness fails.

    Power: deterministic: the gradient witness sees a relative 2.1 against 1e-6 (Gauss's law
    0.31 against 1e-8)."""
    original = P.poisson_field

    def wrong(points, data):
        data = np.asarray(data, float)
        aug = np.hstack([data, np.zeros((data.shape[0], 1))])
        dist = np.linalg.norm(np.asarray(points)[:, None, :] - aug[None], axis=2)
        return original(points, data) / dist.mean(1, keepdims=True)

    monkeypatch.setattr(P, "poisson_field", wrong)
    assert _run(test_seed)["verdict"] == "fails"


def test_a_kernel_with_a_wrong_normaliser_fails(monkeypatch, test_seed):
    """Planted toolkit bug: the normaliser uses Gamma(D) for Gamma(D/2) (off by sqrt(pi)
    at D = 1), so the kernel no longer integrates to 1.

    Power: deterministic: the kernel's integral misses 1 by 0.77 against 1e-8."""
    from scipy.special import gammaln

    original = P.kernel_density

    def wrong(x, y, r, D):
        return original(x, y, r, D) * np.exp(gammaln(D / 2) - gammaln(D))

    monkeypatch.setattr(P, "kernel_density", wrong)
    assert _run(test_seed)["verdict"] == "fails"


def test_a_posterior_mean_with_the_wrong_exponent_fails(monkeypatch, test_seed):
    """Planted toolkit bug: the PFGM++ weights use D + 1: the posterior-mean witness fails
    (it would otherwise show as a refutation of the paper).

    Power: deterministic: the posterior-mean witness sees 0.20 against 1e-12."""
    original = P.point_posterior_mean
    monkeypatch.setattr(P, "point_posterior_mean",
                        lambda x, data, r, D, chunk=4096: original(x, data, r, D + 1, chunk))
    assert _run(test_seed)["verdict"] == "fails"
