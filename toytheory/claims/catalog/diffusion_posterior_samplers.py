"""Posterior sampling with a diffusion prior, held to the exact posterior (issue 17).

A two-mode Gaussian-mixture prior in R^2 and y = x_1 + x_2 + 0.2 xi: the posterior is a
mixture in closed form (toytheory.diffusion.posterior.gmm), and so is its diffusion, so the
exact conditional score drives an exact-score sampler, and DPS (Chung et al. 2023), run with
the exact prior denoiser, is measured against the same posterior. Active Diffusion
Subsampling's policy is held on a random eight-mode mixture in R^8.
"""

from __future__ import annotations

import itertools

import numpy as np

from toytheory import stats
from toytheory.claims import claim
from toytheory.figures import register_figure

PAPER = "Active Diffusion Subsampling"
LEVEL = 1e-6
Y_OBS = 1.0
NOISE = 0.2


def toy_prior():
    """The two-mode prior: 0.5 N((-2, 0), diag(0.3, 1)) + 0.5 N((2, 0), diag(0.3, 1))."""
    from toytheory.diffusion import GaussianMixture

    cov = np.diag([0.3, 1.0])
    return GaussianMixture([0.5, 0.5], [[-2.0, 0.0], [2.0, 0.0]], [cov, cov])


def toy_measurement():
    """``(A, noise_std, y)``: y = x_1 + x_2 + 0.2 xi observed at y = 1."""
    return np.array([[1.0, 1.0]]), NOISE, np.array([Y_OBS])


def _bayes_on_grid(prior, A, s, y, half=7.0, n=701):
    """Posterior on a grid by Bayes' rule from the definitions (prior density x likelihood)."""
    g = np.linspace(-half, half, n)
    X = np.stack(np.meshgrid(g, g, indexing="ij"), axis=-1).reshape(-1, 2)
    dens = np.zeros(X.shape[0])
    for w, m, c in zip(prior.weights, prior.means, prior.covs):
        r = X - m
        q = np.einsum("ni,ij,nj->n", r, np.linalg.inv(c), r)
        dens += w * np.exp(-0.5 * q) / (2 * np.pi * np.sqrt(np.linalg.det(c)))
    res = y[None, :] - X @ A.T
    post = dens * np.exp(-0.5 * np.sum(res * res, axis=1) / s ** 2)
    return X, post / post.sum()


def _witness_exact_posterior(ev, prior, A, s, y, post):
    """Record the exact-posterior witnesses (definitions, Bayes at time t)."""
    from toytheory.diffusion.posterior.gmm import denoiser_jacobian, log_likelihood_at
    from toytheory.diffusion.posterior.samplers import halfplane_mass

    from proofs.diffusion_posterior import prove_gmm_component_update

    proof = prove_gmm_component_update()
    ev.equal(f"sympy: {proof.name} (residuals {', '.join(proof.residuals)})",
             int(proof.holds), 1)
    X, p = _bayes_on_grid(prior, A, s, y)
    ev.at_most("posterior mean: closed form vs Bayes on a 701^2 grid (max abs)",
               float(np.abs(post.mean() - p @ X).max()), 1e-6)
    ev.at_most("P(x_1 > 0 | y): closed form vs Bayes on the grid (abs)",
               abs(halfplane_mass(post, [1.0, 0.0]) - p[X[:, 0] > 0].sum()), 2e-4)
    pts = np.array([[-1.5, 0.7], [0.3, 0.2], [2.2, -1.1]])
    h, worst_bayes, worst_jac = 1e-5, 0.0, 0.0
    for sigma in (0.3, 1.0, 4.0):
        grad = np.zeros_like(pts)
        jac_fd = np.zeros((pts.shape[0], 2, 2))
        for j in range(2):
            e = np.zeros(2)
            e[j] = h
            grad[:, j] = (log_likelihood_at(prior, A, s, y, pts + e, 1.0, sigma)
                          - log_likelihood_at(prior, A, s, y, pts - e, 1.0, sigma)) / (2 * h)
            jac_fd[:, :, j] = (prior.denoise(pts + e, 1.0, sigma)
                               - prior.denoise(pts - e, 1.0, sigma)) / (2 * h)
        lhs = post.score(pts, 1.0, sigma)
        worst_bayes = max(worst_bayes,
                          float(np.abs(lhs - prior.score(pts, 1.0, sigma) - grad).max()))
        worst_jac = max(worst_jac, float(np.abs(denoiser_jacobian(prior, pts, 1.0, sigma)
                                                - jac_fd).max()))
    ev.at_most("Bayes at time t: posterior score - prior score - grad log p(y|x_t) (max abs, "
               "central differences)", worst_bayes, 1e-5)
    ev.at_most("denoiser Jacobian (alpha/sigma^2) Cov[x0|x_t] vs differences of the "
               "denoiser (max abs)", worst_jac, 1e-5)


def _run(score, n, steps, rng):
    from toytheory.diffusion.posterior.samplers import reverse_sde
    from toytheory.diffusion.schedules import karras_sigmas

    sig = karras_sigmas(steps, 0.002, 80.0, append_zero=False)
    return reverse_sde(score, sig[0] * rng.standard_normal((n, 2)), sig, rng)


@claim(
    "diffusion.posterior.exact_sampler_matches_posterior",
    paper=PAPER,
    kind="derived",
    statement=("The reverse SDE driven by the exact score of the diffused posterior samples "
               "the exact posterior of a two-mode mixture prior under y = x_1 + x_2 + noise: "
               "its half-plane masses are within 0.04 of the closed form."),
    source=("Exact reference for ADS's abstract: \"diffusion models have been shown to "
            "produce high-quality posterior samples of high-dimensional signals using guided "
            "diffusion\" (the posterior a guided sampler should reach)."),
    reading=("The posterior of a Gaussian mixture under a linear-Gaussian measurement is a "
             "mixture (Bayes component by component), checked against Bayes' rule on a grid; "
             "its diffusion gives the exact conditional score, checked against prior score + "
             "grad log p(y|x_t) (exact p(y|x_t)). Euler-Maruyama on the VE reverse SDE "
             "(Karras grid, sigma 80 to 0.002) with that score is held to the closed-form "
             "masses of {x_1 > 0} and {x_1 > 2.5} within 0.04 (Clopper-Pearson, Bonferroni "
             "over four one-sided bounds), the tolerance covering the grid's discretisation."),
    witnesses=("exact", "symbolic", "simulated"),
    quick={"n": 12000, "steps": 256},
    full={"n": 100000, "steps": 1024},
)
def exact_sampler_matches_posterior(ctx, n, steps):
    from toytheory.diffusion.posterior.gmm import exact_gmm_posterior
    from toytheory.diffusion.posterior.samplers import exact_posterior_score, halfplane_mass

    ev = ctx.evidence()
    prior = toy_prior()
    A, s, y = toy_measurement()
    post = exact_gmm_posterior(prior, A, s, y)
    _witness_exact_posterior(ev, prior, A, s, y, post)
    x = _run(exact_posterior_score(post), n, steps, ctx.rng("exact sampler"))
    for label, c in (("x_1 > 0", 0.0), ("x_1 > 2.5", 2.5)):
        exact = halfplane_mass(post, [1.0, 0.0], c)
        k = int(np.sum(x[:, 0] > c))
        ci = stats.exact_binomial_interval(k, n, LEVEL / 4)
        det = f"a mass error of {0.04 + (ci[1] - ci[0]) / 2:.3f} at n = {n}"
        ev.interval(f"P({label}) of the exact-score sampler, lower side (exact {exact:.4f})",
                    k / n, ci, exact - 0.04, side=">=", level=LEVEL / 4, detectable=det)
        ev.interval(f"P({label}) of the exact-score sampler, upper side (exact {exact:.4f})",
                    k / n, ci, exact + 0.04, side="<=", level=LEVEL / 4, detectable=det,
                    headline=c == 0.0)
        if not (ci[0] >= exact - 0.04 and ci[1] <= exact + 0.04):
            ev.referee_note(
                says="the exact-score reverse SDE samples the exact posterior",
                toy="two-mode mixture prior in R^2, y = x_1 + x_2 + 0.2 xi, VE Euler-Maruyama",
                measured=f"P({label}) = {k / n:.4f}, interval [{ci[0]:.4f}, {ci[1]:.4f}], "
                         f"exact {exact:.4f}",
                inside="0.04 of the closed form, Clopper-Pearson at 1e-6 / 4",
                would_change="a finer grid (the Euler-Maruyama bias) or more draws")
    return ev


@claim(
    "diffusion.posterior.dps_drops_minor_mode",
    paper=PAPER,
    kind="derived",
    statement=("DPS run with the exact prior denoiser does not sample the posterior: on the "
               "two-mode toy it puts less than half the exact posterior mass on the minor "
               "mode {x_1 < 0}, where the exact-score sampler on the same grid does not."),
    source=("DPS (Chung et al., ICLR 2023), Theorem 1's approximation p(y|x_t) ~ "
            "p(y | x0 = E[x0|x_t]), the guided diffusion ADS's abstract relies on: \"diffusion "
            "models have been shown to produce high-quality posterior samples\"."),
    reading=("DPS's score is the prior score plus (1/s^2) J^T A^T (y - A x0_hat) with "
             "Tweedie's x0_hat and its exact Jacobian J (zeta = 1, the plug-in likelihood), "
             "run on the same Euler-Maruyama grid as the exact-score sampler. Exact minor-mode "
             "mass P(x_1 < 0 | y) = 0.048. Witness: the exact-score sampler's mass is not "
             "below half of it (so a shortfall is DPS's, not the grid's); statement: DPS's "
             "mass has its Clopper-Pearson upper end below half the exact mass."),
    witnesses=("exact", "simulated"),
    quick={"n": 3000, "steps": 128, "zetas": (0.25, 4.0)},
    full={"n": 40000, "steps": 512, "zetas": (0.1, 0.25, 0.5, 2.0, 4.0, 10.0)},
)
def dps_drops_minor_mode(ctx, n, steps, zetas):
    from toytheory.diffusion.posterior.gmm import exact_gmm_posterior
    from toytheory.diffusion.posterior.samplers import (dps_score, exact_posterior_score,
                                                        halfplane_mass)

    ev = ctx.evidence()
    prior = toy_prior()
    A, s, y = toy_measurement()
    post = exact_gmm_posterior(prior, A, s, y)
    minor = 1.0 - halfplane_mass(post, [1.0, 0.0], 0.0)
    ev.record("exact P(x_1 < 0 | y)", minor)
    half = 0.5 * minor
    x = _run(exact_posterior_score(post), n, steps, ctx.rng("exact sampler"))
    k = int(np.sum(x[:, 0] < 0))
    ci = stats.exact_binomial_interval(k, n, LEVEL)
    ev.interval("exact-score sampler's P(x_1 < 0) is not below half the exact mass",
                k / n, ci, half, side=">=", level=LEVEL, role="witness")
    x = _run(dps_score(prior, A, s, y), n, steps, ctx.rng("dps sampler"))
    k = int(np.sum(x[:, 0] < 0))
    ci = stats.exact_binomial_interval(k, n, LEVEL)
    ev.record("DPS: P(x_1 > 2.5)", float(np.mean(x[:, 0] > 2.5)),
              note=f"exact {halfplane_mass(post, [1.0, 0.0], 2.5):.4f}")
    ev.interval("DPS's P(x_1 < 0) below half the exact posterior's", k / n, ci, half,
                side="<=", level=LEVEL, headline=True,
                detectable=f"DPS minor mass under ~{half - (ci[1] - ci[0]):.3f} at n = {n}")
    for zeta in zetas:   # the guidance weight: recorded, not held
        xz = _run(dps_score(prior, A, s, y, zeta), n, steps, ctx.rng("dps zeta", str(zeta)))
        ev.record(f"DPS zeta = {zeta}: P(x_1 < 0)", float(np.mean(xz[:, 0] < 0)),
                  note=f"P(x_1 > 2.5) = {np.mean(xz[:, 0] > 2.5):.4f}")
    if ci[1] > half:
        ev.referee_note(
            says="DPS with the exact prior denoiser under-weights the posterior's minor mode",
            toy="two-mode mixture prior in R^2, y = x_1 + x_2 + 0.2 xi, VE Euler-Maruyama",
            measured=f"DPS P(x_1 < 0) = {k / n:.4f}, interval [{ci[0]:.4f}, {ci[1]:.4f}]",
            inside=f"below half the exact mass {half:.4f} (Clopper-Pearson at 1e-6)",
            would_change="more draws, or a DPS whose guidance keeps the minor mode")
    return ev


def ads_prior(seed=17, d=8, k=8):
    """The fixed random prior of the ADS toy: eight modes in R^8, each coordinate of each
    mean 0 or +-3 (probability 0.3 of a +-3), tau = 0.5, coordinate noise 0.3 (construction
    seed 17, fixed: the claim's verdict does not depend on the run seed)."""
    from toytheory.diffusion.posterior.active import IsotropicMixturePrior

    g = np.random.default_rng(seed)
    means = 3.0 * (g.random((k, d)) < 0.3) * g.choice([-1.0, 1.0], size=(k, d))
    return IsotropicMixturePrior(np.full(k, 1.0 / k), means, 0.5, 0.3)


@claim(
    "diffusion.posterior.ads_beats_fixed_masks",
    paper=PAPER,
    kind="paper",
    statement=("Choosing each coordinate measurement by maximum predictive entropy under the "
               "exact posterior gives a lower posterior-mean error than random subsampling "
               "at equal budgets."),
    source='Abstract: "Experimentally, we show that ADS outperforms fixed sampling strategies"',
    reading=("ADS's policy (measure next where the predictive p(y_j | y so far) has maximum "
             "entropy) is run with the exact mixture posterior in place of ADS's particles, "
             "the limit ADS's particles approximate; the particle approximation is not "
             "tested. Error: E tr Cov(x | y_S) = E||x - E[x|y_S]||^2 per signal. The fixed "
             "strategy held is a uniformly random mask per signal: each paired difference must "
             "have its empirical-Bernstein upper end (range from the exact bounds) below zero, "
             "for budgets 2 and 3, Bonferroni over the two. Weaker than the source where it "
             "means every fixed strategy: the fixed mask of the largest prior variances and "
             "the best fixed mask found by exhaustive search are recorded, not held; on this "
             "toy the policy's first pick is the largest-variance coordinate and its error "
             "is within the interval's width of those masks (no detectable gain)."),
    witnesses=("exact", "simulated"),
    quick={"n": 3000, "budgets": (2, 3)},
    full={"n": 20000, "budgets": (2, 3, 4)},
)
def ads_beats_fixed_masks(ctx, n, budgets):
    from toytheory.diffusion.posterior.active import (max_entropy_masks, posterior_trace,
                                                      trace_bounds)
    from toytheory.diffusion.posterior.gmm import exact_gmm_posterior

    ev = ctx.evidence()
    prior = ads_prior()
    d = prior.dim
    rng = ctx.rng("signals")
    x, y_all = prior.sample(n, rng)
    # witness: the isotropic shortcut against the general closed form, on a few signals
    mask = np.zeros(d, bool)
    mask[[1, 4, 6]] = True
    A = np.eye(d)[mask]
    gap = 0.0
    for i in range(5):
        post = exact_gmm_posterior(prior.law, A, prior.noise_std, y_all[i, mask])
        gap = max(gap, abs(np.trace(post.covariance())
                           - posterior_trace(prior, y_all[i:i + 1], mask)[0]))
    ev.at_most("tr Cov(x|y_S): isotropic shortcut vs exact_gmm_posterior (max abs)", gap, 1e-9)
    lo_b, hi_b = trace_bounds(prior, 1)
    ev.record("range bound of tr Cov width", hi_b - lo_b)
    prior_var = np.diag(prior.law.covariance())
    n_tests = len(budgets)
    noted = False
    for b in budgets:
        lo, hi = trace_bounds(prior, b)
        width = hi - lo
        adaptive = posterior_trace(prior, y_all, max_entropy_masks(prior, y_all, b))
        inside = np.all((adaptive >= lo - 1e-9) & (adaptive <= hi + 1e-9))
        ev.equal(f"b = {b}: adaptive traces inside their exact range", int(inside), 1)
        var_mask = np.zeros(d, bool)
        var_mask[np.argsort(-prior_var, kind="stable")[:b]] = True
        diff = adaptive - posterior_trace(prior, y_all, var_mask)
        ci = stats.bounded_mean_interval(diff, -width, width, LEVEL)
        ev.record(f"b = {b}: E error, max-entropy minus highest-variance mask",
                  float(diff.mean()), note=f"interval at 1e-6 [{ci[0]:.3f}, {ci[1]:.3f}]")
        best = min((float(posterior_trace(prior, y_all, np.isin(np.arange(d), S)).mean()), S)
                   for S in itertools.combinations(range(d), b))
        ev.record(f"b = {b}: E error of max-entropy (best fixed mask {best[1]}: "
                  f"{best[0]:.3f})", float(adaptive.mean()))
        rand_mask = np.zeros((n, d), bool)
        picks = np.argsort(rng.random((n, d)), axis=1)[:, :b]
        np.put_along_axis(rand_mask, picks, True, axis=1)
        diff = adaptive - posterior_trace(prior, y_all, rand_mask)
        ci = stats.bounded_mean_interval(diff, -width, width, LEVEL / n_tests)
        ev.interval(f"b = {b}: E error, max-entropy minus random masks", float(diff.mean()),
                    ci, 0.0, side="<=", level=LEVEL / n_tests, headline=b == budgets[0],
                    detectable=f"a gain of about {(ci[1] - ci[0]) / 2:.2f} at n = {n}")
        if ci[1] > 0 and not noted:
            noted = True
            ev.referee_note(
                says="ADS outperforms fixed sampling strategies",
                toy="random 8-mode isotropic mixture in R^8, coordinate readings with noise "
                    "0.3, max-entropy policy under the exact posterior vs random masks",
                measured=f"b = {b}: mean error difference {diff.mean():.3f}, interval "
                         f"[{ci[0]:.3f}, {ci[1]:.3f}]",
                inside="below 0 (empirical Bernstein, exact range, Bonferroni over budgets)",
                would_change="more signals, or a prior on which adaptivity gains more")
    return ev


def _posterior_contour_grid():
    """The toy prior and measurement, their exact posterior, and its log-density on a
    161 x 161 grid over [-4, 4]^2 (for the figures' contours)."""
    from toytheory.diffusion.posterior.gmm import exact_gmm_posterior

    prior = toy_prior()
    A, s, y = toy_measurement()
    post = exact_gmm_posterior(prior, A, s, y)
    g = np.linspace(-4, 4, 161)
    X = np.stack(np.meshgrid(g, g, indexing="ij"), -1).reshape(-1, 2)
    return prior, A, s, y, post, g, post.log_prob(X).reshape(161, 161)


@register_figure("diffusion.posterior_dps_vs_exact",
                 caption="Exact posterior contours with draws of the exact-score sampler and DPS")
def dps_vs_exact_figure(seed: int = 0):
    from matplotlib.figure import Figure

    from toytheory.diffusion.posterior.samplers import dps_score, exact_posterior_score

    prior, A, s, y, post, g, logd = _posterior_contour_grid()
    rng = np.random.default_rng(seed)
    levels = logd.max() - np.array([9.0, 7.0, 5.0, 3.0, 1.0])   # log-density contours
    fig = Figure(figsize=(8, 3.6))
    for i, (title, score) in enumerate((("exact conditional score", exact_posterior_score(post)),
                                        ("DPS (zeta = 1)", dps_score(prior, A, s, y)))):
        ax = fig.add_subplot(1, 2, i + 1)
        ax.contour(g, g, logd.T, levels=levels, colors="k", linewidths=0.6)
        x = _run(score, 1500, 128, rng)
        ax.scatter(x[:, 0], x[:, 1], s=2, alpha=0.4)
        ax.set_title(title)
        ax.set_xlim(-4, 4)
        ax.set_ylim(-4, 4)
        ax.set_xlabel("x_1")
    return fig


@register_figure("diffusion.posterior_ads_budget",
                 caption="Active subsampling: exact posterior error against the budget, "
                         "max-entropy policy vs fixed masks")
def ads_budget_figure(seed: int = 0):
    from matplotlib.figure import Figure

    from toytheory.diffusion.posterior.active import max_entropy_masks, posterior_trace

    prior = ads_prior()
    d = prior.dim
    rng = np.random.default_rng(seed)
    x, y_all = prior.sample(300, rng)
    budgets = [1, 2, 3, 4]
    prior_var = np.diag(prior.law.covariance())
    rows = {"max-entropy (exact posterior)": [], "random mask": [],
            "largest-variance mask": [], "best fixed mask": []}
    for b in budgets:
        rows["max-entropy (exact posterior)"].append(
            posterior_trace(prior, y_all, max_entropy_masks(prior, y_all, b)).mean())
        rand = np.zeros((len(y_all), d), bool)
        np.put_along_axis(rand, np.argsort(rng.random((len(y_all), d)), axis=1)[:, :b], True,
                          axis=1)
        rows["random mask"].append(posterior_trace(prior, y_all, rand).mean())
        var_mask = np.isin(np.arange(d), np.argsort(-prior_var, kind="stable")[:b])
        rows["largest-variance mask"].append(posterior_trace(prior, y_all, var_mask).mean())
        rows["best fixed mask"].append(min(
            posterior_trace(prior, y_all, np.isin(np.arange(d), S)).mean()
            for S in itertools.combinations(range(d), b)))
    fig = Figure(figsize=(5, 3.4))
    ax = fig.add_subplot(1, 1, 1)
    for name, v in rows.items():
        ax.plot(budgets, v, "o-", ms=3, label=name)
    ax.set_xlabel("measurement budget (coordinates)")
    ax.set_ylabel("E tr Cov(x | y_S)")
    ax.legend(fontsize=7)
    return fig


def _minor_mass_gap(ev, name, x_method, x_exact, level):
    """Interval for P_method(x_1 < 0) - P_exact-sampler(x_1 < 0) from two one-sided
    Clopper-Pearson bounds at level / 2 each (independent samples)."""
    n1, n2 = len(x_method), len(x_exact)
    k1, k2 = int(np.sum(x_method[:, 0] < 0)), int(np.sum(x_exact[:, 0] < 0))
    lo1, hi1 = stats.exact_binomial_interval(k1, n1, level)
    lo2, hi2 = stats.exact_binomial_interval(k2, n2, level)
    ev.interval(f"{name}: P(x_1 < 0) minus the exact-score sampler's (same grid)",
                k1 / n1 - k2 / n2, (lo1 - hi2, hi1 - lo2), 0.0, side=">=", level=2 * level,
                headline=name.startswith("PiGDM"),
                detectable=f"a gap of ~{(hi1 - lo1 + hi2 - lo2) / 2:.3f} at n = {n1}")
    return k1 / n1, (lo1 - hi2, hi1 - lo2)


@claim(
    "diffusion.posterior.pigdm_projection_overweight_minor_mode",
    paper=PAPER,
    kind="derived",
    statement=("PiGDM and the projection (replacement) method, run with the exact prior "
               "denoiser, do not sample the posterior either: on the two-mode toy both put "
               "more mass on the minor mode {x_1 < 0} than the exact-score sampler on the "
               "same grid."),
    source=("The guided posterior samplers behind ADS's abstract: \"diffusion models have "
            "been shown to produce high-quality posterior samples of high-dimensional "
            "signals using guided diffusion\"; PiGDM (Song et al., ICLR 2023, eq. 7-8) and "
            "the projection method (Song et al., ICLR 2022)."),
    reading=("Same toy and VE Euler-Maruyama grid (128 Karras steps) as the DPS claim. PiGDM: "
             "p(y|x_t) ~ N(A x0_hat, r_t^2 A A^T + s^2) with r_t^2 = sigma^2/(1 + sigma^2), "
             "exact Jacobian, weight 1; projection: prior-score step then x += A^+(y + "
             "sigma' A eps - A x). Held for each: the interval of P_method(x_1 < 0) - "
             "P_exact-sampler(x_1 < 0) (two Clopper-Pearson bounds at 1e-6/4 each) above 0. "
             "The exact minor mass is 0.048; steps and PiGDM weights recorded."),
    witnesses=("exact", "simulated"),
    quick={"n": 8000, "steps": 128, "weights": (0.5, 2.0)},
    full={"n": 40000, "steps": 1024, "weights": (0.25, 0.5, 2.0, 4.0)},
)
def pigdm_projection_overweight_minor_mode(ctx, n, steps, weights):
    from toytheory.diffusion.posterior.gmm import exact_gmm_posterior
    from toytheory.diffusion.posterior.samplers import (exact_posterior_score, halfplane_mass,
                                                        pigdm_score, projection_sampler)
    from toytheory.diffusion.schedules import karras_sigmas

    ev = ctx.evidence()
    prior = toy_prior()
    A, s, y = toy_measurement()
    post = exact_gmm_posterior(prior, A, s, y)
    minor = 1.0 - halfplane_mass(post, [1.0, 0.0], 0.0)
    ev.record("exact P(x_1 < 0 | y)", minor)
    x_exact = _run(exact_posterior_score(post), n, steps, ctx.rng("exact sampler"))
    k = int(np.sum(x_exact[:, 0] < 0))
    ci = stats.exact_binomial_interval(k, n, LEVEL / 2)
    ev.interval("exact-score sampler's P(x_1 < 0) is within 0.03 of the exact mass (upper)",
                k / n, ci, minor + 0.03, side="<=", level=LEVEL / 2, role="witness")
    ev.interval("exact-score sampler's P(x_1 < 0) is within 0.03 of the exact mass (lower)",
                k / n, ci, minor - 0.03, side=">=", level=LEVEL / 2, role="witness")
    x_pi = _run(pigdm_score(prior, A, s, y), n, steps, ctx.rng("pigdm"))
    _minor_mass_gap(ev, "PiGDM (weight 1)", x_pi, x_exact, LEVEL / 4)
    sig = karras_sigmas(steps, 0.002, 80.0, append_zero=False)
    g = ctx.rng("projection")
    x_pr = projection_sampler(prior, A, y, sig[0] * g.standard_normal((n, 2)), sig, g)
    _minor_mass_gap(ev, "projection", x_pr, x_exact, LEVEL / 4)
    for w in weights:
        xw = _run(pigdm_score(prior, A, s, y, w), n // 4, steps, ctx.rng("pigdm w", str(w)))
        ev.record(f"PiGDM weight {w}: P(x_1 < 0)", float(np.mean(xw[:, 0] < 0)),
                  note=f"{n // 4} draws")
    return ev


@register_figure("diffusion.posterior_samplers_vs_exact",
                 caption="Exact posterior contours with draws of the exact-score sampler, DPS, "
                         "PiGDM and the projection method")
def samplers_vs_exact_figure(seed: int = 0):
    from matplotlib.figure import Figure

    from toytheory.diffusion.posterior.samplers import (dps_score, exact_posterior_score,
                                                        pigdm_score, projection_sampler)
    from toytheory.diffusion.schedules import karras_sigmas

    prior, A, s, y, post, g, logd = _posterior_contour_grid()
    rng = np.random.default_rng(seed)
    levels = logd.max() - np.array([9.0, 7.0, 5.0, 3.0, 1.0])
    sig = karras_sigmas(128, 0.002, 80.0, append_zero=False)
    draws = {"exact conditional score": _run(exact_posterior_score(post), 1000, 128, rng),
             "DPS (zeta = 1)": _run(dps_score(prior, A, s, y), 1000, 128, rng),
             "PiGDM (weight 1)": _run(pigdm_score(prior, A, s, y), 1000, 128, rng),
             "projection": projection_sampler(prior, A, y,
                                              sig[0] * rng.standard_normal((1000, 2)), sig,
                                              rng)}
    fig = Figure(figsize=(10, 2.9))
    for i, (title, x) in enumerate(draws.items()):
        ax = fig.add_subplot(1, 4, i + 1)
        ax.contour(g, g, logd.T, levels=levels, colors="k", linewidths=0.6)
        ax.scatter(x[:, 0], x[:, 1], s=2, alpha=0.4)
        ax.set_title(f"{title}\nP(x_1<0) = {np.mean(x[:, 0] < 0):.3f}", fontsize=8)
        ax.set_xlim(-4, 4)
        ax.set_ylim(-4, 4)
    return fig


@claim(
    "diffusion.posterior.ads_particles_beat_random",
    paper=PAPER,
    kind="paper",
    statement=("ADS's policy with its entropy estimated from a few posterior particles gives a "
               "lower posterior-mean error than random subsampling at equal budgets."),
    source='Abstract: "Experimentally, we show that ADS outperforms fixed sampling strategies"',
    reading=("The ADS toy of ads_beats_fixed_masks, now with ADS's own estimate: the entropy "
             "of the predictive (1/N) sum_i N(y_j; x_j^(i), s^2) over N = 8 particles, the "
             "particles drawn exactly from the current posterior (an exact guided diffusion; "
             "the diffusion's own error is not in this toy). Held like the exact-policy claim: "
             "paired per-signal error differences against a uniformly random mask, "
             "empirical-Bernstein upper end below 0 at budget 2 (quick tier; 2, 3, 4 in the full "
             "tier; range from the exact bounds, Bonferroni over budgets). Witness: with 4000 particles the particle entropy is within "
             "0.1 nats of the exact predictive entropy. Recorded: the exact policy's error and "
             "the particle policy's at other N (the particle count's cost)."),
    witnesses=("exact", "simulated"),
    quick={"n": 3000, "budgets": (2,), "n_particles": 8, "others": (2,)},
    full={"n": 20000, "budgets": (2, 3, 4), "n_particles": 8, "others": (2, 32, 128)},
)
def ads_particles_beat_random(ctx, n, budgets, n_particles, others):
    from toytheory.diffusion.posterior.active import (_mixture_entropy_1d, max_entropy_masks,
                                                      particle_entropy_masks,
                                                      posterior_trace, trace_bounds)

    ev = ctx.evidence()
    prior = ads_prior()
    d = prior.dim
    # witness: particle entropy -> exact predictive entropy
    g = ctx.rng("entropy witness")
    _, yw = prior.sample(20, g)
    mask = np.zeros((20, d), bool)
    mask[:, [0, 3]] = True
    w, m, within = prior._posterior(yw, mask)
    N, s2 = 4000, prior.noise_std ** 2
    cdf = np.cumsum(w, axis=1)
    comp = np.minimum((g.random((20, N, 1)) > cdf[:, None, :]).sum(axis=2), w.shape[1] - 1)
    parts = (np.take_along_axis(m, comp[:, :, None], axis=1)
             + np.sqrt(within)[:, None, :] * g.standard_normal((20, N, d)))
    worst = 0.0
    for j in range(d):
        est = _mixture_entropy_1d(np.full((20, N), 1.0 / N), parts[:, :, j], s2, 401)
        ref = np.array([_mixture_entropy_1d(w[i:i + 1], m[i:i + 1, :, j], within[i, j] + s2,
                                            401)[0] for i in range(20)])
        worst = max(worst, float(np.abs(est - ref).max()))
    ev.at_most("particle entropy (4000 posterior draws) vs exact predictive entropy (max abs "
               "over 20 signals x 8 coordinates, nats)", worst, 0.1)
    rng = ctx.rng("signals")
    x, y_all = prior.sample(n, rng)
    for b in budgets:
        lo, hi = trace_bounds(prior, b)
        width = hi - lo
        part = posterior_trace(prior, y_all,
                               particle_entropy_masks(prior, y_all, b, n_particles,
                                                      ctx.rng("particles", str(b))))
        ev.equal(f"b = {b}: particle-policy traces inside their exact range",
                 int(np.all((part >= lo - 1e-9) & (part <= hi + 1e-9))), 1)
        exact = posterior_trace(prior, y_all, max_entropy_masks(prior, y_all, b))
        ev.record(f"b = {b}: E error, particle policy (N = {n_particles})",
                  float(part.mean()), note=f"exact policy {exact.mean():.3f}")
        for other in others:
            po = posterior_trace(prior, y_all, particle_entropy_masks(
                prior, y_all, b, other, ctx.rng("particles", str(b), str(other))))
            ev.record(f"b = {b}: E error, particle policy (N = {other})", float(po.mean()))
        rand_mask = np.zeros((n, d), bool)
        np.put_along_axis(rand_mask, np.argsort(rng.random((n, d)), axis=1)[:, :b], True,
                          axis=1)
        diff = part - posterior_trace(prior, y_all, rand_mask)
        ci = stats.bounded_mean_interval(diff, -width, width, LEVEL / len(budgets))
        ev.interval(f"b = {b}: E error, particle policy minus random masks",
                    float(diff.mean()), ci, 0.0, side="<=", level=LEVEL / len(budgets),
                    headline=b == budgets[0],
                    detectable=f"a gain of about {(ci[1] - ci[0]) / 2:.2f} at n = {n}",
                    decide_n=None if ci[1] <= 0 or ci[0] > 0 else 4 * n)
        if ci[1] > 0:
            ev.referee_note(says="ADS outperforms fixed sampling strategies",
                            toy="random 8-mode isotropic mixture in R^8, particle entropy",
                            measured=f"b = {b}: difference {diff.mean():.3f}, interval "
                                     f"[{ci[0]:.3f}, {ci[1]:.3f}]",
                            inside="below 0", would_change="more signals")
            break
    return ev
