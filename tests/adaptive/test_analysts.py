"""Analysts: the attacks overfit the empirical mechanism, the control does not."""

from __future__ import annotations

import math

import numpy as np
import pytest

from toytheory import stats
from toytheory.adaptive import bounds
from toytheory.adaptive.analysts import (BoostingAttack, LogOddsCorrelationAttack,
                                         NonAdaptiveAnalyst, log_odds_weights, run_interaction,
                                         select_features, top_k_sign_weights)
from toytheory.adaptive.mechanisms import (EXHAUSTED, EmpiricalMechanism,
                                           SampleSplittingMechanism)
from toytheory.adaptive.populations import RademacherPopulation
from toytheory.adaptive.queries import ComplementQuery, SignClassifierAgreement
from tests._seeds import reseed

LEVEL = 1e-6


def final_errors(make_analyst, make_mechanism, n, m, reps, seed):
    population = RademacherPopulation(m - 1)
    out = []
    for child in np.random.default_rng(reseed(seed)).spawn(reps):  # reseeded by the suite
        t = run_interaction(make_analyst(child), make_mechanism(population.sample(n, child)),
                            population)
        out.append(t.answers[-1] - t.true_answers[-1])
    return np.array(out)


def test_transcript_records_every_query_answer_and_exact_truth():
    population = RademacherPopulation(4)
    t = run_interaction(LogOddsCorrelationAttack(5), EmpiricalMechanism(population.sample(50, 0)),
                        population)
    assert len(t.queries) == len(t.answers) == len(t.true_answers) == 5
    assert t.true_answers == [0.5] * 5 and isinstance(t.queries[-1], SignClassifierAgreement)
    assert t.worst_error == pytest.approx(np.max(np.abs(np.array(t.answers) - 0.5)))


def test_log_odds_attack_biases_the_empirical_final_answer_by_phi_root_m_over_n():
    n, m, reps = 400, 41, 300
    errors = final_errors(lambda r: LogOddsCorrelationAttack(m), EmpiricalMechanism, n, m, reps, 1)
    guide = bounds.gaussian_attack_error(n, m)
    assert stats.mean_test(errors, 0.0, LEVEL).verdict == "reject"
    assert np.mean(errors) == pytest.approx(guide, rel=0.15)  # a Gaussian approximation


def test_boosting_attack_lowers_the_empirical_loss_below_its_true_one_half():
    n, m, reps = 400, 41, 300
    errors = final_errors(lambda r: BoostingAttack(m), EmpiricalMechanism, n, m, reps, 2)
    assert stats.mean_test(errors, 0.0, LEVEL).verdict == "reject" and np.mean(errors) < 0


def test_non_adaptive_control_and_sample_splitting_leave_the_final_answer_unbiased():
    n, m, reps = 400, 41, 300
    control = final_errors(lambda r: NonAdaptiveAnalyst(m, rng=r), EmpiricalMechanism, n, m, reps,
                           3)
    split = final_errors(lambda r: LogOddsCorrelationAttack(m),
                         lambda d: SampleSplittingMechanism(d, m), 4000, m, reps, 4)
    assert stats.mean_test(control, 0.0, LEVEL).verdict == "accept"
    assert stats.mean_test(split, 0.0, LEVEL).verdict == "accept"


def test_the_unbiasedness_test_sees_the_attack():
    n, m, reps = 400, 41, 300
    errors = final_errors(lambda r: LogOddsCorrelationAttack(m), EmpiricalMechanism, n, m, reps, 3)
    assert stats.mean_test(errors, 0.0, LEVEL).verdict == "reject"


def test_log_odds_weights_clip_answers_and_give_exhausted_answers_zero_weight():
    w = log_odds_weights([0.5, 0.75, 1.2, -0.1, EXHAUSTED], clip=0.01)
    assert w[0] == 0.0 and w[1] == pytest.approx(math.log(3)) and w[4] == 0.0
    assert w[2] == pytest.approx(math.log(99)) and w[3] == pytest.approx(-math.log(99))
    with pytest.raises(ValueError, match="^clip:"):
        log_odds_weights([0.5], clip=0.0)


def test_boosting_keeps_the_classifiers_whose_reported_loss_is_at_most_one_half():
    attack = BoostingAttack(5)
    for a in (0.4, 0.6, 0.5, EXHAUSTED):
        attack.next_query()
        attack.observe(a)
    final = attack.next_query()
    assert isinstance(final, ComplementQuery)
    np.testing.assert_array_equal(final.query.indices, [0, 2])
    assert attack.next_query() is None


def test_reusable_holdout_selection_keeps_agreeing_correlations_beyond_one_over_root_n():
    n = 100  # threshold 0.1
    ct = np.array([0.2, 0.2, -0.3, 0.05, -0.2, 0.15])
    ch = np.array([0.11, -0.2, -0.2, 0.3, 0.05, 0.12])
    np.testing.assert_array_equal(select_features(ct, ch, n), [1, 0, 1, 0, 0, 1])
    idx, signs = top_k_sign_weights(ct, select_features(ct, ch, n), 2)
    np.testing.assert_array_equal(idx, [2, 0])
    np.testing.assert_array_equal(signs, [-1.0, 1.0])
    idx, _ = top_k_sign_weights(ct, select_features(ct, ch, n), 10)
    assert idx.tolist() == [2, 0, 5]
    with pytest.raises(ValueError, match="^holdout_corr:"):
        select_features(ct, ch[:3], n)


@pytest.mark.parametrize("bad, message", [
    (float("nan"), "must be finite \\(got nan at position 1\\)"),
    (np.nan, "must be finite"),
    (float("inf"), "must be finite"),
    ("0.7", "must be real numbers or EXHAUSTED \\(got str at position 1\\)"),
    (0.7 + 0j, "must be real numbers or EXHAUSTED \\(got complex"),
    (None, "must be real numbers or EXHAUSTED \\(got NoneType"),
    (True, "must be real numbers or EXHAUSTED \\(got bool"),
], ids=["nan", "numpy-nan", "inf", "string", "complex", "none", "bool"])
def test_log_odds_weights_refuse_nan_and_non_numeric_answers(bad, message):
    with pytest.raises(ValueError, match=f"^answers: {message}"):
        log_odds_weights([0.6, bad, 0.4], clip=0.01)


def test_log_odds_weights_accept_numpy_scalars_and_noisy_answers_outside_0_1():
    w = log_odds_weights([np.float32(0.75), np.float64(1.5), -2], clip=0.25)
    np.testing.assert_allclose(w, [math.log(3), math.log(3), -math.log(3)], rtol=1e-6)


def test_the_reconstruction_attack_finds_the_sample_support_from_empirical_answers(rng):
    """Against the empirical mechanism, the analyst's final set is exactly the support and
    the empirical answer to its mass is 1, while the truth is the law's mass there."""
    from toytheory.adaptive import (EmpiricalMechanism, FinitePopulation,
                                    SupportReconstructionAttack, run_interaction)

    p = np.arange(1, 65, dtype=float)
    population = FinitePopulation(p / p.sum())
    sample = population.sample(10, rng)
    attack = SupportReconstructionAttack(64, 10, warmup=2)
    transcript = run_interaction(attack, EmpiricalMechanism(sample), population)
    assert len(transcript.answers) == attack.m == 2 + 64 + 1
    support = np.bincount(sample, minlength=64) > 0
    assert np.array_equal(attack.support_guess(), support)
    assert transcript.answers[-1] == 1.0
    assert transcript.true_answers[-1] == pytest.approx(population.probabilities[support].sum())
    assert transcript.answers[0] == pytest.approx(np.mean(sample < 32))  # first half


@pytest.mark.parametrize("kwargs, name", [({"universe_size": 1}, "universe_size"),
                                          ({"n": 0}, "n"), ({"warmup": 6}, "warmup")])
def test_the_reconstruction_attack_refuses_bad_arguments(kwargs, name):
    from toytheory.adaptive import SupportReconstructionAttack

    args = {"universe_size": 64, "n": 10, "warmup": 0, **kwargs}
    with pytest.raises(ValueError, match=rf"^{name}:"):
        SupportReconstructionAttack(**args)
