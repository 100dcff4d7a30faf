"""The grid split s = grad phi + r: exactness, orthogonality, convergence, solvers, bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from toytheory.gauge import _sparse
from toytheory.gauge.decomposition import (convergence_order, decompose, edge_weights, loss_split,
                                           refinement_study)
from toytheory.gauge.grid import Grid

ROT = np.array([[0.0, 1.0], [-1.0, 0.0]])


def std_normal_log_density(x):
    return -0.5 * np.sum(x * x, axis=1)


def rotated_field(x):
    """grad(-|x|^2/2 + sin x1 + sin x2) + (-J x): the gauge part of N(0, I) is -J x."""
    return -x - x @ ROT.T + np.cos(x)


def test_split_of_a_gaussian_field_recovers_the_known_parts_at_second_order():
    study = refinement_study(rotated_field, lambda x: -x + np.cos(x), (-7, -7), (7, 7),
                             [33, 65, 129], log_density=std_normal_log_density)
    assert study.gradient_errors[-1] < 5e-4
    assert abs(study.order_gradient - 2.0) < 0.05
    assert abs(study.order_remainder - 2.0) < 0.05
    fine = study.decompositions[-1]
    assert abs(fine.inner_product) < 1e-10 * fine.energy_field
    assert abs(fine.energy_gap) < 1e-10 * fine.energy_field
    assert fine.relative_residual < 1e-9
    # E||-Jx||^2 = E|x|^2 = 2 under N(0, I)
    assert abs(fine.energy_remainder - 2.0) < 1e-2


def test_a_gradient_has_no_gauge_part_and_a_gauge_field_no_gradient_part():
    g = Grid.cube(-7.0, 7.0, 2, 65)
    # a field whose component a depends on x_a only is exactly a discrete gradient
    grad_only = decompose(lambda x: -x + np.cos(x), g, log_density=std_normal_log_density)
    assert math.sqrt(grad_only.energy_remainder / grad_only.energy_field) < 1e-10
    # -J x is a gauge field of N(0, I); on the grid its gradient part is O(h^2), h = 0.22
    gauge_only = decompose(lambda x: -x @ ROT.T, g, log_density=std_normal_log_density)
    assert math.sqrt(gauge_only.energy_gradient / gauge_only.energy_field) < 5e-3


@pytest.mark.parametrize("solver, pre", [("scipy", "jacobi"), ("torch", "jacobi"),
                                         ("torch", "multigrid")])
def test_every_solver_gives_the_same_discrete_split(solver, pre, torch_device):
    if solver == "scipy" and torch_device != "cpu":
        pytest.skip("scipy runs on the CPU only")
    g = Grid((-7.0, -6.0), (7.0, 6.5), (41, 37))
    ref = decompose(rotated_field, g, log_density=std_normal_log_density, tol=1e-12)
    other = decompose(rotated_field, g, log_density=std_normal_log_density, solver=solver,
                      preconditioner=pre, tol=1e-12, device=torch_device)
    diff = tuple(a - b for a, b in zip(other.gradient, ref.gradient))
    assert math.sqrt(ref.inner(diff, diff) / ref.energy_field) < 1e-10


def test_three_dimensional_split_is_orthogonal_and_converges():
    c = np.array([[0.0, 1.0, -0.5], [-1.0, 0.0, 0.3], [0.5, -0.3, 0.0]])

    def field(x):
        return -x - x @ c.T + 0.3 * np.sin(x)

    study = refinement_study(field, lambda x: -x + 0.3 * np.sin(x), (-6,) * 3, (6,) * 3,
                             [13, 25], log_density=std_normal_log_density)
    fine = study.decompositions[-1]
    assert abs(fine.inner_product) < 1e-10 * fine.energy_field
    assert study.order_gradient > 1.7


def test_node_arrays_give_the_callable_split_up_to_second_order():
    g = Grid.cube(-7.0, 7.0, 2, 129)
    nodes = g.nodes()
    by_callable = decompose(rotated_field, g, log_density=std_normal_log_density)
    by_array = decompose(rotated_field(nodes.reshape(-1, 2)).reshape(nodes.shape), g,
                         density=np.exp(std_normal_log_density(nodes.reshape(-1, 2)))
                         .reshape(g.shape))
    diff = tuple(a - b for a, b in zip(by_array.gradient, by_callable.gradient))
    assert math.sqrt(by_callable.inner(diff, diff) / by_callable.energy_field) < 2e-3


def test_loss_split_is_exact_when_the_score_is_a_discrete_gradient():
    """For N(0, I) the score -x equals the discrete gradient of log p on every edge, so the
    discrete split is orthogonal to it and the identity holds to rounding."""
    dec = decompose(rotated_field, Grid.cube(-7.0, 7.0, 2, 65), log_density=std_normal_log_density)
    out = loss_split(dec, lambda x: -x)
    assert abs(out["relative_gap"]) < 1e-10
    assert abs(out["gauge_energy"] - 2.0) < 2e-2          # E||J x||^2 = E|x|^2 = 2


def test_loss_split_gap_vanishes_at_second_order_for_a_non_gaussian_density():
    def log_density(x):                 # non-separable, so the O(h^2) term is not a gradient
        x1, x2 = x[:, 0], x[:, 1]
        return -0.5 * (x1**4 + x2**4) - 0.3 * x1**3 * x2 - 0.5 * (x1**2 + x2**2)

    def score(x):
        x1, x2 = x[:, 0], x[:, 1]
        return np.stack([-2 * x1**3 - 0.9 * x1**2 * x2 - x1, -2 * x2**3 - 0.3 * x1**3 - x2], 1)

    def field(x):                       # score + grad(0.5 sin x1 sin x2) + J score (a gauge field)
        grad_chi = 0.5 * np.stack([np.cos(x[:, 0]) * np.sin(x[:, 1]),
                                   np.sin(x[:, 0]) * np.cos(x[:, 1])], axis=1)
        return score(x) + grad_chi + score(x) @ ROT.T

    gaps, hs = [], []
    for n in (33, 65, 129):
        g = Grid.cube(-3.0, 3.0, 2, n)
        gaps.append(abs(loss_split(decompose(field, g, log_density=log_density),
                                   score)["relative_gap"]))
        hs.append(g.spacing[0])
    assert gaps[-1] < 1e-3
    assert convergence_order(hs, gaps) > 1.7


def test_convergence_order_of_known_power_laws():
    h = np.array([0.4, 0.2, 0.1, 0.05])
    assert convergence_order(h, 3.0 * h**2) == pytest.approx(2.0)
    assert convergence_order(h, h) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="errors"):
        convergence_order(h, h[:2])


@settings(max_examples=15)
@given(st.integers(0, 2**31 - 1), st.floats(0.2, 3.0))
def test_random_skew_rotation_of_a_gaussian_score_is_pure_gauge(seed, scale):
    """Property: for p = N(0, S), s = -S^-1 x + S A x splits into -S^-1 x and S A x."""
    rng = np.random.default_rng(seed)
    q, _ = np.linalg.qr(rng.standard_normal((2, 2)))
    cov = q @ np.diag(rng.uniform(0.4, 1.2, 2)) @ q.T
    prec = np.linalg.inv(cov)
    a = scale * ROT

    def field(x):
        return -x @ prec + x @ (cov @ a).T

    g = Grid.cube(-8.0, 8.0, 2, 49)
    dec = decompose(field, g, log_density=lambda x: -0.5 * np.einsum("ni,ij,nj->n", x, prec, x))
    exact = dec.sample(lambda x: -x @ prec)
    diff = tuple(a - b for a, b in zip(dec.gradient, exact))
    assert math.sqrt(dec.inner(diff, diff) / dec.energy_field) < 2e-2
    assert abs(dec.inner_product) < 1e-9 * dec.energy_field


# --------------------------------------------------------------------------- bad input

def test_vanishing_density_is_refused_naming_the_argument_unless_floored():
    g = Grid.cube(-4.0, 4.0, 2, 33)

    def compact(x):  # a density that is exactly zero outside the unit disc
        return np.clip(1.0 - np.sum(x * x, axis=1), 0.0, None)

    with pytest.raises(ValueError, match="density: must be positive"):
        decompose(lambda x: -x, g, density=compact)
    with pytest.raises(ValueError, match="log_density: must be positive"):
        decompose(lambda x: -x, g, log_density=lambda x: np.where(x[:, 0] > 3, -np.inf, 0.0))
    dec = decompose(lambda x: -x, g, density=compact, density_floor=1e-8)
    assert dec.relative_residual < 1e-8


def test_underflowing_density_is_refused_naming_the_argument():
    g = Grid.cube(-50.0, 50.0, 2, 33)
    with pytest.raises(ValueError, match="log_density: must be positive.*underflows"):
        decompose(lambda x: -x, g, log_density=std_normal_log_density)


@pytest.mark.parametrize("bad, name", [
    (dict(field=lambda x: np.full_like(x, np.nan)), "field"),
    (dict(field=np.zeros((9, 9, 2))), "field"),
    (dict(field=np.zeros((17, 17, 3))), "field"),
    (dict(field=lambda x: np.zeros((x.shape[0], 3))), "field"),
    (dict(log_density=np.zeros((9, 9))), "log_density"),
    (dict(density=-np.ones((17, 17))), "density"),
    (dict(density=np.full((17, 17), np.nan)), "density"),
    (dict(log_density=lambda x: np.full(x.shape[0], np.nan)), "log_density"),
    (dict(solver="cupy"), "solver"),
    (dict(preconditioner="ilu"), "preconditioner"),
    (dict(tol=0.0), "tol"),
    (dict(density_floor=-1.0), "density_floor"),
])
def test_bad_input_is_refused_naming_the_argument(bad, name):
    g = Grid.cube(-4.0, 4.0, 2, 17)
    kwargs = dict(field=lambda x: -x, log_density=std_normal_log_density)
    if "density" in bad:
        kwargs.pop("log_density")
    kwargs.update(bad)
    field = kwargs.pop("field")
    with pytest.raises(ValueError, match=name):
        decompose(field, g, **kwargs)


def test_log_density_and_density_together_are_refused():
    g = Grid.cube(-4.0, 4.0, 2, 17)
    with pytest.raises(ValueError, match="exactly one"):
        decompose(lambda x: -x, g, log_density=std_normal_log_density,
                  density=np.ones((17, 17)))
    with pytest.raises(ValueError, match="grid"):
        decompose(lambda x: -x, "not a grid", log_density=std_normal_log_density)


def test_inner_product_refuses_fields_from_another_grid():
    dec = decompose(lambda x: -x, Grid.cube(-4.0, 4.0, 2, 17), log_density=std_normal_log_density)
    other = decompose(lambda x: -x, Grid.cube(-4.0, 4.0, 2, 19),
                      log_density=std_normal_log_density)
    with pytest.raises(ValueError, match="f: component 0"):
        dec.inner(other.field, dec.field)


def test_edge_weights_are_a_probability_quadrature():
    g = Grid.cube(-8.0, 8.0, 2, 65)
    w, boundary = edge_weights(g, log_density=std_normal_log_density)
    for wa in w:
        assert abs(wa.sum() - 1.0) < 2e-2
    assert boundary < 1e-13


def test_planted_bug_unweighted_operator_is_caught_by_the_independent_residual(monkeypatch):
    """Planted bug: assemble the Laplacian without the density weights. The solve then answers
    another problem, and the residual div(p r), computed independently of the matrix, sees it.
    Power: deterministic — a fixed grid and solver, no random draw."""
    real = _sparse.weighted_laplacian

    def unweighted(shape, spacing, weights):
        return real(shape, spacing, [np.full_like(w, w.max()) for w in weights])

    g = Grid.cube(-7.0, 7.0, 2, 33)
    monkeypatch.setattr(_sparse, "weighted_laplacian", unweighted)
    with pytest.raises(RuntimeError, match="did not reach"):
        decompose(rotated_field, g, log_density=std_normal_log_density, maxiter=50)
