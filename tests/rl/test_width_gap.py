"""The width gap on Linearq(u) and the sympy proofs behind it."""

from __future__ import annotations

from fractions import Fraction

import pytest

import proofs.rl_breakpoints as proof
from toytheory.rl.linearq_mdp import linearq_rewards
from toytheory.rl.width_gap import (ReturnConditionedReLU, bellman_completeness_width,
                                    linearq_reward_networks, predicted_min_width,
                                    rcsl_network_return, rcsl_threshold_network)


def test_least_bellman_complete_width_is_known_exactly_and_at_least_u_plus_2_for_u_to_100():
    for u in range(1, 101):
        bw = bellman_completeness_width(u)
        assert bw.lower == bw.upper == predicted_min_width(u), u
        assert bw.lower >= u + 2
        assert bw.lower == (3 if u == 1 else 2 * ((u + 1) // 2) + 2)


def test_u4_needs_six_neurons_per_action_and_the_networks_fit_the_rewards():
    bw = bellman_completeness_width(4)
    assert [(w.nonzero_second_differences, w.lower, w.upper) for w in bw.per_action] == [
        (7, 6, 6), (6, 6, 6)]
    r = linearq_rewards(4)
    for a, net in enumerate(linearq_reward_networks(4)):
        assert net.width == 6
        assert [net(s) for s in range(15)] == list(r[:, a])


@pytest.mark.parametrize("u", [1, 2, 9, 40])
def test_rcsl_width_two_network_is_the_threshold_and_earns_4u_plus_2(u):
    net = rcsl_threshold_network(u)
    assert net.width == 2
    assert [net(s, 0) for s in range(3 * u + 3)] == [int(s >= u + 1) for s in range(3 * u + 3)]
    assert rcsl_network_return(u) == 4 * u + 2


def test_a_wrong_threshold_network_earns_less():
    u = 5
    shifted = ReturnConditionedReLU((1, 1), (0, 0), (-u + 1, -u), (1, -1))  # 1[s >= u]
    assert rcsl_network_return(u, shifted) < 4 * u + 2


def test_sympy_proofs_hold():
    for prove in (proof.prove_breakpoint_count, proof.prove_linearq_optimal_value,
                  proof.prove_rcsl_threshold_network):
        result = prove()
        assert result.holds, result.residuals


def test_proof_closed_forms_match_exact_counts_for_u_to_60():
    for u in range(1, 61):
        bw = bellman_completeness_width(u)
        assert [w.lower for w in bw.per_action] == [proof.expected_min_breakpoints(u, a)
                                                   for a in (0, 1)]


def test_planted_wrong_q_star_breaks_the_case_analysis(monkeypatch):
    """Planted bug: Q*(s, 1) half a point lower makes the action attaining V* change inside
    an interval, which the derivation detects instead of counting.
    Power: deterministic — exact arithmetic (Fractions), no random draw."""
    original = proof.Case.q1

    def wrong_q1(self, s):
        value = original(self, s)
        return value - proof.HALF if value != 0 else value

    monkeypatch.setattr(proof.Case, "q1", wrong_q1)
    with pytest.raises(ValueError, match="best action is not fixed"):
        proof.prove_breakpoint_count()


def test_planted_sign_blind_run_count_makes_the_breakpoint_proof_fail(monkeypatch):
    """Planted bug: counting every non-zero second difference (m, not m*) is caught.
    Power: deterministic — exact arithmetic (Fractions), no random draw."""
    monkeypatch.setattr(proof, "_runs", lambda signs: sum(1 for x in signs if x))
    assert not proof.prove_breakpoint_count().holds


def test_planted_wrong_value_makes_the_value_proof_fail(monkeypatch):
    """Planted bug: reward 1/2 too high for action 1.
    Power: deterministic — exact arithmetic (Fractions), no random draw."""
    original = proof.Case.r

    def wrong_r(self, s, a):
        return original(self, s, a) + (Fraction(1, 2) if a == 1 else 0)

    monkeypatch.setattr(proof.Case, "r", wrong_r)
    assert not proof.prove_linearq_optimal_value().holds
