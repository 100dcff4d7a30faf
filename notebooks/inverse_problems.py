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
# # Inverse problems with diffusion priors, against exact posteriors
#
# With a Gaussian or Gaussian-mixture prior and a linear-Gaussian measurement
# $y = Ax + s\xi$ the posterior is again Gaussian or a mixture, in closed form, and so is
# its diffusion. Every posterior sampler can then be held to the exact posterior. This
# notebook walks through `toytheory.diffusion.posterior` (issue 17): the exact GMM posterior
# and DPS, keyframe interpolation (ViBiDSampler), a prior learned through a forward model,
# 3-D from 2-D slice priors, multi-view consistency (VideoMV) and Sequential Neural
# Likelihood.

# %%
import numpy as np

from toytheory.diffusion import GaussianMixture
from toytheory.diffusion.posterior import bridge, forward_models, multiview, snl, volume
from toytheory.diffusion.posterior.gmm import exact_gmm_posterior
from toytheory.diffusion.posterior.samplers import (dps_score, exact_posterior_score,
                                                    halfplane_mass, pigdm_score,
                                                    projection_sampler, reverse_sde)
from toytheory.diffusion.schedules import karras_sigmas
from toytheory.gaussian_distances import bures_wasserstein_distance, kl_divergence_gaussians

rng = np.random.default_rng(0)

# %% [markdown]
# ## 1. The exact GMM posterior, and DPS
#
# Two modes at $x_1 = \pm 2$, measurement $y = x_1 + x_2 + 0.2\xi$ observed at 1: the
# posterior keeps about 5% of its mass on the minor mode $x_1 < 0$. DPS drops most of it,
# PiGDM and the projection method put too much there.

# %%
cov = np.diag([0.3, 1.0])
prior = GaussianMixture([0.5, 0.5], [[-2.0, 0.0], [2.0, 0.0]], [cov, cov])
A, s, y = np.array([[1.0, 1.0]]), 0.2, np.array([1.0])
post = exact_gmm_posterior(prior, A, s, y)
print("posterior weights", post.weights.round(4), "P(x1 < 0 | y) =",
      round(1 - halfplane_mass(post, [1.0, 0.0]), 4))
sig = karras_sigmas(96, 0.002, 80.0, append_zero=False)
for name, score in (("exact score", exact_posterior_score(post)),
                    ("DPS", dps_score(prior, A, s, y)), ("PiGDM", pigdm_score(prior, A, s, y))):
    x = reverse_sde(score, sig[0] * rng.standard_normal((1500, 2)), sig, rng)
    print(f"{name:12s} P(x1 < 0) = {np.mean(x[:, 0] < 0):.4f}")
x = projection_sampler(prior, A, y, sig[0] * rng.standard_normal((1500, 2)), sig, rng)
print(f"{'projection':12s} P(x1 < 0) = {np.mean(x[:, 0] < 0):.4f}")

# %% [markdown]
# ## 2. Keyframe interpolation: the exact bridge against three samplers
#
# Frames follow a Gaussian random walk; given $x_0 = -1$ and $x_8 = 1$ the inner frames'
# exact law is the Brownian bridge. All samplers are linear-Gaussian, so each KL is exact.

# %%
K = bridge.frame_kernel(8, "walk")
laws = bridge.sampler_laws(K, np.eye(1), [-1.0], [1.0], karras_sigmas(128, 0.002, 80.0,
                                                                       append_zero=False))
mb, cb = laws["bridge"]
for name, (m, c) in laws.items():
    if name != "bridge":
        print(f"KL({name:13s} || bridge) = {kl_divergence_gaussians(m, c, mb, cb):.4f}")

# %% [markdown]
# ## 3. A prior learned only through masked observations
#
# Signals in $\mathbb R^6$, each seen through 3 random coordinates. The objective's
# minimiser matches the observed means and pairwise covariances; with blocks never seen
# together, the cross-block covariance is not identified.

# %%
from toytheory.claims.catalog.diffusion_posterior_forward_models import (block_masks,
                                                                          half_masks, truth)

mu, S = truth()
for label, masks in (("half masks", half_masks()), ("block masks", block_masks())):
    probs = np.full(len(masks), 1.0 / len(masks))
    m, C = forward_models.fit_from_masked(*forward_models.draw_masked(mu, S, masks, probs,
                                                                      8000, rng))
    print(f"{label}: KL(learned || true) = {kl_divergence_gaussians(m, C, mu, S):.3f}, "
          f"unidentified pairs {forward_models.unidentified_pairs(masks)[:3]}...")

# %% [markdown]
# ## 4. 3-D from 2-D slice priors
#
# Posterior *samples* under independent 2-D slices are incoherent across slices; the
# smoothness prior across slices fixes that (and over-tightens the posterior).

# %%
for kind in ("independent", "augmented", "true"):
    vox, cross = volume.sample_errors(kind, 5, 5, 0.1, lam=5.0)
    print(f"{kind:12s} sample error per voxel {vox:.3f}, cross-slice {cross:.3f}")

# %% [markdown]
# ## 5. Multi-view consistency through a shared reconstruction (VideoMV)

# %%
R = multiview.renderers(4, 4, 2)
ml = multiview.sampler_laws(R, 0.05, 2, np.ones(2), karras_sigmas(128, 0.002, 80.0,
                                                                  append_zero=False))
for name, (m, c) in ml.items():
    print(f"{name:12s} consistency {multiview.consistency_error(R, 2, np.ones(2), m, c):.4f}"
          f"  W2 to exact {bures_wasserstein_distance(m, c, *ml['target']):.3f}")

# %% [markdown]
# ## 6. Sequential Neural Likelihood against Metropolis, in simulator calls

# %%
from toytheory.claims.catalog.diffusion_posterior_snl import toy

sim, x_o = toy()
target = sim.posterior(x_o)
for calls, m, c in snl.snl_rounds(sim, x_o, 5, 200, rng):
    print(f"SNL {calls:5d} calls: KL {kl_divergence_gaussians(m, c, *target):.4f}")
for calls in (1000, 20000):
    M, C = snl.metropolis_chains(sim, x_o, calls, 10, rng)
    print(f"MCMC {calls:5d} calls: median KL "
          f"{np.median([kl_divergence_gaussians(M[i], C[i], *target) for i in range(10)]):.4f}")

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
FIGURES["diffusion.posterior_samplers_vs_exact"].make(0)

# %%
FIGURES["diffusion.posterior_bridge_variances"].make(0)
