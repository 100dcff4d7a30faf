"""The Numba attack simulator agrees in law with the object-level interaction, seed by seed."""

from __future__ import annotations

import functools

import numpy as np
import pytest

from toytheory import stats
from toytheory.adaptive.analysts import (BoostingAttack, LogOddsCorrelationAttack,
                                         NonAdaptiveAnalyst, run_interaction)
from toytheory.adaptive.mechanisms import (EmpiricalMechanism, GaussianMechanism,
                                           LaplaceMechanism, SampleSplittingMechanism)
from toytheory.adaptive.populations import RademacherPopulation
from tests._seeds import reseed

rounds = pytest.importorskip("sims.adaptive_rounds")
simulate_attack = rounds.simulate_attack
LEVEL = 1e-6
N, M, REPS = 200, 11, 400


def reference(analyst, mechanism, n=N, m=M, reps=REPS, seed=reseed(0), scale=0.0):
    population = RademacherPopulation(m - 1)
    out = np.empty(reps)
    for r, child in enumerate(np.random.default_rng(seed).spawn(reps)):
        data_rng, mech_rng, analyst_rng = child.spawn(3)
        data = population.sample(n, data_rng)
        mech = {"empirical": lambda: EmpiricalMechanism(data),
                "splitting": lambda: SampleSplittingMechanism(data, m),
                "laplace": lambda: LaplaceMechanism(data, 1.0 / (n * scale), rng=mech_rng),
                "gaussian": lambda: GaussianMechanism(data, scale, rng=mech_rng)}[mechanism]()
        make = {"log_odds": lambda: LogOddsCorrelationAttack(m),
                "boosting": lambda: BoostingAttack(m),
                "non_adaptive": lambda: NonAdaptiveAnalyst(m, rng=analyst_rng)}[analyst]
        t = run_interaction(make(), mech, population)
        out[r] = t.answers[-1] - t.true_answers[-1]
    return out


def counts(values, n):
    return np.bincount(np.rint(2 * n * values).astype(int) + 2 * n, minlength=4 * n + 1)


@pytest.mark.parametrize("attack, mechanism", [("log_odds", "empirical"),
                                               ("boosting", "empirical"),
                                               ("non_adaptive", "empirical"),
                                               ("log_odds", "splitting")])
def test_simulator_final_answers_have_the_reference_law_chi_square_on_counts(attack, mechanism):
    n = N if mechanism != "splitting" else N * M
    sim = simulate_attack(n, M, REPS, attack=attack, mechanism=mechanism, seed=reseed(1))["final_signed"]
    ref = reference(attack, mechanism, n=n, seed=reseed(2))
    part = n if mechanism != "splitting" else n // M
    res = stats.chisquare_two_sample(counts(sim, part), counts(ref, part), LEVEL)
    assert res.verdict == "accept", res


PLANTED_REPS = 4000  # the planted-bug companions' size (see their power statements)


@functools.lru_cache(maxsize=None)
def noisy_reference(mechanism, scale, reps=REPS):
    """The object-level interaction's final answers (log-odds attack), computed once per setting."""
    return reference("log_odds", mechanism, reps=reps, seed=reseed(4), scale=scale)


def noisy_final_law_test(mechanism, scale, reps=REPS):
    """KS at ``LEVEL``: the simulator's noisy final answers against the reference's."""
    sim = simulate_attack(N, M, reps, mechanism=mechanism, scale=scale,
                          seed=reseed(3))["final_signed"]
    return stats.ks_2samp(sim, noisy_reference(mechanism, scale, reps), LEVEL)


@pytest.mark.parametrize("mechanism, scale", [("laplace", 0.01), ("gaussian", 0.02)])
def test_simulator_noisy_final_answers_have_the_reference_law_ks(mechanism, scale):
    assert noisy_final_law_test(mechanism, scale).verdict == "accept"


@pytest.mark.parametrize("mechanism, scale", [("laplace", 0.01), ("gaussian", 0.02)])
def test_the_noisy_law_ks_sees_a_kernel_that_triples_the_noise_scale(monkeypatch, mechanism,
                                                                     scale):
    """Planted bug: the Numba kernel draws its noise at 3 times the requested scale.

    Power (re-sized from 400 draws a side, where DKW gave no useful bound): the two laws are
    >= 0.27 apart in KS distance (0.29 and 0.32 measured with 20,000 draws a side); with
    4,000 a side the critical distance at 1e-6 is sqrt(ln(2e6) / 4000) = 0.060, so a miss
    needs one empirical CDF 0.105 off its law: by DKW <= 4 exp(-2 * 4000 * 0.105^2) < 1e-36.
    """
    real = rounds._attack_kernel

    def louder(seed, reps, n, m, attack, mech, scale_, clip, out):
        real(seed, reps, n, m, attack, mech, 3.0 * scale_, clip, out)

    monkeypatch.setattr(rounds, "_attack_kernel", louder)
    assert noisy_final_law_test(mechanism, scale, PLANTED_REPS).verdict == "reject"


@pytest.mark.parametrize("mechanism, scale", [("laplace", 0.01), ("gaussian", 0.02)])
def test_the_noisy_law_ks_sees_final_answers_shifted_by_three_hundredths(monkeypatch, mechanism,
                                                                         scale):
    """Planted bug: every final answer is off by +0.03 (about one standard deviation of its law).

    Power (re-sized from 400 draws a side): the shift moves the law by >= 0.30 in KS distance
    (0.32 and 0.35 measured with 20,000 draws a side); at 4,000 a side (critical 0.060) a
    miss needs one empirical CDF 0.12 off its law: by DKW <= 4 exp(-2 * 4000 * 0.12^2) < 1e-49.
    """
    real = rounds._attack_kernel

    def shifted(seed, reps, n, m, attack, mech, scale_, clip, out):
        real(seed, reps, n, m, attack, mech, scale_, clip, out)
        out[:, 1] += 0.03

    monkeypatch.setattr(rounds, "_attack_kernel", shifted)
    assert noisy_final_law_test(mechanism, scale, PLANTED_REPS).verdict == "reject"


def test_the_agreement_test_sees_a_sign_weight_attack_posing_as_log_odds():
    sim = simulate_attack(N, 41, REPS, attack="boosting", seed=reseed(1))["final_signed"]
    ref = reference("log_odds", "empirical", m=41, seed=reseed(2))
    assert stats.chisquare_two_sample(counts(-sim, N), counts(ref, N), LEVEL).verdict == "reject"


def test_simulated_largest_laplace_noise_has_the_exact_law():
    b, m = 0.01, 11
    out = simulate_attack(N, m, 4000, mechanism="laplace", scale=b, seed=reseed(5))["noise_max"]
    cdf = lambda t: np.clip(1 - np.exp(-t / b), 0, 1) ** m  # noqa: E731
    assert stats.ks_1samp(out, cdf, LEVEL).verdict == "accept"
    wrong = simulate_attack(N, m, 4000, mechanism="laplace", scale=1.2 * b, seed=reseed(5))["noise_max"]
    assert stats.ks_1samp(wrong, cdf, LEVEL).verdict == "reject"


def test_simulator_is_deterministic_in_its_seed():
    a = simulate_attack(100, 6, 50, seed=reseed(9))
    b = simulate_attack(100, 6, 50, seed=reseed(9))
    c = simulate_attack(100, 6, 50, seed=reseed(10))
    np.testing.assert_array_equal(a["final_signed"], b["final_signed"])
    assert not np.array_equal(a["final_signed"], c["final_signed"])


@pytest.mark.parametrize("kwargs, name", [
    (dict(n=10, m=1, reps=5), "m"), (dict(n=0, m=3, reps=5), "n"),
    (dict(n=10, m=3, reps=0), "reps"), (dict(n=2, m=3, reps=5, mechanism="splitting"), "m"),
    (dict(n=10, m=3, reps=5, mechanism="laplace"), "scale"),
    (dict(n=10, m=3, reps=5, attack="ladder"), "attack"),
    (dict(n=10, m=3, reps=5, mechanism="exponential"), "mechanism"),
    (dict(n=True, m=3, reps=5), "n"), (dict(n=10.0, m=3, reps=5), "n"),
    (dict(n=10, m=True, reps=5), "m"), (dict(n=10, m=3, reps=True), "reps"),
    (dict(n=10, m=3, reps=5, seed=True), "seed"), (dict(n=10, m=3, reps=5, seed=-1), "seed"),
    (dict(n=10, m=3, reps=5, seed=2**63), "seed"), (dict(n=10, m=3, reps=5, seed=1.0), "seed"),
    (dict(n=10, m=3, reps=5, clip="0.1"), "clip"), (dict(n=10, m=3, reps=5, clip=0.5), "clip"),
    (dict(n=10, m=3, reps=5, clip=float("nan")), "clip"),
    (dict(n=10, m=3, reps=5, mechanism="laplace", scale="0.1"), "scale"),
    (dict(n=10, m=3, reps=5, mechanism="gaussian", scale=float("nan")), "scale"),
    (dict(n=10, m=3, reps=5, scale="0.1"), "scale"), (dict(n=10, m=3, reps=5, scale=-1.0), "scale"),
    (dict(n=10, m=3, reps=5, attack=["log_odds"]), "attack"),
])
def test_simulator_arguments_are_checked(kwargs, name):
    with pytest.raises(ValueError, match=f"^{name}:"):
        simulate_attack(**kwargs)
