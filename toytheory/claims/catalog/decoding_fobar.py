"""FOBAR: self-consistency's plateau and forward-backward verification, exact by
enumeration over multinomial counts."""

from __future__ import annotations

import numpy as np

from toytheory import stats
from toytheory.claims import claim
from toytheory.figures import register_figure

PAPER = "Forward-Backward Reasoning in Large Language Models for Mathematical Verification"
LEVEL = 1e-6
FOBAR_TOY = {"a": 2.0, "b": 3.0, "problems": 16, "attractor_share": 0.6}
"""Problems with P(correct forward answer) at Beta(2, 3) quantiles; the wrong mass split
60/40 between two wrong answers."""


def fobar_laws(problems: int | None = None) -> np.ndarray:
    """The toy's forward answer laws, shape (P, 3): (correct, wrong 1, wrong 2)."""
    from toytheory.decoding.selection import beta_population

    t = FOBAR_TOY
    p = beta_population(t["a"], t["b"], problems or t["problems"])
    w = t["attractor_share"]
    return np.column_stack([p, (1 - p) * w, (1 - p) * (1 - w)])


def _simulated_witness(ev, ctx, laws, cases, n_sim, label):
    from sims.decoding_selection import fobar_wins
    from toytheory.decoding import fobar

    pvalues = []
    for i, n, m, b1, b0, alpha in cases:
        if alpha == 1.0:
            exact = fobar.self_consistency_accuracy(laws[i], n)
        else:
            exact = fobar.fobar_accuracy(laws[i], n, m, b1, b0, alpha)
        wins = fobar_wins(laws[i], n, m, b1, b0, alpha, n_sim,
                          ctx.seed_for(label, str(i), str(n), str(b1), str(b0), str(alpha)))
        pvalues.append(stats.binomial_test(wins, n_sim, min(max(exact, 0.0), 1.0),
                                           LEVEL).pvalue)
    ev.test(f"simulated forward/backward chains vs exact enumeration ({len(pvalues)} cases, "
            "Holm)", stats.holm(pvalues, LEVEL), expect="accept")


@claim(
    "decoding.fobar.self_consistency_saturates",
    paper=PAPER,
    kind="paper",
    statement=("Self-consistency's accuracy tends to P(the mode of the answer law is "
               "correct), far below coverage; past 40 chains it changes by at most 2 points."),
    source=('Abstract: "Self-Consistency samples a diverse set of reasoning chains with '
            'different answers and chooses the answer by majority voting. Though effective, '
            'its performance cannot be further improved by sampling more reasoning chains."'),
    reading=("Toy: 16 problems whose forward chains are correct with probability at the "
             "Beta(2, 3) quantiles, the wrong mass split 60/40 over two wrong answers; "
             "accuracy is exact by enumeration over multinomial counts. 'Cannot be further "
             "improved' is read as a plateau: (i) the exact n -> infinity limit, "
             "P(mode correct), is at least 20 points below coverage at 40 chains, and (ii) "
             "accuracy at 80 and 160 chains and in the limit is within 2 points of accuracy "
             "at 40 chains. Read literally (no n' > n does better) it is false on the toy: "
             "accuracy still rises by about a point from 40 to 160 chains before falling "
             "back to its limit; that is recorded."),
    witnesses=("exact", "simulated"),
    quick={"ns": (1, 5, 10, 20, 40, 80, 160), "n_sim": 40_000,
           "sim_cases": ((3, 5), (8, 20), (12, 40))},
    full={"ns": (1, 5, 10, 20, 40, 80, 160, 320), "n_sim": 400_000,
          "sim_cases": ((1, 5), (3, 5), (8, 20), (10, 40), (12, 40), (14, 80))},
)
def self_consistency_saturates(ctx, ns, n_sim, sim_cases):
    from toytheory.decoding import fobar

    ev = ctx.evidence()
    laws = fobar_laws()
    _simulated_witness(ev, ctx, laws, [(i, n, 1, 0.5, 0.5, 1.0) for i, n in sim_cases],
                       n_sim, "sc")
    # the limit: problems far from a tie are decided at 400 chains (Chernoff e^-n(sqrt
    # gap)^2 below 1e-9 for the two problems used)
    far = [int(np.argmin(laws[:, 0])), int(np.argmax(laws[:, 0]))]
    ev.close("accuracy at 400 chains vs the limit 1[mode correct] (two problems far from a "
             "tie, max abs)", max(abs(fobar.self_consistency_accuracy(laws[i], 400)
                                      - fobar.self_consistency_limit(laws[i])) for i in far),
             0.0, atol=1e-6)
    acc = {n: float(fobar.self_consistency_accuracy(laws, n).mean()) for n in ns}
    limit = float(np.mean([fobar.self_consistency_limit(law) for law in laws]))
    coverage40 = float(np.mean(1 - (1 - laws[:, 0]) ** 40))
    ev.record("self-consistency accuracy against chains n",
              ", ".join(f"{n}: {a:.4f}" for n, a in acc.items()))
    ev.at_least("coverage at 40 chains minus the self-consistency limit P(mode correct)",
                coverage40 - limit, 0.20, role="statement",
                note=f"coverage {coverage40:.4f}, limit {limit:.4f}")
    later = [acc[n] for n in ns if n > 40] + [limit]
    change = max(abs(a - acc[40]) for a in later)
    ev.at_most("largest change of accuracy past 40 chains (80, 160, ..., the limit)",
               change, 0.02, role="statement", headline=True,
               note=f"largest gain over 40 chains: {max(later) - acc[40]:+.4f}")
    return ev


@claim(
    "decoding.fobar.fobar_beats_self_consistency",
    paper=PAPER,
    kind="paper",
    statement=("With a backward check whose success rate on the correct candidate exceeds "
               "that on a wrong one by 0.2 or more, FOBAR is more accurate than "
               "self-consistency on the same forward chains; with an uninformative check "
               "(b1 = b0) it is less accurate."),
    source=('Abstract: "In particular, FOBAR outperforms Self-Consistency which uses forward '
            'reasoning alone, demonstrating that combining forward and forward reasoning is '
            'better."'),
    reading=("Toy: the 16 problems of the self-consistency claim, 40 forward chains, 8 "
             "backward chains per distinct candidate, each succeeding with b1 (correct "
             "candidate) or b0 (wrong), FOBAR's score c_a^(1/2) B_a^(1/2) (the paper's "
             "alpha = 1/2; forward count alone when no backward chain succeeds), ties "
             "uniform; exact by enumeration over forward and backward counts. "
             "'Outperforms' is held on every (b1, b0) of the grid {0.1, 0.3, 0.5, 0.7, 0.9}^2 "
             "(finer in the full tier) with b1 - b0 >= 0.2 (population accuracy strictly higher); "
             "nearly uninformative checks (b1 = b0 + 0.01 or 0.02 at b0 = 0.5) lose to "
             "self-consistency on the toy, which is recorded: the abstract's claim needs a "
             "backward check that is informative enough. The abstract's condition is "
             "the paper's real LLMs, whose b1, b0 are not given; the toy shows what it "
             "takes: the b1 = b0 diagonal is reported as the converse (FOBAR loses there, "
             "as backward noise can overturn a correct majority)."),
    witnesses=("exact", "simulated"),
    quick={"grid": (0.1, 0.3, 0.5, 0.7, 0.9), "n_sim": 40_000,
           "sim_cases": ((8, 0.7, 0.3), (12, 0.5, 0.5), (4, 0.3, 0.1))},
    full={"grid": (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9), "n_sim": 400_000,
          "sim_cases": ((8, 0.7, 0.3), (12, 0.5, 0.5), (4, 0.3, 0.1), (15, 0.9, 0.6),
                        (0, 0.6, 0.2))},
)
def fobar_beats_self_consistency(ctx, grid, n_sim, sim_cases):
    from toytheory.decoding import fobar

    n, m = 40, 8
    ev = ctx.evidence()
    laws = fobar_laws()
    _simulated_witness(ev, ctx, laws, [(i, n, m, b1, b0, 0.5) for i, b1, b0 in sim_cases],
                       n_sim, "fobar")
    sc_direct = float(fobar.self_consistency_accuracy(laws, n).mean())
    sc_alpha1 = float(fobar.fobar_accuracy(laws, n, m, 0.5, 0.5, alpha=1.0).mean())
    ev.close("FOBAR at alpha = 1 vs self-consistency (two enumerations)", sc_alpha1,
             sc_direct, atol=1e-12)
    margins, diagonal = {}, {}
    for b1 in grid:
        for b0 in grid:
            fb = float(fobar.fobar_accuracy(laws, n, m, b1, b0).mean())
            if b1 - b0 >= 0.2 - 1e-9:
                margins[(b1, b0)] = fb - sc_direct
            elif b1 == b0:
                diagonal[b1] = fb - sc_direct
    worst = min(margins, key=margins.get)
    ev.at_least("smallest gain of FOBAR over self-consistency, b1 - b0 >= 0.2 on the grid",
                margins[worst], 1e-9, role="statement", headline=True,
                note=f"at (b1, b0) = {worst}; self-consistency {sc_direct:.4f}; "
                     f"largest gain {max(margins.values()):+.4f}")
    ev.at_most("largest gain of FOBAR over self-consistency on b1 = b0",
               max(diagonal.values()), -1e-9, role="statement",
               note=", ".join(f"b = {b}: {g:+.4f}" for b, g in diagonal.items()))
    edge = {d: float(fobar.fobar_accuracy(laws, n, m, 0.5 + d, 0.5).mean()) - sc_direct
            for d in (0.01, 0.02, 0.05, 0.1)}
    ev.record("gain over self-consistency at b0 = 0.5, b1 = 0.5 + d",
              ", ".join(f"d = {d}: {g:+.4f}" for d, g in edge.items()))
    lim_sc = float(np.mean([fobar.self_consistency_limit(law) for law in laws]))
    lim_fb = float(np.mean([fobar.fobar_limit(law, 0.7, 0.3) for law in laws]))
    ev.record("limits (n, m -> infinity): self-consistency, FOBAR at (0.7, 0.3)",
              f"{lim_sc:.4f}, {lim_fb:.4f}")
    return ev


@register_figure("decoding.fobar_accuracy_vs_samples",
                 caption="Self-consistency and FOBAR (8 backward chains, b1 = 0.7, b0 = 0.3) "
                         "exact accuracy against forward chains, with coverage and the "
                         "self-consistency limit P(mode correct)")
def fobar_figure(seed: int = 0, ns=(1, 2, 5, 10, 20, 40)):
    from matplotlib.figure import Figure

    from toytheory.decoding import fobar

    laws = fobar_laws()
    fig = Figure(figsize=(5.5, 3.4))
    ax = fig.add_subplot()
    ax.plot(ns, [np.mean(1 - (1 - laws[:, 0]) ** n) for n in ns], "k-", label="coverage")
    ax.plot(ns, [fobar.self_consistency_accuracy(laws, n).mean() for n in ns], "o-",
            label="self-consistency")
    ax.plot(ns, [fobar.fobar_accuracy(laws, n, 8, 0.7, 0.3).mean() for n in ns], "s-",
            label="FOBAR")
    ax.axhline(np.mean([fobar.self_consistency_limit(law) for law in laws]), ls=":",
               color="grey", label="P(mode correct)")
    ax.set_xscale("log")
    ax.set_xlabel("forward chains n")
    ax.set_ylabel("accuracy")
    ax.legend(frameon=False, fontsize=7)
    return fig
