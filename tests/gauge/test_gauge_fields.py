"""Gauge fields: div(p r) = 0, exact Jacobians, torch agreement, the stream function, bad input."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings

from toytheory.diffusion.laws import Gaussian
from toytheory.diffusion.schedules import VPLinear
from toytheory.gauge import toys
from toytheory.gauge.densities import MixtureDensity
from toytheory.gauge.fields import ModelField
from toytheory.gauge.functions import PlaneWave, Quadratic
from toytheory.gauge.gauge_fields import (J2, GaussianGaugeField, SkewTensorGaugeField,
                                          StreamFunctionGaugeField2D, random_skew)
from toytheory.testing.gauge import gauge_fields

SCHED = VPLinear()


def _points(law, t, n, seed):
    a, s = (float(v) for v in SCHED.marginal(t))
    return law.sample(n, a, s, np.random.default_rng(seed)) * 1.3


def _fd_jacobian(fn, x, eps=1e-6):
    return np.stack([(fn(x + eps * e) - fn(x - eps * e)) / (2 * eps) for e in np.eye(x.shape[1])],
                    axis=2)


@settings(max_examples=30)
@given(gauge_fields(max_dim=4))
def test_every_random_gauge_field_satisfies_div_p_r_zero(case):
    field, law, t = case
    x = _points(law, t, 20, 1)
    a, s = (float(v) for v in SCHED.marginal(t))
    scale = (np.sqrt(np.mean(np.sum(field(x, t) ** 2, axis=1)))
             * np.sqrt(np.mean(np.sum(law.score(x, a, s) ** 2, axis=1))) + 1e-300)
    assert np.max(np.abs(field.flux_divergence(x, t))) <= 1e-10 * scale


@settings(max_examples=20)
@given(gauge_fields(max_dim=3))
def test_gauge_field_jacobian_matches_finite_differences(case):
    field, law, t = case
    x = _points(law, t, 5, 2)
    jac = field.jacobian(x, t)
    fd = _fd_jacobian(lambda y: field(y, t), x)
    assert np.max(np.abs(jac - fd)) <= 1e-5 * (1.0 + np.max(np.abs(jac)))
    value, jac2 = field.value_and_jacobian(x, t)
    np.testing.assert_allclose(value, field(x, t), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(jac2, jac, rtol=1e-12, atol=1e-12)


def test_mixture_score_jacobian_matches_finite_differences_and_is_symmetric():
    for law in (toys.gmm_2d(), toys.gmm_3d(), toys.gaussian_3d()):
        dens = MixtureDensity(law)
        x = _points(law, 0.2, 6, 3)
        a, s = (float(v) for v in SCHED.marginal(0.2))
        hess = dens.score_jacobian(x, a, s)
        np.testing.assert_allclose(hess, np.swapaxes(hess, 1, 2), atol=1e-12)
        fd = _fd_jacobian(lambda y: dens.score(y, a, s), x)
        assert np.max(np.abs(hess - fd)) < 1e-6 * np.max(np.abs(hess))


def test_gaussian_gauge_field_is_sigma_t_a_x():
    law, field = toys.gaussian_3d(), toys.gaussian_gauge_field()
    t = 0.4
    a, s = (float(v) for v in SCHED.marginal(t))
    mean, cov = law.marginal_moments(a, s)
    x = _points(law, t, 7, 4)
    np.testing.assert_allclose(field(x, t), 1.5 * (x - mean) @ (cov @ field.A).T, rtol=1e-13)
    assert np.max(np.abs(field.flux_divergence(x, t))) < 1e-12


def test_stream_function_field_is_grad_perp_psi_over_p():
    """Independent of the p h parametrisation: differentiate psi = a p h numerically."""
    law = toys.gmm_2d()
    field = StreamFunctionGaugeField2D(law, SCHED, h=PlaneWave(0.7, [0.5, 1.1], 0.4),
                                       amplitude=2.0)
    t = 0.3
    a, s = (float(v) for v in SCHED.marginal(t))
    x = _points(law, t, 8, 5)
    eps = 1e-6
    grad_psi = np.stack([(field.stream_function(x + eps * e, t)
                          - field.stream_function(x - eps * e, t)) / (2 * eps)
                         for e in np.eye(2)], axis=1)
    expected = (np.stack([grad_psi[:, 1], -grad_psi[:, 0]], axis=1)
                / np.exp(law.log_prob(x, a, s))[:, None])
    np.testing.assert_allclose(field(x, t), expected, rtol=1e-6, atol=1e-8)


def test_torch_fields_agree_with_numpy(torch_device):
    import torch

    law = toys.gmm_2d()
    model = ModelField(law, SCHED, gauges=toys.gauge_fields_2d(law, SCHED),
                       potentials=[toys.wrong_potential(2)])
    fn = model.torch(device=torch_device)
    x = _points(law, 0.5, 50, 6)
    out = fn(torch.as_tensor(x, device=torch_device), 0.5).cpu().numpy()
    np.testing.assert_allclose(out, model(x, 0.5), rtol=1e-10, atol=1e-10)
    g3 = toys.gaussian_gauge_field()
    x3 = _points(toys.gaussian_3d(), 0.5, 20, 7)
    out3 = g3.torch(device=torch_device)(torch.as_tensor(x3, device=torch_device), 0.5)
    np.testing.assert_allclose(out3.cpu().numpy(), g3(x3, 0.5), rtol=1e-10, atol=1e-12)


def test_planted_bug_symmetric_c_violates_the_gauge_condition():
    """Planted bug: bypass the skew check with a symmetric C; the numeric check must see it.
    Power: deterministic in effect — the symmetric part's flux divergence is a fixed non-zero
    field, held > 0.1 at the worst of 50 points against exactly 0 for a skew C."""
    law = toys.gmm_2d()
    field = SkewTensorGaugeField(law, SCHED, J2)
    field.C = np.array([[1.0, 0.5], [0.5, -0.3]])
    x = _points(law, 0.3, 50, 8)
    assert np.max(np.abs(field.flux_divergence(x, 0.3))) > 0.1


def test_model_field_jacobian_and_velocity_are_consistent():
    law = toys.gmm_3d()
    model = ModelField(law, SCHED, gauges=[toys.gauge_field_3d(law, SCHED)],
                       potentials=[toys.wrong_potential(3)])
    x = _points(law, 0.6, 5, 9)
    fd = _fd_jacobian(lambda y: model(y, 0.6), x)
    assert np.max(np.abs(model.jacobian(x, 0.6) - fd)) < 1e-5 * np.max(np.abs(fd))
    v, vj = model.velocity_and_jacobian(x, 0.6)
    np.testing.assert_allclose(v, model.velocity(x, 0.6), rtol=1e-12)
    np.testing.assert_allclose(vj, model.velocity_jacobian(x, 0.6), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(model.velocity_divergence(x, 0.6), np.trace(vj, axis1=1, axis2=2),
                               rtol=1e-12)


@pytest.mark.parametrize("make, name", [
    (lambda: SkewTensorGaugeField(toys.gmm_2d(), SCHED, np.eye(2)), "C"),
    (lambda: SkewTensorGaugeField(toys.gmm_2d(), SCHED, random_skew(3, 0)), "C"),
    (lambda: SkewTensorGaugeField(toys.gmm_2d(), "vp", J2), "schedule"),
    (lambda: SkewTensorGaugeField(toys.gmm_2d(), SCHED, J2, h=PlaneWave(1.0, [1.0, 2.0, 3.0])),
     "h"),
    (lambda: StreamFunctionGaugeField2D(toys.gmm_3d(), SCHED), "density"),
    (lambda: GaussianGaugeField(toys.gmm_2d(), SCHED, J2), "law"),
    (lambda: GaussianGaugeField(Gaussian(np.zeros(2), np.eye(2)), SCHED, np.ones((2, 2))), "A"),
    (lambda: Quadratic(np.array([[1.0, 2.0], [0.0, 1.0]])), "Q"),
    (lambda: SkewTensorGaugeField(toys.gmm_2d(), SCHED, J2, amplitude=float("nan")),
     "amplitude"),
])
def test_bad_gauge_fields_are_refused_naming_the_argument(make, name):
    with pytest.raises(ValueError, match=name):
        make()


def test_field_evaluation_refuses_bad_points():
    field = toys.gauge_fields_2d()[0]
    with pytest.raises(ValueError, match="x"):
        field(np.full((3, 2), np.nan), 0.5)
    with pytest.raises(ValueError, match="x"):
        field(np.zeros((3, 3)), 0.5)
    with pytest.raises(ValueError, match="t"):
        field(np.zeros((3, 2)), 2.0)
