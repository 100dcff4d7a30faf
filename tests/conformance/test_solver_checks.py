"""check_solver_order and check_solver_exactness: real peers pass, planted bugs fail, bad input.

The solver checks are exact (no sampling): a planted bug is caught with probability 1.
"""

from __future__ import annotations

import numpy as np
import pytest

from toytheory.conformance import check_solver_exactness, check_solver_order
from toytheory.diffusion import solvers as S


def test_toytheory_dpmpp_2m_has_its_order_and_ddim_does_not_have_two():
    res = check_solver_order(S.sample_dpmpp_2m, 2, options=dict(lower_order_final=False))
    assert res and res.level is None
    assert res.measured["gmm"]["slope"] == pytest.approx(2.0, abs=0.1)
    bad = check_solver_order(S.sample_ddim, 2)
    assert not bad
    assert bad.measured["gmm"]["slope"] == pytest.approx(1.0, abs=0.1)
    with pytest.raises(AssertionError, match="fitted order 1.0"):
        bad.assert_ok()


def _planted_2m(model, x, grid, **kw):
    """DPM-Solver++(2M) written out, with the correction coefficient 0.75 instead of 0.5."""
    xs, prev = np.asarray(x, float), None
    for i in range(grid.n_steps):
        a, s = float(grid.alpha[i]), float(grid.sigma[i])
        a1, s1 = float(grid.alpha[i + 1]), float(grid.sigma[i + 1])
        eps = model(xs, float(grid.t[i]))
        d = (xs - s * eps) / a
        lam, lam1 = np.log(a / s), np.log(a1 / s1)
        h = lam1 - lam
        if prev is None:
            dd = d
        else:
            r = (lam - prev[1]) / h
            dd = d + 0.75 / r * (d - prev[0])   # the published coefficient is 0.5
        xs = (s1 / s) * xs - a1 * np.expm1(-h) * dd
        prev = (d, lam)
    return xs


def test_a_planted_wrong_multistep_coefficient_is_caught():
    """Power: deterministic — check_solver_order fits slopes on fixed start points (no
    suite seed); the planted slope (< 1.3, asserted) against the declared order 2 - 0.25."""
    res = check_solver_order(_planted_2m, 2, problems=("gmm",))
    assert not res and res.measured["gmm"]["slope"] < 1.3


diffusers = pytest.importorskip("diffusers", reason="diffusers is a test extra (peers)")


@pytest.mark.peer
@pytest.mark.parametrize("name, order, config", [
    ("DPMSolverMultistepScheduler", 2, {}),
    ("UniPCMultistepScheduler", 3, {}),          # UniPC-2 with its corrector: order 3
    ("EulerDiscreteScheduler", 1, {}),
    ("HeunDiscreteScheduler", 2, {}),
    ("DEISMultistepScheduler", 2, {}),            # its default solver_order is 2
])
def test_diffusers_schedulers_have_their_orders(name, order, config):
    check_solver_order(getattr(diffusers, name), order, config=config).assert_ok()


@pytest.mark.peer
def test_a_scheduler_without_noise_levels_is_refused_naming_the_alternatives():
    with pytest.raises(ValueError, match="^solver: the diffusers adapter .* DDIMScheduler has none"):
        check_solver_order(diffusers.DDIMScheduler, 1)


@pytest.mark.peer
def test_a_diffusers_scheduler_with_a_wrong_coefficient_fails():
    base = diffusers.DPMSolverMultistepScheduler

    class Planted(base):
        """D1 scaled by 1.5: the 2M correction coefficient 0.5 becomes 0.75 (order 1)."""

        def multistep_dpm_solver_second_order_update(self, model_output_list, *args, **kw):
            m0, m1 = model_output_list[-1], model_output_list[-2]
            wrong = [m0 - 1.5 * (m0 - m1), m0]
            return super().multistep_dpm_solver_second_order_update(wrong, *args, **kw)

    res = check_solver_order(Planted, 2)
    # Power: deterministic (fixed start points, no suite seed): slope < 1.3 against 1.75
    assert not res and res.measured["gmm"]["slope"] < 1.3
    assert "FAIL" in res.report()


def _k_sampling():
    from tests.diffusion_solvers.peers import PeerUnavailable, load_k_diffusion_sampling

    try:
        return load_k_diffusion_sampling()
    except PeerUnavailable as exc:
        pytest.skip(str(exc))


@pytest.mark.peer
@pytest.mark.parametrize("name, order", [("sample_euler", 1), ("sample_heun", 2),
                                         ("sample_dpmpp_2m", 2), ("sample_dpm_2", 2)])
def test_k_diffusion_samplers_have_their_orders(name, order):
    check_solver_order(getattr(_k_sampling(), name), order).assert_ok()


def test_a_k_diffusion_style_heun_with_a_wrong_average_fails():
    """Power: deterministic — fixed start points, no suite seed; the planted slope (< 1.3,
    asserted) against the declared order 2 - 0.25."""
    import torch

    def sample_heun_planted(model, x, sigmas, disable=None):
        for i in range(len(sigmas) - 1):
            s, s1 = sigmas[i], sigmas[i + 1]
            d = (x - model(x, s)) / s
            x2 = x + d * (s1 - s)
            d2 = (x2 - model(x2, s1)) / s1
            x = x + (0.7 * d + 0.3 * d2) * (s1 - s)   # Heun averages with 0.5, 0.5
        return x

    del torch
    res = check_solver_order(sample_heun_planted, 2)
    assert not res and res.measured["gaussian"]["slope"] < 1.3


# ------------------------------------------------------------------------ exactness
def _exact_solver(model, x, grid, **kw):
    """The closed-form flow of the Gaussian data (exact whatever the NFE)."""
    m, c = S.gaussian_flow_to_grid_end(model.process.law, grid)
    return np.asarray(x) @ m.T + c


def test_the_closed_form_flow_is_exact_and_a_shrunk_one_is_not():
    res = check_solver_exactness(_exact_solver, 3)
    assert res and res.measured["w2"] < 1e-10

    def shrunk(model, x, grid, **kw):
        return 0.999 * _exact_solver(model, x, grid)

    assert not check_solver_exactness(shrunk, 3)


def test_ddim_is_not_exact_at_ten_steps_but_within_its_budget_at_many():
    few = check_solver_exactness(S.sample_ddim, 10)
    assert not few and few.measured["w2"] > 1e-2
    assert check_solver_exactness(S.sample_ddim, 400, max_w2=1e-2)


# ------------------------------------------------------------------------ bad input
def test_a_callable_with_the_wrong_signature_is_refused_naming_signatures_and_adapters():
    with pytest.raises(ValueError, match=r"^solver: must match one of the signatures.*"
                                         r"adapters: toytheory, diffusers, k-diffusion"):
        check_solver_order(lambda x: x, 2)
    with pytest.raises(ValueError, match="^solver:.*third argument"):
        check_solver_order(lambda model, x, steps: x, 2)
    with pytest.raises(ValueError, match="^adapter:"):
        check_solver_order(S.sample_ddim, 1, adapter="jax")


@pytest.mark.parametrize("order", [0.5, 0, -1, float("nan"), "two", True])
def test_a_declared_order_below_one_is_refused(order):
    with pytest.raises(ValueError, match="^order:"):
        check_solver_order(S.sample_ddim, order)


@pytest.mark.parametrize("kw, name", [(dict(sizes=(8,)), "sizes"), (dict(sizes=(16, 8)), "sizes"),
                                      (dict(problems=("moons",)), "problems"),
                                      (dict(tol=0), "tol")])
def test_other_bad_arguments_are_refused_by_name(kw, name):
    with pytest.raises(ValueError, match=f"^{name}:"):
        check_solver_order(S.sample_ddim, 1, **kw)


def test_exactness_refuses_bad_nfe_and_budget():
    with pytest.raises(ValueError, match="^nfe:"):
        check_solver_exactness(S.sample_ddim, 0)
    with pytest.raises(ValueError, match="^max_w2:"):
        check_solver_exactness(S.sample_ddim, 5, max_w2=0.0)
