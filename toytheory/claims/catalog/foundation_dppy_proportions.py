"""DPPy's sampler tests run a chi-square test on proportions, which cannot see a wrong sampler.

DPPy (guilgautier/DPPy, master at commit 0675f8875571d4705eedfd8bcdee1e5856022524),
``tests/finite/test_finite_dpps_samplers.py``: ``singleton_adequation`` computes
``f_emp = np.histogram(samples, bins=range(N + 1), density=True)`` (proportions) and
``f_th = diag(K) / trace(K)``, then ``scipy.stats.chisquare(f_obs=f_emp, f_exp=f_th)`` and
passes when ``pval > tol = 0.05``; ``doubleton_adequation`` does the same with normalised
doubleton frequencies. The chi-square statistic on proportions is the statistic on counts
divided by the number of observations, so its p-value is near 1 for any law close enough
to be a sampler bug. The same pattern is in ``tests/test_finite_dpps_samplers.py`` of the
0.3.x releases.
"""

from __future__ import annotations

import numpy as np
from scipy import stats as sps

from toytheory import stats
from toytheory.calibration import rejection_count
from toytheory.claims import claim
from toytheory.figures import register_figure

PAPER = "DPPy: DPP Sampling with Python (Gautier, Polito, Bardenet and Valko, JMLR MLOSS 2019)"
LEVEL = 0.05        # DPPy's tol
DPPY = ("DPPy, master at commit 0675f88 (guilgautier/DPPy), "
        "tests/finite/test_finite_dpps_samplers.py::singleton_adequation "
        "(scipy.stats.chisquare on np.histogram(..., density=True), tol = 0.05)")


class _Result:
    def __init__(self, pvalue, level):
        self.pvalue, self.level, self.reject = pvalue, level, pvalue <= level


def true_law(cells=10):
    p = np.arange(1, cells + 1, dtype=float)
    return p / p.sum()


def buggy_law(cells=10, moved=0.2):
    """The true law with ``moved`` of the largest cell's mass moved to the smallest."""
    p = true_law(cells)
    q = p.copy()
    q[0] += moved * p[-1]
    q[-1] -= moved * p[-1]
    return q


def proportions_test(rng, n, law):
    """DPPy's practice: scipy's chisquare fed proportions (density histogram), not counts."""
    counts = rng.multinomial(n, law)
    res = sps.chisquare(counts / n, true_law(len(law)))
    return _Result(float(res.pvalue), LEVEL)


def counts_test(rng, n, law):
    return stats.chisquare_gof(rng.multinomial(n, law), true_law(len(law)), LEVEL)


@register_figure("foundation.chisquare_on_proportions",
                 caption="p-values of the chi-square test on counts and on proportions, "
                         "for a sampler with a planted bug")
def pvalue_figure(seed: int = 0, n: int = 2000, reps: int = 200):
    from matplotlib.figure import Figure

    law = buggy_law()
    rng = np.random.default_rng(seed)
    p_counts, p_props = [], []
    for child in rng.spawn(reps):
        counts = child.multinomial(n, law)
        p_counts.append(stats.chisquare_gof(counts, true_law(), LEVEL).pvalue)
        p_props.append(sps.chisquare(counts / n, true_law()).pvalue)
    fig = Figure(figsize=(6.5, 3.2))
    ax = fig.add_subplot()
    bins = np.linspace(0, 1, 41)
    ax.hist(np.clip(p_counts, 0, 1), bins=bins, alpha=0.7, label="on counts")
    ax.hist(p_props, bins=bins, alpha=0.7, label="on proportions")
    ax.axvline(LEVEL, color="k", lw=0.8, ls="--", label=f"level {LEVEL}")
    ax.set_xlabel("p-value against the true law (sampler has a planted bug)")
    ax.set_ylabel(f"runs (of {reps})")
    ax.legend()
    return fig


@claim(
    "foundation.stats.chisquare_on_proportions_detects_a_wrong_sampler",
    paper=PAPER, kind="library", library=DPPY,
    statement=("DPPy's singleton adequation test (a chi-square goodness-of-fit test on "
               "empirical proportions, passing when p > 0.05) detects a sampler whose law is "
               "wrong."),
    witnesses=("simulated",),
    quick={"n": 6000, "reps": 200},
    full={"n": 60000, "reps": 2000},
)
def proportions_vs_counts(ctx, n, reps):
    ev = ctx.evidence()
    law = buggy_law()
    k_counts = rejection_count(lambda r: counts_test(r, n, law), reps, ctx.rng("counts"))
    k_props = rejection_count(lambda r: proportions_test(r, n, law), reps, ctx.rng("props"))
    lo_counts, _ = stats.exact_binomial_interval(k_counts, reps, 1e-6)
    _, hi_props = stats.exact_binomial_interval(k_props, reps, 1e-6)
    ev.at_least("detection rate of the test on counts (lower end at 1e-6)", lo_counts, 0.9,
                note=f"{k_counts}/{reps} runs reject the wrong sampler at level {LEVEL}: the "
                     "planted bug is plainly visible")
    ev.interval("detection rate of DPPy's test on proportions", k_props / reps,
                stats.exact_binomial_interval(k_props, reps, 1e-6), 0.5, side=">=",
                level=1e-6, headline=True,
                detectable=f"a detection rate of 0.5 is excluded once the Clopper-Pearson "
                           f"interval of {reps} runs lies below it",
                note=f"{k_props}/{reps} runs reject at tol {LEVEL}: dividing the statistic by "
                     f"n = {n} hides the bug")
    ev.referee_note(
        says="DPPy's singleton_adequation docstring: 'Perform chi-square test to check that "
             "P[{i} C X] = K_ii' (the test is meant to catch a wrong sampler).",
        toy=f"Singleton frequencies over N = 10 items, n = {n} draws (1000 samples of a rank-6 "
            "DPP, as in DPPy's test), with 20% of the largest cell's mass moved to the "
            "smallest; DPPy's statistic: scipy chisquare on the density histogram.",
        measured=f"{k_props}/{reps} runs reject at 0.05 (Clopper-Pearson upper end "
                 f"{hi_props:.3f} at 1e-6) while the test on counts rejects {k_counts}/{reps}.",
        inside="The statistic is computed exactly as in DPPy's test code; only the sampler is "
               "replaced by a multinomial with the planted law, which is what the test sees.",
        would_change="Feeding counts (n f_emp) to chisquare, or a sampler bug large enough to "
                     "move proportions by order 1 (chi-square on proportions is the count "
                     "statistic divided by n).")
    ev.record("moved mass", 0.2 * true_law()[-1])
    ev.figure("pvalues", pvalue_figure(ctx.seed_for("figure"), n, min(reps, 200)),
              caption="p-values over seeded runs: the test on counts rejects every run, the "
                      "test on proportions none")
    ev.note("The planted bug moves 20% of the largest cell's mass (0.036 of the total) to the "
            f"smallest cell of a 10-cell law. Both tests see the same n = {n} draws per run.")
    return ev
