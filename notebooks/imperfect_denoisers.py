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
# ## Figures
#
# Two of the figures the claims of this notebook attach to their evidence (the same figures
# `toytheory figures` renders).

# %%
from toytheory.claims import load_catalog
from toytheory.figures import FIGURES

load_catalog()

# %%
FIGURES["diffusion.imperfect.skip_tuning"].make(0)

# %%
FIGURES["diffusion.imperfect.region_caching"].make(0)
