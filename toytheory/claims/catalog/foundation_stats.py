"""toytheory's own statistical tests hold their stated level and see planted differences."""

from __future__ import annotations

import numpy as np
from scipy import stats as sps

from toytheory import stats
from toytheory.calibration import audit_rate, rejection_count
from toytheory.claims import claim

PAPER = "toytheory: calibration of its own statistical tests"
ALPHA = 0.05        # the level whose rejection rate is audited
AUDIT = 1e-6        # the level of the audit itself


def chisquare_null(rng, n=200, cells=8):
    p = np.full(cells, 1.0 / cells)
    return stats.chisquare_gof(rng.multinomial(n, p), p, ALPHA)


def chisquare_shifted(rng, n=2000, cells=8, shift=0.05):
    p = np.full(cells, 1.0 / cells)
    q = p.copy()
    q[0] += shift
    q[1] -= shift
    return stats.chisquare_gof(rng.multinomial(n, q), p, ALPHA)


def ks1_null(rng, n=100):
    return stats.ks_1samp(rng.standard_normal(n), sps.norm.cdf, ALPHA)


def ks1_shifted(rng, n=400, shift=0.3):
    return stats.ks_1samp(rng.standard_normal(n) + shift, sps.norm.cdf, ALPHA)


def ks2_null(rng, n=100):
    return stats.ks_2samp(rng.standard_normal(n), rng.standard_normal(n), ALPHA)


def energy_null(rng, n=30, d=3):
    return stats.energy_two_sample_test(rng.standard_normal((n, d)), rng.standard_normal((n, d)),
                                        ALPHA, rng=rng, max_permutations=199)


def energy_scaled(rng, n=80, d=3, scale=2.0):
    return stats.energy_two_sample_test(rng.standard_normal((n, d)),
                                        scale * rng.standard_normal((n, d)), ALPHA, rng=rng,
                                        max_permutations=199)


def bonferroni_null(rng, m=10):
    return stats.bonferroni(rng.random(m), ALPHA)


def holm_null(rng, m=10):
    return stats.holm(rng.random(m), ALPHA)


@claim(
    "foundation.stats.tests_are_calibrated",
    paper=PAPER, kind="derived",
    statement=("Under the null, toytheory's chi-square, KS, energy-distance and "
               "multiplicity-corrected tests reject at their stated rate, and each detects a "
               "planted difference of a stated size."),
    witnesses=("simulated",),
    quick={"reps": 1500, "energy_reps": 300},
    full={"reps": 20000, "energy_reps": 3000},
)
def tests_are_calibrated(ctx, reps, energy_reps):
    ev = ctx.evidence()
    # Family-wise rate of Bonferroni/Holm under the global null with independent
    # uniform p-values: both reject iff min p <= alpha/m, probability 1-(1-alpha/m)^m.
    m = 10
    fwer = 1.0 - (1.0 - ALPHA / m) ** m
    audits = [
        ("chi-square goodness of fit", chisquare_null, reps, ALPHA, "two-sided"),
        ("KS one-sample", ks1_null, reps, ALPHA, "two-sided"),
        ("KS two-sample", ks2_null, reps, ALPHA, "greater"),
        ("energy distance permutation", energy_null, energy_reps, ALPHA, "greater"),
        ("Bonferroni family (m=10)", bonferroni_null, reps, fwer, "two-sided"),
        ("Holm family (m=10)", holm_null, reps, fwer, "two-sided"),
    ]
    for name, fn, r, rate, alternative in audits:
        count = rejection_count(fn, r, ctx.rng(name))
        ev.test(f"{name}: {count}/{r} null rejections vs rate {rate:.4f}",
                audit_rate(count, r, rate, AUDIT, alternative=alternative),
                note=f"exact binomial audit at {AUDIT:g}"
                     + (" (one-sided: the test may be conservative)"
                        if alternative == "greater" else ""))
    powers = [
        ("chi-square detects a 0.05 shift of mass between two of 8 cells, n=2000",
         chisquare_shifted, 200),
        ("KS detects a 0.3 sd mean shift, n=400", ks1_shifted, 200),
        ("energy test detects a 2x scale change in d=3, n=80+80", energy_scaled, 200),
    ]
    for name, fn, r in powers:
        count = rejection_count(fn, r, ctx.rng(name))
        lo, _ = stats.exact_binomial_interval(count, r, AUDIT)
        ev.at_least(f"power lower bound: {name}", lo, 0.8,
                    note=f"{count}/{r} rejections at level {ALPHA}; Clopper-Pearson lower end "
                         f"at {AUDIT:g}")
    ev.note(f"Each null rate is audited with an exact binomial test at level {AUDIT:g}; "
            "Pearson's test is asymptotic, so its audit is two-sided around the nominal "
            "level; KS two-sample and the permutation test are exact or conservative.")
    return ev
