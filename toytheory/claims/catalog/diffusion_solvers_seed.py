"""The seed papers' claims about fast solvers, each on an exact toy.

Planted perturbations (documented in each claim): a denoiser whose noise
prediction is scaled, :math:`\\tilde\\varepsilon = (1 + \\kappa)\\hat\\varepsilon`, or
shifted, :math:`\\tilde\\varepsilon = \\hat\\varepsilon + \\beta`
(:class:`toytheory.diffusion.solvers.PerturbedModel`). Metrics: the exact W2
and pathwise RMS error on Gaussian data (affine maps, no Monte Carlo); on
mixtures the RMS distance to a DOP853 reference solve on held-out starting
points, or the Frechet distance (W2 between Gaussian fits) of seeded samples
to the exact data moments.
"""

from __future__ import annotations

import numpy as np

from toytheory import stats
from toytheory.claims import claim

from . import diffusion_solvers_common as C


def _rms(out, ref):
    return float(np.sqrt(np.mean(np.sum((out - ref) ** 2, axis=1))))


# ---------------------------------------------------------------------- momentum
@claim(
    "diffusion.solvers.seed.momentum_suppresses_divergence",
    paper=C.PAPER_MOMENTUM,
    statement=("On a stiff Gaussian toy (condition number 1e4) at NFE 6-10, heavy-ball momentum "
               "removes the overshoot (output standard deviation above the exact one in some "
               "direction) of PLMS-4 and DPM-Solver++(2M), and GHVB-4 has a lower W2 than "
               "PLMS-4."),
    witnesses=("exact",),
    quick={"nfes": (6, 8, 10)},
)
def momentum_suppresses_divergence(ctx, nfes):
    from toytheory.diffusion import EDM, Gaussian
    from toytheory.diffusion import solvers as S
    from toytheory.diffusion.solvers.models import AffineGaussianModel
    from toytheory.gaussian_distances import bures_wasserstein_distance

    ev = ctx.evidence()
    d = 4
    var = np.geomspace(1e-4, 1.0, d)
    law = Gaussian.diagonal(np.full(d, 0.1), var)
    sch = EDM(80.0)
    model = AffineGaussianModel(law, sch, prediction="eps")
    ev.note("Toy: N(0.1, diag(geomspace(1e-4, 1, 4))) under EDM (sigma = t), Karras grids "
            "(rho = 7) from 80 to 0.002 without the final zero step; errors against the exact "
            "law at sigma = 0.002. Overshoot = max_i std_out,i / std_exact,i - 1.")
    solvers = {"PLMS-4": (S.sample_plms, dict(order=4)),
               "PLMS-4 + HB(0.8)": (S.sample_hb, dict(order=4, beta=0.8)),
               "GHVB-4 (beta 0.5)": (S.sample_ghvb, dict(order=4, beta=0.5)),
               "DPM-Solver++(2M)": (S.sample_dpmpp_2m, {}),
               "DPM-Solver++(2M) + HB(0.8)": (S.sample_dpmpp_2m_hb, dict(beta=0.8)),
               "DPM-Solver++(3M)": (S.sample_dpmpp_3m, {})}
    for nfe in nfes:
        grid = S.karras_grid(sch, nfe, final_zero=False)
        ex_m, ex_c = law.marginal_moments(float(grid.alpha[-1]), float(grid.sigma[-1]))
        res = {}
        for name, (fn, kw) in solvers.items():
            mean, cov = S.solver_output_law(lambda x: fn(model, x, grid, **kw), law, grid)
            over = float(np.max(np.sqrt(np.diag(cov) / np.diag(ex_c)))) - 1.0
            res[name] = (float(bures_wasserstein_distance(mean, cov, ex_m, ex_c)), over)
            ev.record(f"NFE {nfe}, {name}: W2 / overshoot", f"{res[name][0]:.4g} / {over:+.3f}")
        ev.at_most(f"NFE {nfe}: overshoot of PLMS-4 + HB", max(res["PLMS-4 + HB(0.8)"][1], 0.0),
                   max(res["PLMS-4"][1], 0.0) * 0.5, role="statement")
        ev.at_most(f"NFE {nfe}: overshoot of 2M + HB", max(res["DPM-Solver++(2M) + HB(0.8)"][1],
                                                          0.0),
                   max(res["DPM-Solver++(2M)"][1], 0.0) * 0.5, role="statement")
        ev.at_most(f"NFE {nfe}: W2 GHVB-4 / W2 PLMS-4", res["GHVB-4 (beta 0.5)"][0]
                   / res["PLMS-4"][0], 1.0, role="statement", headline=(nfe == nfes[0]))
    ev.note("HB trades accuracy for stability: its W2 is not always lower than the base "
            "method's (recorded rows), as the paper's first-order result predicts.")
    return ev


# ---------------------------------------------------------------------- time shift
def _ts_toy():
    from toytheory.diffusion import GaussianMixture

    rng = np.random.default_rng(0)
    k, d = 4, 64
    means = rng.standard_normal((k, d)) * 0.7
    return GaussianMixture.isotropic(np.full(k, 1.0 / k), means, np.full(k, 0.1))


@claim(
    "diffusion.solvers.seed.time_shift_lowers_exposure_bias",
    paper=C.PAPER_TS,
    statement=("The Time-Shift sampler (window 20, cutoff 200 of 1000 training steps) lowers "
               "the error of a 20-step DDIM sampler whose noise prediction is deliberately "
               "mis-scaled by 10% (either way) on a 64-D Gaussian-mixture toy."),
    witnesses=("exact", "simulated"),
    quick={"n": 1000, "kappas": (-0.1, 0.1)},
    full={"n": 20000, "kappas": (-0.1, -0.05, 0.05, 0.1)},
)
def time_shift_lowers_exposure_bias(ctx, n, kappas):
    from toytheory.diffusion import DiffusionProcess
    from toytheory.diffusion.schedules import DiscreteVP
    from toytheory.diffusion import solvers as S
    from toytheory.diffusion.solvers.time_shift import sample_ddim_time_shift
    from toytheory.diffusion.solvers.models import DiagonalMixtureModel, PerturbedModel
    from toytheory.gaussian_distances import bures_wasserstein_distance

    ev = ctx.evidence()
    law = _ts_toy()
    sch = DiscreteVP.ddpm_linear()
    base = DiagonalMixtureModel(law, sch, prediction="eps")
    x_T = DiffusionProcess(law, sch).sample(n, 999.0, ctx.rng("x_T"))
    mu, cov = law.mean(), law.covariance()
    vfun = S.expected_sample_variance(law, sch)
    grid = S.TimeGrid.from_times(sch, np.linspace(999, 0, 21)[:-1], final_zero=True)

    def fd(x):
        return float(bures_wasserstein_distance(x.mean(0), np.cov(x.T), mu, cov))

    # witness: the exact expected per-sample variance against the samples of x_T
    ev.test("per-sample variance at t = 999: Monte Carlo mean equals the exact v(t) (t-test)",
            stats.mean_test(np.var(x_T, axis=1, ddof=1), float(vfun(999.0)), 1e-6))
    ev.record("Frechet distance, exact model (discretization only)",
              fd(S.sample_ddim(base, x_T, grid)))
    for kappa in kappas:
        pert = PerturbedModel(base, sch, eps_scale=kappa)
        plain = fd(S.sample_ddim(pert, x_T, grid))
        shifted = fd(sample_ddim_time_shift(pert, x_T, grid, expected_variance=vfun, window=20,
                                            cutoff=200))
        wrapped = fd(S.sample_ddim(S.TimeShiftModel(pert, sch, vfun, window=20, cutoff=200),
                                   x_T, grid))
        ev.record(f"kappa = {kappa:+}: FD DDIM / TS-DDIM / model-time-only shift",
                  f"{plain:.4g} / {shifted:.4g} / {wrapped:.4g}")
        ev.at_most(f"kappa = {kappa:+}: FD of TS-DDIM / FD of DDIM", shifted / plain, 1.0,
                   role="statement", headline=(kappa == kappas[0]))
    ev.note("Toy: 4 isotropic components (variance 0.1) in d = 64, DDPM linear betas, "
            "x_T drawn from the exact marginal at t = 999, 20 DDIM steps to zero noise. Planted "
            "error: eps_tilde = (1 + kappa) eps. Metric: Frechet distance (W2 between Gaussian "
            "fits) of the samples to the exact data mean and covariance, seeded. TS-DDIM moves "
            "each sample's state to its matched time t_s (x0 read with alpha, sigma at t_s); "
            "'model-time-only' feeds t_s to the model and keeps t in the update.")
    return ev


# ---------------------------------------------------------------------- DC-Solver
@claim(
    "diffusion.solvers.seed.dc_solver_beats_unipc_at_nfe5",
    paper=C.PAPER_DC,
    statement=("DC-Solver's dynamic compensation, with ratios fitted on 10 trajectories, lowers "
               "the error of UniPC-3 (bh1) at NFE 5 on held-out starting points."),
    witnesses=("exact",),
    quick={"nfe": 5, "n_test": 200},
)
def dc_solver_beats_unipc(ctx, nfe, n_test):
    from toytheory.diffusion import DiffusionProcess
    from toytheory.diffusion import solvers as S
    from toytheory.diffusion.gaussian_flow import gaussian_flow_map
    from toytheory.diffusion.solvers.models import AffineGaussianModel, DiagonalMixtureModel

    ev = ctx.evidence()
    sch = C.schedule()
    grid = S.uniform_time_grid(sch, nfe)
    opts = dict(order=3, variant="bh1")
    # Gaussian: exact
    law = C.gaussian_toy()
    model = AffineGaussianModel(law, sch, prediction="eps")
    m0, s0 = S.start_law(law, grid)
    x_fit = ctx.rng("fit").multivariate_normal(m0, s0, 10)
    ref = [x_fit]
    for i in range(grid.n_steps):
        mm, cc = gaussian_flow_map(law, sch, float(grid.t[0]), float(grid.t[i + 1]))
        ref.append(x_fit @ mm.T + cc)
    ratios = S.fit_dc_ratios(model, x_fit, grid, np.array(ref), **opts)
    ex = S.gaussian_flow_to_grid_end(law, grid)
    e_u = S.pathwise_rms_error(S.solver_affine_map(
        lambda x: S.sample_unipc(model, x, grid, **opts), 3), ex, (m0, s0))
    e_dc = S.pathwise_rms_error(S.solver_affine_map(
        lambda x: S.sample_dc_solver(model, x, grid, ratios=ratios, **opts), 3), ex, (m0, s0))
    e_one = S.pathwise_rms_error(S.solver_affine_map(
        lambda x: S.sample_dc_solver(model, x, grid, **opts), 3), ex, (m0, s0))
    ev.close("DC-Solver with all ratios 1 equals UniPC (exact RMS error)", e_one, e_u, rtol=1e-10)
    ev.record("Gaussian: fitted ratios", np.array2string(ratios, precision=3))
    ev.at_most("Gaussian: exact RMS error DC / UniPC", e_dc / e_u, 1.0, role="statement")
    ev.record("Gaussian: exact RMS error UniPC / DC", f"{e_u:.4g} / {e_dc:.4g}")
    # mixture: reference solves, held-out points
    gmm = C.gmm_toy()
    gmodel = DiagonalMixtureModel(gmm, sch, prediction="eps")
    proc = DiffusionProcess(gmm, sch)
    a0 = float(grid.alpha[0])
    x_fit = proc.sample(10, float(grid.t[0]), ctx.rng("gmm fit"))
    ref = S.reference_pf_ode_solution(gmm, x_fit / a0, float(grid.log_snr[0]), grid.log_snr)
    ratios_m = S.fit_dc_ratios(gmodel, x_fit, grid, ref * grid.alpha[:, None, None], **opts)
    x_test = proc.sample(n_test, float(grid.t[0]), ctx.rng("gmm test"))
    ref_t = S.reference_pf_ode_solution(gmm, x_test / a0, float(grid.log_snr[0]),
                                        [float(grid.log_snr[-1])])[-1] * float(grid.alpha[-1])
    e_u = _rms(S.sample_unipc(gmodel, x_test, grid, **opts), ref_t)
    e_dc = _rms(S.sample_dc_solver(gmodel, x_test, grid, ratios=ratios_m, **opts), ref_t)
    ev.record("GMM: fitted ratios", np.array2string(ratios_m, precision=3))
    ev.at_most("GMM (held out): RMS error DC / UniPC", e_dc / e_u, 1.0, role="statement",
               headline=True)
    ev.record("GMM: RMS error UniPC / DC", f"{e_u:.4g} / {e_dc:.4g}")
    ev.note(f"Grid: {nfe} steps uniform in t on VP-linear from 1 to 1e-3 (DC-Solver's default "
            "time_uniform); ratios fitted step by step by bounded Brent on [-1, 3] against the "
            "exact states (closed form / DOP853 at rtol 1e-12); tested on fresh draws.")
    return ev


# ---------------------------------------------------------------------- DPM-Solver-v3
@claim(
    "diffusion.solvers.seed.v3_first_order_exact_on_diagonal_gaussians",
    paper=C.PAPER_V3,
    statement=("DPM-Solver-v3 with exact empirical model statistics is exact at first order on "
               "diagonal Gaussian data, up to the quadrature of its integrals: its error does "
               "not depend on NFE and vanishes as the quadrature is refined (order 4 for "
               "Simpson, 2 for the reference code's trapezoid rule)."),
    witnesses=("exact",),
    quick={"nfes": (5, 10, 20), "refines": (8, 16, 32, 64)},
)
def v3_exact(ctx, nfes, refines):
    from toytheory.diffusion import Gaussian
    from toytheory.diffusion import solvers as S
    from toytheory.diffusion.solvers.models import AffineGaussianModel

    ev = ctx.evidence()
    sch = C.schedule()
    law = Gaussian.diagonal(np.array([0.5, -0.3, 0.2]), np.array([0.05, 0.3, 1.0]))
    model = AffineGaussianModel(law, sch, prediction="eps")
    grid = S.uniform_time_grid(sch, nfes[0])
    st = S.exact_model_statistics(law, grid, refine=refines[0])
    lam = st.lambdas[:, None]
    closed = 1.0 / (1.0 + np.exp(2 * lam) * law.eigvals[0][None, :])
    ev.close("l = 1/(1 + e^{2 lambda} v) (max deviation)", float(np.max(np.abs(st.l - closed))),
             0.0, atol=1e-12)
    ev.close("s = 0 (Var f = 0 for diagonal data)", float(np.max(np.abs(st.s))), 0.0, atol=0.0)
    for quad, p in (("simpson", 4), ("trapezoid", 2)):
        table = []
        for nfe in nfes:
            grid = S.uniform_time_grid(sch, nfe)
            m0, s0 = S.start_law(law, grid)
            ex = S.gaussian_flow_to_grid_end(law, grid)
            row = []
            for r in refines:
                st = S.exact_model_statistics(law, grid, refine=r, quadrature=quad)
                aff = S.solver_affine_map(lambda x: S.sample_dpm_solver_v3(
                    model, x, grid, statistics=st, order=1), 3)
                row.append(S.pathwise_rms_error(aff, ex, (m0, s0)))
            table.append(row)
            ddim = S.pathwise_rms_error(S.solver_affine_map(
                lambda x: S.sample_ddim(model, x, grid), 3), ex, (m0, s0))
            ev.record(f"{quad}, NFE {nfe}: v3 errors at refine {refines} / DDIM",
                      " ".join(f"{e:.3g}" for e in row) + f" / {ddim:.3g}")
            if quad == "simpson":
                ev.at_most(f"NFE {nfe}: v3 error (Simpson, refine {refines[-1]}) / DDIM error",
                           row[-1] / ddim, 1e-5, role="statement",
                           headline=(nfe == nfes[-1]))
        table = np.array(table)
        slope = np.polyfit(np.log(refines), np.log(table.mean(axis=0)), 1)[0]
        ev.close(f"{quad}: quadrature order (slope of error against refine)", -slope, p,
                 atol=0.5, role="statement")
    return ev


# ---------------------------------------------------------------------- time-step search
@claim(
    "diffusion.solvers.seed.step_search_beats_hand_grids",
    paper=C.PAPER_AUTODIFF,
    statement=("Optimising the time grid against the exact error at fixed NFE (AutoDiffusion / "
               "S3 style) beats the best hand-designed grid (uniform t, uniform log-SNR, "
               "quadratic, Karras) for DPM-Solver++(2M) at NFE 4-10 on Gaussian-mixture data, "
               "on held-out starting points."),
    witnesses=("exact",),
    quick={"nfes": (4, 6, 8, 10), "n_train": 48, "n_test": 256, "maxiter": 250},
    full={"nfes": (4, 5, 6, 7, 8, 9, 10), "n_train": 128, "n_test": 2000, "maxiter": 1000},
)
def step_search(ctx, nfes, n_train, n_test, maxiter):
    from scipy.optimize import minimize

    from toytheory.diffusion import DiffusionProcess
    from toytheory.diffusion import solvers as S
    from toytheory.diffusion.solvers.models import DiagonalMixtureModel

    ev = ctx.evidence()
    sch = C.schedule()
    gmm = C.gmm_toy()
    model = DiagonalMixtureModel(gmm, sch, prediction="eps")
    proc = DiffusionProcess(gmm, sch)
    g1 = S.uniform_log_snr_grid(sch, 1)
    lam0, lam1 = float(g1.log_snr[0]), float(g1.log_snr[-1])
    a0, a1 = float(g1.alpha[0]), float(g1.alpha[-1])
    x_tr = proc.sample(n_train, 1.0, ctx.rng("train"))
    x_te = proc.sample(n_test, 1.0, ctx.rng("test"))
    r_tr = S.reference_pf_ode_solution(gmm, x_tr / a0, lam0, [lam1])[-1] * a1
    r_te = S.reference_pf_ode_solution(gmm, x_te / a0, lam0, [lam1])[-1] * a1

    def grid_from(theta):
        w = np.exp(theta - theta.max())
        lam = lam0 + (lam1 - lam0) * np.concatenate([[0.0], np.cumsum(w / w.sum())])
        lam[-1] = lam1
        times = sch.t_from_log_snr(lam)
        times[0], times[-1] = 1.0, 1e-3
        return S.TimeGrid.from_times(sch, times)

    def err(grid, x, r):
        return _rms(S.sample_dpmpp_2m(model, x, grid), r)

    for nfe in nfes:
        hand = {"uniform t": S.uniform_time_grid(sch, nfe),
                "uniform log-SNR": S.uniform_log_snr_grid(sch, nfe),
                "quadratic": S.quadratic_time_grid(sch, nfe),
                "Karras": S.karras_grid(sch, nfe, final_zero=False)}
        train = {k: err(g, x_tr, r_tr) for k, g in hand.items()}
        best = min(train, key=train.get)
        theta0 = np.log(np.diff(hand[best].log_snr))
        res = minimize(lambda th: err(grid_from(th), x_tr, r_tr), theta0, method="Nelder-Mead",
                       options={"maxiter": maxiter, "xatol": 1e-4, "fatol": 1e-10})
        test_hand = {k: err(g, x_te, r_te) for k, g in hand.items()}
        best_test = min(test_hand.values())
        searched = err(grid_from(res.x), x_te, r_te)
        ev.record(f"NFE {nfe}: held-out error per hand grid",
                  ", ".join(f"{k} {v:.4g}" for k, v in test_hand.items()))
        ev.at_most(f"NFE {nfe}: held-out error searched / best hand grid", searched / best_test,
                   1.0, role="statement", headline=(nfe == nfes[0]))
    ev.note("Search: the log-SNR increments are a softmax of NFE free logits (endpoints t = 1 "
            "and 1e-3 fixed), Nelder-Mead from the best hand grid on the training points, "
            "objective = RMS distance to the exact ODE solution (DOP853 at rtol 1e-12).")
    return ev


# ---------------------------------------------------------------------- DualFast
@claim(
    "diffusion.solvers.seed.dualfast_error_split",
    paper=C.PAPER_DUALFAST,
    statement=("The total sampling error of a solver with an imperfect denoiser splits into a "
               "discretization error (exact denoiser, same grid) and an approximation error "
               "(imperfect denoiser, continuous flow): at NFE 10 and 20 the interaction term is "
               "at most 25% of the total, and the approximation error is at least a third of "
               "the total at NFE 10."),
    witnesses=("exact",),
    quick={"nfes": (5, 10, 20, 40)},
)
def dualfast_split(ctx, nfes):
    from toytheory.diffusion import solvers as S
    from toytheory.diffusion.solvers.models import AffineGaussianModel, PerturbedModel

    ev = ctx.evidence()
    sch = C.schedule()
    law = C.gaussian_toy()
    exact = AffineGaussianModel(law, sch, prediction="eps")
    pert = PerturbedModel(exact, sch, eps_scale=0.05, eps_bias=np.array([0.05, -0.03, 0.02]))
    fine = S.uniform_log_snr_grid(sch, 2000)
    finer = S.uniform_log_snr_grid(sch, 4000)
    ex = S.gaussian_flow_to_grid_end(law, fine)

    def amap(model, grid, fn):
        return S.solver_affine_map(lambda x: fn(model, x, grid), 3)

    def solve3m(m, x, g):
        return S.sample_dpmpp_3m(m, x, g, lower_order_final=False)

    ap = amap(pert, fine, solve3m)
    ap2 = amap(pert, finer, solve3m)
    ev.close("continuous perturbed flow: 3M at 2000 vs 4000 steps (max map entry)",
             float(max(np.max(np.abs(ap.matrix - ap2.matrix)),
                       np.max(np.abs(ap.offset - ap2.offset)))), 0.0, atol=1e-5,
             note="the continuous flow is resolved 1000 times finer than the errors measured")
    m0, s0 = S.start_law(law, fine)

    def rms(dm, dc):
        return float(np.sqrt(np.trace(dm @ s0 @ dm.T) + np.sum((dm @ m0 + dc) ** 2)))

    approx_dm, approx_dc = ap.matrix - ex[0], ap.offset - ex[1]
    e_approx = rms(approx_dm, approx_dc)
    for name, fn in (("DDIM", S.sample_ddim), ("DPM-Solver++(2M)", S.sample_dpmpp_2m)):
        for nfe in nfes:
            grid = S.uniform_time_grid(sch, nfe)
            at, ad = amap(pert, grid, fn), amap(exact, grid, fn)
            tot = (at.matrix - ex[0], at.offset - ex[1])
            dis = (ad.matrix - ex[0], ad.offset - ex[1])
            cross = rms(tot[0] - dis[0] - approx_dm, tot[1] - dis[1] - approx_dc)
            e_tot, e_dis = rms(*tot), rms(*dis)
            ev.record(f"{name}, NFE {nfe}: total / discretization / approximation / interaction",
                      f"{e_tot:.4g} / {e_dis:.4g} / {e_approx:.4g} / {cross:.4g}")
            if nfe in (10, 20):
                ev.at_most(f"{name}, NFE {nfe}: interaction / total", cross / e_tot, 0.25,
                           role="statement", headline=(name == "DDIM" and nfe == 10))
            if nfe == 10:
                ev.at_least(f"{name}, NFE 10: approximation / total", e_approx / e_tot, 1 / 3,
                            role="statement")
    ev.note("Planted error: eps_tilde = 1.05 eps + (0.05, -0.03, 0.02). Errors are exact RMS "
            "pathwise errors at t = 1e-3 against the exact flow, from the exact marginal at "
            "t = 1 (uniform-t grids); the approximation error is the perturbed model's "
            "continuous flow (3M, 2000 log-SNR steps). At NFE 5 the split is not additive "
            "(recorded rows).")
    return ev
