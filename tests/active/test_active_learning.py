"""Noisy thresholds: exact errors against hand formulas, certificates, baselines, bad input."""

from __future__ import annotations

import numpy as np
import pytest

from toytheory.rl import active_learning as al


def _eta(rng):
    return float(rng.uniform(0.05, 0.45))


def test_one_point_minimax_errors_match_hand_formulas(rng):
    """One point, thresholds {0, 1}: with B queries the minimax error is the majority's
    error, ties split evenly: eta (B = 1, 2), eta^3 + 3 eta^2 (1 - eta) (B = 3)."""
    eta = _eta(rng)
    for b, hand in ((1, eta), (2, eta), (3, eta ** 3 + 3 * eta ** 2 * (1 - eta))):
        r = al.minimax_policy(al.ThresholdProblem(1, (eta,), b))
        assert r.value == pytest.approx(hand, abs=1e-9)
        assert r.value - r.lower <= 1e-9


def test_binary_search_error_matches_the_path_probability(rng):
    """Three points, one query per round: binary search is right iff both answers are,
    so its error is 1 - (1 - eta)^2 for every threshold."""
    eta = _eta(rng)
    errors = al.policy_errors(al.binary_search_policy(al.ThresholdProblem(3, (eta,), 2)))
    np.testing.assert_allclose(errors, 1 - (1 - eta) ** 2, atol=1e-12)


def test_noise_free_search_is_exact_and_bayes_beats_baselines_on_average(rng):
    pr = al.ThresholdProblem(3, (0.0,), 2)
    for policy in (al.binary_search_policy(pr), al.gbs_policy(pr)):
        assert np.all(al.policy_errors(policy) == 0.0)
    eta = _eta(rng)
    pr = al.ThresholdProblem(3, (eta, (0.01, eta, 0.3)), 4)
    uniform = np.full(pr.n_problems, 1 / pr.n_problems)
    bayes = uniform @ al.policy_errors(al.bayes_policy(pr, uniform))
    for policy in (al.binary_search_policy(pr), al.gbs_policy(pr)):
        assert bayes <= uniform @ al.policy_errors(policy) + 1e-12


def test_minimax_matches_brute_force_on_tiny_problems(rng):
    eta = _eta(rng)
    for m in (1, 2):
        pr = al.ThresholdProblem(m, (eta, 0.05), 2)
        assert al.minimax_policy(pr).value == pytest.approx(al.brute_force_minimax(pr),
                                                            abs=1e-9)


def test_robust_excess_is_nonnegative_and_below_the_mixture_value(rng):
    noises = ((0.02, 0.4, 0.4), (0.4, 0.4, 0.02))
    v = [al.minimax_policy(al.ThresholdProblem(3, (e,), 3)).value for e in noises]
    pr = al.ThresholdProblem(3, noises, 3)
    r = al.minimax_policy(pr, np.repeat(v, 4))
    assert -1e-9 <= r.lower <= r.value <= r.lower + 1e-9
    assert r.value > 1e-3                      # no single policy is minimax in both classes
    np.testing.assert_allclose(al.mixture_errors(r.policies, r.mixture), r.errors)


def test_simulation_agrees_with_the_forward_recursion(rng):
    """10,000 plays of GBS per problem; exact error inside the Clopper-Pearson interval at
    1e-6 / 8 for each of the 8 problems, so a correct recursion fails with probability
    <= 1e-6 in all (Bonferroni; at 1e-6 each the bound was 8e-6)."""
    from sims.active_thresholds import identification_errors
    from toytheory.stats import exact_binomial_interval

    pr = al.ThresholdProblem(3, (0.2, (0.02, 0.4, 0.3)), 4)
    policy = al.gbs_policy(pr)
    exact = al.policy_errors(policy)
    for j in range(pr.n_problems):
        wrong = identification_errors([policy], [1.0], j, 10_000, rng)
        lo, hi = exact_binomial_interval(wrong, 10_000, 1e-6 / pr.n_problems)
        assert lo <= exact[j] <= hi


@pytest.mark.parametrize("call, name", [
    (lambda: al.ThresholdProblem(3, (0.1,), 0), "budget"),
    (lambda: al.ThresholdProblem(3, (0.6,), 2), "noises"),
    (lambda: al.ThresholdProblem(3, ((0.1, 0.2),), 2), "noises"),
    (lambda: al.ThresholdProblem(0, (0.1,), 2), "n_points"),
    (lambda: al.bayes_policy(al.ThresholdProblem(1, (0.1,), 1), [0.7, 0.7]), "prior"),
    (lambda: al.bayes_policy(al.ThresholdProblem(1, (0.1,), 1), [1.0]), "prior"),
    (lambda: al.mixture_errors([al.gbs_policy(al.ThresholdProblem(1, (0.1,), 1))], [0.5]),
     "mixture"),
    (lambda: al.binary_search_policy(al.ThresholdProblem(2, (0.1,), 2)), "problem"),
    (lambda: al.binary_search_policy(al.ThresholdProblem(3, (0.1,), 1)), "problem"),
    (lambda: al.minimax_policy(al.ThresholdProblem(1, (0.1,), 1), [0.0]), "offset"),
    (lambda: al.brute_force_minimax(al.ThresholdProblem(3, (0.1,), 1)), "problem"),
])
def test_bad_input_names_the_argument(call, name):
    with pytest.raises(ValueError, match=name):
        call()


def test_learned_policy_errors_agree_with_the_deterministic_recursion(rng):
    """A one-hot randomised policy is a deterministic one: the two recursions agree."""
    pr = al.ThresholdProblem(3, (_eta(rng), (0.02, 0.3, 0.1)), 3)
    det = al.gbs_policy(pr)
    eye_m, eye_t = np.eye(pr.n_points), np.eye(pr.n_thresholds)
    lp = al.LearnedPolicy(pr, tuple(eye_m[a] for a in det.actions), eye_t[det.decisions],
                          np.zeros(1))
    np.testing.assert_allclose(al.learned_policy_errors(lp), al.policy_errors(det),
                               atol=1e-14)


def test_adversarial_training_approaches_but_never_beats_the_certified_optimum():
    """Deterministic (uniform start): after 800 steps the learned policy's worst error is
    within 0.02 of the double oracle's minimax, and not below it."""
    pr = al.ThresholdProblem(2, (0.1, (0.3, 0.02)), 3)
    exact = al.minimax_policy(pr).value
    lp = al.adversarial_training(pr, steps=800, lr=0.05, temperature=0.003)
    learned = float(np.max(al.learned_policy_errors(lp)))
    assert exact - 1e-9 <= learned <= exact + 0.02
    assert lp.history[-1] <= lp.history[0]


@pytest.mark.parametrize("kwargs, name", [
    ({"steps": 0}, "steps"), ({"lr": 0.0}, "lr"), ({"temperature": -1.0}, "temperature"),
    ({"offset": [0.0]}, "offset"),
])
def test_adversarial_training_bad_input(kwargs, name):
    with pytest.raises(ValueError, match=name):
        al.adversarial_training(al.ThresholdProblem(1, (0.1,), 1), **kwargs)
