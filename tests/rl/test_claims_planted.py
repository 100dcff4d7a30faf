"""Every statistical or count-based check of the rl claims catches a planted bug."""

from __future__ import annotations

import numpy as np
import pytest

from toytheory.claims import execute_claim, load_catalog
from tests._seeds import reseed

REGISTRY = load_catalog()


def run_quick(claim_id, seed=reseed(0), **overrides):
    """Run a claim's quick tier under ``seed`` (tests pass the suite's ``test_seed``)."""
    claim = REGISTRY[claim_id]
    if overrides:
        claim = claim.with_params("quick", **overrides)
    return execute_claim(claim, "quick", seed)


def test_wrong_exploration_in_the_rollouts_fails_the_return_law_check(monkeypatch, test_seed):
    """Planted: rollouts that take action 1 with probability 0.9 p + 0.01. The threshold policy
    then leaves its path with probability >= 0.01 per step over 15 steps, so 1000 episodes
    all returning 18 has probability < 0.86^1000: ``fails`` with probability 1 - 1e-60 under
    any seed.
    """
    import sims.rl_rollouts as sims

    original = sims.linearq_returns

    def biased(u, prob_one, n, seed):
        return original(u, np.clip(np.asarray(prob_one) * 0.9 + 0.01, 0, 1), n, seed)

    monkeypatch.setattr(sims, "linearq_returns", biased)
    result = run_quick("rl.linearq.exact_optimal_values", test_seed, u_max=8, sim_u=(4,))
    assert result["verdict"] == "fails"


def test_wrong_policy_evaluation_fails_the_rollout_mean_tests(monkeypatch, test_seed):
    """Planted: policy evaluation 2 reward units too high (a spurious extra step's reward).
    The claim compares it with 20,000 simulated episodes per MDP by empirical-Bernstein tests
    at 1e-6 / 6 on returns in [H min r, H max r], a range of at most 42 (H <= 7, rewards in
    [-3, 3]). Whatever the law, the interval's half-width is at most
    42 (sqrt(2 (1/4) ln(2.4e7) / 20000) + 7 ln(2.4e7) / (3 * 19999)) < 0.95, and the sample
    mean lies within it of the true value with probability >= 1 - 1e-6 / 6; a value 2 off
    then lies outside (2 > 2 * 0.95). If every episode of an MDP earns the same, the exact
    comparison (atol 1e-9) sees the 2. So ``fails`` with probability >= 1 - 1e-6 under any
    seed.
    """
    import toytheory.rl.mdp as mdp_module

    original = mdp_module.policy_evaluation

    def off_by_a_step(mdp, policy):
        values = original(mdp, policy)
        return mdp_module.FiniteHorizonValues(values.Q, values.V + 2.0)

    monkeypatch.setattr(mdp_module, "policy_evaluation", off_by_a_step)
    result = run_quick("rl.tabular.values_match_brute_force_and_rollouts", test_seed, n_brute=1)
    assert result["verdict"] == "fails"


def test_value_iteration_with_min_fails_the_brute_force_check(monkeypatch, test_seed):
    """Planted: value iteration that minimises. Brute force over deterministic policies is
    exact, so the mismatch is certain (``fails`` with probability 1). Power: deterministic in
    effect — the random MDPs' rewards are continuous, so max != min with probability 1 (gap
    13.4 at seed 0 against 1e-9).
    """
    import toytheory.rl.mdp as mdp_module

    def pessimistic(mdp):
        H, S, A = mdp.H, mdp.n_states, mdp.n_actions
        Q, V = np.zeros((H, S, A)), np.zeros((H + 1, S))
        for h in range(H - 1, -1, -1):
            Q[h] = mdp.r + mdp.P @ V[h + 1]
            V[h] = Q[h].min(axis=1)
        return mdp_module.FiniteHorizonValues(Q, V)

    monkeypatch.setattr(mdp_module, "value_iteration", pessimistic)
    result = run_quick("rl.tabular.values_match_brute_force_and_rollouts", test_seed, n_sim=1)
    assert result["verdict"] == "fails"


def test_mbrcsl_that_does_not_stitch_is_refuted(monkeypatch, test_seed):
    """Planted: an MBRCSL whose final policy earns what plain RCSL earns (its rollouts are
    ignored). RCSL never reaches the optimum on this data (the stitching claim proves it
    exactly), so 0 of 24 seeds succeed; the exact interval at 1e-6 then lies below 1/2 and
    the claim says ``refuted``: caught with probability 1 under any seed."""
    from dataclasses import replace

    import toytheory.rl.pointmaze as maze

    original = maze.mbrcsl

    def no_stitch(m, d, n_rollouts=1000, rng=None):
        result = original(m, d, n_rollouts, rng)
        return replace(result, mbrcsl=result.rcsl)

    monkeypatch.setattr(maze, "mbrcsl", no_stitch)
    result = run_quick("rl.pointmaze.mbrcsl_stitches", test_seed, seeds=24, n_data=300,
                       n_rollouts=300)
    assert result["verdict"] == "refuted", result["message"]


def test_a_stitching_rcsl_is_refuted(monkeypatch, test_seed):
    """Planted: an RCSL that returns the optimal value. The statement is computed exactly, so
    ``refuted`` is certain. Power: deterministic — gap 0 against the required L; no draw.
    """
    import toytheory.rl.rcsl as rcsl

    def oracle(self, mdp, target_return=None, *, greedy=False):
        from toytheory.rl.exact import exact_value_iteration

        return exact_value_iteration(mdp).v(0, mdp.start)

    monkeypatch.setattr(rcsl.TabularRCSL, "expected_return", oracle)
    result = run_quick("rl.stitching.rcsl_cannot_stitch", test_seed, half_lengths=(1, 2),
                       copies=(1,))
    assert result["verdict"] == "refuted"


def test_the_naive_breakpoint_bound_fails_the_width_claim(monkeypatch, test_seed):
    """Planted: the naive breakpoint bound ceil(m/2). The exact closed-form witness then
    disagrees at every u >= 2: ``fails`` with probability 1. Power: deterministic — exact
    integer bounds, no draw.
    """
    import toytheory.rl.interpolation as interp

    monkeypatch.setattr(interp, "breakpoint_lower_bound", interp.naive_breakpoint_lower_bound)
    result = run_quick("rl.linearq.width_grows_linearly", test_seed, u_max=12)
    assert result["verdict"] == "fails"


@pytest.mark.filterwarnings("ignore")
def test_rcsl_networks_that_ignore_their_input_are_refuted(monkeypatch, test_seed):
    """Planted: every trained RCSL network outputs logits favouring action 0 whatever its
    input (a network that learned nothing about (state, return-to-go)). Action 0 everywhere
    is not the threshold policy at s = u + 1, so its exact return is below 4u + 2 and every
    run is short: ``refuted``. Deterministic (exact rollouts of a fixed policy): caught with
    probability 1 under any seed (>= 1 - 1e-6).
    """
    pytest.importorskip("torch")
    import torch

    import toytheory.rl.learners as learners

    def constant_logits(self, x):
        B = len(self.widths)
        shape = (B,) + tuple(x.shape[-2:-1]) + (2,)
        out = torch.zeros(shape, dtype=torch.float64)
        out[..., 0] = 1.0
        return out + 0.0 * sum(p.sum() for p in self.params)  # keeps the graph for Adam

    monkeypatch.setattr(learners._BatchedMLP, "__call__", constant_logits)
    result = run_quick("rl.linearq.rcsl_mlp_reaches_optimum", test_seed, us=(4,), seeds=2)
    assert result["verdict"] == "refuted", result["message"]


def test_a_dqn_that_always_reaches_the_optimum_is_refuted(monkeypatch, test_seed):
    """Plant a DQN whose greedy policy is always the optimal threshold: 0 of 24 runs short at
    each u, whose exact interval at 1e-6 lies below 1/2, so the claim must say ``refuted``.
    Deterministic: caught with probability 1 under any seed (>= 1 - 1e-6)."""
    import toytheory.rl.dqn as dqn

    monkeypatch.setattr(dqn, "dqn_greedy_actions", lambda u, width, seed, **kw: (
        np.arange(3 * u + 3) >= u + 1).astype(np.int64))
    claim = REGISTRY["rl.linearq.dqn_falls_short"]
    result = execute_claim(claim, "quick", test_seed)
    assert result["verdict"] == "refuted", result["message"]
    assert result["referee"] is not None


def test_a_dqn_that_always_stops_short_holds(monkeypatch, test_seed):
    """Plant a DQN that is always wrong at s = u (1/2 short): 24 of 24 runs short, interval
    above 1/2, verdict ``holds``. Deterministic (power 1 under any seed)."""
    import toytheory.rl.dqn as dqn

    def short(u, width, seed, **kw):
        actions = (np.arange(3 * u + 3) >= u + 1).astype(np.int64)
        actions[u] = 1
        return actions

    monkeypatch.setattr(dqn, "dqn_greedy_actions", short)
    result = execute_claim(REGISTRY["rl.linearq.dqn_falls_short"], "quick", test_seed)
    assert result["verdict"] == "holds", result["message"]


def test_a_wrong_exact_evaluation_fails_the_dqn_claim(monkeypatch, test_seed):
    """Plant a wrong oracle: exact evaluation that overstates every return by 1. The
    witness "no DQN run beats the optimum" must fail (verdict ``fails``, never
    ``refuted``). Deterministic: the optimal-threshold tabular baseline and every run
    are overstated, so it is caught with probability 1 (>= 1 - 1e-6)."""
    import toytheory.rl.exact as exact

    original = exact.exact_return
    monkeypatch.setattr(exact, "exact_return", lambda mdp, policy: original(mdp, policy) + 1)
    result = execute_claim(REGISTRY["rl.linearq.dqn_falls_short"], "quick", test_seed)
    assert result["verdict"] == "fails", result["message"]



STITCHING_BASELINES = {"rcsl": "RCSL", "bc": "BC (stochastic)",
                       "bc_greedy": "BC (most frequent action)"}


@pytest.mark.parametrize("field", STITCHING_BASELINES, ids=list(STITCHING_BASELINES))
def test_a_baseline_that_stitches_fails_its_clopper_pearson_check(monkeypatch, field, test_seed):
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
    result = run_quick("rl.pointmaze.mbrcsl_stitches", test_seed, seeds=24, n_data=300,
                       n_rollouts=300)
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
