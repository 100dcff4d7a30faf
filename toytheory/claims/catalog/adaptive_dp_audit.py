"""The Laplace mechanism is epsilon-DP, exactly and by a histogram audit."""

from __future__ import annotations

import math

from toytheory.adaptive import audit
from toytheory.adaptive.mechanisms import laplace as laplace_module
from toytheory.claims import claim
from toytheory.figures import register_figure

PAPER = "Preserving Statistical Validity in Adaptive Data Analysis"
LEVEL = 1e-6


def neighbouring_answers(n: int):
    """The mean query on two neighbouring datasets: ``D`` has 30% ones, ``D'`` one more."""
    k = int(round(0.3 * n))
    return k / n, (k + 1) / n


def draw_outputs(value, epsilon, n, size, rng):
    """``size`` outputs of the Laplace mechanism (looked up at call time, so a planted bug
    shows).
    """
    return laplace_module.laplace_release(value, epsilon, 1.0 / n, rng, size=size)


@register_figure("adaptive.laplace_dp_audit",
                 caption="Histograms of Laplace-mechanism outputs on neighbouring datasets and "
                         "the privacy-loss bound e^eps")
def audit_figure(seed: int = 0, n: int = 100, epsilon: float = 1.0, size: int = 200_000):
    import numpy as np
    from matplotlib.figure import Figure

    qa, qb = neighbouring_answers(n)
    rng = np.random.default_rng(seed)
    a = draw_outputs(qa, epsilon, n, size, rng)
    b = draw_outputs(qb, epsilon, n, size, rng)
    scale = 1.0 / (n * epsilon)
    edges = audit.audit_edges(qa, qb, scale)
    finite = edges[1:-1]
    ca = np.histogram(a, finite)[0]
    cb = np.histogram(b, finite)[0]
    centres = 0.5 * (finite[1:] + finite[:-1])
    fig = Figure(figsize=(9, 3.2))
    ax1, ax2 = fig.subplots(1, 2)
    ax1.step(centres, ca / size, where="mid", label="outputs on D")
    ax1.step(centres, cb / size, where="mid", label="outputs on D'")
    ax1.set_xlabel("released answer")
    ax1.set_ylabel("fraction per bin")
    ax1.legend()
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.log(ca / cb)
    ax2.plot(centres, ratio, ".", label="log(c_D / c_D')")
    ax2.axhline(epsilon, color="k", ls="--", lw=0.8, label="+eps")
    ax2.axhline(-epsilon, color="k", ls="--", lw=0.8, label="-eps")
    ax2.set_xlabel("released answer")
    ax2.set_ylabel("empirical privacy loss")
    ax2.legend()
    return fig


@claim(
    "adaptive.privacy.laplace_mechanism_is_epsilon_dp",
    paper=PAPER,
    kind="background",
    source=("Dwork, McSherry, Nissim and Smith (2006), Calibrating noise to sensitivity in "
            "private data analysis (TCC); Dwork and Roth (2014), The Algorithmic Foundations of"
            " Differential Privacy, Theorem 3.6: the Laplace mechanism with scale Delta f / eps"
            " is eps-DP"),
    statement=("The Laplace mechanism answering a statistical query with noise Lap(1/(n eps)) "
               "is eps-differentially private, and no better: on neighbouring datasets the "
               "binned outputs satisfy sum max(0, p_a - e^eps p_b) = 0, and a histogram audit "
               "of sampled outputs stays within its count-based tolerance."),
    witnesses=("exact", "simulated"),
    quick={"n": 100, "epsilon": 1.0, "size": 1_000_000},
    full={"n": 1000, "epsilon": 0.5, "size": 10_000_000},
)
def laplace_mechanism_is_epsilon_dp(ctx, n, epsilon, size):
    ev = ctx.evidence()
    qa, qb = neighbouring_answers(n)
    scale = (1.0 / n) / epsilon
    edges = audit.audit_edges(qa, qb, scale)
    a = draw_outputs(qa, epsilon, n, size, ctx.rng("outputs on D"))
    b = draw_outputs(qb, epsilon, n, size, ctx.rng("outputs on D'"))
    result = audit.audit_dp(a, b, epsilon, edges, level=LEVEL)
    ev.at_most("histogram audit: delta-hat minus tolerance", result.statistic - result.tolerance,
               0.0, headline=True,
               note=f"delta-hat = {result.statistic:.4g}, count-based tolerance "
                    f"{result.tolerance:.4g} ({result.n_bins} bins, N = {size:,} per dataset, "
                    f"level {LEVEL:g})")
    ev.record("delta-hat (audit statistic)", result.statistic)
    ev.record("audit tolerance", result.tolerance)
    # the audit's power: the same audit sees a mechanism whose noise is 20% too small
    weak = 0.8
    a_bug = laplace_module.laplace_release(qa, epsilon / weak, 1.0 / n, ctx.rng("bug D"),
                                           size=size)
    b_bug = laplace_module.laplace_release(qb, epsilon / weak, 1.0 / n, ctx.rng("bug D'"),
                                           size=size)
    bug = audit.audit_dp(a_bug, b_bug, epsilon, edges, level=LEVEL)
    ev.at_least("audit statistic for noise scaled by 0.8, minus tolerance",
                bug.statistic - bug.tolerance, 0.0,
                note="the audit rejects a mechanism that is only (1.25 eps)-DP: the witness "
                     "can disagree")
    exact = audit.laplace_binned_hockey_stick(epsilon, qa, qb, scale, edges)
    ev.at_most("exact binned delta at eps (tail-wise Laplace bin masses)", exact, 1e-14,
               role="statement",
               headline=False, note="0 up to rounding: the mechanism is eps-DP")
    tighter = audit.laplace_binned_hockey_stick(0.9 * epsilon, qa, qb, scale, edges)
    ev.at_least("exact binned delta at 0.9 eps", tighter, 1e-3, role="statement",
                note="positive: the mechanism is not 0.9 eps-DP, the calibration is tight")

    ev.record("exact binned delta of the 0.8-scaled mechanism at eps",
              audit.laplace_binned_hockey_stick(epsilon, qa, qb, weak * scale, edges))
    ev.figure("audit", audit_figure(ctx.seed_for("figure"), n, epsilon, min(size, 200_000)),
              caption="outputs of the Laplace mechanism on D and D' = D with one more 1; the "
                      "empirical log ratio stays within +-eps")
    ev.note(f"Neighbouring datasets of n = {n} points with {qa:.2f} and {qb:.2f} ones; the "
            f"query's sensitivity is 1/n, the noise scale 1/(n eps) = {scale:.4g}. The audit "
            f"tolerance (sqrt(K/N) + sqrt(2 ln(2/level)/N)) (1 + e^eps) follows from "
            "McDiarmid's inequality on the L1 error of the two histograms; it is conservative, "
            "so the audit's power is stated by the planted 0.8-scale mechanism above.")
    ev.note(f"e^eps = {math.exp(epsilon):.4g}.")
    return ev
