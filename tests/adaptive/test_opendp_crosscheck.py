"""Our Laplace and Gaussian noise and privacy maps against OpenDP's (a peer DP library).

OpenDP draws its noise from a cryptographically secure generator that cannot
be seeded, so each KS test here is random: it rejects a correct
implementation with probability at most its level, 1e-6.
"""

from __future__ import annotations

import numpy as np
import pytest

from toytheory import stats
from toytheory.adaptive import accounting
from toytheory.adaptive.mechanisms import GaussianMechanism, LaplaceMechanism
from tests._seeds import reseed

dp = pytest.importorskip("opendp.prelude")
pytestmark = pytest.mark.peer
LEVEL = 1e-6
N_DRAWS = 20_000


@pytest.fixture(scope="module")
def opendp():
    dp.enable_features("contrib")
    return dp


def opendp_laplace(opendp, scale, size):
    space = opendp.vector_domain(opendp.atom_domain(T=float, nan=False)), opendp.l1_distance(T=float)
    m = opendp.m.make_laplace(*space, scale=scale)
    return np.asarray(m([0.0] * size)), m


def opendp_gaussian(opendp, sigma, size):
    space = opendp.vector_domain(opendp.atom_domain(T=float, nan=False)), opendp.l2_distance(T=float)
    m = opendp.m.make_gaussian(*space, scale=sigma)
    return np.asarray(m([0.0] * size)), m


def test_laplace_noise_has_opendps_law_ks_two_sample(opendp):
    ours = LaplaceMechanism(np.zeros((40, 2)), 0.5, rng=reseed(1))
    theirs, _ = opendp_laplace(opendp, ours.scale, N_DRAWS)
    assert stats.ks_2samp(ours.noise(N_DRAWS), theirs, LEVEL).verdict == "accept"


def test_laplace_crosscheck_sees_noise_twenty_percent_too_small(opendp):
    ours = LaplaceMechanism(np.zeros((40, 2)), 0.5, rng=reseed(1))
    theirs, _ = opendp_laplace(opendp, ours.scale, N_DRAWS)
    assert stats.ks_2samp(0.8 * ours.noise(N_DRAWS), theirs, LEVEL).verdict == "reject"


def test_gaussian_noise_has_opendps_law_ks_two_sample(opendp):
    ours = GaussianMechanism(np.zeros((40, 2)), 0.03, rng=reseed(2))
    theirs, _ = opendp_gaussian(opendp, 0.03, N_DRAWS)
    assert stats.ks_2samp(ours.noise(N_DRAWS), theirs, LEVEL).verdict == "accept"
    assert stats.ks_2samp(1.2 * ours.noise(N_DRAWS), theirs, LEVEL).verdict == "reject"


def test_privacy_maps_agree_with_opendps(opendp):
    n, eps, sigma = 250, 0.7, 0.004
    lap = LaplaceMechanism(np.zeros((n, 2)), eps)
    _, m_lap = opendp_laplace(opendp, lap.scale, 1)
    assert m_lap.map(1.0 / n) == pytest.approx(eps, rel=1e-9)
    assert accounting.laplace_epsilon(lap.scale, 1.0 / n) == pytest.approx(m_lap.map(1.0 / n),
                                                                          rel=1e-9)
    gauss = GaussianMechanism(np.zeros((n, 2)), sigma)
    _, m_gauss = opendp_gaussian(opendp, sigma, 1)
    assert gauss.rho_per_query == pytest.approx(m_gauss.map(1.0 / n), rel=1e-9)


def test_composition_agrees_with_opendp_and_our_zcdp_conversion_is_never_tighter(opendp):
    n, sigma, k, delta = 100, 0.02, 7, 1e-6
    _, m_gauss = opendp_gaussian(opendp, sigma, 1)
    composed = opendp.c.make_composition([m_gauss] * k)
    ours = GaussianMechanism(np.ones((n, 2), dtype=np.int8), sigma, rng=reseed(0))
    for _ in range(k):
        ours.answer(lambda d: np.ones(len(d)))
    assert float(ours.accountant.rho) == pytest.approx(composed.map(1.0 / n), rel=1e-9)
    theirs = opendp.c.make_zCDP_to_approxDP(composed).map(1.0 / n).epsilon(delta)
    assert ours.accountant.approx_dp(delta) >= theirs * (1 - 1e-9)
