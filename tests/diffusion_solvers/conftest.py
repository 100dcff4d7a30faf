"""Shared toys for the solver tests."""

from __future__ import annotations

import numpy as np
import pytest
from tests._seeds import reseed


@pytest.fixture(scope="session")
def gaussian_law():
    from toytheory.diffusion import Gaussian

    rng = np.random.default_rng(reseed(0))
    q, _ = np.linalg.qr(rng.standard_normal((3, 3)))
    cov = (q * np.array([0.05, 0.3, 1.0])) @ q.T
    return Gaussian(np.array([0.5, -0.3, 0.2]), 0.5 * (cov + cov.T))


@pytest.fixture(scope="session")
def gmm_law():
    from toytheory.diffusion import GaussianMixture

    return GaussianMixture.isotropic([0.3, 0.7], [[-1.0, 0.5], [1.0, -0.2]], [0.1, 0.2])


@pytest.fixture(scope="session")
def vp():
    from toytheory.diffusion import VPLinear

    return VPLinear()
