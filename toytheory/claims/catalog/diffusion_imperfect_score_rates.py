"""Score estimation from n samples: exact plug-in rates on Gaussian data, and memorisation
by the empirical law's exact score."""

from __future__ import annotations

import numpy as np

from toytheory import stats
from toytheory.claims import claim

PAPER = ("An Overview of Diffusion Models: Applications, Guided Generation, Statistical Rates "
         "and Optimization")
LEVEL = 1e-6


def _plugin_law_witness(ev, rng, d, n, reps):
    """Simulated plug-in estimates have the law the exact route assumes.

    ``reps`` data sets of ``n`` points of N(mu, Sigma) (diagonal Sigma); with
    W = m Sigma^-1/2 Sigma_hat Sigma^-1/2 ~ W_d(I, m), 1/(W^-1)_dd ~ chi^2_{m-d+1} exactly,
    checked by a Kolmogorov-Smirnov test (distribution-free: valid for any tails).
    """
    from scipy.stats import chi2

    from toytheory.diffusion.score_rates import plugin_estimate

    m = n - 1
    sd = np.sqrt(np.linspace(0.5, 2.0, d))
    x = np.linspace(-1.0, 1.0, d) + sd * rng.standard_normal((reps, n, d))
    xc = x - x.mean(axis=1, keepdims=True)
    cov_hat = np.einsum("rni,rnj->rij", xc, xc) / m
    # the vectorised estimate is plugin_estimate's, on the first data set
    _, ch0 = plugin_estimate(x[0])
    ev.at_most("plugin_estimate vs the vectorised covariance of the simulation (max abs)",
               float(np.abs(ch0 - cov_hat[0]).max()), 1e-12)
    w = m * cov_hat / np.outer(sd, sd)
    stat = 1.0 / np.linalg.inv(w)[:, d - 1, d - 1]
    ev.test(f"d = {d}, n = {n}: simulated plug-in estimates, 1/(W^-1)_dd vs chi^2_(m-d+1) "
            f"(KS, {reps} data sets)",
            stats.ks_1samp(stat, chi2(m - d + 1).cdf, LEVEL), expect="accept")


@claim(
    "diffusion.imperfect.plugin_score_error_exact",
    paper=PAPER,
    kind="derived",
    statement=("The plug-in Gaussian score from n samples has expected squared error "
               "tr(Sigma^-1)[(1 + 1/n) m^2 (m-1)/((m-d)(m-d-1)(m-d-3)) - 2m/(m-d-1) + 1], "
               "m = n - 1, and its sampler's expected KL is the digamma formula, "
               "d(d+3)/(4n) to first order."),
    witnesses=("symbolic", "simulated", "exact"),
    quick={"dims": (2, 3), "ns": (40, 200), "reps": 20_000, "sym_ms": (8, 12, 30)},
    full={"dims": (2, 3, 4), "ns": (40, 200, 1000), "reps": 100_000,
          "sym_ms": (8, 12, 30, 60)},
)
def plugin_score_error_exact(ctx, dims, ns, reps, sym_ms):
    import sympy as sp

    from toytheory.diffusion.score_rates import (bartlett_inverse_moments, expected_kl_plugin,
                                                 expected_score_error_plugin)

    ev = ctx.evidence()
    # symbolic: d = 1, W ~ chi^2_m, the formula against exact integrals of the chi^2 density
    w = sp.symbols("w", positive=True)
    worst = sp.Integer(0)
    for m in sym_ms:
        dens = w ** sp.Rational(m, 2) / w * sp.exp(-w / 2) / (
            2 ** sp.Rational(m, 2) * sp.gamma(sp.Rational(m, 2)))
        e1 = sp.integrate(dens / w, (w, 0, sp.oo))
        e2 = sp.integrate(dens / w ** 2, (w, 0, sp.oo))
        n = m + 1
        exact = (1 + sp.Rational(1, n)) * m * m * e2 - 2 * m * e1 + 1
        worst = max(worst, abs(sp.nsimplify(exact) - sp.nsimplify(
            sp.Rational(expected_score_error_plugin(n, np.eye(1))).limit_denominator(10**12))))
    ev.at_most("d = 1: formula vs exact chi-square integrals (sympy)", float(worst), 1e-9)
    # exact: the formula against the Bartlett decomposition's exact inverse-Wishart moments
    # (sympy rationals), for diagonal Sigma: the error is
    # (1 + 1/n) m^2 sum_i E(W^-2)_ii / s_i - 2 m sum_i E(W^-1)_ii / s_i + tr Sigma^-1
    worst = 0.0
    for d in dims:
        s_diag = np.linspace(0.5, 2.0, d)
        for n in ns:
            m = n - 1
            e1, e2 = bartlett_inverse_moments(d, m)
            via = ((1 + 1 / n) * m * m * sum(float(v) / si for v, si in zip(e2, s_diag))
                   - 2 * m * sum(float(v) / si for v, si in zip(e1, s_diag))
                   + float(np.sum(1 / s_diag)))
            formula = expected_score_error_plugin(n, np.diag(s_diag))
            worst = max(worst, abs(via - formula) / formula)
    ev.at_most(f"score error: formula vs Bartlett-decomposition moments (sympy), d in "
               f"{tuple(dims)}, n in {tuple(ns)} (max relative)", worst, 1e-10)
    _plugin_law_witness(ev, ctx.rng("plugin"), max(dims), min(ns), reps)
    first = [abs(expected_kl_plugin(20_000, d) * 20_000 / (d * (d + 3) / 4) - 1) for d in dims]
    ev.at_most("n KL / (d(d+3)/4) - 1 at n = 20,000 (first-order rate)", max(first), 2e-3)
    for d in dims:
        for n in ns:
            ev.record(f"d = {d}, n = {n}: expected score error (t = 0)",
                      expected_score_error_plugin(n, np.eye(d)))
            ev.record(f"d = {d}, n = {n}: expected KL of the sampler", expected_kl_plugin(n, d))
    return ev


@claim(
    "diffusion.imperfect.plugin_sampler_consistent",
    paper=PAPER,
    kind="paper",
    statement=("A diffusion sampler whose score is estimated from n data points estimates "
               "the data law consistently: on Gaussian data the expected KL of the "
               "plug-in-score sampler to the data falls at every n and like d(d+3)/(4n)."),
    source=('Abstract: "Next, we overview the existing theories of diffusion models, '
            'covering their statistical properties and sampling capabilities."'),
    reading=("The abstract states no rate; its 'statistical properties' are read as the "
             "basic one, that a diffusion model trained on more data samples the data law "
             "more closely. Toy: N(mu, Sigma) data, the plug-in score (sample mean and "
             "covariance), whose probability-flow ODE samples N(mu_hat, Sigma_hat) exactly; "
             "the expected KL (exact, inverse-Wishart and digamma moments) must fall at each "
             "step of n = d + 3 .. 10^5 and n KL must approach d(d+3)/4 (within 1% at "
             "n = 10^5) for d = 1, 4, 16, checked against a Monte Carlo of the KL over "
             "drawn estimates."),
    witnesses=("exact", "simulated"),
    quick={"dims": (1, 4, 16), "reps": 4000, "sim_n": 60},
)
def plugin_sampler_consistent(ctx, dims, reps, sim_n):
    from toytheory.diffusion.score_rates import bartlett_inverse_moments, expected_kl_plugin

    ev = ctx.evidence()
    # exact: the digamma formula against the KL's definition with the Bartlett route's
    # E tr W^-1 (sympy) and E log det W = sum_i E log chi^2_(m-i+1), d = 4
    from scipy.special import digamma

    d = 4
    m = sim_n - 1
    e1, _ = bartlett_inverse_moments(d, m, second=False)
    # KL(N(0, I) || N(mh, W/m)) = (tr(m W^-1) + mh' m W^-1 mh - d + log det(W/m)) / 2,
    # mh ~ N(0, I/n) independent of W
    via = 0.5 * ((1 + 1 / sim_n) * m * float(sum(e1)) - d
                 + sum(digamma((m - i) / 2) + np.log(2.0) for i in range(d)) - d * np.log(m))
    ev.close(f"d = 4, n = {sim_n}: expected KL vs its definition with Bartlett moments "
             "(relative)", expected_kl_plugin(sim_n, d), float(via), rtol=1e-10)
    _plugin_law_witness(ev, ctx.rng("estimates"), d, sim_n, reps)
    rising, worst = 0, 0.0
    for d in dims:
        grid = np.unique(np.round(np.geomspace(d + 3, 1e5, 60)).astype(int))
        kls = np.array([expected_kl_plugin(int(n), d) for n in grid])
        rising += int(np.sum(np.diff(kls) >= 0))
        worst = max(worst, abs(kls[-1] * grid[-1] / (d * (d + 3) / 4) - 1))
        ev.record(f"d = {d}: expected KL at n = {grid[0]}", float(kls[0]))
        ev.record(f"d = {d}: expected KL at n = 10^5", float(kls[-1]))
    ev.equal("steps of n at which the expected KL does not fall", rising, 0, role="statement")
    ev.at_most("|n KL / (d(d+3)/4) - 1| at n = 10^5 (worst d)", worst, 0.01, role="statement",
               headline=True)
    from toytheory.diffusion.figures_imperfect import score_rates_panels

    ev.figure("score_rates", score_rates_panels(),
              caption="exact expected score error and sampler KL against n (the trained "
                      "MLP next to them: diffusion.imperfect.mlp_score_error_vs_n)")
    return ev


@claim(
    "diffusion.imperfect.empirical_score_memorises",
    paper=PAPER,
    kind="derived",
    statement=("The exact score of the empirical law of a training set drives the "
               "probability-flow ODE onto training points: every sample is a training point."),
    witnesses=("exact",),
    quick={"n_train": 50, "d": 2, "n": 400, "n_steps": 100},
    full={"n_train": 500, "d": 8, "n": 4000, "n_steps": 200},
)
def empirical_score_memorises(ctx, n_train, d, n, n_steps):
    from toytheory.diffusion.laws import DeltaMixture
    from toytheory.diffusion.score_rates import pf_ode_empirical

    ev = ctx.evidence()
    rng = ctx.rng("data")
    pts = rng.standard_normal((n_train, d))
    # witness: the empirical law's denoiser at small noise is the nearest training point
    law = DeltaMixture(pts)
    probe = pts + 1e-4 * rng.standard_normal(pts.shape)
    ev.at_most("empirical denoiser at sigma = 1e-3 next to each point vs the point (max abs)",
               float(np.abs(law.denoise(probe, 1.0, 1e-3) - pts).max()), 1e-9)
    out = pf_ode_empirical(pts, 80.0 * rng.standard_normal((n, d)), n_steps=n_steps)
    dist = np.sqrt(((out[:, None, :] - pts[None, :, :]) ** 2).sum(-1))
    near = dist.min(axis=1)
    spacing = np.sqrt(((pts[:, None] - pts[None]) ** 2).sum(-1))
    spacing = spacing[np.triu_indices(n_train, 1)].min()
    ev.at_most("largest distance from a sample to its nearest training point / closest "
               "pair of training points", float(near.max() / spacing), 1e-8, role="statement",
               headline=True)
    ev.record("distinct training points reproduced", int(np.unique(dist.argmin(1)).size))
    return ev


@claim(
    "diffusion.imperfect.mlp_score_error_vs_n",
    paper=PAPER,
    kind="paper",
    statement=("A score network trained on more data estimates the score more closely: on "
               "2-D Gaussian data a small MLP eps-model trained by the DDPM loss on n = 1024 "
               "points has a smaller time-averaged score error than one trained on n = 16 "
               "points, for more than half of the training seeds."),
    source=('Abstract: "Next, we overview the existing theories of diffusion models, '
            'covering their statistical properties and sampling capabilities."'),
    reading=("The abstract states no rate (the overview's body surveys rates for neural "
             "score estimators); as in diffusion.imperfect.plugin_sampler_consistent its "
             "'statistical properties' are read as the basic one, that the score estimated "
             "from more data is closer to the true score. Weaker than any rate: only the "
             "direction between n = 16 and n = 1024 is held. Toy: N((-1, 1), diag(0.5, 2)), "
             "DDPM's linear betas (T = 1000); an MLP eps-model (width 32, depth 2, sinusoidal "
             "time features, 400 Adam steps of batch 64, lr 1e-2 cosine-decayed; cached on "
             "disk) trained on n points of training seed s. Metric: the excess DDPM loss "
             "e_bar = mean over t = 5, 15, .., 995 of (1/d) E_{x~p_t}||eps_theta - eps*||^2 "
             "(= sigma_t^2/d times the squared score error), computed by Gauss-Hermite "
             "quadrature over the exact p_t (24 nodes a coordinate; 40 agree to 1e-6, a "
             "witness), so each trained network's error is known to quadrature accuracy "
             "and the randomness is over training seeds only. The trained error is unbounded "
             "and its law over seeds unknown, so the statement is the exact sign test "
             "(Clopper-Pearson at 1e-6) on the paired training seeds 0..20: "
             "P(e_bar(16) > e_bar(1024)) >= 1/2 with the whole interval. The training seeds "
             "are fixed (the models are cached), so the verdict does not depend on the run "
             "seed. Recorded next to it, on the same training sets: the plug-in estimator's "
             "exact error (diffusion.imperfect.plugin_score_error_exact) and the empirical "
             "law's score (diffusion.imperfect.empirical_score_memorises, Monte Carlo)."),
    witnesses=("exact", "simulated"),
    quick={"ns": (16, 64, 256, 1024), "seeds_ends": 21, "seeds_mid": 1, "n_mc": 200,
           "levels": (0, 10, 50, 100, 300, 999)},
    full={"ns": (16, 64, 256, 1024, 4096), "seeds_ends": 40, "seeds_mid": 10, "n_mc": 2000,
          "levels": (0, 10, 50, 100, 300, 999)},
)
def mlp_score_error_vs_n(ctx, ns, seeds_ends, seeds_mid, n_mc, levels):
    from toytheory.diffusion import score_rates_mlp as M
    from toytheory.diffusion.score_rates import expected_score_error_plugin, plugin_estimate

    ev = ctx.evidence()
    law = M.rates_law()
    mu, v = law.means[0], law.eigvals[0]
    # witnesses first: the exact eps against the law's own oracle, the quadrature against
    # the plug-in's closed form, and the quadrature's convergence on a trained network
    rng = ctx.rng("witness")
    model = M.trained_rates_model(ns[-1], 0)
    sched = model.schedule
    ts = np.array([0, 10, 100, 500, 999])
    a, s = np.sqrt(sched.alphas_cumprod[ts]), np.sqrt(1 - sched.alphas_cumprod[ts])
    worst = 0.0
    for al, sg in zip(a, s):
        x = law.sample(64, float(al), float(sg), rng=rng)
        worst = max(worst, float(np.abs(M.gaussian_eps(x, mu, v, al, sg)
                                        - law.predict(x, float(al), float(sg), "eps")).max()))
    ev.at_most("exact eps of N(mu, diag v) vs the mixture oracle's eps prediction (max abs)",
               worst, 1e-12)
    mh, ch = plugin_estimate(model.config.training_set()[:ns[0]])
    quad = M.eps_error_by_level(M.plugin_eps_fn(mh, ch, sched), mu, v, sched, M.TIME_GRID)
    closed = M.plugin_eps_error(mu, v, mh, ch, sched, M.TIME_GRID)
    ev.at_most(f"plug-in from {ns[0]} points: quadrature e(t) vs closed form (max relative, "
               "100 levels)", float(np.max(np.abs(quad["error"] / closed - 1))), 1e-9)
    coarse = M.eps_error_by_level(model.eps, mu, v, sched, M.TIME_GRID, n_nodes=24)["error"]
    fine = M.eps_error_by_level(model.eps, mu, v, sched, M.TIME_GRID, n_nodes=40)["error"]
    ev.at_most(f"trained MLP (n = {ns[-1]}): time-averaged error, 24 vs 40 Gauss-Hermite "
               "nodes a coordinate (relative)", abs(coarse.mean() / fine.mean() - 1), 1e-6)
    seeds = [range(seeds_ends) if i in (0, len(ns) - 1) else range(seeds_mid)
             for i in range(len(ns))]
    out = M.compare_by_n(ns, seeds, n_mc=n_mc, rng=ctx.rng("empirical"), levels=levels)
    ev.record("models trained in this run (the rest loaded from the disk cache)",
              out["trained"])
    sig0 = float(out["sigma_levels"][0])
    for i, n in enumerate(ns):
        ev.record(f"n = {n}: time-averaged error e_bar, MLP / plug-in / empirical score "
                  f"(median over {len(out['mlp'][i])} training seeds; empirical: seed 0)",
                  f"{np.median(out['mlp'][i]):.3e} / {np.median(out['plugin'][i]):.3e} / "
                  f"{out['empirical'][i]:.3e}")
        ev.record(f"n = {n}: e(t) at t = {tuple(int(t) for t in levels)}, MLP (seed 0)",
                  np.array2string(out["mlp_levels"][i], precision=3))
        ev.record(f"n = {n}: e(t) at the same levels, plug-in (seed 0, exact)",
                  np.array2string(out["plugin_levels"][i], precision=3))
        ev.record(f"n = {n}: e(t) at the same levels, empirical score (seed 0, Monte Carlo)",
                  np.array2string(out["empirical_levels"][i], precision=3))
        if levels[0] == 0:
            ev.record(f"n = {n}: squared score error at t = 0 (sigma = {sig0:.3f}), MLP / "
                      "empirical (seed 0) / plug-in's exact expectation at zero noise",
                      f"{out['mlp_levels'][i][0] * len(mu) / sig0 ** 2:.3e} / "
                      f"{out['empirical_levels'][i][0] * len(mu) / sig0 ** 2:.3e} / "
                      f"{expected_score_error_plugin(n, np.diag(v)):.3e}")
    from toytheory.diffusion.figures_imperfect import score_rates_panels

    ev.figure("score_error_vs_n", score_rates_panels(out),
              caption="error against n: plug-in exact rates (left); trained MLP, plug-in and "
                      "empirical score on the same training sets (right, seed 0)")
    est, (lo, hi), k, n_pairs = stats.paired_sign_interval(out["mlp"][0], out["mlp"][-1],
                                                           LEVEL)
    ev.record(f"e_bar(n = {ns[0]}) / e_bar(n = {ns[-1]}) over the paired seeds: smallest, "
              "median", f"{np.min(out['mlp'][0] / out['mlp'][-1]):.2f}, "
                        f"{np.median(out['mlp'][0] / out['mlp'][-1]):.2f}")
    ev.interval(f"P(e_bar(n = {ns[0]}) > e_bar(n = {ns[-1]})) over training seeds (exact sign "
                "test, Clopper-Pearson)", est, (lo, hi), 0.5, side=">=", level=LEVEL,
                headline=True, note=f"{k} of {n_pairs} training seeds",
                detectable=(f"a win rate of {stats.sign_detectable(n_pairs, LEVEL):.3g} at "
                            f"{n_pairs} seeds" if stats.sign_detectable(n_pairs, LEVEL)
                            else f"undecidable with {n_pairs} seeds at {LEVEL:g}"),
                decide_n=stats.sign_interval_decide_n(est, LEVEL))
    ev.note("The MLP's time-averaged error falls from n = 16 to 256 and then levels off near "
            "4e-3 (its training budget, not the data, limits it), while the plug-in's keeps "
            "falling like 1/n (MLP / plug-in: about 2.5 at n = 16, 20 at n = 1024). At the "
            "smallest noise (t = 0) the MLP's squared score error is about 10^3 times the "
            "score's own E||s||^2 = tr Sigma^-1 at every n: the DDPM loss weights the eps "
            "error equally over t, so the small-noise score is barely learned. The empirical "
            "law's score is about 200 times worse than the plug-in on e_bar and 10^6-10^7 "
            "times worse at t = 0, at every n: it memorises (its probability-flow ODE "
            "returns training points, diffusion.imperfect.empirical_score_memorises) and its "
            "error falls only with the nearest-neighbour distance, like n^(-2/d) (in d = 2 "
            "that is still about 1/n; in higher d far slower).")
    return ev
