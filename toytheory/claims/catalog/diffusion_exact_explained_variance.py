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
                # Monte Carlo against quadrature: E[e - R q] = 0 with R the quadrature ratio
                x = law.sample(n, 1.0, sigma, rng=ctx.rng(name, f"{r:.6g}"))
                e, qq = evar.score_errors(law, x, 1.0, sigma)
                # NOT light enough (open, issue 14): on mixtures with a narrow component these
                # terms have skewness ~25 and the t-test's size at 1e-3 is ~1.8% (m = 5000);
                # tests/claims/test_mean_test_false_alarm.py records it as a strict xfail
                mc_checks.append(stats.mean_test(e - (q.mse / q.fisher) * qq, 0.0, LEVEL))
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
    ev.test(f"Monte Carlo against quadrature, 2 laws x {grid.size} noise levels (t-tests of "
            "E[|s - s_G|^2 - R |s|^2] = 0, Bonferroni)", stats.bonferroni(mc_checks, LEVEL),
            note=f"{n} exact samples per noise level")
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
