"""The batched exact GMM posterior equals the per-observation one (issue 17, item 11)."""

from __future__ import annotations

import numpy as np
import pytest

from toytheory.diffusion import GaussianMixture
from toytheory.diffusion.posterior.gmm import batched_gmm_posterior, exact_gmm_posterior


def _prior(rng, k=4, d=5):
    b = rng.standard_normal((k, d, d))
    return GaussianMixture(rng.dirichlet(np.ones(k)), 2 * rng.standard_normal((k, d)),
                           b @ b.transpose(0, 2, 1) / d + 0.1 * np.eye(d))


@pytest.mark.parametrize("backend", ["numpy", "torch"])
def test_batched_equals_loop(rng, backend):
    prior = _prior(rng)
    A = rng.standard_normal((3, 5))
    Y = 3 * rng.standard_normal((9, 3))
    w, mu, C = batched_gmm_posterior(prior, A, 0.4, Y, backend=backend)
    for i in range(9):
        p = exact_gmm_posterior(prior, A, 0.4, Y[i])
        assert np.allclose(p.weights, w[i], atol=1e-12)
        assert np.allclose(p.means, mu[i], atol=1e-10)
        assert np.allclose(p.covs, C, atol=1e-10)


@pytest.mark.parametrize("kwargs, name", [
    ({"A": np.ones((2, 4))}, "A"),
    ({"noise_std": 0.0}, "noise_std"),
    ({"noise_std": float("nan")}, "noise_std"),
    ({"Y": np.ones((3, 3))}, "Y"),
    ({"backend": "jax"}, "backend"),
])
def test_bad_input(rng, kwargs, name):
    args = {"prior": _prior(rng), "A": np.ones((2, 5)), "noise_std": 0.3,
            "Y": np.ones((3, 2)), **kwargs}
    with pytest.raises(ValueError, match=rf"^{name}:"):
        batched_gmm_posterior(**args)
