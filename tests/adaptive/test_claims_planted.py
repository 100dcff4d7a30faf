"""Planted bugs: each adaptive claim's witnesses (and statements) catch a wrong implementation."""

from __future__ import annotations

import numpy as np
import pytest

from toytheory.claims import execute_claim, load_catalog
from toytheory.claims.catalog import adaptive_dp_audit, adaptive_noise_bounds, adaptive_overfitting
from tests._seeds import reseed

pytest.importorskip("numba")
pytest.importorskip("torch")
REGISTRY = load_catalog()


def run(claim_id, seed=reseed(0)):
    """Run a claim's quick tier under ``seed`` (tests pass the suite's ``test_seed``)."""
    result = execute_claim(REGISTRY[claim_id], "quick", seed)
    assert result["verdict"] != "error", result["traceback"]
    return result, {n["name"] for n in result["numbers"] if n["passed"] is False}


def test_dp_audit_fails_when_the_laplace_noise_is_twenty_percent_too_small(monkeypatch, test_seed):
    """Planted: Laplace noise 20% too small. With 1e6 outputs per dataset the exact binned
    delta at eps is 0.111 (laplace_binned_hockey_stick, 46 bins) against the tolerance
    0.045: ``fails`` with probability >= 1 - 1e-6 under any seed. Power: delta-hat moves by
    at most ||p_a - p_a_hat||_1 + e ||p_b - p_b_hat||_1; each L1 error has mean <= sum_k
    sqrt(p_k / N) = 0.0045 and, by McDiarmid, exceeds it by t = 0.013 with probability
    <= exp(-N t^2 / 2), so a miss has probability <= 2 exp(-1e6 * 0.013^2 / 2) < 1e-36.
    """
    real = adaptive_dp_audit.laplace_module.laplace_release

    def weak(value, epsilon, sensitivity, rng=None, size=None):
        return real(value, epsilon / 0.8, sensitivity, rng, size=size)

    monkeypatch.setattr(adaptive_dp_audit.laplace_module, "laplace_release", weak)
    result, failed = run("adaptive.privacy.laplace_mechanism_is_epsilon_dp", test_seed)
    assert result["verdict"] == "fails"
    assert "histogram audit: delta-hat minus tolerance" in failed


def test_overfitting_claim_fails_when_the_reference_plays_a_different_attack(monkeypatch, test_seed):
    """Planted: the reference interaction plays the boosting attack. Its final answers have
    another law than the simulator's log-odds attack (a mean shift of several standard
    errors at 200 repetitions), so the chi-square homogeneity test at 1e-6 rejects:
    ``fails``. Power (measured, not proved): under run seeds 0..9 the test's p-value was
    1e-49 to 9e-41, at least 34 orders of magnitude below the level.
    """
    from toytheory.adaptive.analysts import BoostingAttack

    monkeypatch.setattr(adaptive_overfitting, "LogOddsCorrelationAttack", BoostingAttack)
    result, failed = run("adaptive.overfitting.empirical_error_grows_like_sqrt_m_over_n", test_seed)
    assert result["verdict"] == "fails"
    assert any(name.startswith("final answer - 1/2: Numba simulator") for name in failed)


def test_overfitting_claim_sees_a_simulator_whose_attack_is_not_adaptive(monkeypatch, test_seed):
    """Planted: the simulator never adapts. The error exponent in m then falls from 1/2 to
    about 0 (far outside its interval) and no seed exceeds the non-adaptive bound: ``fails``
    with probability >= 1 - 1e-6.
    """
    import sims.adaptive_rounds as rounds

    real = rounds.simulate_attack

    def not_adaptive(n, m, reps, *, attack="log_odds", **kwargs):
        return real(n, m, reps, attack="non_adaptive" if attack == "log_odds" else attack,
                    **kwargs)

    monkeypatch.setattr(rounds, "simulate_attack", not_adaptive)
    result, failed = run("adaptive.overfitting.empirical_error_grows_like_sqrt_m_over_n", test_seed)
    assert result["verdict"] == "fails"
    assert "exponent of m in the median worst error (at least 0.35)" in failed
    rate = next(n for n in result["numbers"]
                if n["name"] == "log_odds attack: rate of seeds beyond the non-adaptive bound")
    assert rate["passed"] is not True  # refuted or undecided: never passes


def test_overfitting_claim_is_refuted_when_the_error_grows_linearly_in_m(monkeypatch, test_seed):
    """Planted false statement: the worst errors of the m-sweep multiplied by sqrt(m / 20), so
    the median worst error grows like m (exponent about 1). Every median and its order-
    statistic interval scale exactly, so the held interval is the unplanted one plus exactly
    0.5 (unplanted [0.44, 0.59] over seeds 0..9, so about [0.94, 1.09]), wholly above 0.65;
    the box covers the true slope with probability >= 1 - 1e-6, so ``refuted`` with
    probability >= 1 - 1e-6 (witnesses untouched).
    """
    real = adaptive_overfitting.sweep

    def faster(n_values, m_values, reps, seed, *args, **kwargs):
        out = real(n_values, m_values, reps, seed, *args, **kwargs)
        if len(set(n_values)) == 1 and not args and not kwargs:  # the log-odds m-sweep
            return [v * np.sqrt(m / m_values[0]) for v, m in zip(out, m_values)]
        return out

    monkeypatch.setattr(adaptive_overfitting, "sweep", faster)
    result, failed = run("adaptive.overfitting.empirical_error_grows_like_sqrt_m_over_n", test_seed)
    assert result["verdict"] == "refuted"
    assert "exponent of m in the median worst error (at most 0.65)" in failed


def test_noise_bounds_claim_fails_when_the_noise_is_not_the_calibrated_one(monkeypatch, test_seed):
    """Planted: noise 30% louder than calibrated. The largest of m noises then exceeds its 25%
    mark in about half of 1000 seeds, against 25%: the exact binomial test at 1e-6 rejects
    with probability >= 1 - 1e-6.
    """
    import sims.adaptive_rounds as rounds

    real = rounds.simulate_attack

    def louder(n, m, reps, *, scale=0.0, **kwargs):
        return real(n, m, reps, scale=1.3 * scale, **kwargs)

    monkeypatch.setattr(rounds, "simulate_attack", louder)
    result, failed = run("adaptive.noise.mechanisms_within_computed_bounds", test_seed)
    assert result["verdict"] == "fails"
    assert any(name.startswith("noise calibration") for name in failed)


def test_noise_bounds_statement_is_refuted_when_a_bound_is_too_small(monkeypatch, test_seed):
    """Planted: sample splitting's bound halved. Most seeds then exceed it (the worst error's
    95% quantile is about 0.87 tau), so the exact interval lies above beta: caught with
    probability >= 1 - 1e-6.
    """
    real = adaptive_noise_bounds.mechanisms_and_bounds

    def shrunk(n, m, beta):
        out = real(n, m, beta)
        scale, tau, detail = out["splitting"]
        out["splitting"] = (scale, tau / 2, detail)
        return out

    monkeypatch.setattr(adaptive_noise_bounds, "mechanisms_and_bounds", shrunk)
    result, failed = run("adaptive.noise.mechanisms_within_computed_bounds", test_seed)
    assert any(name.startswith("splitting, log_odds attack: rate of seeds beyond") for name in failed)


def test_holdout_claim_fails_when_the_simulator_forgets_to_condition_columns(monkeypatch, test_seed):
    """Planted: the simulator draws the selected columns unconditioned on the labels, so its
    holdout accuracy has no overfitting: the KS agreement with the numpy reference and the
    63% statement both fail, with probability >= 1 - 1e-6.
    """
    import sims.adaptive_holdout as holdout

    def unconditioned(torch_, y, c_sel, gen, dtype):
        return torch_.randn((y.shape[0], y.shape[1], c_sel.shape[1]), generator=gen,
                            dtype=dtype, device=y.device)

    monkeypatch.setattr(holdout, "_columns_projection", unconditioned)
    result, failed = run("adaptive.holdout.standard_overfits_thresholdout_does_not", test_seed)
    assert result["verdict"] == "fails"
    assert any(name.startswith("simulator (projection) vs numpy reference") for name in failed)
    assert "standard holdout: mean reported accuracy at k = 50" in failed


def test_signal_claim_fails_when_the_simulators_truth_is_wrong(monkeypatch, test_seed):
    """Planted: the simulator reports a true accuracy of 1/2 for every classifier. The fresh-
    set accuracy (about 0.6 for the informative ones) then differs from it by many standard
    errors: ``fails`` with probability >= 1 - 1e-6.
    """
    import sims.adaptive_holdout as holdout

    monkeypatch.setattr(holdout, "_true_accuracy",
                        lambda torch_, mu, top, w, ks: np.full((top.shape[0], len(ks)), 0.5))
    result, failed = run("adaptive.holdout.thresholdout_finds_the_signal", test_seed)
    assert result["verdict"] == "fails"
    assert any(name.startswith("fresh-set accuracy minus exact true accuracy") for name in failed)
    assert "Thresholdout arm: mean true accuracy of the k = 20 classifier" in failed



def test_a_thresholdout_that_overfits_is_refuted(monkeypatch, test_seed):
    """Plant a Thresholdout whose reports are 0.35 too high (an overfit of more than 2T):
    the lowest of 100 unplanted reports seen was 0.466, so every repetition then reports
    above 0.8 > 1/2 + 2T = 0.753 (the unplanted reports lie in [0.46, 0.72], each a mean
    of 1000 holdout points plus Lap(0.008) noise: a report below 0.403 is a 6-sigma event),
    40 of 40 above, the exact interval at 1e-6 lies above 1/2 and the claim says
    ``refuted``. Probability of missing: far below 1e-6.
    The simulator/reference agreement runs at another size and is left alone, so the
    witnesses still pass."""
    from toytheory.claims.catalog import adaptive_reusable_holdout as holdout_claims

    real = holdout_claims.simulate
    claim = REGISTRY["adaptive.holdout.standard_overfits_thresholdout_does_not"]
    main_n = claim.tiers["quick"]["n"]

    def overfit(n, d, reps, seed, device, informative=0, method="projection"):
        result = real(n, d, reps, seed, device, informative, method)
        if n == main_n:
            result.thresholdout[:, :, 1] += 0.35
        return result

    monkeypatch.setattr(holdout_claims, "simulate", overfit)
    result = execute_claim(claim, "quick", test_seed)
    assert result["verdict"] == "refuted", result["message"]
    failed = {n["name"] for n in result["numbers"] if n["passed"] is False}
    assert any(name.startswith("Thresholdout: probability that its reported accuracy")
               for name in failed)


def test_pmw_claim_fails_when_the_population_oracle_is_wrong(monkeypatch, test_seed):
    """Plant a wrong oracle: true answers computed with the uniform law instead of p. The
    witness "true answers of the point queries vs the law p" sees a difference of
    1/N - 1/(2N) > 0 at every point, so the claim says ``fails`` (never ``refuted``).
    Deterministic: caught with probability 1 under any seed."""
    from toytheory.adaptive.populations import FinitePopulation

    def uniform_truth(self, query):
        table = query.table
        return float(table.mean())

    monkeypatch.setattr(FinitePopulation, "true_answer", uniform_truth)
    result = execute_claim(REGISTRY["adaptive.pmw.many_adaptive_queries"], "quick", test_seed)
    assert result["verdict"] == "fails", result["message"]
    failed = {n["name"] for n in result["numbers"] if n["passed"] is False}
    assert "true answers of the N point queries vs the law p (max abs difference)" in failed


def test_pmw_without_its_threshold_is_refuted(monkeypatch, test_seed):
    """Plant a PMW whose sparse-vector threshold is 0: nearly every comparison is then an
    update round (the discrepancy beats Laplace noise of scale 0.04 about half the time),
    the 40-update budget runs out within the first ~150 of 515 queries, the rest go
    unanswered, and each repetition counts as a failure. 80 of 80 failures put the exact
    interval above 1/4: ``refuted``. Probability that a repetition keeps its budget:
    below 1e-20, so the plant is caught with probability >= 1 - 1e-6 under any seed."""
    from toytheory.adaptive.mechanisms import PrivateMultiplicativeWeights
    from toytheory.claims.catalog import adaptive_pmw

    class NoThreshold(PrivateMultiplicativeWeights):
        def __init__(self, counts, threshold, sigma, max_updates, learning_rate=None,
                     rng=None):
            super().__init__(counts, 1e-12, sigma, max_updates, learning_rate=0.05, rng=rng)

    monkeypatch.setattr(adaptive_pmw.mechanisms_module, "PrivateMultiplicativeWeights",
                        NoThreshold)
    result = execute_claim(REGISTRY["adaptive.pmw.many_adaptive_queries"], "quick", test_seed)
    assert result["verdict"] == "refuted", result["message"]


def test_overfitting_claim_fails_when_the_error_is_not_a_power_law(monkeypatch, test_seed):
    """Planted: the worst errors of the m-sweep at m = 20 and 40 multiplied by (m / 40)^1.5,
    so the local exponent over the lower half of the grid is the true one plus exactly 1.5
    while the upper half is untouched (a kink: no single power law). Every median and its
    order-statistic interval scale exactly, so the lower half's slope range is the unplanted
    one moved up by 1.5. Unplanted, the two ranges contain the local slopes (about 0.5 each,
    joint box coverage >= 1 - 1e-6) and are 0.43 and 0.19 wide at seed 0; they stay disjoint
    after the move whenever their widths sum to less than 1.5 - |difference of the local
    slopes| (about 1.45), so the log-linearity witness fails with probability >= 1 - 1e-6.
    """
    real = adaptive_overfitting.sweep

    def kinked(n_values, m_values, reps, seed, *args, **kwargs):
        out = real(n_values, m_values, reps, seed, *args, **kwargs)
        if len(set(n_values)) == 1 and not args and not kwargs:  # the log-odds m-sweep
            return [v * min(1.0, m / 40) ** 1.5 for v, m in zip(out, m_values)]
        return out

    monkeypatch.setattr(adaptive_overfitting, "sweep", kinked)
    result, failed = run("adaptive.overfitting.empirical_error_grows_like_sqrt_m_over_n", test_seed)
    assert result["verdict"] == "fails"
    assert any(name.startswith("log-linearity: gap between the local exponents of m")
               for name in failed)
