"""PFGM++ exact field on point data: three implementations agree, the D -> infinity limit,
and bad input."""

from __future__ import annotations

import numpy as np
import pytest

from toytheory.diffusion import pfgmpp as P


def test_matrix_loop_and_torch_agree(rng):
    torch = pytest.importorskip("torch")
    data = rng.standard_normal((30, 4))
    x = rng.standard_normal((50, 4)) * 2
    a = P.point_posterior_mean(x, data, 1.3, 7)
    b = P.point_posterior_mean_loop(x, data, 1.3, 7)
    c = P.point_posterior_mean_torch(torch.as_tensor(x), data, 1.3, 7, chunk=7).numpy()
    np.testing.assert_allclose(a, b, atol=1e-10)
    np.testing.assert_allclose(c, b, atol=1e-10)


def test_large_d_limit_is_the_gaussian_posterior(rng):
    """With r = sigma sqrt(D), the weights tend to softmax(-||x - y||^2 / (2 sigma^2)); the
    gap falls like 1/D."""
    data = rng.standard_normal((20, 3))
    x = rng.standard_normal((40, 3))
    sigma = 0.8
    sq = ((x[:, None, :] - data[None]) ** 2).sum(-1)
    w = np.exp(-sq / (2 * sigma ** 2) + (sq / (2 * sigma ** 2)).min(1, keepdims=True))
    gauss = (w @ data) / w.sum(1, keepdims=True)
    gaps = [np.abs(P.point_posterior_mean(x, data, sigma * np.sqrt(D), D) - gauss).max()
            for D in (1000, 4000)]
    assert gaps[1] < 1e-2
    assert 3.0 < gaps[0] / gaps[1] < 5.0


def test_single_point_velocity(rng):
    y = rng.standard_normal((1, 2))
    x = rng.standard_normal((5, 2))
    np.testing.assert_allclose(P.point_ode_velocity(x, y, 2.0, 3), (x - y) / 2.0, atol=1e-14)


def test_bad_input_names_the_argument():
    x = np.zeros((2, 2))
    with pytest.raises(ValueError, match="data"):
        P.point_posterior_mean(x, np.zeros((0, 2)), 1.0, 2)
    with pytest.raises(ValueError, match="r"):
        P.point_posterior_mean(x, np.ones((3, 2)), 0.0, 2)
    with pytest.raises(ValueError, match="D"):
        P.point_posterior_mean(x, np.ones((3, 2)), 1.0, 0)
    with pytest.raises(ValueError, match="x"):
        P.point_posterior_mean(np.zeros((2, 3)), np.ones((3, 2)), 1.0, 2)
