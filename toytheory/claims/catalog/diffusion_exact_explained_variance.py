"""Wang & Vastola: the Gaussian (linear) score dominates the mixture score at high noise."""

from __future__ import annotations

import numpy as np
from scipy import stats as sps

from toytheory import stats
from toytheory.claims import claim
from toytheory.diffusion import explained_variance as evar
from toytheory.diffusion.figures_exact import explained_variance_figure
from toytheory.diffusion.laws import Gaussian, GaussianMixture
from toytheory.diffusion.toys import grid_25, structured_gmm, two_mode_1d

PAPER = ("The Unreasonable Effectiveness of Gaussian Score Approximation for Diffusion Models "
         "and its Applications")
LEVEL = 1e-6
Z = float(sps.norm.isf(LEVEL))  # one-sided normal quantile for Monte Carlo bounds


def toy_laws():
    return {"1-D two modes (+-2, std 0.5)": (two_mode_1d(), "quadrature"),
            "2-D 5x5 grid (spacing 2, std 0.05)": (grid_25(), "quadrature"),
            "64-d structured GMM (K=16, top std 15)": (structured_gmm(), "monte_carlo")}


def top_std(law) -> float:
    return float(np.sqrt(np.linalg.eigvalsh(law.covariance()).max()))


def crossing(ratios, fractions, level):
    """The smallest sigma / top std above which the fraction stays >= level (log-linear
    interpolation between grid points), or a sentence when it is never reached or holds
    on the whole grid."""
    ok = fractions >= level
    if not ok[-1]:
        return f"not reached up to {ratios[-1]:.3g}"
    i = len(ok) - 1
    while i > 0 and ok[i - 1]:
        i -= 1
    if i == 0:
        return f"below {ratios[0]:.3g} (reached at every sigma tested)"
    f0, f1 = fractions[i - 1], fractions[i]
    w = (level - f0) / (f1 - f0)
    return float(np.exp(np.log(ratios[i - 1]) + w * (np.log(ratios[i]) - np.log(ratios[i - 1]))))


def near_extreme_law():
    """1-D, 0.9995 N(0, 1e-4) + 0.0005 N(150, 1e-4): a far, light second mode, where the
    explained fraction at sigma = top std comes within 1e-3 of the bound 1/2."""
    return GaussianMixture.isotropic([0.9995, 0.0005], [[0.0], [150.0]], [1e-4, 1e-4])


@claim(
    "diffusion.exact.gaussian_score_dominates_at_high_noise",
    paper=PAPER,
    statement=("On any data law the Gaussian approximation explains at least sigma^2 / "
               "(sigma^2 + lambda_max) of the exact score's variance (Fisher information "
               "bound), so more than half at every sigma at or above the data's largest "
               "standard deviation, and the bound 1/2 there is nearly attained by a law with "
               "a far, light second mode."),
    kind="derived",
    witnesses=("exact", "simulated"),
    quick={"ratios": 12, "order": 32, "n": 4000},
    full={"ratios": 30, "order": 64, "n": 100_000},
)
def gaussian_score_dominates(ctx, ratios, order, n):
    ev = ctx.evidence()
    grid = np.geomspace(0.03, 10.0, ratios)
    grid = np.union1d(grid, [1.0, 2.0])
    curves = {}
    mc_checks, stein_checks, statements = [], [], []
    worst_fd = worst_err = 0.0
    for name, (law, method) in toy_laws().items():
        top = top_std(law)
        res = []
        for r in grid:
            sigma = float(r * top)
            if method == "quadrature":
                q = evar.gaussian_score_fraction(law, 1.0, sigma, method="quadrature",
                                                 order=order if law.dim > 1 else 4 * order)
                res.append(q)
                if r in (grid[0], 1.0, 2.0):
                    # the Stein identity E|s - s_G|^2 = E|s|^2 - tr A, by quadrature, held to
                    # the quadrature's own error estimate (two orders compared)
                    ev.close(f"{name}, sigma/top = {r:.3g}: E|s - s_G|^2 vs E|s|^2 - tr A "
                             "(quadrature, relative to E|s|^2)", q.mse / q.fisher,
                             (q.fisher - q.trace_a) / q.fisher, atol=1e-10 + 10 * q.stderr,
                             note=f"quadrature error estimate {q.stderr:.2g}")
                # The Monte Carlo path (exact sampler, score, per-point errors) checked against
                # definitions, with no mean test on its heavy-tailed per-point errors (their
                # skewness reaches ~30 on the narrow grid, where a t-test's level fails):
                x = law.sample(n, 1.0, sigma, rng=ctx.rng(name, f"{r:.6g}"))
                mc_checks.extend(_marginal_ks(law, x, sigma))
                worst_fd = max(worst_fd, _score_vs_log_density(law, x[:64], sigma))
                worst_err = max(worst_err, _errors_vs_definition(law, x[:256], sigma))
            else:
                m = evar.gaussian_score_fraction(law, 1.0, sigma, method="monte_carlo", n=n,
                                                 rng=ctx.rng(name, f"{r:.6g}"))
                res.append(m)
                x = law.sample(n, 1.0, sigma, rng=ctx.rng(name, "stein", f"{r:.6g}"))
                e, qq = evar.score_errors(law, x, 1.0, sigma)
                stein_checks.append(stats.mean_test(e - qq + m.trace_a, 0.0, LEVEL))
        frac = np.array([v.fraction for v in res])
        err = np.array([v.stderr for v in res])
        curves[name] = (grid, frac, err)
        half = Z * err if method == "monte_carlo" else err
        high = grid >= 2.0 - 1e-12
        moderate = grid >= 1.0 - 1e-12
        bound = np.array([evar.fraction_lower_bound(law, 1.0, float(r * top)) for r in grid])
        i_min = int(np.argmin(frac - half - bound))
        statements.append(dict(
            name=f"{name}: smallest margin explained fraction - Fisher bound over sigma/top "
                 f"std in [{grid[0]:.3g}, {grid[-1]:.3g}] (at {grid[i_min]:.3g} x)",
            estimate=float(frac[i_min] - bound[i_min]),
            interval=(float(frac[i_min] - half[i_min] - bound[i_min]),
                      float(frac[i_min] + half[i_min] - bound[i_min])),
            threshold=0.0, side=">=", headline=name.startswith("2-D"),
            note=f"top std {top:.3g}; " + ("interval: estimate +- z(1e-6) x standard error "
                                           "(Monte Carlo)" if method == "monte_carlo" else
                                           "interval: quadrature +- its error estimate")))
        moderate = grid >= 1.0 - 1e-12
        ev.record(f"{name}: smallest explained fraction for sigma >= 1 x top std",
                  float(frac[moderate].min()), note="the bound guarantees > 1/2 there")
        ev.record(f"{name}: smallest explained fraction for sigma >= 2 x top std (lower end; "
                  "99% there would be sharper than the paper, recorded only)",
                  float((frac - half)[high].min()))
        ev.record(f"{name}: sigma / top std where the fraction reaches 99%",
                  crossing(grid, frac, 0.99))
        ev.record(f"{name}: sigma / top std where the fraction reaches 50%",
                  crossing(grid, frac, 0.5))
        ev.record(f"{name}: explained fraction at the smallest sigma ({grid[0]:.3g} x top std)",
                  float(frac[0]))
    g = Gaussian(np.zeros(3), np.diag([4.0, 1.0, 0.25]))
    ev.close("Gaussian data: explained fraction (must be exactly 1)",
             evar.gaussian_score_fraction(g, 1.0, 0.7, order=8).fraction, 1.0, atol=1e-12)
    ev.at_most("exact score vs central differences of the exact log-density, 2 laws x "
               f"{grid.size} noise levels (max error relative to max |s|)", worst_fd, 1e-5)
    ev.at_most("per-point |s - s_G|^2 and |s|^2 vs the definition (s_G by a linear solve "
               "with the data's mean and covariance; max relative error)", worst_err, 1e-9)
    ev.test(f"exact sampler vs the exact marginal CDF of each coordinate, 2 laws x "
            f"{grid.size} noise levels (KS, Bonferroni)", stats.bonferroni(mc_checks, LEVEL),
            note=f"{n} samples per noise level")
    ev.test(f"Stein identity E[|s - s_G|^2 - |s|^2] = -tr A in 64-d, {grid.size} noise levels "
            "(t-tests, Bonferroni)", stats.bonferroni(stein_checks, LEVEL),
            note="checks the score against samples of the law it claims to be the score of")
    extreme = near_extreme_law()
    top_x = top_std(extreme)
    q = evar.gaussian_score_fraction(extreme, 1.0, top_x, method="quadrature", order=8 * order)
    statements.append(dict(
        name="1-D far light mode (0.9995 N(0, 1e-4) + 0.0005 N(150, 1e-4)): explained "
             "fraction at sigma = top std (the bound there is 1/2)", estimate=q.fraction,
        interval=(q.fraction - q.stderr - 1e-9, q.fraction + q.stderr + 1e-9),
        threshold=0.5 + 1e-3, side="<=", headline=False,
        note=f"quadrature, {8 * order} nodes; error estimate {q.stderr:.2g}"))
    for st in statements:  # statement numbers after every witness
        ev.interval(st["name"], st["estimate"], st["interval"], st["threshold"],
                    side=st["side"], level=LEVEL, headline=st["headline"], note=st["note"],
                    detectable="the interval's half-width")
    ev.figure("explained_variance", explained_variance_figure(ctx.seed, curves),
              caption="explained fraction against sigma / largest data standard deviation")
    ev.note("Why derived, not the paper's claim: the paper says the *learned* score is "
            "dominated by the Gaussian approximation at moderate to high noise. For the exact "
            "score this is a theorem at sigma >= the data's largest standard deviation (the "
            "Fisher bound above), so a toy with exact scores cannot test the paper there; "
            "what the toy adds is how far above the bound the toys sit, and that 1/2 is the "
            "best uniform constant.")
    ev.note("Explained fraction 1 - E|s - s_G|^2 / E|s|^2 under p_sigma (VE, alpha = 1), s_G "
            "the score of the Gaussian with the data's mean and covariance. By Stein's identity "
            "it equals tr(Sigma + sigma^2 I)^-1 / E|s|^2 (Cramer-Rao: <= 1). At low noise the "
            "Gaussian approximation explains almost nothing for well separated modes; the "
            "transition happens at sigma of the order of the data's largest standard "
            "deviation. The fraction averages over all directions: in the 64-d toy the 58 "
            "exactly Gaussian directions dominate E|s|^2, so the fraction stays above 99% even "
            "at sigma where the teleportation claim (diffusion.exact.teleportation_skip_"
            "fraction_64d) finds a measurable distributional error in the 6 non-Gaussian ones.")
    return ev


def _marginal_ks(law, x, sigma):
    """KS tests (level set by the caller's Bonferroni) of each coordinate of ``x`` (n, d)
    against the exact marginal CDF of the VE-noised mixture, sum_k w_k Phi((x - mu_kj) /
    sqrt(C_k,jj + sigma^2)): valid for any law, whatever the tails."""
    from scipy.stats import norm

    out = []
    for j in range(law.dim):
        mu = law.means[:, j]
        sd = np.sqrt(law.covs[:, j, j] + sigma ** 2)
        cdf = lambda v, mu=mu, sd=sd: (law.weights * norm.cdf(  # noqa: E731
            (np.asarray(v)[..., None] - mu) / sd)).sum(axis=-1)
        out.append(stats.ks_1samp(x[:, j], cdf, LEVEL))
    return out


def _score_vs_log_density(law, x, sigma, h=1e-5):
    """Largest |score - central difference of log p_sigma| over ``x``, relative to max |s|."""
    sc = law.score(x, 1.0, sigma)
    fd = np.empty_like(sc)
    for j in range(law.dim):
        step = np.zeros(law.dim)
        step[j] = h
        fd[:, j] = (law.log_prob(x + step, 1.0, sigma) - law.log_prob(x - step, 1.0, sigma)) / (2 * h)
    return float(np.abs(sc - fd).max() / max(np.abs(sc).max(), 1e-300))


def _errors_vs_definition(law, x, sigma):
    """Largest relative difference of :func:`evar.score_errors` from |s - s_G|^2 and |s|^2
    written out: s_G(x) = -(Sigma + sigma^2 I)^-1 (x - m), by a linear solve."""
    e, q = evar.score_errors(law, x, 1.0, sigma)
    sc = law.score(x, 1.0, sigma)
    cov = law.covariance() + sigma ** 2 * np.eye(law.dim)
    s_g = -np.linalg.solve(cov, (x - law.mean()).T).T
    e_def = np.sum((sc - s_g) ** 2, axis=1)
    q_def = np.sum(sc ** 2, axis=1)
    scale = max(float(q_def.max()), 1e-300)
    return float(max(np.abs(e - e_def).max(), np.abs(q - q_def).max()) / scale)
