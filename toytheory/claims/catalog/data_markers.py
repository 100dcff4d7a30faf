"""Treasure Hunt: training-time markers for a rare subgroup, exact long-tail errors."""

from __future__ import annotations

import numpy as np

from toytheory import stats
from toytheory.claims import claim

PAPER = "Treasure Hunt: Real-time Targeting of the Long Tail using Training-Time Markers"
LEVEL = 1e-6


def one_draw(rng, n, d, tail, delta, sigma2):
    """Train the three predictors on one data set; their exact head and tail errors."""
    from toytheory.data.markers import fit_lda, fit_ridge, linear_error, switched_error

    W = rng.normal(size=(2, d + 1))
    mus = np.zeros((2, d))
    mus[1, 0] = delta
    z = rng.random(n) < tail
    while z.sum() < d + 2 or (~z).sum() < d + 2:  # both groups must be fittable
        z = rng.random(n) < tail
    zi = z.astype(int)
    X = mus[zi] + rng.standard_normal((n, d))
    y = (np.einsum("nd,nd->n", np.column_stack([np.ones(n), X]), W[zi])
         + np.sqrt(sigma2) * rng.standard_normal(n))
    pooled = fit_ridge(X, y, 0.0)
    w0, w1 = fit_ridge(X[~z], y[~z]), fit_ridge(X[z], y[z])
    a, b = fit_lda(X, z)
    out = {}
    for g, name in ((0, "head"), (1, "tail")):
        out[name] = {"none": linear_error(pooled, W[g], mus[g], sigma2),
                     "given": linear_error((w0, w1)[g], W[g], mus[g], sigma2),
                     "inferred": switched_error(w0, w1, W[g], mus[g], sigma2, a, b)}
    return out


@claim(
    "data.markers.long_tail_gains_most",
    paper=PAPER,
    kind="paper",
    source=("Abstract: \"We fine-tune a base model to infer these markers automatically, which "
            "makes them optional at inference time. This principled and flexible approach "
            "yields pronounced improvements in performance, especially on examples from the "
            "long tail of the training distribution.\""),
    reading=("Toy: a rare tail (probability 0.05) whose inputs are shifted by 4 along one "
             "axis and whose linear function differs from the head's; 400 training samples, "
             "3 inputs, noise variance 0.25. Without markers: one least-squares fit. With "
             "markers: a ridge fit per marker value, the marker inferred at inference by a "
             "linear discriminant trained on the marked data (optional at inference). Errors "
             "are exact given the fits. Read as: (i) the tail error with inferred markers is "
             "below the no-marker model's, and (ii) the relative gain on the tail exceeds the "
             "relative gain on the whole population (0.95 head + 0.05 tail), each in more "
             "than half of the training draws (Clopper-Pearson at 1e-6). Magnitudes (5.7% "
             "vs 9.1% win rates) are not compared: they are about an LLM's generations."),
    statement=("Markers learned at training time and inferred at inference lower the tail "
               "error of a linear model, and by a larger relative amount than the population "
               "error, in more than half of the training draws."),
    witnesses=("exact", "simulated"),
    quick={"draws": 200, "n": 400, "d": 3, "tail": 0.05, "delta": 4.0, "sigma2": 0.25,
           "mc": 200_000},
    full={"draws": 5000, "n": 400, "d": 3, "tail": 0.05, "delta": 4.0, "sigma2": 0.25,
          "mc": 2_000_000},
)
def long_tail_gains_most(ctx, draws, n, d, tail, delta, sigma2, mc):
    from toytheory.data.markers import linear_error, switched_error

    ev = ctx.evidence()
    # witness: the exact switched and fixed errors against fresh test points
    rng = ctx.rng("witness")
    w = rng.normal(size=d + 1)
    w0h = w + 0.1 * rng.normal(size=d + 1)  # a close branch and a far one, so that which
    w1h = w + 2.0 * rng.normal(size=d + 1)  # branch covers which region matters
    mu = np.zeros(d)
    mu[0] = delta
    a = np.zeros(d)
    a[0] = 1.0
    b = 0.7 - delta  # the far branch covers 76% of the test law, the close one 24%
    x = mu + rng.standard_normal((mc, d))
    y = w[0] + x @ w[1:] + np.sqrt(sigma2) * rng.standard_normal(mc)
    switched = np.where(x @ a + b > 0, w1h[0] + x @ w1h[1:], w0h[0] + x @ w0h[1:])
    # light-tailed: squares of Gaussian residuals (piecewise in the switch), skewness ~2.4;
    # size at 1e-3 measured in tests/claims/test_mean_test_false_alarm.py
    tests = [stats.mean_test((y - switched) ** 2,
                             switched_error(w0h, w1h, w, mu, sigma2, a, b), LEVEL / 2),
             stats.mean_test((y - w0h[0] - x @ w0h[1:]) ** 2,
                             linear_error(w0h, w, mu, sigma2), LEVEL / 2)]
    ev.test(f"exact errors (inferred-marker switch, fixed linear) = mean over {mc} fresh test "
            "points (t-tests, Bonferroni; Gaussian squares have light tails)",
            stats.bonferroni(tests, LEVEL))
    rows = [one_draw(ctx.rng("draw", str(i)), n, d, tail, delta, sigma2) for i in range(draws)]
    t_none = np.array([r["tail"]["none"] for r in rows])
    t_inf = np.array([r["tail"]["inferred"] for r in rows])
    t_giv = np.array([r["tail"]["given"] for r in rows])
    h_none = np.array([r["head"]["none"] for r in rows])
    h_inf = np.array([r["head"]["inferred"] for r in rows])
    pop_none = (1 - tail) * h_none + tail * t_none
    pop_inf = (1 - tail) * h_inf + tail * t_inf
    lower = int(np.count_nonzero(t_inf < t_none))
    lo, hi = stats.exact_binomial_interval(lower, draws, LEVEL)
    ev.interval(f"P(tail error, inferred markers < no markers), {draws} draws", lower / draws,
                (lo, hi), 0.5, side=">=", level=LEVEL,
                detectable=f"a rate beyond 0.5 + {hi - lower / draws:.2f}", decide_n=4 * draws)
    more = int(np.count_nonzero((t_none - t_inf) / t_none > (pop_none - pop_inf) / pop_none))
    lo, hi = stats.exact_binomial_interval(more, draws, LEVEL)
    ev.interval(f"P(relative tail gain > relative population gain), {draws} draws",
                more / draws, (lo, hi), 0.5, side=">=", level=LEVEL,
                detectable=f"a rate beyond 0.5 + {hi - more / draws:.2f}", decide_n=4 * draws,
                headline=True)
    for name, v in (("tail, no markers", t_none), ("tail, markers given", t_giv),
                    ("tail, markers inferred", t_inf), ("head, no markers", h_none),
                    ("head, markers inferred", h_inf)):
        ev.record(f"median exact error, {name}", float(np.median(v)))
    if ev.verdict != "holds":
        ev.referee_note(
            says="yields pronounced improvements in performance, especially on examples from "
                 "the long tail of the training distribution",
            toy=f"two-group linear regression, tail probability {tail}, n = {n}, markers "
                "inferred by a linear discriminant at inference",
            measured="rates at which inferred markers lower the tail error, and lower it more "
                     "(relatively) than the population error, Clopper-Pearson at 1e-6",
            inside="training-time markers of a rare subgroup, optional at inference",
            would_change="more draws, or a tail whose marker cannot be inferred from x")
    return ev
