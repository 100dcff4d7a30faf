"""DPM-Solver++'s headline claim about guided sampling, on an exactly guided Gaussian mixture.

Toy: a 2-D mixture of three isotropic components (means (-1, 0), (1, 0), (0, 1), variance
0.05); the class is the first component. Classifier-free guidance at scale w uses the exact
conditional and unconditional noise predictions (``toytheory.diffusion.guidance``), so the
guided probability-flow ODE is known exactly and its solution is a DOP853 solve. Starting
points x_T ~ N(0, sigma_T^2 I) at t = 1 (VP-linear), errors at t = 1e-3 on uniform-t grids.
Mean squared errors over x_T are Gauss-Hermite quadratures (tensor grid): deterministic, so
no statement here is statistical and the verdict does not depend on the run seed.
"""

from __future__ import annotations

import numpy as np

from toytheory.claims import claim

from . import diffusion_solvers_common as C


def _guided_toy():
    from toytheory.diffusion import GaussianMixture

    means = np.array([[-1.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    uncond = GaussianMixture.isotropic(np.full(3, 1.0 / 3.0), means, np.full(3, 0.05))
    cond = GaussianMixture.isotropic([1.0], means[:1], [0.05])
    return cond, uncond


def _hermite_start(m: int, sigma: float):
    """Tensor Gauss-Hermite nodes (m^2, 2) and weights (m^2,) for N(0, sigma^2 I_2)."""
    x, wts = np.polynomial.hermite_e.hermegauss(m)
    wts = wts / np.sqrt(2.0 * np.pi)
    nodes = np.stack(np.meshgrid(x, x, indexing="ij"), axis=-1).reshape(-1, 2) * sigma
    return nodes, np.outer(wts, wts).ravel()


def _solvers():
    from toytheory.diffusion import solvers as S

    return {
        "DDIM": ("eps", lambda m, x, g: S.sample_ddim(m, x, g)),
        "DPM-Solver-2 (single-step, noise prediction)": ("eps", lambda m, x, g:
            S.sample_dpm_solver_singlestep(m, x, g, algorithm="dpmsolver",
                                           orders=S.dpm_solver_fast_orders(g.n_steps, 2))),
        "DPM-Solver-3 (single-step, noise prediction)": ("eps", lambda m, x, g:
            S.sample_dpm_solver_singlestep(m, x, g, algorithm="dpmsolver",
                                           orders=S.dpm_solver_fast_orders(g.n_steps, 3))),
        "DPM-Solver-2M (noise prediction)": ("eps", lambda m, x, g:
            S.sample_dpm_solver_multistep(m, x, g, order=2, algorithm="dpmsolver")),
        "DPM-Solver++(2S)": ("x0", lambda m, x, g:
            S.sample_dpmpp_2s(m, x, g, orders=S.dpm_solver_fast_orders(g.n_steps, 2))),
        "DPM-Solver++(2M)": ("x0", lambda m, x, g: S.sample_dpmpp_2m(m, x, g)),
        "DPM-Solver++(2M) + dynamic thresholding": ("thr", lambda m, x, g:
            S.sample_dpmpp_2m(m, x, g)),
    }


@claim(
    "diffusion.solvers.guided.dpmpp_2m_stable_at_large_guidance",
    paper=C.PAPER_DPMPP,
    statement=("On an exactly guided 2-D Gaussian mixture at guidance scale 8, single-step "
               "DPM-Solver-2 (noise prediction) has a larger error to the guided ODE solution "
               "than DDIM, by more than without guidance, and the multistep data-prediction "
               "DPM-Solver++(2M) a smaller error than single-step DPM-Solver-2, at NFE 10, 15 "
               "and 20."),
    kind="paper",
    source=("Abstract: 'we demonstrate that previous high-order fast samplers suffer from "
            "instability issues, and they even become slower than DDIM when the guidance scale "
            "grows large.' and 'We further propose a multistep variant of DPM-Solver++ to "
            "address the instability issue by reducing the effective step size.'"),
    reading=("'Previous high-order samplers' = DPM-Solver (noise prediction, single-step, the "
             "paper's Table baseline); 'slower than DDIM' = a larger mean squared error to the "
             "exact guided ODE solution than DDIM at the same NFE (threshold ratio 1); "
             "'address the instability' = DPM-Solver++(2M)'s error below DPM-Solver-2's at the "
             "same NFE (ratio 1). Guidance scale 8 and NFE 10-20 are the paper's regime. Not "
             "claimed: that DPM-Solver++ beats DDIM, nor anything about thresholding's error "
             "(thresholding changes the ODE, so its distance to the unthresholded solution is "
             "recorded, not held)."),
    witnesses=("exact",),
    quick={"w": 8.0, "nfes": (10, 15, 20), "nodes": 24, "check_nodes": 32},
    full={"w": 8.0, "nfes": (10, 12, 15, 18, 20), "nodes": 40, "check_nodes": 56},
)
def dpmpp_2m_stable_at_large_guidance(ctx, w, nfes, nodes, check_nodes):
    from toytheory.diffusion import solvers as S
    from toytheory.diffusion.guidance import (GuidedMixtureModel, ThresholdedModel,
                                              guided_reference_solution)
    from toytheory.diffusion.solvers.models import DiagonalMixtureModel

    ev = ctx.evidence()
    sch = C.schedule()
    cond, uncond = _guided_toy()
    data_range = 1.5   # every component mean within 1, plus ~2 standard deviations
    models = {"eps": GuidedMixtureModel(cond, uncond, sch, w, "eps"),
              "x0": GuidedMixtureModel(cond, uncond, sch, w, "x0")}
    models["thr"] = ThresholdedModel(models["x0"], sch, data_range=data_range)
    solvers = _solvers()

    # witness: w = 0 is the conditional law's exact model
    g10 = S.uniform_time_grid(sch, 10)
    probe = ctx.rng("probe").standard_normal((64, 2))
    t_mid = float(g10.t[5])
    ev.close("guided model at w = 0 equals the conditional exact eps (max deviation)",
             float(np.max(np.abs(GuidedMixtureModel(cond, uncond, sch, 0.0, "eps")(probe, t_mid)
                                 - DiagonalMixtureModel(cond, sch, "eps")(probe, t_mid)))),
             0.0, atol=1e-12)

    def mse_table(grid, m):
        x_T, wts = _hermite_start(m, float(grid.sigma[0]))
        a0, a1 = float(grid.alpha[0]), float(grid.alpha[-1])
        ref = guided_reference_solution(cond, uncond, w, x_T / a0, float(grid.log_snr[0]),
                                        float(grid.log_snr[-1])) * a1
        out = {}
        for name, (kind, fn) in solvers.items():
            with np.errstate(all="ignore"):
                x = fn(models[kind], x_T, grid)
            e2 = np.sum((x - ref) ** 2, axis=1)
            out[name] = (float(np.sum(wts * e2)),
                         float(np.sum(wts * (np.max(np.abs(x), axis=1) > 2 * data_range))))
        return out, x_T, ref

    # witness: the quadrature of the MSE has converged (two node counts agree within 5%)
    grid = S.uniform_time_grid(sch, nfes[0])
    coarse, _, _ = mse_table(grid, nodes)
    fine, x_fine, ref_fine = mse_table(grid, check_nodes)
    for name in ("DDIM", "DPM-Solver-2 (single-step, noise prediction)", "DPM-Solver++(2M)"):
        ev.close(f"NFE {nfes[0]}: {name} MSE with {nodes}^2 vs {check_nodes}^2 Gauss-Hermite "
                 "nodes", coarse[name][0], fine[name][0], rtol=0.05)
    # witness: the reference solve is converged (rtol 1e-10 vs 1e-12 on a few points)
    sub = x_fine[:: max(1, len(x_fine) // 16)]
    a0, a1 = float(grid.alpha[0]), float(grid.alpha[-1])
    r1 = guided_reference_solution(cond, uncond, w, sub / a0, float(grid.log_snr[0]),
                                   float(grid.log_snr[-1]))
    r2 = guided_reference_solution(cond, uncond, w, sub / a0, float(grid.log_snr[0]),
                                   float(grid.log_snr[-1]), rtol=1e-12, atol=1e-12)
    ev.close("reference solve: rtol 1e-10 vs 1e-12 (max deviation)",
             float(np.max(np.abs(r1 - r2)) * a1), 0.0, atol=1e-7)

    ratio_first = None
    for nfe in nfes:
        grid = S.uniform_time_grid(sch, nfe)
        tab = fine if nfe == nfes[0] else mse_table(grid, nodes)[0]
        ev.record(f"NFE {nfe}: RMS error to the guided ODE solution / mass with |x| > "
                  f"{2 * data_range}", "; ".join(f"{k} {np.sqrt(v[0]):.3g} / {v[1]:.2f}"
                                                 for k, v in tab.items()))
        ddim = tab["DDIM"][0]
        s2 = tab["DPM-Solver-2 (single-step, noise prediction)"][0]
        pp = tab["DPM-Solver++(2M)"][0]
        ratio_first = s2 / ddim if ratio_first is None else ratio_first
        ev.at_least(f"NFE {nfe}: MSE DPM-Solver-2 / MSE DDIM", s2 / ddim, 1.0,
                    role="statement", headline=(nfe == nfes[0]))
        ev.at_most(f"NFE {nfe}: MSE DPM-Solver++(2M) / MSE DPM-Solver-2", pp / s2, 1.0,
                   role="statement")
    # 'when the guidance scale grows large': the same ratio without guidance and at w = 1
    grid = S.uniform_time_grid(sch, nfes[0])
    small = {}
    for w_small in (0.0, 1.0):
        m_small = GuidedMixtureModel(cond, uncond, sch, w_small, "eps")
        x_T, wts = _hermite_start(nodes, float(grid.sigma[0]))
        ref = guided_reference_solution(cond, uncond, w_small, x_T / a0, float(grid.log_snr[0]),
                                        float(grid.log_snr[-1])) * a1
        e = {}
        for name in ("DDIM", "DPM-Solver-2 (single-step, noise prediction)"):
            with np.errstate(all="ignore"):
                x = solvers[name][1](m_small, x_T, grid)
            e[name] = float(np.sum(wts * np.sum((x - ref) ** 2, axis=1)))
        small[w_small] = e["DPM-Solver-2 (single-step, noise prediction)"] / e["DDIM"]
        ev.record(f"w = {w_small}, NFE {nfes[0]}: MSE DPM-Solver-2 / MSE DDIM", small[w_small])
    ev.at_least(f"NFE {nfes[0]}: (MSE DPM-Solver-2 / MSE DDIM) at w = {w} over the same ratio "
                "at w = 0", ratio_first / small[0.0], 1.0, role="statement")
    ev.note("Dynamic thresholding (quantile 0.995, data range 1.5) clips the data prediction: "
            "it solves a different ODE, so its recorded distance to the unthresholded guided "
            "solution measures that change, not instability. DPM-Solver++(2M) is not held "
            "against DDIM (the abstract does not claim it at this level). On this toy the "
            "multistep noise-prediction DPM-Solver-2M is as stable as DPM-Solver++(2M) "
            "(recorded rows): the stability comes with the multistep form here.")
    return ev
