"""Planted bugs: each foundation claim's witnesses catch a wrong implementation."""

from __future__ import annotations

import numpy as np
from scipy import stats as sps

from toytheory import stats
from toytheory.claims import execute_claim, load_catalog
from toytheory.claims.catalog import foundation_dppy_proportions, foundation_w2

REGISTRY = load_catalog()


def _plant_cross_term_bug(monkeypatch, fraction, seed):
    real = foundation_w2.bures_wasserstein_distance

    def buggy(m1, s1, m2, s2):  # 2 tr(...)^1/2 replaced by (2 - fraction) tr(...)^1/2
        w = real(m1, s1, m2, s2) ** 2
        cross = 0.5 * (np.trace(s1) + np.trace(s2) + np.sum((np.asarray(m1) - m2) ** 2) - w)
        return float(np.sqrt(w + fraction * cross))

    monkeypatch.setattr(foundation_w2, "bures_wasserstein_distance", buggy)
    result = execute_claim(REGISTRY["foundation.gaussian.w2_closed_form"], "quick", seed)
    return result, {n["name"] for n in result["numbers"] if n["passed"] is False}


def test_w2_claim_fails_when_the_closed_form_drops_one_percent_of_the_cross_term(monkeypatch,
                                                                                 test_seed):
    """The algebraic cross-check (rtol 1e-10) sees a 1% change. Power: deterministic — two
    closed forms compared, no random draw decides it."""
    result, failed = _plant_cross_term_bug(monkeypatch, 0.02, test_seed)
    assert result["verdict"] == "fails"
    assert "W2^2: Bures formula vs nuclear-norm route" in failed


def test_w2_monte_carlo_witness_alone_sees_a_five_percent_cross_term_bug(monkeypatch,
                                                                         test_seed):
    """A 10% cross-term error moves W2^2 by far more than the exact-level (Laurent-Massart)
    interval's half-width at 2e5 draws and 1e-6 (about 1% of W2^2, measured over seeds
    0..9); the interval's own miss probability is at most 1e-6, so the witness rejects
    with probability > 1 - 1e-6."""
    result, failed = _plant_cross_term_bug(monkeypatch, 0.1, test_seed)
    assert result["verdict"] == "fails"
    assert "Monte Carlo E|X - T(X)|^2 equals W2^2" in failed


def test_calibration_claim_fails_when_chisquare_uses_the_wrong_degrees_of_freedom(monkeypatch,
                                                                                 test_seed):
    """df + 2: the null rejection rate at 0.05 falls to about 0.018 (measured). With 4000
    runs the audit's lower critical count at 1e-6 is 135 rejections (exact binomial at rate
    0.05), while Bin(4000, 0.0179) exceeds it with probability 5e-12: caught with
    probability > 1 - 1e-6 under any seed. (At the quick tier's 1500 runs it was missed
    3.5% of the time.)"""
    def buggy(counts, probabilities, level, **kwargs):
        counts = np.asarray(counts)
        p = np.asarray(probabilities)
        e = counts.sum() * p
        stat = float(np.sum((counts - e) ** 2 / e))
        pv = float(sps.chi2.sf(stat, len(p) + 1))
        return stats.TestResult("buggy", stat, pv, level, pv <= level)

    from dataclasses import replace

    monkeypatch.setattr(stats, "chisquare_gof", buggy)
    claim = REGISTRY["foundation.stats.tests_are_calibrated"]
    claim = replace(claim, tiers={**claim.tiers, "quick": {**claim.tiers["quick"], "reps": 4000}})
    result = execute_claim(claim, "quick", test_seed)
    assert result["verdict"] == "fails"
    assert any(n["name"].startswith("chi-square goodness of fit") and n["passed"] is False
               for n in result["numbers"])


def test_proportions_claim_would_hold_if_the_flawed_test_were_done_on_counts(monkeypatch,
                                                                           test_seed):
    """With counts, the planted 0.036 mass shift over 6000 draws is detected in essentially
    every run (power per run > 0.999), so the Clopper-Pearson lower end over 200 runs is
    above 0.5 with probability > 1 - 1e-6: the library claim then holds. Power: the lower end
    exceeds 0.5 once 135 of 200 runs reject; at a per-run power >= 0.999 a miss has
    probability P(Bin(200, 0.999) < 135) < 1e-100."""
    monkeypatch.setattr(foundation_dppy_proportions, "proportions_test",
                        foundation_dppy_proportions.counts_test)
    claim = REGISTRY["foundation.stats.chisquare_on_proportions_detects_a_wrong_sampler"]
    assert execute_claim(claim, "quick", test_seed)["verdict"] == "holds"


def test_proportions_claim_is_refuted_as_dppy_computes_it(test_seed):
    """DPPy's statistic on proportions is the count statistic / 6000: its p-value is near 1,
    no run rejects, and the interval's upper end (< 0.07) lies below 0.5: refuted. Power:
    refuted unless 66+ of 200 runs reject; X^2 / 6000 of 6000 draws rejects only when X^2
    exceeds 6000 times the critical value, a per-run chance far below 1e-6, so the miss is
    negligible."""
    claim = REGISTRY["foundation.stats.chisquare_on_proportions_detects_a_wrong_sampler"]
    result = execute_claim(claim, "quick", test_seed)
    assert result["verdict"] == "refuted"
    assert result["kind"] == "library"
