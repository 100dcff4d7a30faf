"""Every statistical or count-based check of the rl claims catches a planted bug."""

from __future__ import annotations

import numpy as np
import pytest

from toytheory.claims import execute_claim, load_catalog

REGISTRY = load_catalog()


def run_quick(claim_id, **overrides):
    claim = REGISTRY[claim_id]
    if overrides:
        from dataclasses import replace

        tiers = dict(claim.tiers)
        tiers["quick"] = {**tiers["quick"], **overrides}
        claim = replace(claim, tiers=tiers)
    return execute_claim(claim, "quick", 0)


def test_wrong_exploration_in_the_rollouts_fails_the_return_law_check(monkeypatch):
    import sims.rl_rollouts as sims

    original = sims.linearq_returns

    def biased(u, prob_one, n, seed):
        return original(u, np.clip(np.asarray(prob_one) * 0.9 + 0.01, 0, 1), n, seed)

    monkeypatch.setattr(sims, "linearq_returns", biased)
    result = run_quick("rl.linearq.exact_optimal_values", u_max=8, sim_u=(4,))
    assert result["verdict"] == "fails"


def test_wrong_policy_evaluation_fails_the_rollout_t_tests(monkeypatch):
    import toytheory.rl.mdp as mdp_module

    original = mdp_module.policy_evaluation

    def off_by_a_step(mdp, policy):
        values = original(mdp, policy)
        return mdp_module.FiniteHorizonValues(values.Q, values.V * 1.02)

    monkeypatch.setattr(mdp_module, "policy_evaluation", off_by_a_step)
    result = run_quick("rl.tabular.values_match_brute_force_and_rollouts", n_brute=1)
    assert result["verdict"] == "fails"


def test_value_iteration_with_min_fails_the_brute_force_check(monkeypatch):
    import toytheory.rl.mdp as mdp_module

    def pessimistic(mdp):
        H, S, A = mdp.H, mdp.n_states, mdp.n_actions
        Q, V = np.zeros((H, S, A)), np.zeros((H + 1, S))
        for h in range(H - 1, -1, -1):
            Q[h] = mdp.r + mdp.P @ V[h + 1]
            V[h] = Q[h].min(axis=1)
        return mdp_module.FiniteHorizonValues(Q, V)

    monkeypatch.setattr(mdp_module, "value_iteration", pessimistic)
    result = run_quick("rl.tabular.values_match_brute_force_and_rollouts", n_sim=1)
    assert result["verdict"] == "fails"


def test_mbrcsl_without_rollouts_is_refuted(monkeypatch):
    import toytheory.rl.pointmaze as maze

    original = maze.mbrcsl
    monkeypatch.setattr(maze, "mbrcsl", lambda m, d, n, rng=None: original(m, d, 1, rng))
    result = run_quick("rl.pointmaze.mbrcsl_stitches", seeds=12, n_data=300)
    assert result["verdict"] == "refuted"


def test_a_stitching_rcsl_is_refuted(monkeypatch):
    import toytheory.rl.rcsl as rcsl

    def oracle(self, mdp, target_return=None, *, greedy=False):
        from toytheory.rl.exact import exact_value_iteration

        return exact_value_iteration(mdp).v(0, mdp.start)

    monkeypatch.setattr(rcsl.TabularRCSL, "expected_return", oracle)
    result = run_quick("rl.stitching.rcsl_cannot_stitch", half_lengths=(1, 2), copies=(1,))
    assert result["verdict"] == "refuted"


def test_the_naive_breakpoint_bound_fails_the_width_claim(monkeypatch):
    import toytheory.rl.interpolation as interp

    monkeypatch.setattr(interp, "breakpoint_lower_bound", interp.naive_breakpoint_lower_bound)
    result = run_quick("rl.linearq.width_grows_linearly", u_max=12)
    assert result["verdict"] == "fails"


@pytest.mark.filterwarnings("ignore")
def test_untrained_rcsl_is_refuted(monkeypatch):
    pytest.importorskip("torch")
    import toytheory.rl.learners as learners

    original = learners.fit_rcsl_mlp
    monkeypatch.setattr(learners, "fit_rcsl_mlp",
                        lambda u, widths, seeds, steps=1, **kw: original(u, widths, seeds,
                                                                         steps=1, **kw))
    result = run_quick("rl.linearq.rcsl_mlp_reaches_optimum", us=(4,), seeds=2)
    assert result["verdict"] == "refuted"


def test_a_dqn_stopped_after_one_target_holds_the_statement(monkeypatch):
    """The shortfall statistic sees a learner that really falls short (verdict flips)."""
    pytest.importorskip("torch")
    import toytheory.rl.learners as learners

    original = learners.fit_q_iteration
    monkeypatch.setattr(learners, "fit_q_iteration",
                        lambda u, widths, seeds, steps=50, **kw: original(
                            u, widths, seeds, steps=steps, iterations=1, **kw))
    result = run_quick("rl.linearq.dqn_falls_short", us=(16,), seeds=1, rcsl_steps=5)
    assert result["verdict"] == "holds"



STITCHING_BASELINES = {"rcsl": "RCSL", "bc": "BC (stochastic)",
                       "bc_greedy": "BC (most frequent action)"}


@pytest.mark.parametrize("field", STITCHING_BASELINES, ids=list(STITCHING_BASELINES))
def test_a_baseline_that_stitches_fails_its_clopper_pearson_check(monkeypatch, field):
    """Plant an RCSL / behaviour cloning that stitches: it earns MBRCSL's return on every seed.

    The claim's check "probability of reaching the optimum <= 0.5" (upper end of
    the exact interval) must then fail for the planted method, and only for it;
    the other methods' checks still pass, so the refutation is the plant's.
    24 seeds (quick tier: 40) are enough for 0/24 and 24/24 to clear 0.5 at the
    claim's level 1e-6 (upper end 0.45, lower end 0.55), so the unplanted
    checks can pass.
    """
    from dataclasses import replace

    import toytheory.rl.pointmaze as maze

    original = maze.mbrcsl

    def stitching(m, d, n_rollouts=1000, rng=None):
        result = original(m, d, n_rollouts, rng)
        return replace(result, **{field: result.mbrcsl})

    monkeypatch.setattr(maze, "mbrcsl", stitching)
    result = run_quick("rl.pointmaze.mbrcsl_stitches", seeds=24, n_data=300, n_rollouts=300)
    assert result["verdict"] == "refuted"
    checks = {n["name"].split(":")[0]: n for n in result["numbers"]
              if "probability of reaching the optimum" in n["name"]}
    assert set(checks) == {"MBRCSL", *STITCHING_BASELINES.values()}
    planted = STITCHING_BASELINES[field]
    assert checks[planted]["passed"] is False
    assert checks[planted]["note"].startswith("24/24 seeds")  # every seed stitched
    assert all(n["passed"] for name, n in checks.items() if name != planted)


def _fqi_run(u, gaps):
    """A LearnerRun whose return at (width, seed) is 4u + 2 - gaps[width][seed]."""
    from fractions import Fraction

    from toytheory.rl.learners import LearnerRun

    optimum = Fraction(4 * u + 2)
    returns = {(w, s): optimum - Fraction(g) for w, gs in gaps.items() for s, g in enumerate(gs)}
    greedy = {}
    for key, ret in returns.items():  # the threshold policy, wrong at s = u when short
        actions = (np.arange(3 * u + 3) >= u + 1).astype(int)
        actions[u] ^= int(ret < optimum)
        greedy[key] = actions.tolist()
    return LearnerRun("fqi", u, returns, optimum, {"greedy_actions": greedy})


def test_shortfall_summary_states_the_observation_from_the_numbers():
    from toytheory.rl.learners import shortfall_summary

    run = _fqi_run(16, {2: ["1/2", 1], 4: ["1/2", "1/2"], 8: [0, 0], 16: [0, 0], 64: [0, 0]})
    assert shortfall_summary([run]) == (
        "Observed in this run: at u = 16, 2 of 8 runs at widths [u/4, 4u] ended short "
        "(2 by 1/2); widths 8, 16 and 64 reached 4u + 2 = 66 on every seed, widths 2 and 4 "
        "on no seed.")
    # planted: width 16 now misses by 1 on one seed; the sentence must change accordingly
    bent = _fqi_run(16, {2: ["1/2", 1], 4: ["1/2", "1/2"], 8: [0, 0], 16: [0, 1], 64: [0, 0]})
    text = shortfall_summary([bent])
    assert "3 of 8 runs at widths [u/4, 4u] ended short (2 by 1/2 and 1 by 1)" in text
    assert "widths 8 and 64 reached 4u + 2 = 66 on every seed" in text


def test_shortfall_summary_refuses_what_is_not_a_run():
    from toytheory.rl.learners import shortfall_summary

    with pytest.raises(ValueError, match=r"^runs: must hold LearnerRun"):
        shortfall_summary([{"u": 4}])


def test_the_dqn_claim_attaches_the_observation_and_keeps_its_verdict_logic(monkeypatch):
    """The note is computed from the run's returns; the verdict still comes from the fraction."""
    import toytheory.rl.learners as learners

    gaps = {2: ["1/2"], 4: ["1/2"], 8: [0], 16: [0], 64: [0]}

    def fake_fqi(u, widths, seeds, steps=50, **kw):
        assert sorted(widths) == sorted(gaps)
        return _fqi_run(u, gaps)

    def fake_rcsl(u, widths, seeds, steps=2000, **kw):
        return _fqi_run(u, {w: [0] for w in widths})

    monkeypatch.setattr(learners, "fit_q_iteration", fake_fqi)
    monkeypatch.setattr(learners, "fit_rcsl_mlp", fake_rcsl)
    result = run_quick("rl.linearq.dqn_falls_short", us=(16,), seeds=1)
    assert result["verdict"] == "refuted"  # 1 of 4 runs at widths 4..64 short: 1/4 < 1/2
    assert any(note.startswith("Observed in this run: at u = 16, 1 of 4 runs at widths "
                               "[u/4, 4u] ended short (1 by 1/2); widths 8, 16 and 64 reached "
                               "4u + 2 = 66 on its seed. RCSL (widths 8, 16) reached 4u + 2 in "
                               "2 of 2 runs") for note in result["notes"]), result["notes"]
