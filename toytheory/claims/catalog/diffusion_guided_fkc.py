"""Feynman–Kac correctors on Gaussian data: the naive mixed-score sampler misses the annealed
and product targets (exactly), and FKC's weighted, resampled SDE hits them."""

from __future__ import annotations

import numpy as np

from toytheory import stats
from toytheory.claims import claim
from toytheory.figures import register_figure

PAPER = "Feynman-Kac Correctors in Diffusion: Annealing, Guidance, and Product of Experts"
LEVEL = 1e-6
PERMUTATIONS = 1_000_000   # the fewest that let the energy test reject at LEVEL (1/LEVEL - 1)
ANNEALED = dict(mean=[1.0], cov=[[0.25]])
PRODUCT = dict(mean1=[1.0, 0.0], cov1=[[1.0, 0.0], [0.0, 0.5]],
               mean2=[0.0, 1.0], cov2=[[0.6, 0.2], [0.2, 0.8]])
# classifier-free guidance on 2-D Gaussian data: the conditional law is narrower than the
# unconditional one in every direction (S_c <= S_u), so p(x|c)^w p(x)^(1-w) is a
# normalisable Gaussian for every w (fkc.cfg_max_scale = inf) and at every t
CFG = dict(cond_mean=[1.0, 0.5], cond_cov=[[0.4, 0.1], [0.1, 0.3]],
           uncond_mean=[0.0, 0.0], uncond_cov=[[1.0, 0.3], [0.3, 0.8]])


def _paths(cases, beta, w=2.0):
    from toytheory.diffusion.fkc import annealed_path, cfg_path, product_path
    from toytheory.diffusion.schedules import VPLinear

    sch = VPLinear()
    out = {}
    if "annealed" in cases:
        out[f"annealed beta={beta:g}"] = annealed_path(sch, beta=beta, **ANNEALED)
    if "product" in cases:
        out["product of experts (2-D)"] = product_path(sch, **PRODUCT)
    if "cfg" in cases:
        out[f"CFG w={w:g} (2-D)"] = cfg_path(sch, w=w, **CFG)
    return out


def _one_per_run(x, lw, rng):
    """Multinomial resampling of one particle per run by its normalised FKC weight: the
    ``(R, d)`` draws are iid from the sampler's (weighted) output law."""
    w = np.exp(lw - lw.max(axis=1, keepdims=True))
    w /= w.sum(axis=1, keepdims=True)
    pick = (np.cumsum(w, axis=1) < rng.random((x.shape[0], 1))).sum(1)
    return x[np.arange(x.shape[0]), pick.clip(0, x.shape[1] - 1)]


def _backend_draws(backend, path, n_runs, n_particles, n_steps, seed, rng, weighted=True):
    """One resampled draw per run from the Numba or torch (CPU, one thread) FKC simulator of
    sims/diffusion_guided_fkc.py (weights written from the definition, not fkc.py's)."""
    from sims import diffusion_guided_fkc as sims

    grid = np.linspace(path.t_max, 0.0, n_steps + 1)
    run = sims.fkc_smc_numba if backend == "numba" else sims.fkc_smc_torch
    x, lw = run(path, n_particles, grid, seed, n_runs=n_runs, weighted=weighted)
    return _one_per_run(x, lw, rng)


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
               "(beta = 2), with the summed score s1 + s2 of two experts, or with the "
               "classifier-free-guidance score w s(x|c) + (1 - w) s(x) (w = 2), started from "
               "the exact target at t = 1, does not output the target p^beta, p1 p2 or "
               "p(x|c)^w p(x)^(1-w): its exact Gaussian output law is at KL >= 0.01 from it."),
    reading=("Exact: the naive drift is affine, so its output law is Gaussian, with moments "
             "from the moment ODEs (DOP853, rtol 1e-10) on VP-linear (0.1, 20); the target is "
             "the Gaussian product in closed form. This is the gap the paper's correctors "
             "exist to close (its abstract: mixed scores 'do not approximate the "
             "intermediate distributions'). The CFG case is classifier-free guidance run as "
             "an SDE, the score w s_t(x|c) + (1 - w) s_t(x) at every noise level, on 2-D "
             "Gaussians with S_c <= S_u (so the CFG law is normalisable for every w, "
             "fkc.cfg_max_scale)."),
    witnesses=("exact", "simulated"),
    quick={"cases": ("annealed", "product", "cfg"), "beta": 2.0, "n_sim": 20_000,
           "sim_steps": 50},
    full={"cases": ("annealed", "product", "cfg"), "beta": 2.0, "n_sim": 200_000,
          "sim_steps": 200},
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
    for w in (1.5, 2.0, 3.0, 5.0):
        # CFG with w > 1: the unconditional exponent 1 - w is negative
        p = fkc.cfg_path(VPLinear(), w=w, **CFG)
        ev.record(f"KL(naive CFG || target p(x|c)^w p(x)^(1-w)), 2-D, w = {w:g}",
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
             "must reject the naive sampler (power witness). Independent witnesses: the Numba and "
             "torch (CPU, one thread) simulators of sims/diffusion_guided_fkc.py, whose weight "
             "rate is written from the definition with finite differences in t and whose "
             "normals are their own, pass the same test at the same size. The 2-D product of experts is "
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
            store[name] = _one_per_run(x, lw, rng)
    # independent witnesses: the Numba and torch simulators (their own weight code, their
    # own random streams), weighted and resampled the same way, against the exact target
    for backend in ("numba", "torch"):
        pv = []
        for name, path in paths.items():
            mt, ct = path.target(0.0)
            d = _backend_draws(backend, path, n_runs, n_particles, n_steps,
                               ctx.seed_for("backend", backend, name), rng)
            pv.append(_whitened_ks(d, mt, ct, LEVEL)[0].pvalue)
        ev.test(f"{backend} FKC simulator's resampled draws vs the exact target "
                f"(whitened KS, Holm)", stats.holm(pv, LEVEL), expect="accept")
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


@claim(
    "diffusion.guided.fkc_cfg_samples_target",
    paper=PAPER,
    kind="paper",
    statement=("On 2-D Gaussian data with classifier-free guidance scale w = 2, particles "
               "resampled by their weights from FKC's weighted SDE (systematic resampling "
               "along the way) follow the CFG law p(x|c)^2 p(x)^-1 (no detectable difference "
               "at level 1e-6, whitened KS and an energy two-sample test against exact "
               "draws), where the naive CFG sampler's output law is at KL 0.06 from it."),
    source=('Abstract: "Existing classifier-free guidance methods use a simple heuristic to '
            'mix conditional and unconditional scores to approximately sample from '
            'conditional distributions. However, such methods do not approximate the '
            'intermediate distributions, necessitating additional \'corrector\' steps." and '
            '"improving classifier-free guidance for text-to-image generation".'),
    reading=("The CFG target is the geometric average p(x|c)^w p(x)^(1-w) with w > 1, a "
             "negative exponent on p(x); on the diffusion path the target is "
             "p_t(x|c)^w p_t(x)^(1-w) (the law whose score CFG uses). Data: "
             "p(x|c) = N((1, 0.5), [[0.4, 0.1], [0.1, 0.3]]), p(x) = N(0, [[1, 0.3], "
             "[0.3, 0.8]]), S_c <= S_u, so the CFG law is a normalisable Gaussian for every w "
             "and every t (fkc.cfg_max_scale; in general only for w < mu/(mu - 1), mu the top "
             "eigenvalue of S_u^-1 S_c, and the bound binds at t = 0). FKC weights from "
             "REFERENCE.md section 3: the formula is an identity of the Fokker-Planck "
             "equation for any positive smooth path, the sign of the exponents does not "
             "enter, which the PDE witness checks on this path. VP-linear, 100 "
             "Euler-Maruyama steps, 128 particles per run, resampled when ESS < n/2; one "
             "particle per run drawn by its weight (multinomial), so the draws are iid from "
             "the sampler's law: whitened KS (two coordinates and the squared radius, Holm) "
             "on all runs, and the energy-distance permutation test of the first n_energy "
             "draws against as many exact draws of the target. Witnesses: the closed-form "
             "CFG Gaussian of targets.py, the PDE residual, the Numba and torch simulators "
             "(independent weight code and streams) passing the same tests, and the power "
             "of the KS test against the naive sampler. Sharper than the abstract's "
             "'improving': finite particles leave an O(1/n) bias (whitened mean about 0.03 "
             "at 128 particles), below these tests' reach (KS detects about 0.06)."),
    witnesses=("exact", "simulated"),
    quick={"w": 2.0, "n_runs": 2000, "n_particles": 128, "n_steps": 100, "n_energy": 300,
           "weighted": True},
    full={"w": 2.0, "n_runs": 4000, "n_particles": 512, "n_steps": 200, "n_energy": 600,
          "weighted": True},
)
def fkc_cfg_samples_target(ctx, w, n_runs, n_particles, n_steps, n_energy, weighted):
    from scipy.stats import kstwo

    from toytheory.diffusion import fkc, targets

    ev = ctx.evidence()
    name, path = next(iter(_paths(("cfg",), 2.0, w=w).items()))
    mt, ct = path.target(0.0)
    closed = targets.gaussian_cfg(CFG["cond_mean"], CFG["cond_cov"], CFG["uncond_mean"],
                                  CFG["uncond_cov"], w)
    ev.at_most("CFG law at t = 0: path target vs targets.gaussian_cfg (max abs)",
               max(np.abs(mt - closed.means[0]).max(), np.abs(ct - closed.covs[0]).max()), 1e-10)
    rng = ctx.rng("pde-points")
    worst = 0.0
    for t in (0.05, 0.3, 0.7):
        m, c = path.target(t)
        worst = max(worst, _pde_residual(path, m + rng.standard_normal((6, 2))
                                         @ np.linalg.cholesky(c).T, t))
    ev.at_most("FKC weight rate vs the Feynman-Kac PDE by finite differences, negative "
               "exponent (max rel.)", worst, 1e-4)
    exact_draws = lambda g, n: mt + g.standard_normal((n, 2)) @ np.linalg.cholesky(ct).T  # noqa: E731
    rng = ctx.rng("smc")
    for backend in ("numba", "torch"):
        d = _backend_draws(backend, path, n_runs, n_particles, n_steps,
                           ctx.seed_for("backend", backend), rng, weighted=weighted)
        ev.test(f"{backend} FKC simulator's resampled draws vs the exact CFG law "
                f"(whitened KS, Holm)", _whitened_ks(d, mt, ct, LEVEL)[0], expect="accept")
        ev.test(f"{backend} FKC simulator's resampled draws vs exact CFG draws (energy, "
                f"{n_energy} + {n_energy})",
                stats.energy_two_sample_test(d[:n_energy], exact_draws(rng, n_energy), LEVEL,
                                             rng=rng, max_permutations=PERMUTATIONS),
                expect="accept")
    x, lw = fkc.fkc_simulate(path, 2, n_steps, rng, n_runs=n_runs, weighted=False)
    ev.test("power: the same KS test rejects the naive CFG sampler (Holm)",
            _whitened_ks(x[:, 0], mt, ct, LEVEL)[0], expect="reject")
    mn, cn = fkc.naive_output_law(path)
    kl = fkc.kl_gaussian(mn, cn, mt, ct)
    ev.at_least("KL(naive CFG output || CFG law), exact", kl, 0.01, role="statement")
    x, lw = fkc.fkc_simulate(path, n_particles, n_steps, rng, n_runs=n_runs, weighted=weighted)
    draws = _one_per_run(x, lw, rng)
    fam, z = _whitened_ks(draws, mt, ct, LEVEL)
    ev.record("FKC draws' whitened mean / variance", f"{np.round(z.mean(0), 3).tolist()} / "
              f"{np.round(z.var(0), 3).tolist()}")
    crit = float(kstwo.isf(LEVEL / 3, n_runs))
    ks_ok = ev.test("FKC output vs the exact CFG law (whitened KS, Holm)", fam,
                    expect="accept", role="statement", headline=True,
                    detectable=(f"a KS distance above about {crit:.3f} (whitened coordinate "
                                f"or squared radius); the naive law is at about 0.12"))
    en = stats.energy_two_sample_test(draws[:n_energy], exact_draws(rng, n_energy), LEVEL,
                                      rng=rng, max_permutations=PERMUTATIONS)
    en_ok = ev.test(f"FKC resampled draws vs exact CFG draws (energy, {n_energy} + "
                    f"{n_energy})", en, expect="accept", role="statement",
                    detectable=(f"laws whose energy distance exceeds the 1e-6 tail of its "
                                f"permutation law at {n_energy} + {n_energy} points (the "
                                f"naive law, KL {kl:.3f}, is at the edge of it)"))
    if kl < 0.01 or not (ks_ok.passed and en_ok.passed):
        ev.referee_note(
            says="FKC corrects classifier-free guidance to sample the guided distribution.",
            toy=f"2-D Gaussian data, CFG law p(x|c)^{w:g} p(x)^{1 - w:g}, VP-linear.",
            measured=(f"naive KL {kl:.3g}; KS p = {fam.pvalue:.3g}, energy p = "
                      f"{en.pvalue:.3g} at {LEVEL:g}."),
            inside="exact scores; the CFG law is Gaussian in closed form.",
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


@register_figure("diffusion.guided_fkc_cfg",
                 caption=("Classifier-free guidance at w = 2 on 2-D Gaussians: the CFG law "
                          "p(x|c)^2 p(x)^-1 (exact, solid 1- and 2-sigma ellipses), the naive "
                          "CFG sampler's exact law (dashed), and one resampled draw per FKC "
                          "run (1000 runs of 128 particles, Numba simulator)"))
def fkc_cfg_figure(seed: int = 0):
    from matplotlib.figure import Figure

    from toytheory.diffusion import fkc

    name, path = next(iter(_paths(("cfg",), 2.0, w=2.0).items()))
    rng = np.random.default_rng(seed)
    draws = _backend_draws("numba", path, 1000, 128, 100, int(rng.integers(2**32)), rng)
    angle = np.linspace(0.0, 2 * np.pi, 200)
    circle = np.stack([np.cos(angle), np.sin(angle)], axis=1)
    fig = Figure(figsize=(4.6, 4.2), layout="constrained")
    ax = fig.add_subplot()
    ax.scatter(draws[:, 0], draws[:, 1], s=3, alpha=0.35, label="FKC draws")
    for (m, c), style, label in ((path.target(0.0), "-", "CFG law (exact)"),
                                 (fkc.naive_output_law(path), "--", "naive CFG (exact law)")):
        L = np.linalg.cholesky(c)
        for k, r in enumerate((1.0, 2.0)):
            e = m + r * circle @ L.T
            ax.plot(e[:, 0], e[:, 1], style, color="C1" if style == "-" else "C3",
                    label=label if k == 0 else None)
    ax.set_xlabel("x1")
    ax.set_ylabel("x2")
    ax.legend(frameon=False, fontsize=8)
    return fig
