# %% [markdown]
# # Guided and composed diffusion sampling, exactly
#
# Samplers that aim at a law other than the data law: annealed and product targets (FKC),
# reward-tilted targets (SVDD), minority guidance, perturbed-model guidance (PAG), and score
# distillation (SDS, Consistent3D's CDS, multi-view SDS). On Gaussian and Gaussian-mixture
# data each target is exact (or exact up to 1-D quadrature), so each sampler can be held to
# the law it claims to sample.

# %%
import numpy as np

from toytheory.diffusion import fkc, minority, pag, score_distillation, svdd, targets
from toytheory.diffusion.laws import GaussianMixture
from toytheory.diffusion.schedules import VPLinear

rng = np.random.default_rng(0)

# %% [markdown]
# ## 1. Exact targets
#
# Products, geometric averages and CFG laws of Gaussians are Gaussians; a product of two
# mixtures is a mixture; linear and quadratic reward tilts of a mixture are mixtures. The
# rest (p^beta of a mixture, the CFG law of mixtures) get a quadrature reference.

# %%
g = targets.gaussian_cfg([1.0], [[0.5]], [0.0], [[2.0]], w=1.5)
print("CFG law p(x|c)^1.5 p(x)^-0.5: mean", g.mean(), "var", g.covariance()[0, 0])
data = GaussianMixture([0.8, 0.2], [[-1.0], [1.5]], [[[0.16]], [[0.16]]])
print("p^2 of a mixture: mass of x > 0.25 =",
      round(targets.mixture_power_grid(data, 2.0, [(-6, 6)]).prob(lambda x: x[:, 0] > 0.25), 4))
print("linear tilt exp(x): weights", targets.tilt_linear(data, [1.0], 1.0).weights.round(3))

# %% [markdown]
# ## 2. Feynman–Kac correctors
#
# Running the reverse SDE with the annealed score beta * s_t does not sample p^beta; its
# output law is Gaussian and exact. FKC reweights the same particles.

# %%
path = fkc.annealed_path(VPLinear(), [1.0], [[0.25]], 2.0)
print("target:", path.target(0.0), "\nnaive :", fkc.naive_output_law(path))
x, lw = fkc.fkc_simulate(path, 64, 100, rng, n_runs=500)
w = np.exp(lw - lw.max(1, keepdims=True))
w /= w.sum(1, keepdims=True)
print("FKC weighted mean / per-run weighted variance (low by O(1/n) at 64 particles):",
      (w * x[..., 0]).sum(1).mean(),
      ((w * x[..., 0] ** 2).sum(1) - (w * x[..., 0]).sum(1) ** 2).mean())

# %% [markdown]
# Classifier-free guidance with w > 1 is the same construction with a negative exponent:
# the target p_t(x|c)^w p_t(x)^(1-w), normalisable for every w here because the conditional
# law is narrower than the unconditional one (`fkc.cfg_max_scale`). The naive CFG sampler's
# exact law drifts further from it as w grows.

# %%
cfg = dict(cond_mean=[1.0, 0.5], cond_cov=[[0.4, 0.1], [0.1, 0.3]],
           uncond_mean=[0.0, 0.0], uncond_cov=[[1.0, 0.3], [0.3, 0.8]])
print("largest normalisable w:", fkc.cfg_max_scale(cfg["cond_cov"], cfg["uncond_cov"]))
for w_cfg in (1.0, 2.0, 3.0):
    p = fkc.cfg_path(VPLinear(), w=w_cfg, **cfg)
    print(f"w = {w_cfg}: KL(naive CFG || target) =",
          round(fkc.kl_gaussian(*fkc.naive_output_law(p), *p.target(0.0)), 4))

# %% [markdown]
# ## 3. SVDD: a non-differentiable reward
#
# Reward 1{x0 >= 0.5}, alpha = 0.5. Gradient guidance sees a zero gradient; SVDD selects
# among M candidates with exact soft values and approaches the tilted target as M grows.

# %%
chain = svdd.MixtureChain1D([0.8, 0.2], [-1.0, 1.5], [0.4, 0.4], 20)
reward = svdd.IndicatorReward(0.5)
target = 1 - svdd.tilted_cdf(chain, reward, 0.5, [0.5])[0]
for M in (1, 4, 16):
    mass = np.mean(svdd.svdd_sample(chain, reward, 0.5, M, 3000, rng) >= 0.5)
    print(f"M = {M:2d}: mass {mass:.3f}  (target {target:.3f})")
print("DPS:", np.mean(svdd.dps_sample(chain, reward, 0.5, 3000, rng) >= 0.5))

# %% [markdown]
# ## 4. Minority guidance
#
# Tweedie's reconstruction loss is larger on the minority component; guiding toward the
# top-20% loss set moves mass onto the minority mode (and into the majority's tail).

# %%
mchain = svdd.MixtureChain1D([0.9, 0.1], [-1.0, 2.0], [0.5, 0.5], 20)
print("E[loss | component]:", minority.component_expected_score(mchain, 10).round(3))
_, sets = minority.minority_set(mchain, 10, 0.8)
grid = np.linspace(-6, 7, 781)
for w_ in (0.0, 1.0, 2.0, 4.0):
    dens = minority.guided_law_grid(mchain, sets, w_, grid)
    print(f"w = {w_}: minority mass {minority.minority_mass(mchain, density=dens, grid=grid):.3f}")

# %% [markdown]
# ## 5. Perturbed-model guidance
#
# With an exact model, guiding away from a structure-merged prediction trades diversity for
# precision and moves away from the data law; with an underfit model and a blurred
# perturbation it can move closer.

# %%
three = GaussianMixture([0.5, 0.3, 0.2], [[-2.0], [0.0], [2.5]], np.full((3, 1, 1), 0.09))
merged = pag.perturbed_law(three, "merged")
for s in (0.0, 0.5, 1.0, 2.0):
    u, q = pag.pag_quantiles(three, merged, s, 400)
    m = pag.quality_metrics(three, u, q)
    print(f"s = {s}: W1 {m['w1']:.3f}, near-mode {m['near']:.3f}, entropy {m['entropy']:.3f}")

# %% [markdown]
# ## 6. Score distillation
#
# SDS's expected update has a single off-mode fixed point; CDS's fixed-noise ODE update is
# steadier; a joint multi-view prior removes the Janus configurations of per-view SDS.

# %%
view = GaussianMixture([0.7, 0.3], [[1.0], [-1.0]], [[[0.04]], [[0.04]]])
print("SDS fixed point:", score_distillation.sds_fixed_point(view))
for method in ("sds", "cds"):
    m2, v = score_distillation.gradient_moments(view, method, 0.0, 300)
    print(f"{method}: within-run SNR {m2 / v:.3f}")

# %% [markdown]
# ## Figures
#
# Two of the figures the claims of this notebook attach to their evidence (the same figures
# `toytheory figures` renders).

# %%
from toytheory.claims import load_catalog
from toytheory.figures import FIGURES

load_catalog()

# %%
FIGURES["diffusion.guided_fkc_annealed"].make(0)

# %%
FIGURES["diffusion.guided_minority_mass"].make(0)
