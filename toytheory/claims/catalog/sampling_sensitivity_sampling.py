"""Sensitivity sampling: an unbiased sketch, exact distortions, and measured sample complexities."""

from __future__ import annotations

import numpy as np

from toytheory import stats
from toytheory.claims import claim
from toytheory.figures import register_figure

PAPER = "Sharper Bounds for ell_p Sensitivity Sampling"


@claim(
    "sampling.sensitivity_sampling.unbiased_sketch",
    paper=PAPER,
    statement=("Keeping row i with probability q_i = min(1, alpha s_i) and rescaling it by "
               "q_i^{-1/p} gives E ||SAx||_p^p = ||Ax||_p^p for every x."),
    witnesses=("exact", "simulated"),
    quick={"n": 60, "d": 3, "ps": (1.0, 3.0), "draws": 4000, "directions": 3},
    full={"n": 200, "d": 5, "ps": (1.0, 1.5, 2.0, 3.0, 4.0), "draws": 40000, "directions": 5},
)
def unbiased_sketch(ctx, n, d, ps, draws, directions):
    from toytheory.sampling.sensitivities import lp_sensitivities
    from toytheory.sampling.sensitivity_sampling import sample_rows

    ev = ctx.evidence()
    rng = ctx.rng("matrix")
    a = rng.standard_normal((n, d)) * (rng.pareto(2.0, size=(n, 1)) + 1.0)
    results = []
    for p in ps:
        s = lp_sensitivities(a, p).values
        xs = rng.standard_normal((directions, d))
        target = np.sum(np.abs(xs @ a.T) ** p, axis=1)
        vals = np.empty((draws, directions))
        gen = ctx.rng(f"draws p={p}")
        for r in range(draws):
            smp = sample_rows(s, p, expected_size=n / 6, rng=gen)
            vals[r] = np.sum((smp.weights[:, None] ** p)
                             * np.abs(a[smp.indices] @ xs.T) ** p, axis=0)
        for j in range(directions):
            results.append(stats.mean_test(vals[:, j] / target[j], 1.0, 1e-6))
    ev.test(f"E ||SAx||_p^p / ||Ax||_p^p = 1 ({len(results)} (p, x) pairs, Bonferroni)",
            stats.bonferroni(results, 1e-6), headline=True)
    ev.note(f"{draws} samples per p of expected size n/6 = {n / 6:.0f} rows out of {n}.")
    return ev


@claim(
    "sampling.sensitivity_sampling.distortion_oracles_agree",
    paper=PAPER,
    statement=("The exact distortions of a row sample (eigenvalues for p = 2, arrangement rays "
               "for p = 1) lie inside the certified branch-and-bound bracket."),
    witnesses=("exact",),
    quick={"n": 50, "dims": (2, 3), "samples": 3},
    full={"n": 120, "dims": (2, 3, 4), "samples": 10},
)
def distortion_oracles_agree(ctx, n, dims, samples):
    from toytheory.sampling.sensitivities import lp_sensitivities
    from toytheory.sampling.sensitivity_sampling import embedding_distortion, sample_rows

    ev = ctx.evidence()
    rng = ctx.rng("matrices")
    worst = {1.0: -np.inf, 2.0: -np.inf}
    widest = 0.0
    for d in dims:
        a = rng.standard_normal((n, d))
        for p in (1.0, 2.0):
            s = lp_sensitivities(a, p).values
            for _ in range(samples):
                smp = sample_rows(s, p, expected_size=n / 3, rng=rng)
                exact = embedding_distortion(a, smp.indices, smp.weights, p)
                bnb = embedding_distortion(a, smp.indices, smp.weights, p,
                                           method="branch_and_bound", tol=1e-4)
                outside = max(bnb.lower - exact.value, exact.value - bnb.upper)
                worst[p] = max(worst[p], outside)
                widest = max(widest, bnb.upper - bnb.lower)
                # a random-direction search can only find less than the supremum
                xs = rng.standard_normal((2000, d))
                ratio = (np.sum((np.bincount(smp.indices, smp.weights ** p, n))
                                * np.abs(xs @ a.T) ** p, axis=1)
                         / np.sum(np.abs(xs @ a.T) ** p, axis=1))
                worst[p] = max(worst[p], float(np.max(np.abs(ratio - 1))) - exact.value)
    ev.at_most("p = 1: largest excess of rays value outside the bracket / random search",
               worst[1.0], 1e-12, headline=True)
    ev.at_most("p = 2: largest excess of eigen value outside the bracket / random search",
               worst[2.0], 1e-12)
    ev.record("widest certified bracket", widest)
    return ev


# ----------------------------------------------------------------------------- sample complexity

def _fit_rows(rows, x_of):
    from toytheory.sampling.sample_complexity import fit_exponent

    ok = [r for r in rows if not r.censored]
    x = np.array([x_of(r) for r in ok])
    y = np.array([r.m_needed / np.log(np.e * r.d) for r in ok])  # one log(e d) divided out
    fit = fit_exponent(x, y, groups=[r.family for r in ok])
    return fit, ok


def study_figure(rows, x_of, xlabel, fit, reference, title):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(5.5, 3.6))
    ax = fig.add_subplot()
    fams = sorted({r.family for r in rows})
    for fam, mk in zip(fams, "osD^v"):
        pts = [(x_of(r), r.m_needed / np.log(np.e * r.d), r.censored) for r in rows
               if r.family == fam]
        xs = [p[0] for p in pts if not p[2]]
        ys = [p[1] for p in pts if not p[2]]
        ax.loglog(xs, ys, mk, label=fam)
        cx = [p[0] for p in pts if p[2] == "below"]
        if cx:
            ax.loglog(cx, [p[1] for p in pts if p[2] == "below"], mk, mfc="none", color="grey")
    allx = np.array([x_of(r) for r in rows])
    grid = np.geomspace(allx.min(), allx.max(), 20)
    ok = [r for r in rows if not r.censored]
    if ok:
        y0 = np.exp(np.mean([np.log(r.m_needed / np.log(np.e * r.d)) for r in ok]))
        x0 = np.exp(np.mean([np.log(x_of(r)) for r in ok]))
        ax.loglog(grid, y0 * (grid / x0) ** fit.slope, "k-", lw=1,
                  label=f"fit slope {fit.slope:.2f} [{fit.interval[0]:.2f}, {fit.interval[1]:.2f}]")
        ax.loglog(grid, y0 * (grid / x0) ** reference, "k--", lw=1,
                  label=f"claimed slope {reference:.2f}")
    ax.set_xlabel(xlabel)
    ax.set_ylabel("samples needed / log(e d)")
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=6)
    return fig


@register_figure("sampling.sample_complexity_p1",
                 caption="Samples needed by l1 sensitivity sampling against total sensitivity")
def sample_complexity_figure(seed: int = 0):
    from toytheory.sampling.sample_complexity import sample_complexity_study

    rows = sample_complexity_study(1.0, dims=(2, 3), families=("sign", "gaussian",
                                                                "heavy_tailed"),
                                   n=80, eps=0.3, reps=5, sizes=7, matrices=2, rng=seed)
    fit, _ = _fit_rows(rows, lambda r: r.total_sensitivity)
    return study_figure(rows, lambda r: r.total_sensitivity, "total sensitivity", fit, 2.0,
                        "p = 1, eps = 0.3")


def _study_claim(ctx, *, p, scores, dims, families, n, eps, reps, sizes, matrices,
                 reference, x_name, role_note):
    from toytheory.sampling.sample_complexity import sample_complexity_study

    ev = ctx.evidence()
    rows = sample_complexity_study(p, dims=dims, families=families, n=n, eps=eps, reps=reps,
                                   sizes=sizes, matrices=matrices, scores=scores,
                                   rng=ctx.rng("study"))
    x_of = (lambda r: r.total_sensitivity) if x_name == "total sensitivity" else \
        (lambda r: float(r.d))
    fit, ok = _fit_rows(rows, x_of)
    ev.at_most(f"lower end of the 95% interval of the exponent of m_eps / log(e d) in {x_name}",
               fit.interval[0], reference, role="statement", headline=True,
               note=f"fit {fit.slope:.3f} +- {fit.stderr:.3f} (95%: [{fit.interval[0]:.3f}, "
                    f"{fit.interval[1]:.3f}]); claimed {reference:.3f}; {role_note}")
    ev.record("fitted exponent", fit.slope)
    from toytheory.sampling.sample_complexity import fit_exponent

    raw = fit_exponent(np.array([x_of(r) for r in ok]), np.array([r.m_needed for r in ok]),
                       groups=[r.family for r in ok])
    ev.record("fitted exponent of m_eps itself (no log divided out)", raw.slope,
              note=f"95%: [{raw.interval[0]:.3f}, {raw.interval[1]:.3f}]")
    ev.record("fitted exponent: standard error", fit.stderr)
    ev.record("fitted exponent: 95% interval low", fit.interval[0])
    ev.record("fitted exponent: 95% interval high", fit.interval[1])
    ev.record("claimed exponent inside the 95% interval",
              "yes" if fit.interval[0] <= reference <= fit.interval[1] else "no")
    ev.record("matrices measured / censored below / censored above",
              f"{len(ok)} / {sum(r.censored == 'below' for r in rows)} / "
              f"{sum(r.censored == 'above' for r in rows)}")
    ev.figure("fit", study_figure(rows, x_of, x_name, fit, reference,
                                  f"p = {p:g}, scores = {scores}, eps = {eps}"),
              caption=f"samples needed against {x_name}, one intercept per family")
    ev.note("m_eps is the expected sample size at which the median exact (or certified) "
            f"distortion over {reps} samples reaches eps = {eps}, interpolated on a geometric "
            f"grid of {sizes} sizes from d to n/2 (n = {n}). The exponent is the common slope "
            "of log(m_eps / log(e d)) on log x with one intercept per matrix family "
            "(within-family "
            "scaling; across families, structure the total sensitivity does not see matters "
            "more: spiky matrices have the largest total sensitivity for p <= 2 and need the "
            "fewest rows). Matrices whose median distortion is below eps already at the "
            "smallest size, or never reaches it, are censored and left out. The bounds hold "
            "up to polylogarithmic factors ('roughly'); one factor log(e d) (the d log d of "
            "the classical p = 2 bound) is divided out before fitting, and larger polylog "
            "factors of the theorems would push the fitted exponent up, so a hold is "
            "conservative.")
    return ev


_QUICK_STUDY = {"dims": (2, 3), "families": ("sign", "gaussian", "heavy_tailed"), "n": 80,
                "eps": 0.3, "reps": 5, "sizes": 7, "matrices": 2}
_FULL_STUDY = {"dims": (2, 3, 4), "families": ("sign", "spiky", "gaussian", "heavy_tailed"),
               "n": 120, "eps": 0.25, "reps": 11, "sizes": 10, "matrices": 3}


@claim(
    "sampling.sample_complexity.l1_sensitivity_sampling",
    paper=PAPER,
    statement=("For 1 <= p < 2, l_p sensitivity sampling needs about S^{2/p} rows (up to "
               "logarithmic factors) for a (1 +- eps) subspace embedding (p = 1: S^2)."),
    witnesses=("exact", "simulated"),
    quick=_QUICK_STUDY, full=_FULL_STUDY, timeout={"full": 7200},
)
def l1_sensitivity_sampling(ctx, **kw):
    return _study_claim(ctx, p=1.0, scores="sensitivity", reference=2.0,
                        x_name="total sensitivity",
                        role_note="holds unless the data show faster growth than S^{2/p}",
                        **kw)


@claim(
    "sampling.sample_complexity.root_leverage_sampling",
    paper=PAPER,
    statement=("For 1 <= p < 2, sampling rows with probabilities proportional to the root "
               "leverage scores tau_i^{p/2} needs about d rows, up to logarithmic factors "
               "(p = 1)."),
    witnesses=("exact", "simulated"),
    quick=_QUICK_STUDY, full=_FULL_STUDY, timeout={"full": 7200},
)
def root_leverage_sampling(ctx, **kw):
    return _study_claim(ctx, p=1.0, scores="root_leverage", reference=1.0, x_name="d",
                        role_note="holds unless the data show faster growth than d", **kw)


@claim(
    "sampling.sample_complexity.lp_sensitivity_sampling_p4",
    paper=PAPER,
    statement=("For p > 2, l_p sensitivity sampling needs about S^{2-2/p} rows, up to "
               "logarithmic factors (p = 4: S^{3/2})."),
    witnesses=("exact", "simulated"),
    quick={"dims": (2, 3), "families": ("sign", "gaussian"), "n": 64, "eps": 0.3, "reps": 5,
           "sizes": 6, "matrices": 2},
    full={"dims": (2, 3), "families": ("sign", "spiky", "gaussian", "heavy_tailed"), "n": 120,
          "eps": 0.25, "reps": 9, "sizes": 9, "matrices": 3},
    timeout={"full": 7200},
)
def lp_sensitivity_sampling_p4(ctx, **kw):
    return _study_claim(ctx, p=4.0, scores="sensitivity", reference=1.5,
                        x_name="total sensitivity",
                        role_note="distortions are certified brackets of width <= eps/50",
                        **kw)


@claim(
    "sampling.sample_complexity.leverage_sampling_p2",
    paper=PAPER,
    statement=("For p = 2 (the known case), leverage-score sampling needs about "
               "S^{2/p} = d rows, up to logarithmic factors (d log d)."),
    witnesses=("exact", "simulated"),
    quick={"dims": (2, 4, 8), "families": ("sign", "gaussian", "heavy_tailed"), "n": 200,
           "eps": 0.3, "reps": 5, "sizes": 8, "matrices": 1},
    full={"dims": (2, 3, 4, 6, 8, 12, 16), "families": ("sign", "gaussian", "heavy_tailed"),
          "n": 600, "eps": 0.25, "reps": 11, "sizes": 12, "matrices": 2},
)
def leverage_sampling_p2(ctx, **kw):
    return _study_claim(ctx, p=2.0, scores="leverage", reference=1.0, x_name="d",
                        role_note="exact distortions from generalised eigenvalues", **kw)
