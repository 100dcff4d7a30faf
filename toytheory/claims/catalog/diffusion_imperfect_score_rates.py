"""Score estimation from n samples: exact plug-in rates on Gaussian data, and memorisation
by the empirical law's exact score."""

from __future__ import annotations

import numpy as np

from toytheory import stats
from toytheory.claims import claim

PAPER = ("An Overview of Diffusion Models: Applications, Guided Generation, Statistical Rates "
         "and Optimization")
LEVEL = 1e-6


def _wishart_draws(rng, d, m, reps):
    """``reps`` draws of W ~ W_d(I, m) as G^T G with G (m, d) standard normal."""
    g = rng.standard_normal((reps, m, d))
    return np.einsum("rmi,rmj->rij", g, g)


@claim(
    "diffusion.imperfect.plugin_score_error_exact",
    paper=PAPER,
    kind="derived",
    statement=("The plug-in Gaussian score from n samples has expected squared error "
               "tr(Sigma^-1)[(1 + 1/n) m^2 (m-1)/((m-d)(m-d-1)(m-d-3)) - 2m/(m-d-1) + 1], "
               "m = n - 1, and its sampler's expected KL is the digamma formula, "
               "d(d+3)/(4n) to first order."),
    witnesses=("symbolic", "simulated", "exact"),
    quick={"dims": (2, 4), "ns": (40, 200), "reps": 20_000, "sym_ms": (8, 12, 30)},
    full={"dims": (2, 4, 8), "ns": (40, 200, 1000), "reps": 400_000, "sym_ms": (8, 12, 30, 60)},
)
def plugin_score_error_exact(ctx, dims, ns, reps, sym_ms):
    import sympy as sp

    from toytheory.diffusion.score_rates import expected_kl_plugin, expected_score_error_plugin

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
    rng = ctx.rng("wishart")
    pvals = []
    for d in dims:
        for n in ns:
            m = n - 1
            cov = np.diag(np.linspace(0.5, 2.0, d))
            wd = _wishart_draws(rng, d, m, reps)
            # error given the estimate: tr((A - S^-1) S (A - S^-1)) + tr(A S A)/n with
            # A = m S^-1/2 W^-1 S^-1/2, i.e. in whitened terms
            winv = np.linalg.inv(wd)
            sinv_half = np.diag(1 / np.sqrt(np.diag(cov)))
            a = m * sinv_half @ winv @ sinv_half
            sinv = np.linalg.inv(cov)
            diff = a - sinv
            vals = (np.einsum("rij,jk,rki->r", diff, cov, diff)
                    + np.einsum("rij,jk,rki->r", a, cov, a) / n)
            pvals.append(stats.mean_test(vals, expected_score_error_plugin(n, cov),
                                         LEVEL).pvalue)
    ev.test("score error: formula vs Wishart simulation (t-tests, Holm; n >= 40 so the "
            "draws have finite moments of every order used)", stats.holm(pvals, LEVEL),
            expect="accept")
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
    from toytheory.diffusion.score_rates import expected_kl_plugin

    ev = ctx.evidence()
    rng = ctx.rng("estimates")
    # witness: the exact expected KL against a simulation of the KL over estimates, d = 4
    d = 4
    m = sim_n - 1
    wd = _wishart_draws(rng, d, m, reps) / m
    mh = rng.standard_normal((reps, d)) / np.sqrt(sim_n)
    inv = np.linalg.inv(wd)
    kl = 0.5 * (np.trace(inv, axis1=1, axis2=2) + np.einsum("ri,rij,rj->r", mh, inv, mh) - d
                + np.linalg.slogdet(wd)[1])
    ev.test(f"d = 4, n = {sim_n}: expected KL vs simulated KL of {reps} estimates (t-test)",
            stats.mean_test(kl, expected_kl_plugin(sim_n, d), LEVEL), expect="accept")
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
    from toytheory.diffusion.figures_imperfect import score_rates_figure

    ev.figure("score_rates", score_rates_figure(ctx.seed),
              caption="exact expected score error and sampler KL against n")
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
