"""Bad input at the public functions of toytheory.gauge raises a ValueError naming the argument.

One case per defect found by the audit: each used to raise the wrong error
(AttributeError, TypeError, a torch or numpy error naming neither argument), to
blame another argument, or to return a silent NaN or an empty result.
"""

from __future__ import annotations

import numpy as np
import pytest

from toytheory.gauge import toys
from toytheory.gauge.decomposition import decompose, edge_field, edge_weights, loss_split
from toytheory.gauge.fields import ModelField, Potential
from toytheory.gauge.functions import PlaneWave
from toytheory.gauge.gauge_fields import (GaussianGaugeField, SkewTensorGaugeField,
                                          StreamFunctionGaugeField2D, random_skew)
from toytheory.gauge.grid import Grid
from toytheory.gauge.id_experiments import run_estimators, time_at_noise
from toytheory.gauge.intrinsic_dimension import (flow_jacobian_estimate, gap_dimension,
                                                 score_svd_estimate)
from toytheory.gauge.likelihood import change_of_variables_log_prob
from toytheory.gauge.manifolds import Sphere
from toytheory.gauge.marginal_tests import projection_ks_family, unit_directions
from tests._seeds import reseed

SCHED = toys.schedule()
GRID = Grid.cube(-4.0, 4.0, 2, 9)


def std_normal_log_density(x):
    return -0.5 * np.sum(x * x, axis=1)


def _decomposition():
    return decompose(lambda x: -x, GRID, log_density=std_normal_log_density)


def _nan_amplitude(t):
    return float("nan")


def _samples(t=0.5, n=20, d=2):
    law = toys.gmm_2d()
    a, s = (float(v) for v in SCHED.marginal(t))
    x = law.sample(n, a, s, np.random.default_rng(reseed(0)))
    return {t: x if d == 2 else np.zeros((n, d))}


SPHERE = Sphere(1, 3, rng=0)


CASES = [
    # decomposition
    ("loss_split: dec not a Decomposition", lambda: loss_split("x", lambda x: -x), "dec"),
    ("loss_split: score not callable", lambda: loss_split(_decomposition(), 3), "score"),
    ("edge_field: grid not a Grid", lambda: edge_field(lambda x: -x, "g"), "grid"),
    ("edge_weights: grid not a Grid",
     lambda: edge_weights("g", log_density=std_normal_log_density), "grid"),
    ("decompose: unknown torch device",
     lambda: decompose(lambda x: -x, GRID, log_density=std_normal_log_density, solver="torch",
                       device="bogus"), "device"),
    ("decompose: device of the wrong type",
     lambda: decompose(lambda x: -x, GRID, log_density=std_normal_log_density, solver="torch",
                       device=3), "device"),
    ("decompose: device neither cpu nor cuda",
     lambda: decompose(lambda x: -x, GRID, log_density=std_normal_log_density, solver="torch",
                       device="meta"), "device"),
    ("decompose: scipy solver off the CPU",
     lambda: decompose(lambda x: -x, GRID, log_density=std_normal_log_density, solver="scipy",
                       device="cuda"), "device"),
    # model fields
    ("ModelField: gauges not a sequence",
     lambda: ModelField(toys.gmm_2d(), SCHED, gauges=5), "gauges"),
    ("ModelField: gauges a single field, not a sequence",
     lambda: ModelField(toys.gmm_2d(), SCHED, gauges=toys.gauge_fields_2d()[0]), "gauges"),
    ("ModelField: potentials not a sequence",
     lambda: ModelField(toys.gmm_2d(), SCHED, potentials=5), "potentials"),
    ("ModelField: a potential among the gauges",
     lambda: ModelField(toys.gmm_2d(), SCHED, gauges=[toys.wrong_potential(2)]), "gauges"),
    # likelihood
    ("change_of_variables_log_prob: terminal_log_prob not callable",
     lambda: change_of_variables_log_prob(ModelField(toys.gmm_2d(), SCHED), np.zeros((2, 2)),
                                          [0.1, 0.5], terminal_log_prob=3), "terminal_log_prob"),
    # distribution tests
    ("projection_ks_family: directions of another dimension",
     lambda: projection_ks_family(_samples(), toys.gmm_2d(), SCHED, np.ones((2, 3)), 1e-3),
     "directions"),
    ("projection_ks_family: samples of another dimension",
     lambda: projection_ks_family(_samples(d=3), toys.gmm_2d(), SCHED, np.ones((2, 2)), 1e-3),
     "samples"),
    ("projection_ks_family: no directions",
     lambda: projection_ks_family(_samples(), toys.gmm_2d(), SCHED, np.ones((0, 2)), 1e-3),
     "directions"),
    ("projection_ks_family: a zero direction",
     lambda: projection_ks_family(_samples(), toys.gmm_2d(), SCHED, np.zeros((1, 2)), 1e-3),
     "directions"),
    ("projection_ks_family: samples not a mapping",
     lambda: projection_ks_family([np.zeros((5, 2))], toys.gmm_2d(), SCHED, np.ones((1, 2)),
                                  1e-3), "samples"),
    ("projection_ks_family: no samples",
     lambda: projection_ks_family({}, toys.gmm_2d(), SCHED, np.ones((1, 2)), 1e-3), "samples"),
    ("projection_ks_family: a time outside the schedule",
     lambda: projection_ks_family({2.0: np.zeros((5, 2))}, toys.gmm_2d(), SCHED,
                                  np.ones((1, 2)), 1e-3), "samples"),
    ("unit_directions(2, 0)", lambda: unit_directions(2, 0), "count"),
    ("unit_directions(3, -1)", lambda: unit_directions(3, -1), "count"),
    ("unit_directions(0, 3)", lambda: unit_directions(0, 3), "d"),
    ("unit_directions(2.5, 2)", lambda: unit_directions(2.5, 2), "d"),
    ("unit_directions(3, 2.0)", lambda: unit_directions(3, 2.0), "count"),
    # gauge fields
    ("random_skew(0)", lambda: random_skew(0), "d"),
    ("random_skew(-1)", lambda: random_skew(-1), "d"),
    ("random_skew(2.5)", lambda: random_skew(2.5), "d"),
    ("random_skew(3, scale=nan)", lambda: random_skew(3, scale=float("nan")), "scale"),
    ("random_skew(3, scale=-1)", lambda: random_skew(3, scale=-1.0), "scale"),
    ("StreamFunctionGaugeField2D: amplitude(t) is NaN",
     lambda: StreamFunctionGaugeField2D(toys.gmm_2d(), SCHED, amplitude=_nan_amplitude)(
         np.zeros((2, 2)), 0.5), "amplitude"),
    ("SkewTensorGaugeField: amplitude(t) is NaN (jacobian)",
     lambda: SkewTensorGaugeField(toys.gmm_3d(), SCHED, random_skew(3, 0),
                                  amplitude=_nan_amplitude).jacobian(np.zeros((2, 3)), 0.5),
     "amplitude"),
    ("GaussianGaugeField: amplitude(t) is infinite",
     lambda: GaussianGaugeField(toys.gaussian_3d(), SCHED, random_skew(3, 0),
                                amplitude=lambda t: np.inf).matrix(0.5), "amplitude"),
    ("GaussianGaugeField: amplitude(t) is not a scalar",
     lambda: GaussianGaugeField(toys.gaussian_3d(), SCHED, random_skew(3, 0),
                                amplitude=lambda t: np.ones(3)).matrix(0.5), "amplitude"),
    ("Potential: amplitude(t) is NaN",
     lambda: Potential(PlaneWave(0.5, [1.0, 0.0]), amplitude=_nan_amplitude)(
         np.zeros((2, 2)), 0.5), "amplitude"),
    ("ModelField: a gauge term whose amplitude(t) is NaN",
     lambda: ModelField(toys.gmm_2d(), SCHED, gauges=[StreamFunctionGaugeField2D(
         toys.gmm_2d(), SCHED, amplitude=_nan_amplitude)])(np.zeros((2, 2)), 0.5), "amplitude"),
    # intrinsic dimension
    ("gap_dimension: unsorted singular values",
     lambda: gap_dimension(np.array([[1.0, 5.0, 0.5]]), log=False, normal=True),
     "singular_values"),
    ("gap_dimension: ascending singular values, log gaps",
     lambda: gap_dimension(np.array([[1.0, 2.0, 3.0]]), log=True, normal=False),
     "singular_values"),
    ("gap_dimension: log not a bool",
     lambda: gap_dimension(np.array([[3.0, 2.0, 1.0]]), log="yes", normal=False), "log"),
    ("score_svd_estimate: no base points",
     lambda: score_svd_estimate(ModelField(SPHERE, SCHED), np.zeros((0, 3)), 1e-3, 20),
     "base_points"),
    ("flow_jacobian_estimate: no base points",
     lambda: flow_jacobian_estimate(ModelField(SPHERE, SCHED), np.zeros((0, 3)), [0.1, 0.5]),
     "base_points"),
    ("score_svd_estimate: base points of another dimension",
     lambda: score_svd_estimate(ModelField(SPHERE, SCHED), np.zeros((2, 2)), 1e-3, 20),
     "base_points"),
    ("score_svd_estimate: t = 0, where sigma_t = 0",
     lambda: score_svd_estimate(ModelField(SPHERE, SCHED), SPHERE.sample_data(2, 1), 0.0, 20),
     "t"),
    ("run_estimators: sigma0 above the schedule's largest noise",
     lambda: run_estimators(SPHERE, SCHED, 1, 0, sigma0=1e300, jacobian=False), "sigma0"),
    ("run_estimators: sigma0 so small that t underflows to 0",
     lambda: run_estimators(SPHERE, SCHED, 1, 0, sigma0=1e-300, jacobian=False), "sigma0"),
    ("run_estimators: svd_samples below D",
     lambda: run_estimators(SPHERE, SCHED, 1, 0, svd_samples=2, jacobian=False), "svd_samples"),
    ("time_at_noise: sigma_ve above the schedule's largest noise",
     lambda: time_at_noise(SCHED, 1e300), "sigma_ve"),
    ("time_at_noise: schedule not a NoiseSchedule",
     lambda: time_at_noise("vp", 0.01), "schedule"),
]


@pytest.mark.parametrize("call, name", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input_raises_a_value_error_that_names_the_argument(call, name):
    with pytest.raises(ValueError, match=rf"^{name}: "):
        call()


def test_a_finite_callable_amplitude_equals_the_constant_one():
    x = np.random.default_rng(reseed(1)).normal(size=(5, 2))
    law = toys.gmm_2d()
    by_callable = StreamFunctionGaugeField2D(law, SCHED, amplitude=lambda t: np.float64(1.5))
    by_number = StreamFunctionGaugeField2D(law, SCHED, amplitude=1.5)
    np.testing.assert_array_equal(by_callable(x, 0.4), by_number(x, 0.4))
    np.testing.assert_array_equal(by_callable.jacobian(x, 0.4), by_number.jacobian(x, 0.4))


def test_valid_edge_cases_are_still_accepted():
    np.testing.assert_array_equal(gap_dimension(np.array([[3.0, 3.0, 1.0]]), log=False,
                                                normal=True), [1])       # ties are descending
    u = unit_directions(1, 2, 0)
    assert u.shape == (2, 1) and np.allclose(np.abs(u), 1.0)
    assert random_skew(1, 0).shape == (1, 1)
    assert time_at_noise(SCHED, 0.01) > 0
    fam, records = projection_ks_family(_samples(n=200), toys.gmm_2d(), SCHED,
                                        unit_directions(2, 2), 1e-6)
    assert fam.verdict == "accept" and len(records) == 2
