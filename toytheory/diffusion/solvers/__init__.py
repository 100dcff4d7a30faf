"""Fast diffusion ODE/SDE solvers with one signature, numpy float64 and batched torch.

Every sampler is ``sample_<name>(model, x_T, grid, *, prediction=None,
generator=None, callback=None, **options) -> x_0`` (see
:mod:`toytheory.diffusion.solvers._base` for the contract). Modules:

grids
    :class:`TimeGrid`; uniform-t, uniform log-SNR, quadratic and EDM/Karras
    grids; the reference libraries' defaults.
dpm_solver
    DDIM, DPM-Solver-1/2/3 single-step, DPM-Solver++(2S), multistep
    DPM-Solver(++) 2M/3M, SDE-DPM-Solver++ (orders 1-2).
unipc
    UniPC (bh1/bh2, any order, corrector on/off).
deis
    DEIS tAB, rhoAB and log-rho AB.
edm
    Euler and EDM Heun.
momentum
    PLMS, heavy ball (HB), generalized heavy ball (GHVB), DPM-Solver++(2M)+HB.
dpm_solver_v3
    DPM-Solver-v3 with exact empirical model statistics for Gaussian data.
time_shift
    The Time-Shift sampler (a model wrapper).
dc_solver
    DC-Solver (UniPC with dynamic compensation) and its ratio fit.
models
    A fast exact affine model for Gaussian data; perturbed models.
analysis
    Exact output laws, flow maps, pathwise errors, reference solves, order fits.

local_order
    Local truncation error of the multistep 2M/3M updates (sympy Taylor expansion).
plan
    :class:`SolvePlan`: a deterministic torch solve recorded once and replayed
    with little Python (equal to the fused solve bit for bit).

``fused_elementwise()`` (a context manager) makes the torch path evaluate each
step's linear combination in one pass (torch.compile on CUDA, Numba on CPU).
"""

from __future__ import annotations

from ..._lazy import lazy_exports

_EXPORTS = {
    "TimeGrid": "grids", "uniform_time_grid": "grids", "uniform_log_snr_grid": "grids",
    "quadratic_time_grid": "grids", "karras_grid": "grids", "default_t_end": "grids",
    "sample_ddim": "dpm_solver", "sample_dpm_solver": "dpm_solver",
    "sample_dpm_solver_singlestep": "dpm_solver", "sample_dpmpp_2s": "dpm_solver",
    "sample_dpm_solver_multistep": "dpm_solver", "sample_dpmpp_2m": "dpm_solver",
    "sample_dpmpp_3m": "dpm_solver", "sample_sde_dpmpp": "dpm_solver",
    "dpm_solver_fast_orders": "dpm_solver", "multistep_orders": "dpm_solver",
    "sample_unipc": "unipc", "unipc_coefficients": "unipc",
    "sample_deis": "deis", "deis_coefficients": "deis",
    "sample_euler": "edm", "sample_heun": "edm",
    "sample_plms": "momentum", "sample_hb": "momentum", "sample_ghvb": "momentum",
    "sample_dpmpp_2m_hb": "momentum", "adams_bashforth_coefficients": "momentum",
    "ModelStatistics": "dpm_solver_v3", "exact_model_statistics": "dpm_solver_v3",
    "sample_dpm_solver_v3": "dpm_solver_v3",
    "TimeShiftModel": "time_shift", "expected_sample_variance": "time_shift",
    "sample_dc_solver": "dc_solver", "fit_dc_ratios": "dc_solver",
    "sample_ddim_time_shift": "time_shift",
    "dynamic_compensation": "dc_solver",
    "AffineGaussianModel": "models", "PerturbedModel": "models",
    "solver_output_law": "analysis", "gaussian_errors": "analysis",
    "gaussian_flow_to_grid_end": "analysis", "pathwise_rms_error": "analysis",
    "reference_pf_ode_solution": "analysis", "fit_convergence_order": "analysis",
    "start_law": "analysis", "solver_affine_map": "analysis",
    "fused_elementwise": "_fused", "SolvePlan": "plan",
    "multistep_local_error": "local_order", "adams_bashforth_local_error": "local_order",
}

__all__ = sorted(_EXPORTS)


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
