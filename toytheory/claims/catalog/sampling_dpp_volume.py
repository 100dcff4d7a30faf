"""Projection DPPs and volume sampling on finite ground sets: exact laws, samplers, identities."""

from __future__ import annotations

import numpy as np

from toytheory import stats
from toytheory.claims import claim
from toytheory.figures import register_figure

PAPER = ("Weighted least-squares approximation with determinantal point processes and "
         "generalized volume sampling")
LEVEL = 1e-6
DW2017 = ("Derezinski and Warmuth: Unbiased estimates for linear regression via volume sampling "
          "(NeurIPS 2017)")
HKPV = ("Hough, Krishnapur, Peres and Virag: Determinantal processes and independence "
        "(Probability Surveys 2006)")


def random_features(rng, n, k):
    """Orthonormal (n, k) features with uneven leverage (rows scaled before orthonormalising)."""
    q, _ = np.linalg.qr(rng.standard_normal((n, k)) * rng.uniform(0.3, 2.0, size=(n, 1)))
    return q


def dpp_samplers():
    """name -> sampler(v, generator) for the four exact projection-DPP samplers."""
    from sims.sampling_dpp import sample_projection_dpp_chain, sample_projection_dpp_rejection
    from toytheory.sampling.dpp import sample_projection_dpp

    return {
        "numpy chain rule": lambda v, g: sample_projection_dpp(v, rng=g, method="chain"),
        "numpy rejection": lambda v, g: sample_projection_dpp(v, rng=g, method="rejection"),
        "numba chain rule": sample_projection_dpp_chain,
        "numba rejection": sample_projection_dpp_rejection,
    }


@register_figure("sampling.projection_dpp_law",
                 caption="Subset counts of a projection DPP sampler against det K_S")
def dpp_law_figure(seed: int = 0, n: int = 7, k: int = 3, draws: int = 20000, counts=None,
                   probs=None):
    from matplotlib.figure import Figure

    from toytheory.sampling.dpp import count_subsets, projection_dpp_law, sample_projection_dpp

    if counts is None:
        rng = np.random.default_rng(seed)
        v = random_features(rng, n, k)
        subsets, probs = projection_dpp_law(v @ v.T)
        counts = count_subsets((sample_projection_dpp(v, rng=rng) for _ in range(draws)),
                               subsets)
    draws = int(np.sum(counts))
    order = np.argsort(probs)[::-1]
    fig = Figure(figsize=(7, 3))
    ax = fig.add_subplot()
    x = np.arange(len(order))
    ax.bar(x, counts[order], color="C0", alpha=0.6, label="sampled counts")
    sd = np.sqrt(draws * probs[order] * (1 - probs[order]))
    ax.errorbar(x, draws * probs[order], yerr=3 * sd, fmt="k.", ms=3, lw=0.8,
                label="N det K_S +- 3 sd")
    ax.set_xlabel("subsets, by probability")
    ax.set_ylabel("count")
    ax.legend(fontsize=7)
    return fig


@claim(
    "sampling.dpp.chain_rule_law",
    paper=HKPV, kind="background",
    source=("Hough, Krishnapur, Peres and Virag (2006), Algorithm 18 and Proposition 19: the "
            "sequential (chain-rule) algorithm samples the projection DPP with kernel K = V V^T, "
            "whose law is P(S) = det K_S on sets of size rank K."),
    statement=("The chain rule samples the projection DPP exactly: subset counts match "
               "P(S) = det K_S (numpy and Numba, full-vector and rejection variants)."),
    witnesses=("exact", "simulated"),
    quick={"n": 7, "k": 3, "draws": 5000},
    full={"n": 10, "k": 4, "draws": 400000},
)
def chain_rule_law(ctx, n, k, draws):
    from toytheory.sampling.dpp import count_subsets, projection_dpp_law

    ev = ctx.evidence()
    v = random_features(ctx.rng("features"), n, k)
    subsets, probs = projection_dpp_law(v @ v.T)
    ev.close("sum over subsets of det K_S (Cauchy-Binet)", float(probs.sum()), 1.0, atol=1e-12)
    results, shown = [], None
    for name, sampler in dpp_samplers().items():
        gen = ctx.rng(name)
        counts = count_subsets((sampler(v, gen) for _ in range(draws)), subsets)
        res = stats.chisquare_gof(counts, probs / probs.sum(), LEVEL)
        results.append(res)
        ev.record(f"{name}: chi-square p-value", res.pvalue)
        shown = shown if shown is not None else counts
    ev.test(f"subset counts of 4 samplers vs det K_S ({len(subsets)} subsets, Holm)",
            stats.holm(results, LEVEL), headline=True)
    ev.figure("law", dpp_law_figure(counts=shown, probs=probs / probs.sum()),
              caption="numpy chain-rule counts against N det K_S")
    return ev


@claim(
    "sampling.dpp.marginals_equal_diagonal",
    paper=HKPV, kind="background",
    source=("Macchi (1975); Hough, Krishnapur, Peres and Virag (2006), Definition 1: the "
            "correlation functions of a DPP are det K_A, so P(i in X) = K_ii."),
    statement="A projection DPP with kernel K includes item i with probability K_ii.",
    witnesses=("exact", "simulated"),
    quick={"n_exact": 9, "k_exact": 3, "n": 40, "k": 6, "draws": 6000},
    full={"n_exact": 12, "k_exact": 5, "n": 200, "k": 20, "draws": 100000},
)
def marginals_equal_diagonal(ctx, n_exact, k_exact, n, k, draws):
    from sims.sampling_dpp import sample_projection_dpp_rejection
    from toytheory.sampling.dpp import inclusion_probabilities_exact, projection_dpp_law

    ev = ctx.evidence()
    v = random_features(ctx.rng("small"), n_exact, k_exact)
    kern = v @ v.T
    subsets, probs = projection_dpp_law(kern)
    marg = inclusion_probabilities_exact(subsets, probs, n_exact)
    v = random_features(ctx.rng("large"), n, k)
    kii = np.einsum("ij,ij->i", v, v)
    gen = ctx.rng("draws")
    hits = np.zeros(n, dtype=np.int64)
    sizes = set()
    for _ in range(draws):
        s = sample_projection_dpp_rejection(v, gen)
        hits[s] += 1
        sizes.add(len(set(s.tolist())))
    tests = [stats.binomial_test(int(hits[i]), draws, float(kii[i]), LEVEL) for i in range(n)]
    ev.test(f"sampled inclusion counts of {n} items vs K_ii (exact binomial, Bonferroni)",
            stats.bonferroni(tests, LEVEL))
    ev.equal("every sample has k distinct items", sizes == {k}, True)
    ev.close("max_i |sum_{S contains i} det K_S - K_ii| (enumeration)",
             float(np.max(np.abs(marg - np.diag(kern)))), 0.0, atol=1e-12, role="statement",
             headline=True)
    return ev


@claim(
    "sampling.dpp.coupling_numpy_numba",
    paper=PAPER, kind="derived",
    statement=("Given generators in the same state, the numpy and Numba implementations of the "
               "same chain-rule sampler return identical subsets."),
    witnesses=("simulated",),
    quick={"n": 300, "k": 30, "seeds": 40},
    full={"n": 2000, "k": 100, "seeds": 500},
)
def coupling_numpy_numba(ctx, n, k, seeds):
    from sims.sampling_dpp import sample_projection_dpp_numba
    from toytheory.sampling.dpp import sample_projection_dpp

    ev = ctx.evidence()
    v = random_features(ctx.rng("features"), n, k)
    for method in ("chain", "rejection"):
        same = 0
        for s in range(seeds):
            seed = ctx.seed_for(method, str(s))
            a = sample_projection_dpp(v, rng=np.random.default_rng(seed), method=method)
            b = sample_projection_dpp_numba(v, np.random.default_rng(seed), method=method)
            same += bool(np.array_equal(a, b))
        ev.equal(f"{method}: identical subsets (same order) out of {seeds} seeds", same, seeds,
                 headline=(method == "rejection"))
    return ev


# ----------------------------------------------------------------------------- volume sampling

def _design(rng, n, d):
    return rng.standard_normal((n, d)) * rng.uniform(0.5, 2.0, size=(n, 1))


@claim(
    "sampling.volume.law_by_enumeration",
    paper=DW2017, kind="background",
    source=("Derezinski and Warmuth (NeurIPS 2017), Section 2: volume sampling "
            "P(S) proportional to det(X_S^T X_S) for |S| = k >= d, normaliser "
            "C(n-d, k-d) det X^T X, E (X_S^T X_S)^-1 = (n-d+1)/(k-d+1) (X^T X)^-1, and reverse "
            "iterative sampling; the size-d DPP plus k - d uniform rows is the toolkit's second "
            "sampler, checked against the same law."),
    statement=("Volume sampling P(S) = det(X_S^T X_S) / (C(n-d, k-d) det X^T X) is sampled "
               "exactly for every k >= d by a projection DPP of size d plus k - d uniform rows, "
               "and by reverse iterative removal."),
    witnesses=("exact", "simulated"),
    quick={"n": 7, "d": 2, "ks": (2, 4), "draws": 3000},
    full={"n": 9, "d": 3, "ks": (3, 4, 5, 7), "draws": 200000},
)
def volume_law(ctx, n, d, ks, draws):
    from toytheory.sampling.dpp import count_subsets
    from toytheory.sampling.volume import sample_volume, volume_sampling_law

    ev = ctx.evidence()
    x = _design(ctx.rng("design"), n, d)
    results = []
    for k in ks:
        subsets, probs = volume_sampling_law(x, k)
        ev.close(f"k = {k}: total probability", float(probs.sum()), 1.0, atol=1e-12)
        einv = sum(p * np.linalg.inv(x[list(s)].T @ x[list(s)]) for s, p in zip(subsets, probs))
        target = (n - d + 1) / (k - d + 1) * np.linalg.inv(x.T @ x)
        ev.close(f"k = {k}: max |E (X_S^T X_S)^-1 - (n-d+1)/(k-d+1) (X^T X)^-1|",
                 float(np.max(np.abs(einv - target))), 0.0, atol=1e-12)
        for method in ("dpp_plus_uniform", "reverse_iterative"):
            gen = ctx.rng(f"{method} {k}")
            counts = count_subsets((sample_volume(x, k, rng=gen, method=method)
                                    for _ in range(draws)), subsets)
            results.append(stats.chisquare_gof(counts, probs / probs.sum(), LEVEL))
    ev.test(f"subset counts vs the volume-sampling law ({len(results)} (k, sampler) pairs, Holm)",
            stats.holm(results, LEVEL), headline=True)
    return ev


@claim(
    "sampling.volume.unbiased_least_squares",
    paper=DW2017, kind="background",
    source=("Derezinski and Warmuth (NeurIPS 2017): under volume sampling of size k >= d, "
            "the least-squares solution of the sampled rows is an unbiased estimator of w*."),
    statement=("Under volume sampling of any size k >= d, least squares on the sampled rows is "
               "unbiased: E[w_S] = w*."),
    witnesses=("exact", "simulated"),
    quick={"n": 8, "d": 2, "ks": (2, 4), "draws": 2000},
    full={"n": 10, "d": 3, "ks": (3, 4, 6, 8), "draws": 100000},
)
def unbiased_least_squares(ctx, n, d, ks, draws):
    from toytheory.sampling.dpp import count_subsets
    from toytheory.sampling.volume import (expected_subset_solution, sample_volume,
                                           subset_least_squares, volume_sampling_law)

    ev = ctx.evidence()
    rng = ctx.rng("design")
    x = _design(rng, n, d)
    y = x @ rng.standard_normal(d) + rng.standard_normal(n) * 2.0
    w_star = np.linalg.lstsq(x, y, rcond=None)[0]
    # witnesses first: the sampler's subset law (counts, chi-square; valid for any statistic
    # of S, unlike a mean test on the heavy-tailed w_S) and the law-weighted sum by hand
    tests, gaps = [], []
    for k in ks:
        subsets, probs = volume_sampling_law(x, k)
        by_hand = sum(p * subset_least_squares(x, y, np.array(s)) for s, p in zip(subsets, probs))
        gaps.append(float(np.max(np.abs(by_hand - expected_subset_solution(x, y, k)))))
        gen = ctx.rng(f"draws {k}")
        counts = count_subsets((sample_volume(x, k, rng=gen, method="reverse_iterative")
                                for _ in range(draws)), subsets)
        tests.append(stats.chisquare_gof(counts, probs / probs.sum(), LEVEL))
    ev.at_most("max |expected_subset_solution - sum_S P(S) w_S by hand|", max(gaps), 1e-10)
    ev.test(f"reverse-iterative subset counts vs the volume law ({len(tests)} sizes, Holm)",
            stats.holm(tests, LEVEL))
    for k in ks:
        ev.close(f"k = {k}: max |sum_S P(S) w_S - w*| (enumeration)",
                 float(np.max(np.abs(expected_subset_solution(x, y, k) - w_star))), 0.0,
                 atol=1e-12, role="statement", headline=(k == d))
    ev.note("The expectation is exact: a sum over all C(n, k) subsets weighted by the law. The "
            "sampler is checked by its subset counts (exact chi-square on the finite law); "
            "w_S itself is heavy-tailed (near-singular subsets), so no mean test is used.")
    return ev


@claim(
    "sampling.volume.loss_d_plus_one",
    paper=DW2017, kind="background",
    source=("Derezinski and Warmuth (NeurIPS 2017): for volume sampling of size d, "
            "E L(w_S) = (d + 1) L(w*)."),
    statement=("For volume sampling of size k = d, the expected loss of least squares on the "
               "sample is E L(w_S) = (d + 1) L(w*)."),
    witnesses=("exact", "simulated"),
    quick={"shapes": ((6, 2), (8, 3)), "draws": 2000},
    full={"shapes": ((6, 2), (9, 3), (11, 4), (12, 5)), "draws": 100000},
)
def loss_d_plus_one(ctx, shapes, draws):
    from toytheory.sampling.dpp import count_subsets
    from toytheory.sampling.volume import (expected_subset_loss, least_squares_loss,
                                           sample_volume, subset_least_squares,
                                           volume_sampling_law)

    ev = ctx.evidence()
    tests, gaps, cases = [], [], []
    for n, d in shapes:
        rng = ctx.rng(f"design {n} {d}")
        x = _design(rng, n, d)
        y = rng.standard_normal(n)
        l_star = least_squares_loss(x, y, np.linalg.lstsq(x, y, rcond=None)[0])
        subsets, probs = volume_sampling_law(x, d)
        losses = np.array([least_squares_loss(x, y, subset_least_squares(x, y, np.array(s)))
                           for s in subsets])
        gaps.append(abs(float(probs @ losses) - expected_subset_loss(x, y, d))
                    / expected_subset_loss(x, y, d))
        gen = ctx.rng(f"draws {n} {d}")
        counts = count_subsets((sample_volume(x, d, rng=gen) for _ in range(draws)), subsets)
        tests.append(stats.chisquare_gof(counts, probs / probs.sum(), LEVEL))
        cases.append((n, d, x, y, l_star, losses))
    # witnesses first: the exact law's loss by hand, and the sampler against the exact law
    ev.at_most("max relative |expected_subset_loss - sum_S P(S) L(w_S) by hand|", max(gaps),
               1e-10)
    ev.test(f"sampled subsets vs the exact volume law ({len(tests)} shapes, Holm)",
            stats.holm(tests, LEVEL))
    for n, d, x, y, l_star, losses in cases:
        ev.close(f"(n, d) = ({n}, {d}): E L(w_S) / L(w*) by enumeration",
                 expected_subset_loss(x, y, d) / l_star, d + 1.0, rtol=1e-10, role="statement",
                 headline=(d == 3))
        ev.record(f"(n, d) = ({n}, {d}): largest L(w_S) / L(w*) over subsets",
                  float(losses.max() / l_star),
                  note="the heavy tail that rules out a mean test on sampled losses")
    ev.note("Issue 14: a t-test of the sampled mean of L(w_S)/L(w*) at 1e-6 rejected far more "
            "often than 1e-6, because the ratio is heavy-tailed (rare subsets give 1e3-1e8). "
            "The statement is now evaluated on the exact law (enumeration over all C(n, d) "
            "subsets), and the sampler is checked by its subset counts against that law "
            "(chi-square on a finite law with cells pooled to expected counts >= 5), which "
            "is valid whatever the loss's tail.")
    return ev
