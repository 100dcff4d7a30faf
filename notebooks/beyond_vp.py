# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Beyond the VP diffusion: distillation, Schrödinger bridges, PFGM++ fields
#
# Three generative-model families whose claims can be checked exactly on small data:
#
# 1. **Progressive distillation** (ProDiff): on Gaussian data a DDIM teacher is an affine map,
#    and a student with one affine denoiser per step has an exact least-squares solution.
# 2. **Multi-marginal Schrödinger bridges** with iterative reference refinement: Gaussian
#    bridges have a closed form; OU snapshots give an exact truth.
# 3. **PFGM++**: the field on point data is a kernel-weighted posterior mean.

# %%
import numpy as np

from toytheory.diffusion.distillation import GaussianDistillation
from toytheory.diffusion.schedules import VPLinear
from toytheory.gaussian_distances import kl_divergence_gaussians

# %% [markdown]
# ## 1. Progressive distillation, N = 16 -> 8 -> 4 -> 2 -> 1
# Each student's one step lands exactly where two teacher steps land, so with an exact fit
# nothing is lost at any stage; plain DDIM with as few steps degrades. With a 5% relative
# error in each student's own output, noise-predicting students blow up at few steps
# (an eps-error is multiplied by sigma/alpha when turned into a clean-data step).

# %%
idx = np.arange(4)
cov = 0.8 ** np.abs(idx[:, None] - idx[None, :]) * np.outer(1 + 0.3 * idx, 1 + 0.3 * idx)
g = GaussianDistillation(np.linspace(1.0, -0.5, 4), cov, VPLinear(), 16)


def kl(steps):
    return kl_divergence_gaussians(*g.output_law(steps), g.mean, g.cov)


print("steps       DDIM    x0-student   x0 (5% err)   eps (5% err)")
rows = zip(g.progressive("x0"), g.progressive("x0", 0.05), g.progressive("eps", 0.05))
for exact, x0e, epse in rows:
    n = len(exact)
    print(f"{n:5d}  {kl(g.teacher(n)):9.4f}  {kl(exact):11.4f}  {kl(x0e):12.4f}  {kl(epse):12.4g}")

# %%
from toytheory.claims.catalog.diffusion_distillation import distillation_stages_figure

distillation_stages_figure()

# %% [markdown]
# ## 2. Schrödinger bridges on OU snapshots
# A damped rotation observed at 5 times. The piecewise bridge with a Brownian reference gets
# the cross-time covariances wrong, more so at long lags; refining the reference (OU with
# a free drift matrix) converges to the true drift; an isotropic OU class converges to a
# fixed point that keeps the Brownian bridge's error.

# %%
from toytheory.diffusion import schrodinger_bridge as sb

B = np.array([[-0.3, 1.0], [-1.0, -0.3]])
truth = sb.ou_snapshots(B, 0.6, [2.0, 0.0], np.diag([0.3, 0.2]), 5, 0.5)
brown = sb.piecewise_joint(truth, np.eye(2), 0.36 * 0.5 * np.eye(2))
full = sb.refine_reference(truth, 0.6)
iso = sb.refine_reference(truth, 0.6, cls="scalar")
print("joint KL to truth: Brownian", round(sb.joint_kl(brown, truth), 4),
      "| isotropic fixed point", round(sb.joint_kl(iso.law, truth), 4),
      "| full class", f"{sb.joint_kl(full.law, truth):.1e}", f"({full.iterations} iterations)")
print("refined drift:\n", np.round(full.drifts[-1], 8))

# %%
from toytheory.claims.catalog.diffusion_bridges import cross_covariance_figure

cross_covariance_figure()

# %% [markdown]
# ## 3. PFGM++ on point data
# The posterior weights $w_i \propto (\|x - y_i\|^2 + r^2)^{-(N+D)/2}$ tend to the Gaussian
# kernel's softmax as $D \to \infty$ with $r = \sigma\sqrt D$.

# %%
from toytheory.diffusion.pfgmpp import point_posterior_mean

rng = np.random.default_rng(0)
data = rng.standard_normal((20, 3))
x = rng.standard_normal((40, 3))
sq = ((x[:, None] - data[None]) ** 2).sum(-1)
w = np.exp(-(sq - sq.min(1, keepdims=True)) / 2)
gauss = (w @ data) / w.sum(1, keepdims=True)
for D in (1, 16, 256, 4096):
    gap = np.abs(point_posterior_mean(x, data, np.sqrt(D), D) - gauss).max()
    print(f"D = {D:5d}: max |E_D[y|x] - E_gauss[y|x]| = {gap:.2e}")

# %% [markdown]
# The same on continuous data: a 2-D Gaussian mixture. The kernel is a Student-t, i.e. a
# Gaussian scale mixture ($x - y \mid V \sim N(0, r^2/V\,I)$, $V \sim \chi^2_D$), so the
# exact PFGM++ denoiser is a 1-D integral over EDM's GMM denoisers; D times the gap to EDM
# settles (the 1/D rate; claim `diffusion.pfgmpp.large_d_gmm_denoiser`).

# %%
from toytheory.diffusion.laws import GaussianMixture
from toytheory.diffusion.pfgmpp_gmm import gmm_posterior_mean

gmm = GaussianMixture(np.array([0.3, 0.7]), np.array([[-1.5, 0.0], [1.0, 1.0]]),
                      np.array([0.3 * np.eye(2), [[0.5, 0.2], [0.2, 0.4]]]))
xg = rng.uniform(-3, 3, (10, 2))
edm = gmm.denoise(xg, 1.0, 0.8)
for D in (1, 16, 256, 4096):
    gap = np.abs(gmm_posterior_mean(xg, gmm, 0.8 * np.sqrt(D), D) - edm).max()
    print(f"D = {D:5d}: gap to EDM {gap:.2e}, D x gap {D * gap:.3f}")

# %% [markdown]
# The generator itself: the PFGM++ ODE map from $\sigma = 10$ to $0.3$ against EDM's, over
# starts from EDM's prior. D times the RMS distance settles on the first-order constant
# from the variational equation (claim `diffusion.pfgmpp.large_d_ode_map_is_edm`).

# %%
from toytheory.diffusion.pfgmpp_limit import edm_prior_sample, ode_map_distance

pts = np.array([[-1.0, 0.0], [1.0, 0.5], [0.2, -1.2]])
res = ode_map_distance(edm_prior_sample(pts, 10.0, 32, rng), pts, (1, 16, 256, 4096),
                       10.0, 0.3)
for D, d in zip(res["grid"], res["distance"]):
    print(f"D = {D:5.0f}: RMS map distance {d:.2e}, D x RMS {D * d:.4f}")
print(f"first-order limit RMS(delta) = {res['limit']:.4f}")

# %% [markdown]
# The kernel's radial law of $\|x - y\|$ against D (N = 8, $r = \sigma\sqrt D$, $\sigma = 1$):
# heavy-tailed at D = 1 (PFGM), the $\sigma\chi_N$ law of diffusion as D grows.

# %%
from matplotlib.figure import Figure

from toytheory.diffusion.pfgmpp import gaussian_radial_density, radial_density

rho = np.linspace(0.01, 8, 400)
fig = Figure(figsize=(5, 3.2))
ax = fig.add_subplot()
for D in (1, 4, 16, 128, 2048):
    ax.plot(rho, radial_density(rho, 8, D, 1.0), label=f"D = {D}")
ax.plot(rho, gaussian_radial_density(rho, 8, 1.0), "k--", label="diffusion (D = inf)")
ax.set_xlabel("||x - y||")
ax.set_ylabel("density")
ax.legend(frameon=False, fontsize=8)
fig

# %% [markdown]
# ## Solver-paper claims (exact Gaussian toy)
# DEIS against Euler-in-t, USF's searched per-step schedules, DPM-Solver-v3 with exact
# empirical model statistics: see `diffusion.solvers.papers.*` (`toytheory verify -k papers`).
