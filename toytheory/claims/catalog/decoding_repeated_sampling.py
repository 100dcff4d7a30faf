"""Large Language Monkeys: pass@k, its unbiased estimator, and coverage against samples."""

from __future__ import annotations

from fractions import Fraction

import numpy as np

from toytheory import stats
from toytheory.claims import claim
from toytheory.figures import register_figure

PAPER = "Large Language Monkeys: Scaling Inference Compute with Repeated Sampling"
LEVEL = 1e-6
BETA_POPULATIONS = ((0.05, 1.0), (0.2, 2.0), (0.5, 0.5), (1.0, 5.0), (2.0, 20.0))
"""(a, b) of the Beta laws of per-problem success rates: hard-tailed to easy."""


@claim(
    "decoding.monkeys.pass_at_k_estimator_unbiased",
    paper=PAPER,
    kind="background",
    statement=("The estimator 1 - C(n-c, k)/C(n, k) of pass@k is unbiased over "
               "c ~ Binomial(n, p); the plug-in 1 - (1 - c/n)^k is biased low."),
    source=('Chen et al. (2021), "Evaluating Large Language Models Trained on Code", '
            'Section 2.1, eq. (1), the estimator Large Language Monkeys uses for coverage.'),
    witnesses=("exact", "simulated"),
    quick={"cases": ((5, 1, "1/2"), (10, 3, "1/3"), (20, 5, "1/7"), (12, 12, "2/5")),
           "n_sim": 200_000},
    full={"cases": tuple((n, k, p) for n in (5, 10, 20, 40) for k in (1, 2, n // 2, n)
                         for p in ("1/50", "1/7", "1/2", "9/10")),
          "n_sim": 2_000_000},
)
def pass_at_k_estimator_unbiased(ctx, cases, n_sim):
    from toytheory.decoding import expected_pass_at_k_exact, pass_at_k_unbiased

    ev = ctx.evidence()
    rng = ctx.rng("binomial")
    worst_sim = 0.0
    for n, k, p in cases:
        exact = float(expected_pass_at_k_exact(n, k, p))
        table = np.array([pass_at_k_unbiased(n, c, k) for c in range(n + 1)])
        draws = rng.binomial(n, float(Fraction(p)), size=n_sim)
        mean = float(table[draws].mean())
        # Hoeffding: the estimator lies in [0, 1]
        half = np.sqrt(np.log(2.0 / LEVEL) / (2.0 * n_sim))
        worst_sim = max(worst_sim, abs(mean - exact) - half)
    ev.at_most("simulated mean minus exact mean, beyond the Hoeffding half-width at 1e-6 "
               "(worst case)", worst_sim, 0.0)
    off = [f"n={n}, k={k}, p={p}" for n, k, p in cases
           if expected_pass_at_k_exact(n, k, p) != 1 - (1 - Fraction(p)) ** k]
    ev.equal("cases where E[unbiased estimator] != 1 - (1 - p)^k (exact rationals)",
             len(off), 0, role="statement", headline=True, note="; ".join(off))
    not_low = [f"n={n}, k={k}, p={p}" for n, k, p in cases
               if 1 < k < n and 0 < Fraction(p) < 1
               and expected_pass_at_k_exact(n, k, p, "plugin") >= 1 - (1 - Fraction(p)) ** k]
    ev.equal("cases with 1 < k < n, 0 < p < 1 where the plug-in is not biased low",
             len(not_low), 0, role="statement", note="; ".join(not_low))
    return ev


@claim(
    "decoding.monkeys.beta_coverage_power_law_tail",
    paper=PAPER,
    kind="derived",
    statement=("For Beta(a, b) per-problem success rates, coverage is "
               "1 - B(a, b+k)/B(a, b), and its gap to one falls as a power law k^(-a)."),
    source=("Derived here: E(1-p)^k = B(a, b+k)/B(a, b) for p ~ Beta(a, b), and "
            "Gamma(b+k)/Gamma(a+b+k) ~ k^(-a) (Stirling)."),
    witnesses=("exact", "simulated"),
    quick={"ks": (1, 10, 100, 1000), "problems": 200_000},
    full={"ks": (1, 3, 10, 30, 100, 300, 1000, 3000, 10000), "problems": 2_000_000},
)
def beta_coverage_power_law_tail(ctx, ks, problems):
    from toytheory.decoding import (beta_coverage, beta_coverage_tail_constant,
                                    fit_exponentiated_power_law)

    ev = ctx.evidence()
    rng = ctx.rng("population")
    pvalues, ks_arr = [], np.asarray(ks)
    for a, b in BETA_POPULATIONS:
        p = rng.beta(a, b, size=problems)
        exact = beta_coverage(ks_arr, a, b)
        for k, c_exact in zip(ks_arr, exact):
            solved = int((rng.random(problems) < -np.expm1(k * np.log1p(-p))).sum())
            pvalues.append(stats.binomial_test(solved, problems, float(c_exact), LEVEL).pvalue)
    ev.test("simulated coverage (problems x k attempts) vs the closed form (Holm)",
            stats.holm(pvalues, LEVEL), expect="accept")
    worst_slope, worst_const = 0.0, 0.0
    big = np.array([10 ** 6, 10 ** 7])
    for a, b in BETA_POPULATIONS:
        gap = 1.0 - beta_coverage(big, a, b)
        slope = np.diff(np.log(gap))[0] / np.log(10.0)
        worst_slope = max(worst_slope, abs(slope + a))
        worst_const = max(worst_const, abs(gap[1] * big[1] ** a
                                           / beta_coverage_tail_constant(a, b) - 1.0))
    ev.at_most("log-log slope of 1 - C(k) at k = 1e6..1e7, distance to -a (worst)",
               worst_slope, 1e-4, role="statement", headline=True)
    ev.record("1 - C(k) against Gamma(a+b)/Gamma(b) k^-a at k = 1e7 (relative, worst)",
              worst_const)
    k_fit = np.unique(np.round(np.logspace(0, 4, 41)).astype(int))
    for a, b in BETA_POPULATIONS:
        cov = beta_coverage(k_fit, a, b)
        _, beta_fit, err = fit_exponentiated_power_law(k_fit, cov)
        ev.record(f"exponentiated power law fit over k = 1..1e4, Beta({a}, {b}): max error",
                  err, note=f"fitted power {beta_fit:.3f}")
    ev.note("The paper's exponentiated power law exp(alpha k^beta) is exact in the tail "
            "(beta = -a) but its fit over 1..1e4 is off by up to a few points of coverage "
            "for some populations: the law is a model of the tail, not of every k.")
    return ev


@register_figure("decoding.monkeys_coverage_vs_k",
                 caption="Coverage against samples k for Beta populations, with the fitted "
                         "exponentiated power laws")
def coverage_figure(seed: int = 0):
    from matplotlib.figure import Figure

    from toytheory.decoding import beta_coverage, fit_exponentiated_power_law

    k = np.unique(np.round(np.logspace(0, 4, 41)).astype(int))
    fig = Figure(figsize=(5.5, 3.4))
    ax = fig.add_subplot()
    for a, b in BETA_POPULATIONS:
        cov = beta_coverage(k, a, b)
        alpha, power, _ = fit_exponentiated_power_law(k, cov)
        line, = ax.plot(k, cov, "o", ms=3, label=f"Beta({a}, {b})")
        ax.plot(k, np.exp(alpha * k.astype(float) ** power), "-", color=line.get_color())
    ax.set_xscale("log")
    ax.set_xlabel("samples k")
    ax.set_ylabel("coverage")
    ax.legend(frameon=False, fontsize=7)
    return fig
