"""Both intrinsic-dimension estimators: known answers, the exact Gaussian flow, gauge effects."""

from __future__ import annotations

import numpy as np
import pytest

from toytheory.diffusion.gaussian_flow import gaussian_flow_map
from toytheory.diffusion.laws import Gaussian
from toytheory.gauge.fields import ModelField
from toytheory.gauge.gauge_fields import SkewTensorGaugeField, random_skew
from toytheory.gauge.id_experiments import time_at_noise
from toytheory.gauge.intrinsic_dimension import (flow_jacobian_estimate, gap_dimension,
                                                 log_snr_time_grid, score_svd_estimate)
from toytheory.gauge.manifolds import FlatTorus, LinearSubspace, Sphere, SwissRoll
from toytheory.gauge.toys import schedule
from tests._seeds import reseed

SCHED = schedule()
T0 = time_at_noise(SCHED, 0.01)


def test_gap_rules_on_known_spectra():
    sv = np.array([[100.0, 90.0, 1.0], [5.0, 1.0, 0.9]])
    np.testing.assert_array_equal(gap_dimension(sv, log=False, normal=True), [1, 2])
    np.testing.assert_array_equal(gap_dimension(sv, log=True, normal=False), [2, 1])
    with pytest.raises(ValueError, match="singular_values"):
        gap_dimension(np.array([[1.0, -1.0]]), log=True, normal=False)


@pytest.mark.parametrize("m", [Sphere(1, 3, rng=reseed(0)), Sphere(5, 10, rng=reseed(1)), FlatTorus(2, 10, rng=reseed(2)),
                               LinearSubspace(10, 100, rng=reseed(3)), SwissRoll(10, n_spiral=3000,
                                                                         rng=reseed(4))],
                         ids=repr)
def test_score_svd_recovers_the_dimension_with_the_exact_score(m):
    rng = np.random.default_rng(reseed(5))
    est = score_svd_estimate(ModelField(m, SCHED), m.sample_data(3, rng), T0,
                             max(4 * m.dim, 64), rng)
    np.testing.assert_array_equal(est.estimates, m.intrinsic_dim)


def test_flow_jacobian_of_a_subspace_matches_the_closed_form_gaussian_flow():
    m = LinearSubspace(2, 6, rng=reseed(7))
    grid = log_snr_time_grid(SCHED, T0, 1.0, 120)
    est = flow_jacobian_estimate(ModelField(m, SCHED), m.sample_data(2, 8), grid,
                                 trajectories=True)
    law = Gaussian.low_rank(np.zeros(6), m.scale * m.basis)
    mat, _ = gaussian_flow_map(law, SCHED, T0, 1.0)
    exact = 1.0 / np.linalg.svd(mat, compute_uv=False)[::-1]
    np.testing.assert_allclose(est.singular_values[0], exact, rtol=1e-4)
    np.testing.assert_array_equal(est.estimates, 2)
    assert est.trajectories.shape == (2, 121, 6)
    np.testing.assert_allclose(est.trajectories[:, 0], est.singular_values, rtol=1e-10)
    np.testing.assert_allclose(est.trajectories[:, -1], 1.0, rtol=1e-10)   # Y(T) = I


def test_linear_gauge_field_leaves_the_gaussian_flow_spectrum_unchanged():
    """Y Sigma_T Y^T = Sigma_t0 for any linear flow with the exact marginals."""
    m = LinearSubspace(3, 8, rng=reseed(9))
    y = m.sample_data(2, 10)
    grid = log_snr_time_grid(SCHED, T0, 1.0, 300)
    cons = flow_jacobian_estimate(ModelField(m, SCHED), y, grid)
    gauge = SkewTensorGaugeField(m, SCHED, random_skew(8, 11) / np.sqrt(8), amplitude=4.0)
    gauged = flow_jacobian_estimate(ModelField(m, SCHED, gauges=[gauge]), y, grid)
    np.testing.assert_allclose(gauged.singular_values, cons.singular_values, rtol=1e-3)


def test_a_rotation_gauge_field_breaks_the_score_svd_estimate_on_a_sphere():
    # a fixed worked example (manifold, field and base points all fixed): the gauge part is
    # not wrong at every base point of every draw (gauge.intrinsic_dimension holds the
    # distributional statement), so this example keeps its own seeds
    m = Sphere(2, 10, rng=12)
    rng = np.random.default_rng(13)
    y = m.sample_data(3, rng)
    gauge = SkewTensorGaugeField(m, SCHED, random_skew(10, 14) / np.sqrt(10), amplitude=3.0)
    est = score_svd_estimate(ModelField(m, SCHED, gauges=[gauge]), y, T0, 64, rng)
    assert np.all(est.estimates != 2)


@pytest.mark.parametrize("call, name", [
    (lambda f, y: flow_jacobian_estimate(f, y, [0.5, 0.1]), "t_grid"),
    (lambda f, y: flow_jacobian_estimate(f, y, [0.0, 0.5]), "t_grid"),
    (lambda f, y: flow_jacobian_estimate("f", y, [0.1, 0.5]), "field"),
    (lambda f, y: score_svd_estimate(f, y, 1e-3, 2), "n_samples"),
    (lambda f, y: score_svd_estimate(f, y, 5.0, 20), "t"),
    (lambda f, y: score_svd_estimate(f, y[:, :2], 1e-3, 20), "base_points"),
    (lambda f, y: log_snr_time_grid(SCHED, 0.5, 0.1, 10), "t_max"),
])
def test_bad_estimator_input_is_refused_naming_the_argument(call, name):
    m = Sphere(1, 3, rng=reseed(0))
    with pytest.raises(ValueError, match=name):
        call(ModelField(m, SCHED), m.sample_data(2, 1))


def test_a_diverging_flow_is_reported_as_a_time_grid_problem():
    m = Sphere(1, 3, rng=reseed(0))
    gauge = SkewTensorGaugeField(m, SCHED, random_skew(3, 1), amplitude=1e4)
    with pytest.raises(ValueError, match="t_grid"):
        flow_jacobian_estimate(ModelField(m, SCHED, gauges=[gauge]), m.sample_data(1, 2),
                               log_snr_time_grid(SCHED, T0, 1.0, 10))
