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


@pytest.mark.parametrize("N, D", [(3, 2), (2, 5), (16, 128), (1, 1)])
def test_torch_field_agrees_with_the_loop_for_odd_and_even_exponents(rng, N, D):
    """(N + D)/2 integer or half-integer: the powering by squaring (plus a square root)
    matches the log-sum-exp loop."""
    torch = pytest.importorskip("torch")
    data = rng.standard_normal((40, N))
    x = data[rng.integers(40, size=25)] + 0.3 * rng.standard_normal((25, N))
    got = P.point_posterior_mean_torch(torch.as_tensor(x), data, 0.9, D, chunk=4).numpy()
    np.testing.assert_allclose(got, P.point_posterior_mean_loop(x, data, 0.9, D), atol=1e-10)


def test_power_by_squaring_is_u_to_the_half_k(rng):
    torch = pytest.importorskip("torch")
    u = torch.as_tensor(rng.uniform(0.05, 1.0, 200))
    for k2 in (1, 2, 3, 7, 144, 145):
        got = P._torch_power_inplace(u.clone(), k2)
        np.testing.assert_allclose(got.numpy(), u.numpy() ** (k2 / 2), rtol=1e-12, atol=1e-300)


def test_a_power_one_off_would_be_seen(rng):
    """Planted: exponent (N + D + 1)/2 instead of (N + D)/2 moves the field by far more
    than the 1e-10 tolerance above (data spread 1, r = 0.9, so weights differ by O(1)).

    Power: the gap is O(0.1) for every draw of the data (zero only on a measure-zero set),
    1e5 times the 1e-6 it must exceed: probability 1."""
    torch = pytest.importorskip("torch")
    data = rng.standard_normal((40, 2))
    x = data[rng.integers(40, size=25)] + 0.3 * rng.standard_normal((25, 2))
    wrong = P.point_posterior_mean_torch(torch.as_tensor(x), data, 0.9, 4, chunk=4).numpy()
    right = P.point_posterior_mean_loop(x, data, 0.9, 3)
    assert np.abs(wrong - right).max() > 1e-6
