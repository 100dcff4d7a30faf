"""Solver-paper claims (DEIS, USF, DPM-Solver-v3): the new samplers and planted failures.

Every verdict here is decided by exact errors (no sampling), so each planted failure is
caught with probability 1 under any seed.
"""

from __future__ import annotations

import numpy as np
import pytest

from toytheory.claims import execute_claim, load_catalog
from toytheory.claims.catalog import diffusion_solvers_common as C
from toytheory.diffusion import solver_search as SS

REGISTRY = load_catalog()


def run(claim_id, seed, **overrides):
    claim = REGISTRY[claim_id]
    if overrides:
        claim = claim.with_params("quick", **overrides)
    return execute_claim(claim, "quick", seed)


def _model():
    from toytheory.diffusion.solvers.models import AffineGaussianModel

    return AffineGaussianModel(C.gaussian_toy(), C.schedule(), prediction="eps")


def test_bad_schedule_names_the_argument(rng):
    grid = C.log_snr_grid(3)
    x = rng.standard_normal((2, 3))
    with pytest.raises(ValueError, match="schedule"):
        SS.sample_schedule(_model(), x, grid, [("eps", 1)] * 2)
    with pytest.raises(ValueError, match="schedule"):
        SS.sample_schedule(_model(), x, grid, [("eps", 2)] * 3)
    with pytest.raises(ValueError, match="schedule"):
        SS.sample_schedule(_model(), x, grid, [("eps", 1), ("v", 1), ("eps", 1)])
    with pytest.raises(ValueError, match="n_steps"):
        SS.search_schedule(lambda s: 0.0, 0)


def test_first_order_choices_coincide_and_euler_converges(rng):
    """Order 1 with noise or data prediction is the same step; Euler-in-t converges at
    first order (error halves when the steps double)."""
    from toytheory.claims.catalog.diffusion_solvers_papers import _gauss_error

    grid = C.log_snr_grid(4)
    x = rng.standard_normal((3, 3))
    np.testing.assert_allclose(SS.sample_schedule(_model(), x, grid, [("eps", 1)] * 4),
                               SS.sample_schedule(_model(), x, grid, [("data", 1)] * 4),
                               atol=1e-12)
    e = [_gauss_error(lambda y, g: SS.sample_euler_vp(_model(), y, g), C.log_snr_grid(n))
         for n in (200, 400)]
    assert 1.8 < e[0] / e[1] < 2.2


def test_wrong_euler_fails_the_deis_claim(monkeypatch, test_seed):
    """Planted toolkit bug: the Euler baseline without its linear drift term; the one-step
    formula witness reports ``fails``.

    Power: deterministic: one Euler step leaves the formula by hand by 10 against 1e-12."""
    def bad(eps_model, x, grid):
        sch = grid.schedule
        x = np.array(x, float)
        for i in range(grid.n_steps):
            t, s = float(grid.t[i]), float(grid.t[i + 1])
            x = x + (s - t) * float(sch.diffusion_sq(t)) / (2 * float(grid.sigma[i])) \
                * eps_model(x, t)
        return x

    monkeypatch.setattr(SS, "sample_euler_vp", bad)
    assert run("diffusion.solvers.papers.deis_beats_euler", test_seed)["verdict"] == "fails"


def test_deis_claim_is_refuted_where_euler_wins(test_seed):
    """Planted false statement: held on the t-uniform grid too, where Euler-in-t is more
    accurate than every DEIS variant at NFE 10 on both toys (exact errors: deterministic).

    Power: deterministic: exact errors, no random draw decides the count of cases."""
    r = run("diffusion.solvers.papers.deis_beats_euler", test_seed, nfes=(10,),
            held_grids=("log-SNR grid", "quadratic-t grid", "t-uniform grid"))
    assert r["verdict"] == "refuted"


def test_deis_claim_holds_where_deis_wins(test_seed):
    """The statement can hold: at NFE 20 DEIS beats Euler on both toys and grids."""
    assert run("diffusion.solvers.papers.deis_beats_euler", test_seed, nfes=(20,))["verdict"] \
        == "holds"


def test_wrong_second_order_step_fails_the_usf_claim(monkeypatch, test_seed):
    """Planted toolkit bug: every other data-prediction second-order step silently run at first
    order; the fixed schedule no longer equals DPM-Solver++(2M) -> ``fails``.

    Power: deterministic: the fixed schedules leave the named solvers by 0.32 against 1e-10."""
    original = SS.sample_schedule

    def bad(eps_model, x, grid, schedule):
        schedule = [("eps", 1) if c == ("data", 2) and i % 2 else c
                    for i, c in enumerate(schedule)]
        return original(eps_model, x, grid, schedule)

    monkeypatch.setattr(SS, "sample_schedule", bad)
    assert run("diffusion.solvers.papers.usf_schedule_beats_fixed_solvers", test_seed)[
        "verdict"] == "fails"


def test_usf_claim_refuted_where_the_search_finds_nothing(test_seed):
    """Planted false statement: only NFE 5, where the best schedule is DPM-Solver++(2M)
    itself (ratio 1 < 2) -> ``refuted``.

    Power: deterministic: the exact error ratio is 1 against the 2 the statement needs."""
    assert run("diffusion.solvers.papers.usf_schedule_beats_fixed_solvers", test_seed,
               nfes=(5,))["verdict"] == "refuted"


def test_worse_v3_refutes_the_v3_claim(monkeypatch, test_seed):
    """Planted false statement: v3 errors reported 3x the best previous solver's ->
    ``refuted``.

    Power: deterministic: the exact error ratio is 3 against the bound 1.1."""
    original = C.gaussian_error

    def worse(name, n, **kw):
        if name.startswith("dpm_solver_v3"):
            return 3 * min(original(k, n) for k in ("dpmpp_2m", "dpmpp_3m", "unipc_2"))
        return original(name, n, **kw)

    monkeypatch.setattr(C, "gaussian_error", worse)
    assert run("diffusion.solvers.papers.v3_better_or_comparable_at_low_nfe", test_seed)[
        "verdict"] == "refuted"


def test_wrong_flow_map_fails_the_v3_claim(monkeypatch, test_seed):
    """Planted toolkit bug: the exact flow map's offset shifted by 1e-3; the DOP853 witness
    reports ``fails``.

    Power: deterministic: the flow map leaves DOP853 by 1e-3 against 1e-8."""
    from toytheory.diffusion.solvers import analysis as A

    original = A.gaussian_flow_to_grid_end
    monkeypatch.setattr(A, "gaussian_flow_to_grid_end",
                        lambda law, grid: (lambda mc: (mc[0], mc[1] + 1e-3))(original(law, grid)))
    assert run("diffusion.solvers.papers.v3_better_or_comparable_at_low_nfe", test_seed)[
        "verdict"] == "fails"
