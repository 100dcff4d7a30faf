"""Weighted least squares with projection DPPs and volume-rescaled sampling (Nouy and Michel)."""

from __future__ import annotations

import math

import numpy as np

from toytheory import stats
from toytheory.claims import claim
from toytheory.figures import register_figure

PAPER = ("Weighted least-squares approximation with determinantal point processes and "
         "generalized volume sampling")
LEVEL = 1e-6
ABSTRACT_QUASI = ("We first provide a generalized version of volume-rescaled sampling yielding quasi-optimality results in expectation with a number of samples n = O(mlog(m)), that means that the expected L^2 error is bounded by a constant times the best approximation error in L^2.")
ABSTRACT_REPEATED = ("Finally, we present an alternative strategy consisting in using independent repetitions of projection DPP (or volume sampling), yielding similar error bounds as with i.i.d. or volume sampling, but in practice with a much lower number of samples.")


def _setting(name, m):
    from toytheory.sampling.bases import legendre_basis, tensor_legendre_basis
    from toytheory.sampling.weighted_ls import TEST_FUNCTIONS

    f = TEST_FUNCTIONS[name]
    if f.dim == 1:
        return legendre_basis(m), f
    degree = 0
    while (degree + 1) * (degree + 2) // 2 < m:
        degree += 1
    return tensor_legendre_basis(degree), f


def error_ratios(basis, f, scheme, n, draws, rng, condition=None):
    """Ratios ||f - f_hat||^2 / ||f - P_m f||^2 over ``draws`` independent point sets."""
    from toytheory.sampling.weighted_ls import (best_approximation, draw_points, squared_error,
                                                weighted_least_squares)

    coef, best = best_approximation(basis, f, points=400 if basis.dim == 1 else 80)
    out = np.empty(draws)
    for r in range(draws):
        x, _ = draw_points(basis, scheme, n, rng=rng, condition=condition)
        out[r] = squared_error(weighted_least_squares(basis, x, f.f(x)), coef, best) / best
    return out


# ----------------------------------------------------------------------------- interpolation

@claim(
    "sampling.wls.interpolation_identity",
    paper=PAPER, kind="derived",
    statement=("Interpolation at the m points of the projection DPP of V_m has "
               "E||f - f_hat||^2 = (m + 1)||f - P_m f||^2."),
    witnesses=("exact", "symbolic", "simulated"),
    quick={"ms": (2, 3), "symbolic": ((2, 3),), "draws": 4000},
    full={"ms": (2, 3, 4), "symbolic": ((2, 3), (3, 4)), "draws": 20000},
)
def interpolation_identity(ctx, ms, symbolic, draws):
    from proofs.sampling_dpp_interpolation import prove_interpolation_identity
    from toytheory.sampling.bases import gauss_legendre_rule, legendre_basis
    from toytheory.sampling.continuous_dpp import sample_continuous_projection_dpp
    from toytheory.sampling.interpolation import (dpp_interpolation_expected_error,
                                                  optimal_density_cdf)
    from toytheory.sampling.weighted_ls import TEST_FUNCTIONS, TestFunction, best_approximation

    ev = ctx.evidence()
    poly = TestFunction("x^5 - x^2", lambda x: x[:, 0] ** 5 - x[:, 0] ** 2, 1)
    funcs = [("x^5 - x^2", poly, 8), ("1/(1+5x^2)", TEST_FUNCTIONS["runge"], None),
             ("|x|", TEST_FUNCTIONS["abs"], None)]
    for m, deg in symbolic:
        proof = prove_interpolation_identity(m, deg)
        ev.equal(f"sympy: identity for m = {m} and a generic polynomial of degree {deg}",
                 proof.holds, True, note=f"residual {proof.residuals[0]}")
    # simulated: the DPP sampler's one-point marginal (a point chosen uniformly among the m)
    # with the other point integrated exactly: a bounded Rao-Blackwell estimator (m = 2)
    basis = legendre_basis(2)
    f = TEST_FUNCTIONS["runge"]
    coef, best = best_approximation(basis, f, points=400)
    nodes, weights = gauss_legendre_rule(200)
    phi_n = basis(nodes)
    e_n = f.f(nodes) - phi_n @ coef
    gen = ctx.rng("dpp")
    rb, direct, x1s = np.empty(draws), np.empty(draws), np.empty(draws)
    for r in range(draws):
        pts = sample_continuous_projection_dpp(basis, rng=gen)
        x1 = pts[gen.integers(2)][None, :]
        x1s[r] = x1[0, 0]
        p1 = basis(x1)[0]
        e1 = float(f.f(x1)[0] - p1 @ coef)
        det1 = e1 * phi_n[:, 1] - p1[1] * e_n      # column 0 replaced by e
        det2 = p1[0] * e_n - e1 * phi_n[:, 0]      # column 1 replaced by e
        rb[r] = (best + float(weights @ (det1 ** 2 + det2 ** 2)) / float(p1 @ p1)) / best
        phi = basis(pts)
        chat = np.linalg.solve(phi, f.f(pts))
        direct[r] = (best + float(np.sum((chat - coef) ** 2))) / best
    # rb is bounded: det1^2 + det2^2 <= 2 e1^2 k_2(t) + 2 e(t)^2 k_2(x1), so with k_2 >= 1,
    # int k_2 = 2 and int e^2 = best: rb - 1 <= 2 (1 + 2 e1_max^2 / best) (e1_max certified
    # below from |f| <= 1 on [-1, 1] and the linear P_2 f)
    e_max = 1.0 + abs(coef[0]) * float(np.max(np.abs(basis(np.array([[-1.0], [1.0]]))[:, 0]))) \
        + abs(coef[1]) * float(np.max(np.abs(basis(np.array([[-1.0], [1.0]]))[:, 1])))
    top = 1.0 + 2.0 * (1.0 + 2.0 * e_max ** 2 / best)
    from toytheory.sampling.bounds import empirical_bernstein_interval

    lo, hi = empirical_bernstein_interval(rb, 1.0, max(top, float(rb.max())), LEVEL)
    ev.interval("sampled (Rao-Blackwellised, m = 2): mean ratio vs m + 1 = 3 (empirical "
                "Bernstein)", float(rb.mean()), (lo, hi), 3.0, side=">=", level=LEVEL,
                role="witness", note=f"range [1, {top:.1f}] from the bound in the code")
    ev.interval("sampled (Rao-Blackwellised, m = 2): mean ratio vs m + 1 = 3, upper side",
                float(rb.mean()), (lo, hi), 3.0, side="<=", level=LEVEL, role="witness")
    ev.test("sampled one-point marginal of the DPP vs k_m / m (KS)",
            stats.ks_1samp(x1s, lambda t: optimal_density_cdf(basis, t), LEVEL))
    ev.record("direct Monte Carlo mean of the ratio (m = 2, heavy-tailed)", float(direct.mean()),
              note="||Phi^-1 e||^2 has tail index 3/2 under the DPP: finite mean, infinite "
                   "variance, so no t-test on the direct estimate")
    # statements last: the identity by exact quadrature
    for m in ms:
        basis = legendre_basis(m)
        for label, f, pts in funcs:
            coef, best = best_approximation(basis, f, points=400)
            nodes = pts or {2: 120, 3: 40, 4: 32}.get(m, 16)
            expected, _ = dpp_interpolation_expected_error(basis, f.f, coef, points=nodes,
                                                           breakpoints=f.breakpoints)
            tol = 1e-10 if pts else 1e-6
            ev.close(f"m = {m}, f = {label}: E||f - f_hat||^2 / ||f - P_m f||^2 (quadrature)",
                     expected / best, m + 1.0, atol=tol, role="statement",
                     headline=(m == 2 and label == "1/(1+5x^2)"),
                     note="exact Gauss-Legendre rule" if pts else "Gauss-Legendre, composite "
                     "at the kink of |x|")
    ev.note("The quadrature integrand (1/m!) sum_j det(Phi with column j replaced by e)^2 is "
            "det(Phi)^2/m! (the DPP density) times ||Phi^-1 e||^2; it is a polynomial for "
            "polynomial f, integrated exactly. The symbolic proof does the same integral in "
            "sympy with symbolic coefficients of f.")
    return ev


@claim(
    "sampling.wls.continuous_dpp_law",
    paper=PAPER, kind="derived",
    statement=("The chain rule with rejection samples the continuous projection DPP of a basis "
               "exactly, and its proposal samples the optimal density k_m/m."),
    witnesses=("exact", "simulated"),
    quick={"settings": ((2, 8), (3, 5)), "draws": 2500, "density_draws": 4000},
    full={"settings": ((2, 10), (3, 6), (4, 4)), "draws": 60000, "density_draws": 100000},
)
def continuous_dpp_law(ctx, settings, draws, density_draws):
    from toytheory.sampling.bases import legendre_basis
    from toytheory.sampling.continuous_dpp import (sample_continuous_projection_dpp,
                                                   sample_optimal_density)
    from toytheory.sampling.interpolation import (cell_multiset, continuous_dpp_cell_law,
                                                  optimal_density_cdf)

    ev = ctx.evidence()
    tests = []
    for m, bins in settings:
        basis = legendre_basis(m)
        edges = np.linspace(-1.0, 1.0, bins + 1)
        cells, probs = continuous_dpp_cell_law(basis, edges)
        ev.close(f"m = {m}: total probability of the bin multisets", float(probs.sum()), 1.0,
                 atol=1e-12)
        index = {c: i for i, c in enumerate(cells)}
        counts = np.zeros(len(cells), dtype=np.int64)
        gen = ctx.rng(f"dpp {m}")
        for _ in range(draws):
            counts[index[cell_multiset(sample_continuous_projection_dpp(basis, rng=gen),
                                       edges)]] += 1
        tests.append(stats.chisquare_gof(counts, probs / probs.sum(), LEVEL))
        basis_d = legendre_basis(m + 3)
        x = sample_optimal_density(basis_d, density_draws, rng=ctx.rng(f"density {m}"))
        tests.append(stats.ks_1samp(x[:, 0], lambda t, b=basis_d: optimal_density_cdf(b, t),
                                    LEVEL))
    ev.test(f"bin-multiset counts vs exact DPP law and optimal-density KS ({len(tests)} tests, "
            "Holm)", stats.holm(tests, LEVEL), headline=True)
    return ev


# ----------------------------------------------------------------------------- quasi-optimality

@register_figure("sampling.wls_error_ratio",
                 caption="Weighted least squares: error over best approximation error against "
                         "n/m for four sampling schemes")
def wls_figure(seed: int = 0, m: int = 8, ratios=(1, 2, 3, 4), draws: int = 150,
               function: str = "runge"):
    from matplotlib.figure import Figure

    basis, f = _setting(function, m)
    rng = np.random.default_rng(seed)
    fig = Figure(figsize=(6, 3.5))
    ax = fig.add_subplot()
    for scheme, mk in (("iid", "o"), ("volume_rescaled", "s"), ("repeated_dpp", "^")):
        xs, med, q90 = [], [], []
        for r in ratios:
            n = r * m
            vals = error_ratios(basis, f, scheme, n, draws, rng)
            xs.append(r)
            med.append(np.median(vals))
            q90.append(np.quantile(vals, 0.9))
        ax.semilogy(xs, med, mk + "-", label=f"{scheme} (median)")
        ax.semilogy(xs, q90, mk + ":", color=ax.lines[-1].get_color(), lw=0.8)
    dpp = error_ratios(basis, f, "dpp", m, draws, rng)
    ax.semilogy([1], [np.median(dpp)], "k*", label="projection DPP (median)")
    ax.axhline(m + 1, color="k", lw=0.6, ls="--", label="m + 1 (DPP mean)")
    ax.set_xlabel("n / m")
    ax.set_ylabel("||f - f_hat||^2 / ||f - P_m f||^2")
    ax.set_title(f"{f.name}, m = {m} (dotted: 90% quantile)", fontsize=9)
    ax.legend(fontsize=6)
    return fig


GROWTH = 0.25      # a growth exponent the statement tolerates: m^0.25 over 3..16 is x1.5


def basis_m(fname, m):
    """The dimension of the space the setting uses for a requested m."""
    return _setting(fname, m)[0].m


@claim(
    "sampling.wls.quasi_optimality_m_log_m",
    paper=PAPER, kind="paper",
    statement=("With n ~ m log m points, volume-rescaled sampling and independent repetitions "
               "of projection DPPs are quasi-optimal: the error ratio "
               "||f - f_hat||^2 / ||f - P_m f||^2 does not grow with m."),
    source=ABSTRACT_QUASI + " (abstract); " + ABSTRACT_REPEATED,
    reading=("The constant is not given, so the toy reads 'bounded by a constant' as no "
             "growth in m: the exponent of the median error ratio in m over m in 3..16 (5x), "
             "fitted with one intercept per (function, scheme), must be at most 0.25 at "
             "level 1e-6, the least-squares slope of the true medians held by its range "
             "over exact simultaneous order-statistic intervals of the medians (valid for "
             "any tail, no normal-error model). The median is used because the ratio is "
             "heavy-tailed; by Markov, a bounded expectation bounds the median by twice "
             "it, so growth of the median contradicts the statement, while a bounded "
             "median is weaker than a bounded mean (the toy is weaker than the source "
             "there). An i.i.d. control at n = m shows the check detects growth."),
    witnesses=("exact", "simulated"),
    quick={"ms": (3, 4, 6, 8, 12, 16), "functions": ("runge", "abs"), "draws": 200,
           "control_draws": 600},
    full={"ms": (3, 4, 6, 8, 12, 16, 24, 32, 48), "functions": ("runge", "abs", "smooth_2d"),
          "draws": 1000, "control_draws": 4000},
    timeout={"full": 7200},
)
def quasi_optimality(ctx, ms, functions, draws, control_draws):
    from toytheory.sampling.sample_complexity import fit_exponent

    ev = ctx.evidence()
    from toytheory.stats import median_interval

    xs, ys, groups, means, samples = [], [], [], [], []
    control = {}
    for fname in functions:
        for m in ms:
            basis, f = _setting(fname, m)
            m = basis.m
            reps = max(1, math.ceil(math.log(m)))
            if m in (basis_m(fname, ms[0]), basis_m(fname, ms[-1])):
                iid = error_ratios(basis, f, "iid", m, control_draws, ctx.rng(fname, "iid", str(m)))
                control[(fname, m)] = median_interval(iid, LEVEL / (2 * len(functions)))
            for scheme, n in (("volume_rescaled", max(m, math.ceil(m * math.log(m)))),
                              ("repeated_dpp", reps * m)):
                vals = error_ratios(basis, f, scheme, n, draws, ctx.rng(fname, scheme, str(m)))
                samples.append(vals)
                xs.append(m)
                ys.append(float(np.median(vals)))
                means.append(float(vals.mean()))
                groups.append(f"{fname}/{scheme}")
    span = max(xs) / min(xs)
    ev.at_least("span of m (max / min)", span, 5.0)
    # witness: the same toy sees growth where there is some (i.i.d. at n = m is not
    # quasi-optimal): a distribution-free lower bound on its growth exponent, from
    # order-statistic intervals of the median at the smallest and largest m
    lows = []
    for fname in functions:
        m0, m1 = basis_m(fname, ms[0]), basis_m(fname, ms[-1])
        lows.append(np.log(control[(fname, m1)][0] / control[(fname, m0)][1]) / np.log(m1 / m0))
    ev.at_least("control: distribution-free lower bound on the growth exponent of the median "
                "ratio of i.i.d. sampling at n = m (not quasi-optimal)", min(lows), GROWTH,
                note="order-statistic median intervals at the smallest and largest m, "
                     f"Bonferroni at {LEVEL:g}: the check can see growth")
    fit = fit_exponent(np.array(xs, float), np.array(ys), groups=groups, level=LEVEL)
    # the statement: exact simultaneous median intervals (order statistics, Bonferroni over
    # the points) and the range of the least-squares slope over that box; no error model
    box = [median_interval(v, LEVEL / len(samples)) for v in samples]
    lo, hi = stats.box_slope_interval(xs, box, groups=groups)
    # witness: log-linearity checked, not assumed: the slope's range over the lower and the
    # upper half of m, same box (joint coverage 1 - LEVEL), must overlap
    local = stats.local_box_slopes(xs, box, groups=groups)
    ev.at_most("log-linearity: gap between the local growth exponents over the lower and "
               "upper half of m (<= 0: their ranges overlap)", local["gap"], 0.0,
               note=f"lower half [{local['lower'][0]:.3f}, {local['lower'][1]:.3f}], upper "
                    f"half [{local['upper'][0]:.3f}, {local['upper'][1]:.3f}] (same "
                    "order-statistic box)")
    centre, half = (lo + hi) / 2, (hi - lo) / 2
    decide = (int(math.ceil(1.2 * draws * (half / (GROWTH - centre)) ** 2))
              if lo <= GROWTH <= hi and centre != GROWTH else None)
    ev.interval(f"growth exponent of the median error ratio in m (at most {GROWTH})",
                fit.slope, (lo, hi), GROWTH, side="<=", level=LEVEL, headline=True,
                detectable=f"growth faster than m^{GROWTH + hi - fit.slope:.2f}",
                decide_n=decide,
                note=f"least-squares slope of the log medians, one intercept per (function, "
                     f"scheme); interval = its range over exact order-statistic intervals of "
                     f"the {len(samples)} medians ({draws} draws each, Bonferroni at "
                     f"{LEVEL:g}): valid for any tail, no model of the errors")
    ev.record("same slope, OLS t-interval (normal errors assumed; not held)",
              f"{fit.slope:.3f} in [{fit.interval[0]:.3f}, {fit.interval[1]:.3f}]")
    ev.record("largest median error ratio", max(ys))
    ev.record("largest mean error ratio (heavy-tailed; not held)", max(means))
    ev.figure("ratios", wls_figure(ctx.seed_for("figure"), m=6, ratios=(1, 2, 3),
                                   draws=25 if ctx.tier == "quick" else 400),
              caption="median (solid) and 90% quantile (dotted) of the error ratio")
    ev.note("Volume-rescaled sampling uses n = ceil(m log m) points; repeated DPPs use "
            "ceil(log m) independent projection DPPs of m points. The range of m was 4..8 "
            "before issue 13 (too narrow to see growth); it is now 3..16 in quick and 3..48 "
            "in full.")
    return ev


@claim(
    "sampling.wls.repetitions_advantage",
    paper=PAPER, kind="paper", source=ABSTRACT_REPEATED + " (abstract)",
    reading=("'In practice with a much lower number of samples' is read at equal numbers of "
             "points: repeated DPPs reach quasi-optimality (error ratio <= 2) more often than "
             "i.i.d. optimal sampling, decided by an exact two-sample test at 1e-6. This is "
             "the practical comparison the sentence makes, not its error bound."),
    statement=("At equal numbers of points, independent repetitions of projection DPPs give "
               "quasi-optimal weighted least squares more often than i.i.d. optimal sampling."),
    witnesses=("simulated",),
    quick={"m": 6, "repetitions": 2, "draws": 300, "threshold": 2.0, "function": "runge"},
    full={"m": 10, "repetitions": 2, "draws": 5000, "threshold": 2.0, "function": "runge"},
)
def repetitions_advantage(ctx, m, repetitions, draws, threshold, function):
    ev = ctx.evidence()
    basis, f = _setting(function, m)
    n = repetitions * m
    rep = error_ratios(basis, f, "repeated_dpp", n, draws, ctx.rng("repeated"))
    iid = error_ratios(basis, f, "iid", n, draws, ctx.rng("iid"))
    good_rep, good_iid = int(np.sum(rep <= threshold)), int(np.sum(iid <= threshold))
    test = stats.chisquare_two_sample(np.array([good_rep, draws - good_rep]),
                                      np.array([good_iid, draws - good_iid]), LEVEL)
    ev.test(f"P(ratio <= {threshold:g}) differs: repeated DPP {good_rep}/{draws} vs i.i.d. "
            f"{good_iid}/{draws}", test, expect="reject", role="statement", headline=True,
            detectable=f"a difference in P(ratio <= {threshold:g}) of about "
                       f"{5.0 * math.sqrt(0.5 / draws):.2f} (5 sd at level 1e-6)")
    ev.at_least("P(ratio <= 2): repeated DPP minus i.i.d.", (good_rep - good_iid) / draws, 0.0,
                role="statement")
    ev.record("median ratio, repeated DPP", float(np.median(rep)))
    ev.record("median ratio, i.i.d. optimal", float(np.median(iid)))
    ev.note(f"m = {m}, n = {n} points, f = {f.name}; both schemes use the weights m/k_m and "
            "no conditioning.")
    return ev
