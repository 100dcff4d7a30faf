"""Exact KL and W2 of every solver's output law on Gaussian data, against NFE (no Monte Carlo).

On Gaussian data each deterministic solver is an affine map of x_T, read off
by probing; started from the exact marginal at t = 1 its output law is
exactly Gaussian. The grids are uniform in log-SNR on VP-linear from t = 1 to
t = 1e-3 followed by the denoising step into zero noise, so the output is
compared with the data law itself. Started from N(0, I) instead, every solver
inherits the prior error, reported separately (exact flow of N(0, I)).
"""

from __future__ import annotations

import numpy as np

from toytheory import stats
from toytheory.claims import claim
from toytheory.figures import register_figure

from . import diffusion_solvers_common as C

SOLVERS = ("ddim", "heun", "dpm_solver_2", "dpm_solver_3", "dpmpp_2s", "dpmpp_2m", "dpmpp_3m",
           "dpmpp_3m_reference", "dpm_solver_2m", "unipc_1", "unipc_2", "unipc_3",
           "unipc_2_bh1", "deis_tab_3", "deis_rhoab_3", "deis_logrho_3", "hb", "ghvb_2",
           "ghvb_3", "dpm_solver_v3_2")


def _grid_and_kwargs(name: str, nfe: int):
    """A final-zero log-SNR grid using exactly ``nfe`` model evaluations, and the solver options."""
    from toytheory.diffusion.solvers import dpm_solver_fast_orders, uniform_log_snr_grid

    fn, kw, p, _, _, kind = C.solver_table()[name]
    kw = dict(kw)
    sch = C.schedule()
    if name == "heun":                       # NFE = 2N - 1
        steps = (nfe + 1) // 2
    else:
        steps = nfe
    grid = uniform_log_snr_grid(sch, steps, final_zero=True)
    if name.startswith("dpm_solver_") and kind == "ode" and "order" in kw and name in (
            "dpm_solver_2", "dpm_solver_3"):
        kw["orders"] = dpm_solver_fast_orders(nfe, kw.pop("order"), final_zero=True)
    if name == "dpmpp_2s":
        kw["orders"] = dpm_solver_fast_orders(nfe, 2, final_zero=True)
    return fn, kw, grid, kind


def output_law(name: str, nfe: int, start: str = "marginal"):
    """Exact (mean, cov) of solver ``name`` at ``nfe`` on the Gaussian toy."""
    from toytheory.diffusion.solvers import exact_model_statistics, solver_output_law
    from toytheory.diffusion.solvers.models import AffineGaussianModel

    law = C.gaussian_toy()
    fn, kw, grid, kind = _grid_and_kwargs(name, nfe)
    model = AffineGaussianModel(law, C.schedule(), prediction="eps")
    if kind == "v3":
        kw = dict(kw, statistics=exact_model_statistics(law, grid))
    return solver_output_law(lambda x: fn(model, x, grid, **kw), law, grid, start=start)


def prior_floor():
    """W2 and KL to the data law of N(0, I) carried by the *exact* flow from t = 1 to zero."""
    from toytheory.diffusion.solvers import gaussian_errors, gaussian_flow_to_grid_end
    from toytheory.diffusion.solvers import start_law, uniform_log_snr_grid

    law = C.gaussian_toy()
    # two steps from t = 1 to zero noise; the exact flow map depends on the two ends only
    grid = uniform_log_snr_grid(C.schedule(), 2, final_zero=True)
    m, s = start_law(law, grid, "prior")
    mm, cc = gaussian_flow_to_grid_end(law, grid)
    return gaussian_errors(mm @ m + cc, mm @ s @ mm.T, law)


def uniform_log_snr_grid_for_floor():
    from toytheory.diffusion.solvers import uniform_log_snr_grid

    return uniform_log_snr_grid(C.schedule(), 2, final_zero=True)


def error_table(nfes, solvers=SOLVERS, start="marginal"):
    from toytheory.diffusion.solvers import gaussian_errors

    law = C.gaussian_toy()
    table = {}
    for name in solvers:
        rows = []
        for nfe in nfes:
            mean, cov = output_law(name, int(nfe), start)
            rows.append(gaussian_errors(mean, cov, law))
        table[name] = rows
    return table


@register_figure("diffusion.solvers_error_vs_nfe",
                 caption="Exact W2 to the data law against NFE for every solver (Gaussian data)")
def error_vs_nfe_figure(seed: int = 0, nfes=(5, 7, 10, 14, 20, 28, 40)):
    table = error_table(nfes)
    curves = {name: (nfes, [r["w2"] for r in rows]) for name, rows in table.items()}
    fig = C.error_vs_nfe_figure(curves, "exact W2 to the data law, Gaussian toy (d = 3)")
    return fig


@claim(
    "diffusion.solvers.exact_error.gaussian_laws_vs_nfe",
    paper=C.PAPER_DPMPP,
    kind="derived",
    statement=("On Gaussian data every linear solver's output law is exactly Gaussian, and its "
               "KL and W2 to the data law are smaller at NFE 40 than at NFE 5 for every solver "
               "(started from the exact marginal; the N(0, I) prior error is reported apart)."),
    witnesses=("exact", "simulated"),
    quick={"nfes": (5, 10, 20, 40), "n_mc": 20_000},
    full={"nfes": (5, 7, 10, 14, 20, 28, 40, 56, 80), "n_mc": 200_000},
)
def gaussian_laws_vs_nfe(ctx, nfes, n_mc):
    from scipy import stats as sps

    from toytheory.diffusion.solvers import sample_dpmpp_2m, start_law
    from toytheory.diffusion.solvers.models import AffineGaussianModel

    ev = ctx.evidence()
    law = C.gaussian_toy()
    table = error_table(nfes)
    worst_ratio = 0.0
    for name, rows in table.items():
        w2 = np.array([r["w2"] for r in rows])
        kl = np.array([r["kl"] for r in rows])
        ev.record(f"{name}: W2 at NFE {nfes[0]} / {nfes[-1]}", f"{w2[0]:.3g} / {w2[-1]:.3g}")
        worst_ratio = max(worst_ratio, float(w2[-1] / w2[0]), float(kl[-1] / kl[0]))
    k10 = list(nfes).index(10) if 10 in nfes else 0
    w2_2m = table["dpmpp_2m"][k10]["w2"]
    ev.record("DPM-Solver++(2M) W2 at NFE 10", w2_2m, headline=True)
    floor = prior_floor()
    ev.record("prior error: W2 of exact flow of N(0, I) to the data law", floor["w2"])
    ev.record("prior error: KL of exact flow of N(0, I) to the data law", floor["kl"])
    # the same number by the core's closed-form flow (VP time 1 -> 0), an independent route
    from toytheory.diffusion.gaussian_flow import gaussian_flow_map
    from toytheory.gaussian_distances import bures_wasserstein_distance

    m_flow, c_flow = gaussian_flow_map(law, C.schedule(), 1.0, 0.0)
    ev.close("prior error W2: solver analysis vs core closed-form flow", floor["w2"],
             bures_wasserstein_distance(c_flow, m_flow @ m_flow.T, law.mean_vector, law.cov),
             rtol=1e-8)
    # the final denoising step returns E[x0 | x_{t_min}], whose law is the data law shrunk
    # to lam / (lam + rho_min^2) in each eigendirection: a floor shared by every solver
    grid_any = uniform_log_snr_grid_for_floor()
    lam, vecs = law.spectrum
    rho_min = float(grid_any.sigma_ve[-2])
    shrunk = (vecs * (lam * lam / (lam + rho_min ** 2))) @ vecs.T
    from toytheory.gaussian_distances import bures_wasserstein_distance as _bw

    ev.record("floor from the final denoising step: W2(data, law of E[x0 | x_tmin])",
              _bw(law.mean_vector, shrunk, law.mean_vector, law.cov),
              note="the step into zero noise outputs the posterior mean at the last positive "
                   "noise level; third-order solvers reach this floor by NFE 20-40")
    prior_tab = error_table((nfes[-1],), ("dpmpp_2m",), start="prior")
    ev.record(f"DPM-Solver++(2M) W2 from N(0, I) at NFE {nfes[-1]}", prior_tab["dpmpp_2m"][0]["w2"])

    # simulated witness: run the solver on draws of the start law, compare with the exact law
    from toytheory.diffusion.solvers import uniform_log_snr_grid

    grid = uniform_log_snr_grid(C.schedule(), 10, final_zero=True)
    m0, s0 = start_law(law, grid)
    rng = ctx.rng("monte carlo")
    x_t = rng.multivariate_normal(m0, s0, size=n_mc)
    model = AffineGaussianModel(law, C.schedule(), prediction="eps")
    out = sample_dpmpp_2m(model, x_t, grid)
    mean, cov = output_law("dpmpp_2m", 10)
    prng = ctx.rng("projections")
    tests = []
    for _ in range(5):
        u = prng.standard_normal(law.dim)
        u /= np.linalg.norm(u)
        sd = float(np.sqrt(u @ cov @ u))
        tests.append(stats.ks_1samp(out @ u, sps.norm(float(u @ mean), sd).cdf, 1e-6))
    ev.test("Monte Carlo DPM-Solver++(2M) output ~ exact pushforward law along 5 directions "
            "(KS, Bonferroni)", stats.bonferroni(tests, 1e-6))
    # the statement only after the witnesses (a toolkit bug shows as fails, not refuted)
    ev.at_most(f"largest (error at NFE {nfes[-1]}) / (error at NFE {nfes[0]}), W2 and KL, "
               "over all solvers", worst_ratio, 1.0, role="statement")
    ev.figure("error_vs_nfe", C.error_vs_nfe_figure(
        {n: (nfes, [r["w2"] for r in rows]) for n, rows in table.items()},
        "exact W2 to the data law, Gaussian toy (d = 3)"),
        caption="exact W2 against NFE for every solver (log-log; legend: fitted slope)")
    return ev


@register_figure("diffusion.solvers_trajectories",
                 caption="Solver trajectories on a 2-D Gaussian mixture against the exact flow")
def trajectories_figure(seed: int = 0, nfe: int = 8):
    from matplotlib.figure import Figure

    from toytheory.diffusion import solvers as S
    from toytheory.diffusion.solvers.models import DiagonalMixtureModel

    law = C.gmm_toy()
    sch = C.schedule()
    model = DiagonalMixtureModel(law, sch, prediction="eps")
    x, y = C.gmm_start_points(6, seed + 1)
    fine = S.uniform_log_snr_grid(sch, 200)
    ref = S.reference_pf_ode_solution(law, y, float(fine.log_snr[0]), fine.log_snr)
    ref = ref * fine.alpha[:, None, None]
    grid = S.uniform_log_snr_grid(sch, nfe)
    fig = Figure(figsize=(11, 3.8))
    for k, (label, fn, kw) in enumerate([("DDIM", S.sample_ddim, {}),
                                         ("DPM-Solver++(2M)", S.sample_dpmpp_2m, {}),
                                         ("UniPC-2", S.sample_unipc, {})]):
        ax = fig.add_subplot(1, 3, k + 1)
        states = [x]
        fn(model, x.copy(), grid, callback=lambda info: states.append(info["x_next"]), **kw)
        states = np.array(states)
        for j in range(x.shape[0]):
            ax.plot(ref[:, j, 0], ref[:, j, 1], color="0.6", lw=1)
            ax.plot(states[:, j, 0], states[:, j, 1], marker="o", ms=3, lw=1)
        ax.scatter(law.means[:, 0], law.means[:, 1], marker="x", color="k", zorder=5)
        ax.set_title(f"{label}, NFE {nfe}")
        ax.set_aspect("equal")
    return fig
