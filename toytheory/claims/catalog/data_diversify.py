"""Diversify and Conquer: k-means selection with iterative cluster reweighting, on a mixture
with label-noise categories and outliers, learned by per-category ridge in closed form."""

from __future__ import annotations

import numpy as np

from toytheory import stats
from toytheory.claims import claim

PAPER = "Diversify and Conquer: Diversity-Centric Data Selection with Iterative Refinement"
LEVEL = 1e-6


def make_pool(rng, N=1000, d=4, C=8, noisy=2, outlier_frac=0.03, sigma=0.5):
    """``C`` categories (Zipf frequencies, separated Gaussian inputs, each its own linear
    function); ``noisy`` categories have labels replaced by N(0, 16) noise; a fraction of
    outliers has inputs N(0, 100 I) and labels N(0, 100) in a random category."""
    means = rng.normal(0, 3, (C, d))
    covs = [0.5 * np.eye(d)] * C
    freq = 1.0 / np.arange(1, C + 1)
    freq = (freq / freq.sum())[rng.permutation(C)]
    W = rng.normal(0, 1, (C, d + 1))
    comp = rng.choice(C, N, p=freq)
    X = means[comp] + np.sqrt(0.5) * rng.standard_normal((N, d))
    y = np.einsum("nd,nd->n", np.column_stack([np.ones(N), X]), W[comp]) \
        + sigma * rng.standard_normal(N)
    bad = np.isin(comp, rng.choice(C, noisy, replace=False))
    y[bad] = rng.normal(0, 4, bad.sum())
    out = rng.random(N) < outlier_frac
    X[out] = rng.normal(0, 10, (out.sum(), d))
    y[out] = rng.normal(0, 10, out.sum())
    return dict(X=X, y=y, comp=comp, W=W, means=means, covs=covs, test_mix=np.full(C, 1 / C),
                sigma2=sigma ** 2, noisy=bad & ~out)


def run_pool(rng, k, clusters, rounds, temperature):
    from toytheory.data.diversify import (block_ridge_fit, block_test_error,
                                          cluster_balanced_subset, iterative_refinement,
                                          kmeans)

    P = make_pool(rng)
    X, y, comp = P["X"], P["y"], P["comp"]
    C = P["W"].shape[0]

    def fit(train, probe=None):
        probe = train if probe is None else probe
        Wh = block_ridge_fit(X[train], y[train], comp[train], C)
        return np.einsum("nd,nd->n", np.column_stack([np.ones(len(probe)), X[probe]]),
                         Wh[comp[probe]])

    def error(S):
        return block_test_error(block_ridge_fit(X[S], y[S], comp[S], C), P["W"], P["means"],
                                P["covs"], P["test_mix"], P["sigma2"])

    assign = kmeans(X, clusters, rng)
    ref = fit(np.arange(y.size))
    sel = {"random": rng.choice(y.size, k, replace=False),
           "quality-only": np.argsort(np.abs(y - ref), kind="stable")[:k],
           "k-means balanced": cluster_balanced_subset(assign, k, rng),
           "iterative": iterative_refinement(X, y, assign, k, rounds, rng,
                                             temperature=temperature, fit=fit)[0]}
    return ({n: error(S) for n, S in sel.items()},
            {n: float(P["noisy"][S].mean()) for n, S in sel.items()})


READING = ("Toy: pools of 1000 points in 8 categories (Zipf frequencies, each its own "
           "linear function of 4 inputs), 2 categories with pure label noise, 3% outliers; "
           "k-means with 12 clusters on the inputs; 100 points selected; the model is ridge "
           "per category (closed form) and its error on uniform test categories is exact. "
           "Iterative refinement: 4 rounds, clusters reweighted by the model's error on 5 "
           "unselected samples each (softmax of -loss / (0.3 median loss)). ")
NAMES = ("random", "quality-only", "k-means balanced", "iterative")
TIER = {"k": 100, "clusters": 12, "rounds": 4, "temperature": 0.3}


def _witness_and_runs(ctx, pools, k, clusters, rounds, temperature):
    from toytheory.data.diversify import block_ridge_fit, block_test_error

    ev = ctx.evidence()
    # witness: the exact error equals a Monte Carlo test set's on one pool
    rng = ctx.rng("witness")
    P = make_pool(rng)
    S = rng.choice(P["y"].size, k, replace=False)
    C = P["W"].shape[0]
    Wh = block_ridge_fit(P["X"][S], P["y"][S], P["comp"][S], C)
    exact = block_test_error(Wh, P["W"], P["means"], P["covs"], P["test_mix"], P["sigma2"])
    m = 50_000
    c = rng.integers(C, size=m)
    Xt = P["means"][c] + np.sqrt(0.5) * rng.standard_normal((m, P["means"].shape[1]))
    Zt = np.column_stack([np.ones(m), Xt])
    yt = np.einsum("nd,nd->n", Zt, P["W"][c]) + np.sqrt(P["sigma2"]) * rng.standard_normal(m)
    sq = (yt - np.einsum("nd,nd->n", Zt, Wh[c])) ** 2
    # light-tailed: per category the residual is Gaussian, so sq is a mixture of scaled
    # non-central chi-square(1) (sub-exponential, skewness ~3.8; Edgeworth error at 1e-6 and
    # n = 50,000 about 15% of the level); size at 1e-3 measured in tests/claims/test_mean_test_false_alarm.py
    ev.test(f"exact test error = mean squared error on {m} fresh test points (t-test)",
            stats.mean_test(sq, exact, LEVEL))
    err = {n: np.empty(pools) for n in NAMES}
    noisy = {n: np.empty(pools) for n in NAMES}
    for p in range(pools):
        e, s = run_pool(ctx.rng("pool", str(p)), k, clusters, rounds, temperature)
        for n in NAMES:
            err[n][p], noisy[n][p] = e[n], s[n]
    for n in NAMES:
        ev.record(f"median test error, {n}", float(np.median(err[n])))
        ev.record(f"mean share of label-noise samples, {n}", float(noisy[n].mean()))
    return ev, err, noisy


def _note(ev, says, measured):
    ev.referee_note(
        says=says,
        toy="8-category mixture, 2 label-noise categories, 3% high-leverage outliers, "
            "per-category ridge, k-means (12) selection of 100 of 1000, 4 refinement rounds",
        measured=measured,
        inside="k-means clustering, equal per-cluster sampling, clusters reweighted each round "
               "by the trained model's signal, low-quality clusters and outliers",
        would_change="a scorer that also catches outliers (they sit in sparse clusters that "
                     "balanced selection over-samples), fewer outliers, or a model less "
                     "sensitive to leverage than least squares")


@claim(
    "data.diversify.refinement_filters_low_quality",
    paper=PAPER,
    kind="paper",
    source=("Abstract: \"This approach reduces the effect of outliers and automatically "
            "filters out clusters containing low-quality data.\""),
    reading=READING + ("'Filters out low-quality clusters' read as: the refined subset holds "
                       "fewer label-noise samples than one-shot balanced k-means selection "
                       "in more than half of the pools (Clopper-Pearson at 1e-6). The "
                       "outlier half of the sentence is read in "
                       "data.diversify.refinement_beats_random."),
    statement=("Iterative cluster refinement keeps fewer label-noise samples than one-shot "
               "k-means selection in more than half of the pools."),
    witnesses=("exact", "simulated"),
    quick={"pools": 120, **TIER},
    full={"pools": 2000, **TIER},
)
def refinement_filters_low_quality(ctx, pools, k, clusters, rounds, temperature):
    ev, err, noisy = _witness_and_runs(ctx, pools, k, clusters, rounds, temperature)
    fewer = int(np.count_nonzero(noisy["iterative"] < noisy["k-means balanced"]))
    lo, hi = stats.exact_binomial_interval(fewer, pools, LEVEL)
    ev.interval(f"P(refined subset has fewer label-noise samples than k-means balanced), "
                f"{pools} pools", fewer / pools, (lo, hi), 0.5, side=">=", level=LEVEL,
                detectable=f"a rate beyond 0.5 + {hi - fewer / pools:.2f}", decide_n=4 * pools,
                headline=True)
    if ev.verdict != "holds":
        _note(ev, "automatically filters out clusters containing low-quality data",
              "rate at which the refined subset has fewer label-noise samples than one-shot "
              "k-means selection, Clopper-Pearson at 1e-6")
    return ev


@claim(
    "data.diversify.refinement_beats_random",
    paper=PAPER,
    kind="paper",
    source=("Abstract: \"This approach reduces the effect of outliers\" and \"achieving a 7% "
            "increase over random selection\""),
    reading=READING + ("'Increase over random' read as: a lower exact test error than a "
                       "random subset of the same size in more than half of the pools "
                       "(Clopper-Pearson at 1e-6). The toy's outliers have high leverage, "
                       "which a linear model feels more than a fine-tuned LLM may."),
    statement=("A model trained on the iteratively refined subset has lower test error than "
               "one trained on a random subset in more than half of the pools."),
    witnesses=("exact", "simulated"),
    quick={"pools": 300, **TIER},
    full={"pools": 3000, **TIER},
)
def refinement_beats_random(ctx, pools, k, clusters, rounds, temperature):
    ev, err, noisy = _witness_and_runs(ctx, pools, k, clusters, rounds, temperature)
    wins = int(np.count_nonzero(err["iterative"] < err["random"]))
    lo, hi = stats.exact_binomial_interval(wins, pools, LEVEL)
    ev.interval(f"P(refined subset's test error < random subset's), {pools} pools",
                wins / pools, (lo, hi), 0.5, side=">=", level=LEVEL,
                detectable=f"a rate beyond 0.5 + {hi - wins / pools:.2f}", decide_n=4 * pools,
                headline=True)
    ev.record("P(refined test error < quality-only's)",
              float(np.mean(err["iterative"] < err["quality-only"])))
    if ev.verdict != "holds":
        _note(ev, "reduces the effect of outliers ... a 7% increase over random selection",
              "rate at which the refined subset's exact test error is below a random "
              "subset's, Clopper-Pearson at 1e-6; medians recorded above")
    return ev
