"""Feynman–Kac correctors on Gaussian data: the naive mixed-score sampler misses the annealed
and product targets (exactly), and FKC's weighted, resampled SDE hits them."""

from __future__ import annotations

import numpy as np

from toytheory import stats
from toytheory.claims import claim
from toytheory.figures import register_figure

PAPER = "Feynman-Kac Correctors in Diffusion: Annealing, Guidance, and Product of Experts"
LEVEL = 1e-6
ANNEALED = dict(mean=[1.0], cov=[[0.25]])
PRODUCT = dict(mean1=[1.0, 0.0], cov1=[[1.0, 0.0], [0.0, 0.5]],
               mean2=[0.0, 1.0], cov2=[[0.6, 0.2], [0.2, 0.8]])


def _paths(cases, beta):
    from toytheory.diffusion.fkc import annealed_path, product_path
    from toytheory.diffusion.schedules import VPLinear

    sch = VPLinear()
    out = {}
    if "annealed" in cases:
        out[f"annealed beta={beta:g}"] = annealed_path(sch, beta=beta, **ANNEALED)
    if "product" in cases:
        out["product of experts (2-D)"] = product_path(sch, **PRODUCT)
    return out


def _whitened_ks(points, mean, cov, level):
    """KS of whitened coordinates against N(0, 1) and of the squared radius against chi^2_d
    (Holm): an exact-law test of iid points."""
    from scipy.stats import chi2, norm

    z = (points - mean) @ np.linalg.inv(np.linalg.cholesky(cov)).T
    d = z.shape[1]
    pv = [stats.ks_1samp(z[:, j], norm.cdf, level).pvalue for j in range(d)]
    pv.append(stats.ks_1samp((z * z).sum(1), chi2(d).cdf, level).pvalue)
    return stats.holm(pv, level), z


@claim(
    "diffusion.guided.fkc_naive_misses_target",
    paper=PAPER,
    kind="derived",
    statement=("On Gaussian data, the reverse SDE run with the annealed score beta s_t "
               "(beta = 2) or with the summed score s1 + s2 of two experts, started from "
               "the exact target at t = 1, does not output the target p^beta or p1 p2: "
               "its exact Gaussian output law is at KL >= 0.01 from it."),
    reading=("Exact: the naive drift is affine, so its output law is Gaussian, with moments "
             "from the moment ODEs (DOP853, rtol 1e-10) on VP-linear (0.1, 20); the target is "
             "the Gaussian product in closed form. This is the gap the paper's correctors "
             "exist to close (its abstract: mixed scores 'do not approximate the "
             "intermediate distributions')."),
    witnesses=("exact", "simulated"),
    quick={"cases": ("annealed", "product"), "beta": 2.0, "n_sim": 20_000, "sim_steps": 50},
    full={"cases": ("annealed", "product"), "beta": 2.0, "n_sim": 200_000, "sim_steps": 200},
)
def naive_misses_target(ctx, cases, beta, n_sim, sim_steps):
    from toytheory.diffusion import fkc
    from toytheory.diffusion.schedules import VPLinear

    ev = ctx.evidence()
    one = fkc.annealed_path(VPLinear(), beta=1.0, **ANNEALED)
    m1, c1 = fkc.naive_output_law(one)
    ev.at_most("beta = 1: moment ODE output vs the data law N(1, 0.25) (max abs)",
               max(abs(m1[0] - 1.0), abs(c1[0, 0] - 0.25)), 1e-7)
    paths = _paths(cases, beta)
    laws = {}
    for name, path in paths.items():
        mt, ct = path.target(0.0)
        mn, cn = fkc.naive_output_law(path)
        me, ce = fkc.euler_maruyama_law(path, 1600)
        ev.at_most(f"{name}: Euler-Maruyama law (1600 steps) vs moment ODE (max abs)",
                   max(np.abs(me - mn).max(), np.abs(ce - cn).max()), 2e-3)
        laws[name] = (mt, ct, mn, cn)
    pvals = []
    rng = ctx.rng("naive-em")
    for name, path in paths.items():
        x, _ = fkc.fkc_simulate(path, n_sim, sim_steps, rng, weighted=False)
        me, ce = fkc.euler_maruyama_law(path, sim_steps)
        pvals.append(_whitened_ks(x[0], me, ce, LEVEL)[0].pvalue)
    ev.test("Euler-Maruyama particles vs their exact affine law (whitened KS, Holm)",
            stats.holm(pvals, LEVEL), expect="accept")
    kls = {}
    for name, (mt, ct, mn, cn) in laws.items():
        kls[name] = fkc.kl_gaussian(mn, cn, mt, ct)
        ev.record(f"{name}: target mean / cov", f"{np.round(mt, 4).tolist()} / "
                  f"{np.round(ct, 4).tolist()}",
                  note=f"naive: {np.round(mn, 4).tolist()} / {np.round(cn, 4).tolist()}")
    for b in (0.5, 1.5, 2.0, 4.0):
        p = fkc.annealed_path(VPLinear(), beta=b, **ANNEALED)
        ev.record(f"KL(naive || target), annealed 1-D, beta = {b:g}",
                  fkc.kl_gaussian(*fkc.naive_output_law(p), *p.target(0.0)))
    for g in (0.25, 0.5, 0.75):
        # geometric average p1^g p2^(1-g) of the two 2-D experts; for w in [0, 1] this is
        # also the CFG law p(x|c)^w p(x)^(1-w) with expert 1 as p(x|c)
        p = fkc.geometric_path(VPLinear(), gamma=g, **PRODUCT)
        ev.record(f"KL(naive || target), geometric / CFG 2-D, gamma = w = {g:g}",
                  fkc.kl_gaussian(*fkc.naive_output_law(p), *p.target(0.0)))
    worst = min(kls, key=kls.get)
    ev.at_least(f"min KL(naive output || target) ({worst})", kls[worst], 0.01,
                role="statement", headline=True)
    if kls[worst] < 0.01:
        ev.referee_note(
            says="Mixed scores do not approximate the intermediate distributions.",
            toy=f"Gaussian data, {worst}, VP-linear schedule.",
            measured=f"exact KL(naive || target) = {kls[worst]:.3g} < 0.01.",
            inside="Gaussian data are a special case of the paper's setting.",
            would_change="beta != 1 or two distinct experts.")
    return ev


@claim(
    "diffusion.guided.fkc_samples_target",
    paper=PAPER,
    kind="paper",
    statement=("On 1-D Gaussian data annealed to p^2, a particle drawn from the output of "
               "FKC's weighted SDE with systematic resampling follows the exact target "
               "p^2 (no detectable difference at level 1e-6 with 4000 independent runs)."),
    source=('Abstract: "In this work, we provide an efficient and principled method for '
            'sampling from a sequence of annealed, geometric-averaged, or product '
            'distributions derived from pretrained score-based models."'),
    reading=("FKC weights d log w = [d_tau log pi + div v + <v, grad log pi> - g^2/2 "
             "(Lap log pi + |grad log pi|^2)] d tau (REFERENCE.md section 3) on the naive "
             "reverse SDE (drift -f x + g^2 beta s_t), exact scores of N(1, 0.25) on VP-linear, "
             "Euler-Maruyama with 100 steps, 128 particles per run, resampled when ESS < n/2. "
             "One particle per run is drawn from the weighted output, so the 4000 draws are "
             "iid from the sampler's law and a KS test (whitened coordinate and squared "
             "radius, Holm) is exact. Sharper than 'approximately': finite particles and "
             "steps leave an O(1/n) + O(h) bias, here below the test's reach; the same test "
             "must reject the naive sampler (power witness). The 2-D product of experts is "
             "left out of the statement: at 128 particles its weighted draws keep a visible "
             "SMC bias (whitened variance ratio 0.96-0.98 over seeds 0..2, KS p-values down "
             "to 1e-3 at 4000 runs), which a larger run would detect; its naive gap is "
             "exact in diffusion.guided.fkc_naive_misses_target."),
    witnesses=("exact", "simulated"),
    quick={"cases": ("annealed",), "n_runs": 4000, "n_particles": 128, "n_steps": 100,
           "weighted": True},
    full={"cases": ("annealed",), "n_runs": 8000, "n_particles": 512, "n_steps": 100,
          "weighted": True},
)
def fkc_samples_target(ctx, cases, n_runs, n_particles, n_steps, weighted):
    from scipy.stats import kstwo

    from toytheory.diffusion import fkc

    ev = ctx.evidence()
    paths = _paths(cases, 2.0)
    # exact witness: the weight rate solves the Feynman-Kac PDE of the target path,
    # checked by finite differences of the target density (independent of the formula)
    rng = ctx.rng("pde-points")
    worst = 0.0
    for path in paths.values():
        for t in (0.05, 0.3, 0.7):
            mt, ct = path.target(t)
            x = mt + rng.standard_normal((6, path.dim)) @ np.linalg.cholesky(ct).T
            worst = max(worst, _pde_residual(path, x, t))
    ev.at_most("FKC weight rate vs the Feynman-Kac PDE by finite differences (max rel.)",
               worst, 1e-4)
    draws, naive = {}, {}
    rng = ctx.rng("smc")
    for name, path in paths.items():
        for mode, store in ((weighted, draws), (False, naive)):
            x, lw = fkc.fkc_simulate(path, n_particles, n_steps, rng, n_runs=n_runs,
                                     weighted=mode)
            w = np.exp(lw - lw.max(axis=1, keepdims=True))
            w /= w.sum(axis=1, keepdims=True)
            pick = (np.cumsum(w, axis=1) < rng.random((n_runs, 1))).sum(1)
            store[name] = x[np.arange(n_runs), pick.clip(0, n_particles - 1)]
    naive_res = []
    for name, path in paths.items():
        mt, ct = path.target(0.0)
        naive_res.append(_whitened_ks(naive[name], mt, ct, LEVEL)[0].pvalue)
    ev.test("power: the same test rejects the naive sampler (Holm)",
            stats.holm(naive_res, LEVEL), expect="reject")
    res = []
    for name, path in paths.items():
        mt, ct = path.target(0.0)
        r, z = _whitened_ks(draws[name], mt, ct, LEVEL)
        res.append(r.pvalue)
        ev.record(f"{name}: FKC draws' variance / target variance (whitened)",
                  float(z.var(axis=0).mean()))
    crit = float(kstwo.isf(LEVEL / (len(paths) * 2), n_runs))
    fam = stats.holm(res, LEVEL)
    ev.test("FKC output vs the exact target (whitened KS, Holm)", fam, expect="accept",
            role="statement", headline=True,
            detectable=(f"a KS distance above about {crit:.3f} (whitened coordinate or "
                        f"squared radius) is rejected; the naive law is at 0.1 in the radius"))
    if fam.verdict != "accept":
        ev.referee_note(
            says="FKC samples the annealed, geometric-averaged or product distributions.",
            toy="1-D Gaussian data N(1, 0.25) annealed to p^2, VP-linear schedule.",
            measured=f"KS of FKC draws against the exact target rejected at {LEVEL:g}.",
            inside="exact scores; the target path is Gaussian in closed form.",
            would_change="more particles or steps (the O(1/n) + O(h) bias).")
    return ev


def _pde_residual(path, x, t, eps=1e-4):
    """Relative residual of  d_tau pi + div(pi v) - g^2/2 Lap pi - pi G  at points ``x``,
    derivatives of pi by central differences (forward time t, tau = T - t)."""
    from toytheory.diffusion import fkc

    def pi(y, s):
        return np.exp(path.log_target(y, s))

    def v(y, s):
        A, a = path.reverse_drift_affine(s)
        return y @ A.T + a

    d = path.dim
    g2 = float(path.schedule.diffusion_sq(t))
    p0 = pi(x, t)
    d_tau = -(pi(x, t + eps) - pi(x, t - eps)) / (2 * eps)
    div, lap = 0.0, 0.0
    for i in range(d):
        e = np.zeros(d)
        e[i] = eps
        div = div + (pi(x + e, t) * v(x + e, t)[:, i]
                     - pi(x - e, t) * v(x - e, t)[:, i]) / (2 * eps)
        lap = lap + (pi(x + e, t) - 2 * p0 + pi(x - e, t)) / eps ** 2
    G = fkc.fkc_log_weight_rate(path, x, t)
    lhs = d_tau + div - 0.5 * g2 * lap
    scale = np.abs(d_tau) + np.abs(div) + 0.5 * g2 * np.abs(lap) + np.abs(p0 * G)
    return float(np.max(np.abs(lhs - p0 * G) / scale))


def _central_mass(x, lw, mean, cov):
    """Per run: the weighted mass of |z| <= 1 (z the whitened coordinate), in [0, 1]."""
    z = (x[..., 0] - mean[0]) / np.sqrt(cov[0, 0])
    w = np.exp(lw - lw.max(axis=1, keepdims=True))
    w /= w.sum(axis=1, keepdims=True)
    return np.clip((w * (np.abs(z) <= 1.0)).sum(axis=1), 0.0, 1.0)  # rounding


def _abs_interval(lo, hi, ref):
    """Interval for |theta - ref| from an interval (lo, hi) for theta."""
    a, b = lo - ref, hi - ref
    return (0.0 if a <= 0.0 <= b else min(abs(a), abs(b))), max(abs(a), abs(b))


@claim(
    "diffusion.guided.fkc_error_falls_with_particles",
    paper=PAPER,
    kind="paper",
    statement=("On 1-D Gaussian data annealed to p^2, the bias of FKC's self-normalised "
               "estimate of the target mass P(|z| <= 1) is smaller with 64 particles than "
               "with 4."),
    source=('Abstract: "To simulate these PDEs, we propose Sequential Monte Carlo (SMC) '
            'resampling algorithms that leverage inference-time scaling to improve sampling '
            'quality."'),
    reading=("Inference-time scaling is read as: more particles, less error. The error is "
             "the bias |E F_n - F*| of the weighted mass of the target's central interval "
             "(F* = 2 Phi(1) - 1, exact), over independent SMC runs; each run's F_n lies in "
             "[0, 1], so empirical-Bernstein intervals (Maurer-Pontil, level 1e-6 split "
             "Bonferroni over the two sizes) are valid. Holds when the interval of "
             "|bias(4)| - |bias(64)| lies above 0. Same sampler as "
             "diffusion.guided.fkc_samples_target (100 Euler-Maruyama steps, ESS < n/2)."),
    witnesses=("exact", "simulated"),
    quick={"n_small": 4, "n_large": 64, "n_runs": 15_000, "n_steps": 100},
    full={"n_small": 4, "n_large": 256, "n_runs": 30_000, "n_steps": 100},
)
def fkc_error_falls_with_particles(ctx, n_small, n_large, n_runs, n_steps):
    from scipy.stats import norm

    from toytheory.diffusion import fkc

    ev = ctx.evidence()
    path = _paths(("annealed",), 2.0)["annealed beta=2"]
    rng = ctx.rng("pde-points")
    mt, ct = path.target(0.3)
    x = mt + rng.standard_normal((6, 1)) * np.sqrt(ct[0, 0])
    ev.at_most("FKC weight rate vs the Feynman-Kac PDE by finite differences (max rel.)",
               _pde_residual(path, x, 0.3), 1e-4)
    mt, ct = path.target(0.0)
    exact = float(2 * norm.cdf(1.0) - 1)
    rng = ctx.rng("smc")
    # witness: unweighted particles estimate the Euler-Maruyama chain's exact mass
    x, lw = fkc.fkc_simulate(path, n_small, n_steps, rng, n_runs=n_runs, weighted=False)
    me, ce = fkc.euler_maruyama_law(path, n_steps)
    sd = np.sqrt(ce[0, 0])
    lo_z, hi_z = mt[0] - np.sqrt(ct[0, 0]), mt[0] + np.sqrt(ct[0, 0])
    em_mass = float(norm.cdf((hi_z - me[0]) / sd) - norm.cdf((lo_z - me[0]) / sd))
    ev.test("unweighted particles vs the exact Euler-Maruyama law's mass (Bernstein)",
            stats.bounded_mean_test(_central_mass(x, lw, mt, ct), em_mass, 0.0, 1.0, LEVEL),
            expect="accept")
    half = LEVEL / 2
    bias = {}
    for n in (n_small, n_large):
        x, lw = fkc.fkc_simulate(path, n, n_steps, rng, n_runs=n_runs)
        f = _central_mass(x, lw, mt, ct)
        lo, hi = stats.bounded_mean_interval(f, 0.0, 1.0, half)
        bias[n] = (abs(float(f.mean()) - exact), _abs_interval(lo, hi, exact))
        ev.record(f"n = {n}: |bias| of the weighted central mass", bias[n][0],
                  note=f"interval [{bias[n][1][0]:.4f}, {bias[n][1][1]:.4f}] at {half:g}")
    (b_s, (ls, us)), (b_l, (ll, ul)) = bias[n_small], bias[n_large]
    verdict_interval = (ls - ul, us - ll)
    num = ev.interval(f"|bias| at n = {n_small} minus |bias| at n = {n_large}", b_s - b_l,
                      verdict_interval, 0.0, side=">=", level=LEVEL, headline=True,
                      detectable=("a bias drop above the sum of the two interval widths "
                                  f"(~{(us - ls) + (ul - ll):.3f})"))
    if num.passed is not True:
        ev.referee_note(
            says="SMC resampling leverages inference-time scaling to improve sampling quality.",
            toy="1-D Gaussian data annealed to p^2, exact scores, VP-linear schedule.",
            measured=(f"|bias| {b_s:.4f} at n = {n_small} vs {b_l:.4f} at n = {n_large}; "
                      f"difference interval [{verdict_interval[0]:.4f}, "
                      f"{verdict_interval[1]:.4f}] at {LEVEL:g}."),
            inside="exact scores; the target is Gaussian in closed form.",
            would_change="more runs (narrower intervals) or other particle counts.")
    return ev


@register_figure("diffusion.guided_fkc_annealed",
                 caption=("Annealed N(1, 0.25) to p^2: exact target, the naive sampler's exact "
                          "law, and one draw per FKC run (2000 runs of 64 particles)"))
def fkc_annealed_figure(seed: int = 0):
    from matplotlib.figure import Figure
    from scipy.stats import norm

    from toytheory.diffusion import fkc

    path = _paths(("annealed",), 2.0)["annealed beta=2"]
    rng = np.random.default_rng(seed)
    x, lw = fkc.fkc_simulate(path, 64, 100, rng, n_runs=2000)
    w = np.exp(lw - lw.max(axis=1, keepdims=True))
    w /= w.sum(axis=1, keepdims=True)
    pick = (np.cumsum(w, axis=1) < rng.random((2000, 1))).sum(1).clip(0, 63)
    draws = x[np.arange(2000), pick, 0]
    mt, ct = path.target(0.0)
    mn, cn = fkc.naive_output_law(path)
    grid = np.linspace(-0.5, 2.5, 300)
    fig = Figure(figsize=(5, 3.2))
    ax = fig.add_subplot()
    ax.hist(draws, bins=50, density=True, alpha=0.4, label="FKC draws")
    ax.plot(grid, norm.pdf(grid, mt[0], np.sqrt(ct[0, 0])), label="target p^2 (exact)")
    ax.plot(grid, norm.pdf(grid, mn[0], np.sqrt(cn[0, 0])), "--", label="naive (exact law)")
    ax.set_xlabel("x")
    ax.legend(frameon=False)
    return fig
