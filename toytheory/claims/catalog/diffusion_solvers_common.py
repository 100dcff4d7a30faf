"""Toys, solver table and exact error machinery shared by the ``diffusion.solvers.*`` claims.

No claims here. Every toy is small so that the exact computations are cheap:
a 3-D Gaussian with a full covariance (eigenvalues 0.05, 0.3, 1), a 2-D
two-component Gaussian mixture, and the continuous VP-linear schedule
(:math:`\\beta_0 = 0.1`, :math:`\\beta_1 = 20`) on :math:`t \\in [10^{-3}, 1]`.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

PAPER_DPM = ("Lu, Zhou, Bao, Chen, Li and Zhu: DPM-Solver: A Fast ODE Solver for Diffusion "
             "Probabilistic Model Sampling in Around 10 Steps")
PAPER_DPMPP = "DPM-Solver++: Fast Solver for Guided Sampling of Diffusion Probabilistic Models"
PAPER_UNIPC = ("Zhao, Bai, Rao, Zhou and Lu: UniPC: A Unified Predictor-Corrector Framework for "
               "Fast Sampling of Diffusion Models")
PAPER_DDIM = "Song, Meng and Ermon: Denoising Diffusion Implicit Models"
PAPER_EDM = ("Karras, Aittala, Aila and Laine: Elucidating the Design Space of Diffusion-Based "
             "Generative Models")
PAPER_DEIS = "Fast Sampling of Diffusion Models with Exponential Integrator"
PAPER_MOMENTUM = "Diffusion Sampling with Momentum for Mitigating Divergence Artifacts"
PAPER_V3 = "DPM-Solver-v3: Improved Diffusion ODE Solver with Empirical Model Statistics"
PAPER_TS = "Alleviating Exposure Bias in Diffusion Models through Sampling with Shifted Time Steps"
PAPER_DC = "DC-Solver: Improving Predictor-Corrector Diffusion Sampler via Dynamic Compensation"
PAPER_S3 = "A Unified Sampling Framework for Solver Searching of Diffusion Probabilistic Models"
PAPER_AUTODIFF = ("AutoDiffusion: Training-Free Optimization of Time Steps and Architectures for "
                  "Automated Diffusion Model Acceleration")
PAPER_DUALFAST = "DualFast: Dual-Speedup Framework for Fast Sampling of Diffusion Models"

#: grid sizes of the order claims, fixed a priori (see ORDER_RULE)
ORDER_SIZES = (96, 192, 384, 768)
ORDER_RULE = ("grids uniform in log-SNR on VP-linear from t = 1 to t = 1e-3 (lambda from -5.0 "
              "to 4.6) with N = 96, 192, 384, 768 steps in the full tier and 96, 192, 384 in the "
              "quick tier (NFE = N; 2N for Heun), one range for every solver: the finest doubling "
              "sequence whose errors stay 100 times above the floor for every solver (a first "
              "choice, 48-384, was moved up once UniPC-3 showed pre-asymptotic slopes at N = 48); "
              "points whose error is below 1e-11 (float and reference noise) would be dropped; "
              "least-squares slope of log error against log step size")
FLOOR = 1e-11


def diffusers_version() -> str:
    """The installed diffusers version (without importing torch), or "not installed"."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("diffusers")
    except PackageNotFoundError:
        return "(not installed here; written against 0.42.1)"


# ---------------------------------------------------------------------- toys
@lru_cache(maxsize=None)
def gaussian_toy():
    """:math:`N(\\mu, \\Sigma)` in d = 3, eigenvalues (0.05, 0.3, 1), a fixed random rotation."""
    from toytheory.diffusion import Gaussian

    rng = np.random.default_rng(0)
    q, _ = np.linalg.qr(rng.standard_normal((3, 3)))
    cov = (q * np.array([0.05, 0.3, 1.0])) @ q.T
    return Gaussian(np.array([0.5, -0.3, 0.2]), 0.5 * (cov + cov.T))


@lru_cache(maxsize=None)
def gmm_toy():
    """A 2-D mixture: weights (0.3, 0.7), means (-1, 0.5) and (1, -0.2), variances 0.1 and 0.2."""
    from toytheory.diffusion import GaussianMixture

    return GaussianMixture.isotropic([0.3, 0.7], [[-1.0, 0.5], [1.0, -0.2]], [0.1, 0.2])


@lru_cache(maxsize=None)
def schedule():
    from toytheory.diffusion import VPLinear

    return VPLinear()


def log_snr_grid(n: int):
    from toytheory.diffusion.solvers import uniform_log_snr_grid

    return uniform_log_snr_grid(schedule(), int(n))


# ---------------------------------------------------------------------- solver table
def solver_table():
    """name -> (callable(model, x, grid, **kw), kw, theoretical order, paper, note, kind).

    ``kind``: "ode" (deterministic), "sde" (noise; weak order on Gaussian data), "v3"
    (needs exact statistics: Gaussian data only).
    """
    from toytheory.diffusion import solvers as S

    nl = dict(lower_order_final=False)
    return {
        "ddim": (S.sample_ddim, {}, 1, PAPER_DDIM, "DDIM = DPM-Solver-1", "ode"),
        "euler": (S.sample_euler, {}, 1, PAPER_EDM, "Euler in the VE noise level", "ode"),
        "heun": (S.sample_heun, {}, 2, PAPER_EDM, "EDM Heun (NFE = 2N)", "ode"),
        "dpm_solver_2": (S.sample_dpm_solver, dict(order=2), 2, PAPER_DPM,
                         "single-step, noise prediction", "ode"),
        "dpm_solver_3": (S.sample_dpm_solver, dict(order=3), 3, PAPER_DPM,
                         "single-step, noise prediction", "ode"),
        "dpmpp_2s": (S.sample_dpmpp_2s, {}, 2, PAPER_DPMPP, "single-step, data prediction", "ode"),
        "dpmpp_2m": (S.sample_dpmpp_2m, dict(nl), 2, PAPER_DPMPP, "multistep, midpoint", "ode"),
        "dpmpp_3m": (S.sample_dpmpp_3m, dict(nl), 3, PAPER_DPMPP,
                     "multistep, D2 with the Taylor coefficient 2 phi_3", "ode"),
        "dpmpp_3m_reference": (S.sample_dpmpp_3m, dict(nl, third_order="reference"), 3,
                               PAPER_DPMPP, "the published code's D2 coefficient phi_3", "ode"),
        "dpm_solver_2m": (S.sample_dpm_solver_multistep, dict(nl, order=2, algorithm="dpmsolver"),
                          2, PAPER_DPM, "multistep, noise prediction", "ode"),
        "dpm_solver_3m": (S.sample_dpm_solver_multistep, dict(nl, order=3, algorithm="dpmsolver"),
                          3, PAPER_DPM, "multistep, noise prediction, D2 with 2 phi_3", "ode"),
        "dpm_solver_3m_reference": (S.sample_dpm_solver_multistep,
                                    dict(nl, order=3, algorithm="dpmsolver",
                                         third_order="reference"),
                                    3, PAPER_DPM, "multistep, noise prediction, the published "
                                    "code's D2 coefficient phi_3", "ode"),
        "sde_dpmpp_1": (S.sample_sde_dpmpp, dict(order=1), 1, PAPER_DPMPP,
                        "weak order (W2 of the output law)", "sde"),
        "sde_dpmpp_2m": (S.sample_sde_dpmpp, dict(nl, order=2), 2, PAPER_DPMPP,
                         "weak order (W2 of the output law)", "sde"),
        "unipc_1": (S.sample_unipc, dict(nl, order=1), 2, PAPER_UNIPC, "UniPC-1 (bh2)", "ode"),
        "unip_2": (S.sample_unipc, dict(nl, order=2, corrector=False), 2, PAPER_UNIPC,
                   "UniP-2, predictor only", "ode"),
        "unipc_2": (S.sample_unipc, dict(nl, order=2), 3, PAPER_UNIPC, "UniPC-2 (bh2)", "ode"),
        "unipc_2_bh1": (S.sample_unipc, dict(nl, order=2, variant="bh1"), 3, PAPER_UNIPC,
                        "UniPC-2 (bh1)", "ode"),
        "unip_3": (S.sample_unipc, dict(nl, order=3, corrector=False), 3, PAPER_UNIPC,
                   "UniP-3, predictor only", "ode"),
        "unipc_3": (S.sample_unipc, dict(nl, order=3), 4, PAPER_UNIPC, "UniPC-3 (bh2)", "ode"),
        "deis_tab_3": (S.sample_deis, dict(nl, order=3, variant="tab"), 3, PAPER_DEIS,
                       "tAB-DEIS", "ode"),
        "deis_rhoab_3": (S.sample_deis, dict(nl, order=3, variant="rhoab"), 3, PAPER_DEIS,
                         "rhoAB-DEIS", "ode"),
        "deis_logrho_3": (S.sample_deis, dict(nl, order=3, variant="logrho"), 3, PAPER_DEIS,
                          "log-rho AB (diffusers' DEIS)", "ode"),
        "hb": (S.sample_hb, dict(order=3, beta=0.8), 1, PAPER_MOMENTUM,
               "PLMS-3 with heavy ball, beta = 0.8", "ode"),
        "ghvb_2": (S.sample_ghvb, dict(order=2, beta=0.5), 2, PAPER_MOMENTUM,
                   "GHVB k = 2, beta = 0.5", "ode"),
        "ghvb_3": (S.sample_ghvb, dict(order=3, beta=0.5), 3, PAPER_MOMENTUM,
                   "GHVB k = 3, beta = 0.5", "ode"),
        "dpm_solver_v3_1": (S.sample_dpm_solver_v3, dict(nl, order=1), 1, PAPER_V3,
                            "exact EMS (Gaussian only)", "v3"),
        "dpm_solver_v3_2": (S.sample_dpm_solver_v3, dict(nl, order=2), 2, PAPER_V3,
                            "exact EMS (Gaussian only)", "v3"),
        "dpm_solver_v3_3": (S.sample_dpm_solver_v3, dict(nl, order=3), 3, PAPER_V3,
                            "exact EMS (Gaussian only)", "v3"),
    }


# ---------------------------------------------------------------------- exact errors
def gaussian_error(name: str, n: int, *, law=None, start: str = "marginal") -> float:
    """Exact error of solver ``name`` on Gaussian data with an ``n``-step log-SNR grid.

    Deterministic solvers: the RMS pathwise error against the exact flow map.
    SDE solvers: :math:`W_2` between the output law and the exact marginal at the grid's end.
    """
    from toytheory.diffusion.solvers import analysis as A, exact_model_statistics
    from toytheory.diffusion.solvers.models import AffineGaussianModel
    from toytheory.gaussian_distances import bures_wasserstein_distance

    fn, kw, _, _, _, kind = solver_table()[name]
    law = gaussian_toy() if law is None else law
    grid = log_snr_grid(n)
    model = AffineGaussianModel(law, schedule(), prediction="eps")
    d = law.dim
    if kind == "v3":
        kw = dict(kw, statistics=exact_model_statistics(law, grid, refine=8))
    if kind == "sde":
        k = grid.n_steps
        mean, cov = A.solver_output_law(lambda x, z: fn(model, x, grid, noise=z, **kw), law,
                                        grid, start=start, noise_dim=k * d)
        ex_m, ex_c = law.marginal_moments(float(grid.alpha[-1]), float(grid.sigma[-1]))
        return float(bures_wasserstein_distance(mean, cov, ex_m, ex_c))
    m0, s0 = A.start_law(law, grid, start)
    aff = A.solver_affine_map(lambda x: fn(model, x, grid, **kw), d)
    return A.pathwise_rms_error(aff, A.gaussian_flow_to_grid_end(law, grid), (m0, s0))


@lru_cache(maxsize=None)
def gmm_start_points(n_points: int = 6, seed: int = 1):
    """Fixed starting points: draws of the exact marginal at t = 1 (VE coordinates y = x/alpha)."""
    from toytheory.diffusion import DiffusionProcess

    proc = DiffusionProcess(gmm_toy(), schedule())
    x = proc.sample(n_points, 1.0, np.random.default_rng(seed))
    a = float(schedule().alpha(1.0))
    return x, x / a


GMM_REFERENCE_RTOL = 1e-12   # the mixture reference solve (DOP853; atol = rtol)


@lru_cache(maxsize=None)
def gmm_reference(n_points: int = 6, seed: int = 1, rtol: float = GMM_REFERENCE_RTOL):
    """The exact PF-ODE solution from t = 1 to t = 1e-3 of the fixed starting points (VP coords)."""
    from toytheory.diffusion.solvers import reference_pf_ode_solution

    grid = log_snr_grid(1)
    _, y = gmm_start_points(n_points, seed)
    ys = reference_pf_ode_solution(gmm_toy(), y, float(grid.log_snr[0]), [float(grid.log_snr[-1])],
                                   rtol=rtol, atol=rtol)
    return ys[-1] * float(grid.alpha[-1])


def gmm_error(name: str, n: int) -> float:
    """RMS pathwise error of solver ``name`` on the GMM toy against :func:`gmm_reference`."""
    from toytheory.diffusion.solvers.models import DiagonalMixtureModel

    fn, kw, _, _, _, kind = solver_table()[name]
    if kind != "ode":
        raise ValueError(f"name: {name} has no deterministic reference on mixtures")
    grid = log_snr_grid(n)
    model = DiagonalMixtureModel(gmm_toy(), schedule(), prediction="eps")
    x, _ = gmm_start_points()
    out = fn(model, x.copy(), grid, **kw)
    return float(np.sqrt(np.mean(np.sum((out - gmm_reference()) ** 2, axis=1))))


def step_sizes(sizes):
    """:math:`h = \\Delta\\lambda / N` for the order grids."""
    grid = log_snr_grid(1)
    span = float(grid.log_snr[-1] - grid.log_snr[0])
    return np.array([span / n for n in sizes])


# ---------------------------------------------------------------------- figures
def error_vs_nfe_figure(curves: dict, title: str):
    """Log-log error against NFE, one line per solver, with the fitted slopes in the legend."""
    from matplotlib.figure import Figure

    from matplotlib import colormaps

    fig = Figure(figsize=(10, 5.5))
    ax = fig.add_subplot()
    colours = colormaps["tab20"].colors
    styles = ("-", "--", ":", "-.")
    markers = "osD^v<>p*hX"
    for j, (label, (nfe, err)) in enumerate(curves.items()):
        nfe, err = np.asarray(nfe, float), np.asarray(err, float)
        ok = err > 0
        slope = np.polyfit(np.log(nfe[ok]), np.log(err[ok]), 1)[0] if ok.sum() > 1 else np.nan
        # colour, dash and marker all change with the solver, so no two lines look alike
        ax.loglog(nfe[ok], err[ok], color=colours[j % len(colours)],
                  linestyle=styles[j % len(styles)], marker=markers[j % len(markers)], ms=3,
                  label=f"{label} (slope {slope:.2f})")
    ax.set_xlabel("NFE")
    ax.set_ylabel("exact error")
    ax.set_title(title)
    ax.legend(fontsize=6, ncol=1, loc="center left", bbox_to_anchor=(1.01, 0.5))
    fig.subplots_adjust(right=0.74)
    ax.grid(True, which="both", alpha=0.3)
    return fig
