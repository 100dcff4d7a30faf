# %% [markdown]
# # Imperfect denoisers against the exact score
#
# A trained, tuned, cached or quantised denoiser is measured here against the exact score
# of the same law (toytheory.diffusion): where its error sits, and what it does to the
# samples. Issue 19; the claims are `diffusion.imperfect.*`.

# %%
import numpy as np

from toytheory.diffusion import quantisation as qz
from toytheory.diffusion import region_caching as rc
from toytheory.diffusion import score_rates as sr
from toytheory.diffusion import skip_tuning as sk
from toytheory.diffusion.hallucination import (between_modes, ddpm_sample, exact_between_mass,
                                               paper_1d_law, trained_1d_model,
                                               trajectory_variance, youden_threshold)
from toytheory.diffusion.learned import score_error_by_level

rng = np.random.default_rng(0)

# %% [markdown]
# ## 1. A small trained DDPM and its score error per noise level
#
# Data: the paper's 1-D mixture of means 1, 2, 3 with standard deviation 0.05. The
# eps-MLP is trained with the DDPM loss (T = 1000); it is cached on disk after the first
# run. The relative score error is largest at the smallest noise, where the exact score
# jumps between modes and a smooth network cannot follow.

# %%
law = paper_1d_law()
model = trained_1d_model()
err = score_error_by_level(model, [0, 10, 50, 100, 300, 999], 1000, rng)
for t, s, e in zip(err["t"], err["sigma"], err["relative_error"]):
    print(f"t = {t:4d}  sigma = {s:.3f}  relative score error = {e:.4f}")

# %% [markdown]
# ## 2. Mode interpolation and the trajectory-variance filter

# %%
x, path = ddpm_sample(model.eps, model.schedule, 2000, 1, rng, last=50)
h = between_modes(x, law.means, 0.25)
print(f"mass farther than 0.25 from every mode: trained {h.mean():.4f}, "
      f"exact {exact_between_mass(law, 0.25):.2e}")
v = trajectory_variance(path)
if 0 < h.sum() < h.size:
    cut = youden_threshold(v, h)
    print(f"cut {cut:.2e}: removes {np.mean(v[h] > cut):.2f} of hallucinations, keeps "
          f"{np.mean(v[~h] <= cut):.2f} of in-support samples (same batch)")

# %% [markdown]
# ## 3. Skip-tuning on Gaussian data (exact)

# %%
lam = sk.default_spectrum()
rhos = np.round(np.arange(0.95, 1.01, 0.005), 3)
for n in (5, 10, 20):
    f = [sk.frechet_after_sampling(lam, r, n) for r in rhos]
    i = int(np.argmin(f))
    print(f"Heun {n} steps (NFE {2 * n - 1}): Frechet^2 at rho=1 {f[-3]:.4f}, "
          f"best rho {rhos[i]} -> {f[i]:.5f}")

# %% [markdown]
# ## 4. Region-adaptive caching

# %%
prob = rc.toy_problem(d=128, structured=32)
out = rc.caching_sweep(prob, (0.125, 0.25, 0.4, 0.75), n=200, rng=rng)
for f, a, b, c in zip((0.125, 0.25, 0.4, 0.75), out["ras"], out["uniform"],
                      out["uniform_steps"]):
    print(f"fraction {f:5.3f}: RAS error {a:.2e}, uniform {c} steps {b:.2e}")

# %% [markdown]
# ## 5. Post-training quantisation of the exact linear network

# %%
qp = qz.toy_problem()
fp = qz.quantised_frechet(qp, None, n_grid=10_001)
for b in (6, 8, 10):
    ratios = {c: qz.quantised_frechet(qp, b, c, n_grid=10_001) / fp for c in qz.CALIBRATIONS}
    print(f"{b} bits: Frechet^2 / full precision", {k: round(v, 3) for k, v in ratios.items()})

# %% [markdown]
# ## 6. Score estimation from n samples, and memorisation

# %%
for n in (20, 80, 320, 1280):
    print(f"n = {n:5d}: score error (d=4) {sr.expected_score_error_plugin(n, np.eye(4)):.4f}, "
          f"KL (d=4) {sr.expected_kl_plugin(n, 4):.5f}, d(d+3)/(4n) = {7 / n:.5f}")
pts = rng.standard_normal((30, 2))
samples = sr.pf_ode_empirical(pts, 80 * rng.standard_normal((100, 2)), n_steps=60)
gap = np.sqrt(((samples[:, None] - pts[None]) ** 2).sum(-1)).min(1).max()
print("empirical score: largest distance from a sample to a training point:", gap)

# %% [markdown]
# ## 7. A trained MLP against n, next to the plug-in and the empirical score
#
# The same 2-D Gaussian training sets (training seed 0) feed three score estimators: the
# MLP eps-model trained by the DDPM loss (400 Adam steps; cached), the plug-in Gaussian
# score, and the empirical law's exact score. The error is the excess DDPM loss
# (time-averaged eps error per coordinate), exact by Gauss-Hermite quadrature for the MLP and
# in closed form for the plug-in; Monte Carlo for the empirical score. The MLP's error falls
# with n and then levels off (its training budget limits it); the plug-in's falls like 1/n;
# the empirical score stays about 200 times above the plug-in. The claim
# `diffusion.imperfect.mlp_score_error_vs_n` holds the MLP's fall from n = 16 to 1024 by a
# sign test over 21 training seeds.

# %%
from toytheory.diffusion.score_rates_mlp import compare_by_n

cmp = compare_by_n((16, 64, 256, 1024), [range(1)] * 4, n_mc=100, rng=rng, levels=(0, 100))
for i, n in enumerate(cmp["ns"]):
    print(f"n = {n:5d}: MLP {cmp['mlp'][i][0]:.2e}   plug-in {cmp['plugin'][i][0]:.2e}   "
          f"empirical {cmp['empirical'][i]:.2e}   (MLP at t = 0: {cmp['mlp_levels'][i][0]:.2e})")

# %% [markdown]
# ## 8. Mode interpolation on the 2-D 5 x 5 grid
#
# The paper's 2-D set-up (spacing 2, std 0.05): the trained DDPM puts samples between the
# modes, where the exact law has mass 3.7e-6; its learned score is smooth across the
# boundary between two modes where the exact score jumps (figure below). The model is the
# claims' (`diffusion.imperfect.mode_interpolation_grid_2d`); it trains once (about 30 s on
# an idle core, so a first run of this notebook takes longer) and is cached on disk.

# %%
from toytheory.diffusion.hallucination import paper_2d_law, trained_2d_model

law2, model2 = paper_2d_law(), trained_2d_model()
x2, _ = ddpm_sample(model2.eps, model2.schedule, 500, 2, rng, last=1)
print(f"trained DDPM: {between_modes(x2, law2.means, 0.25).mean():.3f} of its samples between "
      f"modes; exact law {exact_between_mass(law2, 0.25):.1e}")

# %% [markdown]
# ## 9. Post-training quantisation of the trained MLP
#
# The 1-D hallucination MLP quantised to b bits per tensor (min-max ranges from the
# full-precision DDIM trajectory: first step only, every step, or time-aware), DDIM 50
# steps. Naive min-max PTQ loses at 8 bits on this law (its modes are about two 8-bit steps
# wide): `diffusion.imperfect.ptq_mlp_simulated`. Min-max ranges come from one calibration
# draw, so a range that happens to be narrow clips the activations: the ranking of the
# calibrations changes with the draw (the claim records it and does not judge it).

# %%
from toytheory.diffusion import quantisation_mlp as qm

x_T = rng.standard_normal((4000, 1))
print(f"full precision: Kolmogorov distance "
      f"{qm.kolmogorov_to_law(qm.ddim_sample_mlp(qm.NumpyEpsMLP(model), x_T, 50), law):.3f}")
for b in (6, 8, 10):   # one calibration draw per calibration, the same at every b
    dist = {c: qm.kolmogorov_to_law(qm.ddim_sample_mlp(qm.quantised_mlp(
        model, b, c, 50, 1000, np.random.default_rng([1, i])), x_T, 50), law)
        for i, c in enumerate(qz.CALIBRATIONS)}
    print(f"{b} bits:", {k: round(v, 3) for k, v in dist.items()})

# %% [markdown]
# ## Figures
#
# Some of the figures the claims of this notebook attach to their evidence (the same figures
# `toytheory figures` renders).

# %%
from toytheory.claims import load_catalog
from toytheory.figures import FIGURES

load_catalog()

# %%
FIGURES["diffusion.imperfect.skip_tuning"].make(0)

# %%
FIGURES["diffusion.imperfect.region_caching"].make(0)

# %%
from toytheory.diffusion.figures_imperfect import grid_samples_figure, score_rates_panels

score_rates_panels(cmp)

# %%
grid_samples_figure(x2, law2, 0.25, model2)
