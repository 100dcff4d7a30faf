"""Change of variables along the flow of s: exact iff the conservative part is the score."""

from __future__ import annotations

import numpy as np
import pytest

from toytheory.gauge import toys
from toytheory.gauge.fields import ModelField, Potential
from toytheory.gauge.functions import Quadratic
from toytheory.gauge.likelihood import change_of_variables_log_prob
from tests._seeds import reseed

SCHED = toys.schedule()
GRID = np.linspace(0.0, 1.0, 201)


def test_change_of_variables_with_the_exact_score_is_log_p0():
    law = toys.gmm_2d()
    x = law.sample_data(8, np.random.default_rng(reseed(0)))
    res = change_of_variables_log_prob(ModelField(law, SCHED), x, GRID)
    np.testing.assert_allclose(res.log_prob, law.log_prob(x, 1.0, 0.0), atol=1e-6)


def test_change_of_variables_with_a_gauge_field_is_still_log_p0_by_other_paths():
    law = toys.gmm_3d()
    x = law.sample_data(6, np.random.default_rng(reseed(1)))
    exact = change_of_variables_log_prob(ModelField(law, SCHED), x, GRID)
    gauged = change_of_variables_log_prob(
        ModelField(law, SCHED, gauges=[toys.gauge_field_3d(law, SCHED)]), x,
        np.linspace(0.0, 1.0, 401))
    np.testing.assert_allclose(gauged.log_prob, law.log_prob(x, 1.0, 0.0), atol=1e-5)
    assert np.mean(np.linalg.norm(gauged.endpoint - exact.endpoint, axis=1)) > 0.1
    assert np.mean(np.abs(gauged.integrated_divergence - exact.integrated_divergence)) > 0.01


def test_wrong_conservative_part_gives_the_log_density_of_the_wrong_model():
    """Gaussian data, s = score + (K x + b): the estimate equals the exact log q_0 (DOP853
    on the mean/covariance ODE) and differs from log p_0."""
    from toytheory.claims.catalog.gauge_likelihood import gaussian_pushforward_log_prob

    law = toys.gaussian_3d()
    k = np.diag([0.3, -0.2, 0.1])
    b = np.array([0.1, 0.0, -0.2])
    x = law.sample_data(5, np.random.default_rng(reseed(2)))
    res = change_of_variables_log_prob(ModelField(law, SCHED, potentials=[
        Potential(Quadratic(k, b))]), x, GRID)
    q0 = gaussian_pushforward_log_prob(law, SCHED, k, b, x)
    np.testing.assert_allclose(res.log_prob, q0, atol=1e-5)
    assert np.mean(np.abs(q0 - law.log_prob(x, 1.0, 0.0))) > 0.1


def test_terminal_log_prob_can_be_a_standard_normal_prior():
    from scipy.stats import multivariate_normal

    law = toys.gmm_2d()
    x = law.sample_data(3, np.random.default_rng(reseed(3)))
    res = change_of_variables_log_prob(ModelField(law, SCHED), x, GRID,
                                       terminal_log_prob=multivariate_normal(np.zeros(2)).logpdf)
    # p_1 differs from N(0, I) by terms of order alpha_1^2 (|mu|^2 + tr Sigma) ~ 4e-5 * 10
    exact = change_of_variables_log_prob(ModelField(law, SCHED), x, GRID)
    assert 1e-6 < np.max(np.abs(res.log_prob - exact.log_prob)) < 1e-2
    np.testing.assert_allclose(res.log_prob - exact.log_prob,
                               multivariate_normal(np.zeros(2)).logpdf(exact.endpoint)
                               - exact.terminal_log_prob, atol=1e-12)


@pytest.mark.parametrize("kwargs, name", [
    (dict(t_grid=[0.5, 0.2]), "t_grid"),
    (dict(t_grid=[0.0]), "t_grid"),
    (dict(t_grid=[0.0, 2.0]), "t_grid"),
    (dict(x=np.full((2, 2), np.nan)), "x"),
    (dict(x=np.zeros((2, 3))), "x"),
    (dict(terminal_log_prob=lambda y: np.zeros(7)), "terminal_log_prob"),
])
def test_bad_likelihood_input_is_refused_naming_the_argument(kwargs, name):
    law = toys.gmm_2d()
    args = dict(x=np.zeros((2, 2)), t_grid=np.linspace(0, 1, 5))
    args.update(kwargs)
    with pytest.raises(ValueError, match=name):
        change_of_variables_log_prob(ModelField(law, SCHED), args.pop("x"), args.pop("t_grid"),
                                     **args)
    with pytest.raises(ValueError, match="field"):
        change_of_variables_log_prob(law, np.zeros((2, 2)), np.linspace(0, 1, 5))
