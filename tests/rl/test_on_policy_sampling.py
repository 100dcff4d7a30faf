"""Exact sampling error of on-policy and adaptive data collection: against brute force,
by hand, against bad input; and the claims' planted failures."""

from __future__ import annotations

import itertools
from dataclasses import replace

import numpy as np
import pytest

from toytheory.claims import execute_claim, load_catalog
from toytheory.rl.on_policy_sampling import (expected_sampling_error, props_behaviour,
                                             ros_behaviour, sampling_error)

REGISTRY = load_catalog()
PROPS = "rl.on_policy_sampling.props_lowers_sampling_error"


def _brute_force(pi, steps, rule):
    """E TV after ``steps`` actions by walking every action sequence."""
    pi = np.asarray(pi)
    total = 0.0
    for seq in itertools.product(range(pi.size), repeat=steps):
        counts = np.zeros(pi.size, dtype=np.int64)
        prob = 1.0
        for a in seq:
            prob *= rule(counts)[a]
            counts[a] += 1
        total += prob * 0.5 * np.abs(counts / steps - pi).sum()
    return total


@pytest.mark.parametrize("pi", [(0.6, 0.3, 0.1), (0.5, 0.5), (0.7, 0.1, 0.1, 0.1)])
def test_dynamic_programme_matches_every_action_sequence(pi):
    steps = 5
    rules = {"on_policy": lambda c: np.asarray(pi),
             "ros": lambda c: ros_behaviour(pi, c, 0.8),
             "props": lambda c: props_behaviour(pi, c, 0.8, 0.2)}
    for sampler, rule in rules.items():
        exact = expected_sampling_error(pi, steps, sampler=sampler, step_size=0.8, clip=0.2)
        assert exact[-1] == pytest.approx(_brute_force(pi, steps, rule), abs=1e-14), sampler


def test_on_policy_error_is_the_multinomial_expectation():
    from scipy.stats import multinomial

    pi, n = np.array([0.2, 0.5, 0.3]), 9
    expected = sum(multinomial.pmf(c, n, pi) * 0.5 * np.abs(np.array(c) / n - pi).sum()
                   for c in itertools.product(range(n + 1), repeat=3) if sum(c) == n)
    assert expected_sampling_error(pi, n)[-1] == pytest.approx(expected, abs=1e-13)


def test_ros_behaviour_by_hand():
    pi = np.array([0.5, 0.5])
    b = ros_behaviour(pi, np.array([2, 0]), 1.0)  # N - t pi = (1, -1)
    assert b[1] == pytest.approx(np.exp(1) / (np.exp(1) + np.exp(-1)), abs=1e-15)
    clipped = props_behaviour(pi, np.array([2, 0]), 1.0, 0.2)  # ratio clipped to 1.2
    np.testing.assert_allclose(clipped, [0.4, 0.6], atol=1e-15)
    np.testing.assert_allclose(ros_behaviour(pi, np.array([3, 1]), 0.0), pi, atol=1e-15)


def test_kl_metric_by_hand():
    pi = np.array([0.5, 0.25, 0.25])
    assert sampling_error([2, 2, 0], pi, "kl") == pytest.approx(
        0.5 * np.log(0.5 / 0.5) + 0.5 * np.log(0.5 / 0.25), abs=1e-15)


@pytest.mark.parametrize("call, match", [
    (lambda: expected_sampling_error([0.5, 0.6], 3), "policy: must sum to one"),
    (lambda: expected_sampling_error([1.0, 0.0], 3), "policy: must give every action"),
    (lambda: expected_sampling_error([0.5, 0.5], 0), "steps: "),
    (lambda: expected_sampling_error([0.5, 0.5], 3, sampler="greedy"), "sampler: must be"),
    (lambda: expected_sampling_error([0.5, 0.5], 3, metric="l2"), "metric: must be"),
    (lambda: expected_sampling_error([0.5, 0.5], 3, step_size=-1.0), "step_size: "),
    (lambda: expected_sampling_error([0.5, 0.5], 3, sampler="props", clip=1.5), "clip: "),
    (lambda: expected_sampling_error(np.full(10, 0.1), 400), "steps: 400 steps"),
    (lambda: ros_behaviour([0.5, 0.5], np.array([1.5, 0.0]), 1.0), "counts: must be"),
    (lambda: sampling_error([0, 0], [0.5, 0.5]), "counts: must be"),
])
def test_bad_input_names_the_argument(call, match):
    with pytest.raises(ValueError, match=match):
        call()


# ----------------------------------------------------------------- planted failures

def _run(seed, **overrides):
    claim = REGISTRY[PROPS]
    if overrides:
        claim = replace(claim, tiers={**claim.tiers,
                                      "quick": {**claim.tiers["quick"], **overrides}})
    return execute_claim(claim, "quick", seed)


def test_the_unplanted_claim_holds(test_seed):
    """Unplanted control; no plant, so no power to state."""
    assert _run(test_seed)["verdict"] == "holds"


def test_a_behaviour_that_favours_over_sampled_actions_is_refuted(monkeypatch, test_seed):
    """A false statement planted consistently: the exact programme and the simulator both
    move towards over-sampled actions (the sign of the ROS step flipped); their errors
    rise above on-policy sampling's (exact), and the witnesses still agree. Power: >= 1 - 1e-6
    — the statement is exact; the only draws are the witnesses, which test a true law and
    falsely reject with probability <= 1e-6."""
    import sims.rl_on_policy as sim
    import toytheory.rl.on_policy_sampling as ops

    original = ops.expected_sampling_error

    def flipped(pi, steps, sampler="on_policy", step_size=0.0, clip=0.2, metric="tv"):
        return original(pi, steps, sampler=sampler, step_size=-step_size, clip=clip,
                        metric=metric)

    # the public function refuses a negative step; the plant bypasses that check
    monkeypatch.setattr(ops, "check_real", lambda name, value, **kw: float(value))
    monkeypatch.setattr(ops, "expected_sampling_error", flipped)
    rule = sim.behaviour_rule
    monkeypatch.setattr(sim, "behaviour_rule",
                        lambda pi, counts, t, sampler, step_size, clip:
                        rule(pi, counts, t, sampler, -step_size, clip))
    result = _run(test_seed)
    assert result["verdict"] == "refuted", result["message"]


def test_a_dynamic_programme_that_drops_the_clip_fails(monkeypatch, test_seed):
    """The exact 'props' error computed without the clip (plain ROS) differs from the
    simulated clipped process by more than 0.02 at n = 32 for the policy (0.6, 0.3, 0.1);
    the empirical-Bernstein half-width at 4000 runs and 1e-6/10 is below 0.02 for a
    variance under 0.01, so the witness catches it with probability >= 1 - 1e-6."""
    import toytheory.rl.on_policy_sampling as ops

    original = ops.expected_sampling_error

    def unclipped(pi, steps, sampler="on_policy", step_size=0.0, clip=0.2, metric="tv"):
        if sampler == "props":
            sampler = "ros"
        return original(pi, steps, sampler=sampler, step_size=step_size, clip=clip,
                        metric=metric)

    monkeypatch.setattr(ops, "expected_sampling_error", unclipped)
    result = _run(test_seed)
    assert result["verdict"] == "fails", result["message"]
