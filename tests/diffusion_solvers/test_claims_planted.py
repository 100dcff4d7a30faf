"""Every diffusion.solvers order, pitfall and exact-error claim reports the failure it exists
to catch: a planted false statement comes out ``refuted``, a planted toolkit bug ``fails``.

Power: unless a test says otherwise, the claim's decision is a deterministic function of
exact computations (closed-form flows, a DOP853 reference, sympy), and no draw of the run
seed enters it; each planted failure is therefore caught with probability 1 under every
seed (>= 1 - 1e-6 as the contract asks). The run seed still comes from ``test_seed``.
"""

from __future__ import annotations


import numpy as np
import pytest

from toytheory.claims import execute_claim, load_catalog

REGISTRY = load_catalog()

GENERIC = [c.id.rsplit(".", 1)[1] for c in REGISTRY
           if c.id.startswith("diffusion.solvers.order.")
           and c.check.__module__.endswith("diffusion_solvers_order")]


def _run(claim_id, seed, **overrides):
    claim = REGISTRY[claim_id]
    if overrides:
        claim = claim.with_params("quick", **overrides)
    return execute_claim(claim, "quick", seed)


def test_every_claim_of_these_modules_has_a_kind():
    mine = [c for c in REGISTRY if c.id.startswith(("diffusion.solvers.order.",
                                                    "diffusion.solvers.pitfalls.",
                                                    "diffusion.solvers.exact_error."))]
    assert len(mine) >= 35
    for c in mine:
        assert c.kind in ("paper", "derived", "library", "background"), c.id
        if c.kind == "library":
            assert c.library and c.source, c.id
        if c.kind == "paper":
            assert c.source and c.reading, c.id


def test_the_multistep_claims_are_not_booked_under_the_2022_dpm_solver_paper():
    from toytheory.claims.catalog.diffusion_solvers_common import PAPER_DPM

    for name in ("dpm_solver_2m", "dpm_solver_3m", "dpm_solver_3m_reference",
                 "dpmpp_3m_reference"):
        assert REGISTRY[f"diffusion.solvers.order.{name}"].paper != PAPER_DPM


@pytest.mark.parametrize("name", GENERIC)
def test_a_solver_one_order_short_is_refuted(name, monkeypatch, test_seed):
    """Planted: the solver's output carries an extra error 100 * N^-(p-1) (a constant
    offset, which every exact error metric sees), so it converges at order p - 1; the
    fitted slope is 1 away from p and the claim must be refuted.

    Power: deterministic (exact errors): every solver's fitted slope falls a full order
    below the bound order - 0.25 (e.g. 1.0 against 1.75)."""
    from toytheory.claims.catalog import diffusion_solvers_common as common

    table = common.solver_table()
    fn, kw, p, paper, note, kind = table[name]

    def short(model, x, grid, **options):
        out = fn(model, x, grid, **options)
        return out + 100.0 * float(grid.n_steps) ** (-(p - 1))

    planted = dict(table)
    planted[name] = (short, kw, p, paper, note, kind)
    monkeypatch.setattr(common, "solver_table", lambda: planted)
    result = _run(f"diffusion.solvers.order.{name}", test_seed)
    assert result["verdict"] == "refuted", result["message"]


@pytest.mark.parametrize("name,prediction", [("dpmpp_3m_reference", "data"),
                                             ("dpm_solver_3m_reference", "noise")])
def test_a_third_order_release_is_refuted(name, prediction, monkeypatch, test_seed):
    """Planted: the 'released' update has the corrected coefficient (third order) and the
    library's one step returns the corrected form: the library claim must be refuted.

    Power: deterministic: one float64 step leaves the published form by 0.17-1.0 against
    tolerances near 1e-9."""
    from toytheory.claims.catalog import diffusion_solvers_common as common
    from toytheory.claims.catalog import diffusion_solvers_third_order as third

    table = common.solver_table()
    fn, kw, p, paper, note, kind = table[name]
    fixed = {k: v for k, v in kw.items() if k != "third_order"}
    planted = dict(table)
    planted[name] = (fn, fixed, p, paper, note, kind)
    monkeypatch.setattr(common, "solver_table", lambda: planted)
    monkeypatch.setattr(third, "diffusers_third_order_step",
                        lambda pred, x, m, lam: third.third_order_step(pred, x, m, lam, 2.0))
    result = _run(f"diffusion.solvers.order.{name}", test_seed)
    assert result["verdict"] == "refuted", result["message"]


def test_a_wrong_taylor_expansion_fails_the_third_order_claim(monkeypatch, test_seed):
    """Planted toolkit bug: the expansion drops the 1/2 of the 2M midpoint form (a wrong
    symbolic oracle); the symbolic witness must make the claim fail, not refute it.

    Power: deterministic (sympy): the local error power is 2 where 3 is required."""
    import sympy as sp

    from toytheory.diffusion import solvers
    from toytheory.diffusion.solvers import local_order

    original = local_order.multistep_local_error

    def wrong(prediction, order, d2_factor=2, **kw):
        if order == 2:
            return 2, sp.Symbol("c1")
        return original(prediction, order, d2_factor, **kw)

    monkeypatch.setattr(local_order, "multistep_local_error", wrong)
    monkeypatch.setitem(solvers.__dict__, "multistep_local_error", wrong)
    result = _run("diffusion.solvers.order.dpmpp_3m_reference", test_seed)
    assert result["verdict"] == "fails", result["message"]


def test_ghvb_that_is_first_order_is_refuted_on_the_paper_grid(monkeypatch, test_seed):
    """Planted: 'GHVB-3' runs at order 1 (GHVB k = 1); its slope leaves PLMS-3's by ~0.45
    and it no longer beats DDIM: refuted.

    Power: deterministic: |slope GHVB-3 - slope PLMS-3| = 0.51 against the tolerance 0.25."""
    from toytheory.claims.catalog import diffusion_solvers_momentum_order as mo

    monkeypatch.setitem(mo.SOLVERS, "ghvb_3", ("sample_ghvb", {"order": 1, "beta": 0.5}))
    result = _run("diffusion.solvers.order.ghvb_3", test_seed)
    assert result["verdict"] == "refuted", result["message"]


def test_ghvb_beta_one_not_plms_fails(monkeypatch, test_seed):
    """Planted toolkit bug: GHVB at beta = 1 differs from PLMS (a wrong AB weight in the
    GHVB branch only); the beta = 1 witness must make the claim fail.

    Power: deterministic: GHVB-3 at beta = 1 leaves PLMS-3 by 6.6e-5 against 1e-12."""
    from toytheory.claims.catalog import diffusion_solvers_momentum_order as mo

    monkeypatch.setitem(mo.SOLVERS, "ghvb_3_beta1", ("sample_ghvb", {"order": 3, "beta": 0.99}))
    result = _run("diffusion.solvers.order.ghvb_3", test_seed)
    assert result["verdict"] == "fails", result["message"]


def test_a_variable_coefficient_method_refutes_the_order_two_cap(monkeypatch, test_seed):
    """Planted: 'PLMS-3' is a variable-coefficient third-order method (DPM-Solver++(3M)):
    its slope on the log-SNR grid is ~3, not 2, so the derived claim must be refuted.

    Power: deterministic: the fitted slope is 2.97 against 2 +- 0.25."""
    from toytheory.claims.catalog import diffusion_solvers_momentum_order as mo

    monkeypatch.setitem(mo.SOLVERS, "plms_3", ("sample_dpmpp_3m", {"lower_order_final": False}))
    result = _run("diffusion.solvers.order.constant_coefficient_multistep_grids", test_seed)
    assert result["verdict"] == "refuted", result["message"]


def test_wrong_adams_bashforth_weights_fail_the_symbolic_witness(monkeypatch, test_seed):
    """Planted toolkit bug: the AB-3 weights are off in the third (5/12 -> 4/12); the equal-
    step witness (local power 4) must make the claim fail."""
    from toytheory.diffusion.solvers import momentum

    original = momentum.adams_bashforth_coefficients

    def wrong(order, beta=1.0):
        w = list(original(order, beta))
        if order == 3:
            w[2] -= 1.0 / 12
        return w

    monkeypatch.setattr(momentum, "adams_bashforth_coefficients", wrong)
    result = _run("diffusion.solvers.order.constant_coefficient_multistep_grids", test_seed)
    assert result["verdict"] == "fails", result["message"]


def test_a_grid_that_accepts_a_repeated_sigma_is_refuted(monkeypatch, test_seed):
    """Planted: TimeGrid.from_sigmas accepts the repeated final level; the claim's statement
    that toytheory refuses it must come out refuted.

    Power: deterministic: the repeated level is accepted where a ValueError is required."""
    from toytheory.diffusion.solvers import grids

    original = grids.TimeGrid.from_sigmas.__func__

    def lenient(cls, schedule, sigmas, name="grid"):
        s = np.asarray(sigmas, float)
        keep = np.append(True, np.diff(s) != 0)     # silently drops the repeated level
        return original(cls, schedule, s[keep], name=name)

    monkeypatch.setattr(grids.TimeGrid, "from_sigmas", classmethod(lenient))
    result = _run("diffusion.solvers.pitfalls.repeated_final_sigma", test_seed)
    assert result["verdict"] == "refuted", result["message"]


def test_swapped_lower_order_final_is_refuted(monkeypatch, test_seed):
    """Planted: lower_order_final is read inverted, so the 'second-order final step' run is
    first order and vice versa: the error ratio drops below 1 and the claim is refuted.

    Power: deterministic: the exact error ratios are 0.38-0.56 against the >= 1 of the
    statement."""
    from toytheory.diffusion import solvers

    original = solvers.sample_dpmpp_2m

    def swapped(model, x, grid, lower_order_final=True, **kw):
        return original(model, x, grid, lower_order_final=not lower_order_final, **kw)

    monkeypatch.setitem(solvers.__dict__, "sample_dpmpp_2m", swapped)
    result = _run("diffusion.solvers.pitfalls.second_order_near_zero", test_seed)
    assert result["verdict"] == "refuted", result["message"]


def test_a_finite_singlestep_library_update_is_refuted(monkeypatch, test_seed):
    """Planted: the library's second-order single step into sigma = 0 is finite (as after
    the fix); the claim's statement that it is non-finite must be refuted.

    Power: deterministic: the library step is finite where the statement says non-finite."""
    from toytheory.claims.catalog import diffusion_solvers_pitfalls as pit

    monkeypatch.setattr(pit, "library_singlestep_second_order_update",
                        lambda x, m0, m1, *a: np.asarray(m0, float))
    result = _run("diffusion.solvers.pitfalls.singlestep_order3_3n_minus_1", test_seed)
    assert result["verdict"] == "refuted", result["message"]


def test_a_ddim_linspace_emulation_that_is_ddim_is_refuted(monkeypatch, test_seed):
    """Planted: the 'diffusers linspace' emulation steps to the next scheduled timestep (it
    is DDIM); the W2 between the laws is 0 and the claim must be refuted.

    Power: deterministic: the exact W2 between the two laws is 0 against the >= 0.01 of the
    statement."""
    from toytheory.claims.catalog import diffusion_solvers_pitfalls as pit
    from toytheory.diffusion.solvers import TimeGrid, sample_ddim

    def plain(model, x, schedule_vp, n):
        times = np.linspace(0, 999, n).round()[::-1].astype(float)
        return sample_ddim(model, x, TimeGrid.from_times(schedule_vp, times, final_zero=True))

    monkeypatch.setattr(pit, "diffusers_ddim_linspace", plain)
    result = _run("diffusion.solvers.pitfalls.ddim_linspace_stride", test_seed)
    assert result["verdict"] == "refuted", result["message"]


def test_a_solver_whose_error_grows_with_nfe_is_refuted(monkeypatch, test_seed):
    """Planted: DDIM's output carries an offset growing with the number of
    steps; its W2 at NFE 40 exceeds that at NFE 5 and the exact-error claim is refuted.
    The claim's Monte Carlo witness (a KS test at level 1e-6 on 20,000 draws of the
    unplanted DPM-Solver++(2M) 10-step law) accepts a correct law with probability
    >= 1 - 1e-6 (its level), so the verdict is refuted with at least that probability."""
    from toytheory.claims.catalog import diffusion_solvers_common as common

    table = common.solver_table()
    fn, kw, p, paper, note, kind = table["ddim"]
    planted = dict(table)
    planted["ddim"] = (lambda model, x, grid, **o: fn(model, x, grid, **o)
                           + 0.01 * grid.n_steps, kw, p, paper, note, kind)
    monkeypatch.setattr(common, "solver_table", lambda: planted)
    result = _run("diffusion.solvers.exact_error.gaussian_laws_vs_nfe", test_seed)
    assert result["verdict"] == "refuted", result["message"]
