# %% [markdown]
# # Fast diffusion solvers, checked exactly
#
# Every sampler in `toytheory.diffusion.solvers` has one signature,
# `sample_xxx(model, x_T, grid, ...)`: a model callable that returns a named prediction
# (`"x0"`, `"eps"`, `"v"` or `"score"`), a strictly monotone `TimeGrid`, and the starting
# states. On toy data the exact answer is known, so every claim about a solver can be
# measured without Monte Carlo:
#
# * on **Gaussian data** the exact model is affine, every solver is an affine map of `x_T`,
#   and its output law is exactly Gaussian (read the map off by probing);
# * on a **Gaussian mixture** the probability-flow ODE is solved to 1e-12 by DOP853 in
#   log-SNR, where it is not stiff.

# %%
import numpy as np

from toytheory.diffusion import ExactModel, GaussianMixture, VPLinear
from toytheory.diffusion import solvers as S

schedule = VPLinear()
gmm = GaussianMixture.isotropic([0.3, 0.7], [[-1.0, 0.5], [1.0, -0.2]], [0.1, 0.2])
model = ExactModel(gmm, schedule, prediction="eps")

# %% [markdown]
# ## Grids
# Uniform in t, uniform in log-SNR, quadratic, EDM/Karras; `final_zero=True` ends with the
# denoising step into zero noise. A repeated noise level (a step with h = 0) is refused.

# %%
for make in (S.uniform_time_grid, S.uniform_log_snr_grid, S.quadratic_time_grid):
    g = make(schedule, 5)
    print(f"{make.__name__:22s} t = {np.round(g.t, 4)}  h = {np.round(g.h, 2)}")
print("karras_grid            sigma_ve =", np.round(S.karras_grid(schedule, 5).sigma_ve, 3))
try:
    S.TimeGrid.from_times(schedule, [0.9, 0.5, 0.5, 0.1])
except ValueError as exc:
    print("refused:", exc)

# %% [markdown]
# ## Trajectories on a 2-D mixture
# Grey: the exact probability-flow trajectories; colours: 8-step solvers.

# %%
from toytheory.claims.catalog.diffusion_solvers_exact_error import trajectories_figure

trajectories_figure(nfe=8)

# %% [markdown]
# ## Exact error against NFE (Gaussian data, no Monte Carlo)

# %%
from toytheory.claims.catalog import diffusion_solvers_common as C
from toytheory.claims.catalog.diffusion_solvers_exact_error import error_table

nfes = (5, 10, 20, 40)
table = error_table(nfes, ("ddim", "dpmpp_2m", "dpmpp_3m", "unipc_2", "deis_tab_3", "heun"))
for name, rows in table.items():
    print(f"{name:12s}", "  ".join(f"W2@{n}={r['w2']:.2e}" for n, r in zip(nfes, rows)))
C.error_vs_nfe_figure({k: (nfes, [r["w2"] for r in v]) for k, v in table.items()},
                      "exact W2 to the data law")

# %% [markdown]
# ## Convergence orders, and a finding about DPM-Solver++(3M)
# Slopes of log error against log step size on a mixture (reference: DOP853 at 1e-12).
# The published third-order multistep update (DPM-Solver, diffusers, k-diffusion) uses
# half the Taylor coefficient of its second divided difference: it is only second order.
# With the coefficient doubled (`third_order="taylor"`, the default here) it is third
# order, and it equals UniP-3 (bh2) to rounding.

# %%
sizes = (96, 192, 384)
h = C.step_sizes(sizes)
for name in ("dpmpp_2m", "dpmpp_3m_reference", "dpmpp_3m", "unipc_2"):
    errs = [C.gmm_error(name, n) for n in sizes]
    print(f"{name:20s} slope {np.polyfit(np.log(h), np.log(errs), 1)[0]:.2f}")
grid = S.uniform_time_grid(schedule, 13)
x = np.random.default_rng(0).standard_normal((4, 2))
print("max |UniP-3 - 3M(taylor)| =",
      np.abs(S.sample_unipc(model, x, grid, order=3, corrector=False)
             - S.sample_dpmpp_3m(model, x, grid)).max())

# %% [markdown]
# ## Numpy and torch run the same arithmetic

# %%
import torch

torch_model = ExactModel(gmm, schedule, prediction="eps", backend="torch")
a = S.sample_unipc(model, x, grid, order=3)
b = S.sample_unipc(torch_model, torch.tensor(x), grid, order=3)
print("numpy vs torch float64:", float(np.abs(a - b.numpy()).max()))

# %% [markdown]
# ## Fused passes and a recorded solve
# Under `fused_elementwise()` each step's linear combination is one pass (Numba on the
# CPU, `torch.compile` on CUDA). A `SolvePlan` records a deterministic solve once and
# replays it with little Python, writing dead states in place; the replay equals the
# fused solve bit for bit, which is what makes it safe to use for speed
# (`benchmarks/bench_diffusion_solvers.py` times it against the diffusers loop).

# %%
xt = torch.tensor(np.random.default_rng(1).standard_normal((10_000, 2)), dtype=torch.float32)
with S.fused_elementwise():
    fused = S.sample_dpmpp_2m(torch_model, xt, grid)
plan = S.SolvePlan(S.sample_dpmpp_2m, grid, prediction="eps")
print(plan)
print("replay equals the fused solve bit for bit:", bool(torch.equal(plan(torch_model, xt), fused)))
print("fused vs plain float32, max abs difference:",
      float((fused - S.sample_dpmpp_2m(torch_model, xt, grid)).abs().max()))
