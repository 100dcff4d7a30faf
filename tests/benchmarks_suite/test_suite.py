"""``make bench`` (benchmarks/suite.py): the table is built from real timings of both
contenders, agreement is checked before timing, and the fair peers compute the same
answer as toytheory (they are peers, not strawmen)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from benchmarks import suite
from benchmarks.suite import Workload, format_table, measure


class _FakeClock:
    """A clock that moves only when a contender "works": timings are exact, so these tests
    do not depend on the machine's load (wall-clock sleeps overslept by ~10 ms on a busy
    machine and flipped a ratio of 4 to 1.5)."""

    def __init__(self):
        self.now = 0.0

    def perf_counter(self):
        return self.now

    def work(self, seconds):
        return lambda: setattr(self, "now", self.now + seconds)


@pytest.fixture(autouse=True)
def clock(monkeypatch):
    """``benchmarks.suite`` times with this clock (``sleep`` stays real, for the burners)."""
    import time
    import types

    fake = _FakeClock()
    monkeypatch.setattr(suite, "time", types.SimpleNamespace(perf_counter=fake.perf_counter,
                                                             sleep=time.sleep))
    return fake


def _workload(clock, peer_s, ours_s, target=2.0, agree=True):
    def setup(quick):
        def check():
            assert agree, "contenders disagree"
        return clock.work(peer_s), clock.work(ours_s), check
    return Workload("toy", "toy", "sleep peer", "sleep ours", target, setup,
                    work=lambda q: 10, unit="things", min_throughput=None)


def test_measure_reports_the_ratio_of_medians_and_the_target(clock):
    fast = measure(_workload(clock, 0.02, 0.005, target=2.0), quick=True, rounds=3)
    assert fast.ratio_median == pytest.approx(4.0, rel=1e-9) and fast.met
    assert fast.peer_median_s == pytest.approx(0.02) and fast.ours_median_s == pytest.approx(0.005)
    assert fast.ratio_min <= fast.ratio_median <= fast.ratio_max
    slow = measure(_workload(clock, 0.005, 0.02, target=2.0), quick=True, rounds=3)
    assert slow.ratio_median == pytest.approx(0.25, rel=1e-9) and not slow.met
    assert "NO" in format_table([slow], "x") and "yes" in format_table([fast], "x")


def test_disagreeing_contenders_are_never_timed(clock):
    with pytest.raises(AssertionError, match="disagree"):
        measure(_workload(clock, 0.0, 0.0, agree=False), quick=True, rounds=1)
    assert clock.now == 0.0


def test_busy_machine_starts_and_stops_its_burners():
    with suite.BusyMachine(processes=1) as busy:
        assert all(p.is_alive() for p in busy._procs)
    assert not any(p.is_alive() for p in busy._procs)


def test_main_writes_json_for_a_quick_workload(tmp_path, monkeypatch):
    import time

    monkeypatch.setattr(suite, "time", time)          # a real workload: the real clock
    rc = suite.main(["--quick", "--rounds", "1", "-k", "l1_sensitivities", "--out",
                     str(tmp_path)])
    assert rc == 0
    (path,) = tmp_path.glob("suite-idle-*.json")
    data = json.loads(path.read_text())
    (o,) = data["outcomes"]
    assert o["key"] == "l1_sensitivities" and o["error"] is None and o["ours_median_s"] > 0


def test_fair_peers_compute_toytheorys_answers(rng):
    """The plain-numpy score, the in-place numpy SDE and the compacting numpy Linearq are
    correct implementations: the score to rounding, the others in law."""
    from benchmarks.workloads import (_gmm_law, compacting_numpy_linearq, inplace_numpy_sde,
                                      plain_numpy_gmm_score)
    from sims.rl_rollouts import linearq_returns_numpy_vectorized
    from toytheory import stats
    from toytheory.diffusion.marginal_tests import projected_cdf
    from toytheory.diffusion.toys import two_mode_1d
    from toytheory.rl.datasets import epsilon_mixture
    from toytheory.rl.linearq_mdp import linearq_optimal_actions

    law = _gmm_law(3, 5)
    x = law.sample(500, 1.0, 0.5, rng=rng)
    m = law.marginal(1.0, 0.5)
    np.testing.assert_allclose(plain_numpy_gmm_score(m.weights, m.means, m.covs, x, chunk=128),
                               law.score(x, 1.0, 0.5), rtol=1e-9, atol=1e-9)
    # SDE: the in-place loop's output follows the exact marginal at t = 1e-3 (KS at 1e-6;
    # 4000 paths detect a sup-distance of about 0.04)
    from benchmarks.bench_diffusion_sde import B0, B1, T0, T1, vp_coefficients
    from toytheory.diffusion.schedules import VPLinear

    two = two_mode_1d()
    a0, s0, _, _ = vp_coefficients(T0)
    x0 = two.sample(4000, a0, s0, rng=rng)[:, 0]
    out = inplace_numpy_sde(x0, int(rng.integers(2**31)), 400)
    a1, s1 = (float(v) for v in VPLinear(B0, B1).marginal(T1))
    assert stats.ks_1samp(out, projected_cdf(two, a1, s1, np.ones(1)), 1e-6).pvalue > 1e-6
    # Linearq: the compacting loop and the reference vectorised loop have the same law of
    # returns (chi-square on the counts of each return value, 1e-6)
    p = epsilon_mixture(linearq_optimal_actions(5), 2, 0.1)[:, 1]
    a = compacting_numpy_linearq(5, p, 20_000, rng)
    b = linearq_returns_numpy_vectorized(5, p, 20_000, rng)
    values = np.union1d(a, b)
    ca = np.array([(a == v).sum() for v in values])
    cb = np.array([(b == v).sum() for v in values])
    assert stats.chisquare_two_sample(ca, cb, 1e-6).pvalue > 1e-6


def test_peer_scale_extrapolates_and_budget_workloads_time_only_toytheory(clock):
    import dataclasses

    scaled = dataclasses.replace(_workload(clock, 0.004, 0.004, target=2.0), peer_scale=5.0)
    o = measure(scaled, quick=True, rounds=2)
    assert o.ratio_median == pytest.approx(5.0, rel=1e-9) and o.met   # 5 x 4 ms against 4 ms

    def setup(quick):
        return None, clock.work(0.01), (lambda: None)
    within = Workload("b", "b", "budget", "ours", 1.0, setup, budget_s=0.5)
    o = measure(within, quick=True, rounds=2)
    assert o.peer_median_s == 0.5 and o.met and "<= 0.5 s" in format_table([o], "x")
    over = dataclasses.replace(within, budget_s=0.001)
    assert not measure(over, quick=True, rounds=1).met
    with pytest.raises(ValueError, match="no peer"):
        measure(dataclasses.replace(_workload(clock, 0.0, 0.0), budget_s=1.0), quick=True,
                rounds=1)


NEW_AREAS = ("kseq_vectorized", "kseq_loop", "fkc_particles", "fkc_numba", "fkc_torch_cpu",
             "posterior_numpy",
             "pfgm_field_loop", "pfgm_field_matrix", "hallucination_mlp_train")


@pytest.mark.parametrize("key", NEW_AREAS)
def test_new_area_workloads_agree_at_the_quick_size(key):
    """The new areas' workloads (issue 22 item 5) are in the table and their contenders pass
    the agreement check before timing (the FKC peer to rounding with the same draws, the
    K-SEQ samplers in law, the posteriors and fields to 1e-8, the MLP to its loss target)."""
    from benchmarks.workloads import WORKLOADS

    (w,) = [w for w in WORKLOADS if w.key == key]
    peer, ours, check = w.setup(True)
    check()
    assert (peer is None) == (w.budget_s is not None)


def test_fkc_agreement_check_can_fail(monkeypatch):
    """The FKC check compares particles and log-weights drawn with the same seed: a
    fkc_simulate whose weight rate drops the Laplacian term (a planted bug, on toytheory's
    side only) disagrees with the plain-numpy peer. Power: deterministic — both sides draw
    with the same seed, so the dropped term's difference is seen whatever the draw."""
    import toytheory.diffusion.fkc as fkc
    from benchmarks.workloads import _fkc_setup

    real = fkc._quadratic_coefficients
    monkeypatch.setattr(fkc, "_quadratic_coefficients",
                        lambda path, t, drop: real(path, t, "laplacian"))
    with pytest.raises(AssertionError, match="FKC particles differ"):
        _fkc_setup(True)[2]()


@pytest.mark.parametrize("key", ["fkc_numba", "fkc_torch_cpu"])
def test_fkc_inplace_rows_check_can_fail(key, monkeypatch):
    """Issue 16's FKC rows (Numba, torch against the in-place numpy peer) check each
    contender's weighted mean against the exact target before timing: a simulator whose
    weight rate drops the inner-product term (planted on toytheory's side only; the peer
    keeps the real coefficients) misses it. Power: deterministic — the workload's seeds are
    fixed; its error is 0.06 against the tolerance 0.04 (the real rate: 0.014-0.018)."""
    import sims.diffusion_guided_fkc as sims
    from benchmarks.workloads import WORKLOADS

    kind = key.split("_")[1]
    name = f"fkc_smc_{kind}"
    real = getattr(sims, name)

    def planted(path, n, grid, seed, **kw):
        kw["coefficients"] = sims.path_coefficients(path, grid, drop="inner")
        return real(path, n, grid, seed, **kw)
    monkeypatch.setattr(sims, name, planted)
    (w,) = [w for w in WORKLOADS if w.key == key]
    peer, ours, check = w.setup(True)
    with pytest.raises(AssertionError, match=f"{kind} FKC weighted mean misses"):
        check()
