# %% [markdown]
# # Sampling bounds, exactly
#
# This notebook walks through the sampling area of `toytheory` on problems small enough to
# know every answer:
#
# 1. exact $\ell_p$ sensitivities with certificates, and the range of the total sensitivity;
# 2. sensitivity sampling and the **exact** distortion of the sketch;
# 3. projection DPPs and volume sampling: exact laws, exact samplers, least-squares identities;
# 4. weighted least squares with DPPs (Nouy and Michel), including the interpolation identity
#    $\mathbb E\|f - \hat f\|^2 = (m+1)\|f - P_m f\|^2$.
#
# Papers: Woodruff and Yasuda, *Sharper Bounds for ell_p Sensitivity Sampling*; Nouy and
# Michel, *Weighted least-squares approximation with determinantal point processes and
# generalized volume sampling*.

# %%
import itertools

import numpy as np

from toytheory.sampling import (embedding_distortion, leverage_scores, lewis_weights,
                                lp_sensitivities, sample_rows, sensitivity_bounds)

rng = np.random.default_rng(0)

# %% [markdown]
# ## 1. Sensitivities with a certificate
#
# $s_i = \sup_x |a_i^\top x|^p / \|Ax\|_p^p$. Every value comes with a primal lower bound
# (an explicit $x$) and a dual upper bound (an explicit $y$ with $A^\top y = a_i$).

# %%
a = rng.standard_normal((40, 3)) * (rng.pareto(1.5, size=(40, 1)) + 1)
for p in (1.0, 1.5, 2.0, 3.0):
    res = lp_sensitivities(a, p)
    lo, hi = sensitivity_bounds(3, p)
    print(f"p = {p}: total {res.total:.4f} in [{lo:.3f}, {hi:.3f}], "
          f"certificate gap {res.max_relative_gap:.1e}, method {res.method}")

# %% [markdown]
# The matrix of all $2^d$ sign vectors has equal $\ell_1$ sensitivities and total
# $d / \mathbb E|\varepsilon_1 + \dots + \varepsilon_d|$: $8/3$ for $d = 4$.

# %%
signs = np.array(list(itertools.product([-1.0, 1.0], repeat=4)))
print(lp_sensitivities(signs, 1.0).total, 8 / 3)

# %% [markdown]
# Lewis weights sum to $d$ and sandwich the sensitivities
# ($s_i \le w_i \le d^{1 - p/2} s_i$ for $p \le 2$).

# %%
w = lewis_weights(a, 1.0).weights
s = lp_sensitivities(a, 1.0).values
print(w.sum(), bool(np.all(s <= w + 1e-12)), bool(np.all(w <= np.sqrt(3) * s + 1e-12)))

# %% [markdown]
# ## 2. Sensitivity sampling and its exact distortion
#
# Keep row $i$ with probability $q_i = \min(1, \alpha s_i)$, rescale by $q_i^{-1/p}$. For
# $p = 1$ the distortion $\sup_x |\|SAx\|_1/\|Ax\|_1 - 1|$ is attained on a ray of the
# hyperplane arrangement of the rows, so enumerating the rays gives it exactly; for $p = 2$
# it is an eigenvalue problem; otherwise branch and bound brackets it.

# %%
for p in (1.0, 2.0, 3.0):
    scores = lp_sensitivities(a, p).values
    smp = sample_rows(scores, p, expected_size=15, rng=1)
    dist = embedding_distortion(a, smp.indices, smp.weights, p)
    print(f"p = {p}: kept {smp.size} rows, distortion in [{dist.lower:.4f}, {dist.upper:.4f}] "
          f"({dist.method})")

# %% [markdown]
# ## 3. Projection DPPs and volume sampling
#
# The chain rule samples a projection DPP exactly; counts over many samples match
# $P(S) = \det K_S$ (a chi-square test on counts, never on proportions).

# %%
from toytheory import stats
from toytheory.sampling.dpp import count_subsets, projection_dpp_law, sample_projection_dpp

v, _ = np.linalg.qr(rng.standard_normal((7, 3)))
subsets, probs = projection_dpp_law(v @ v.T)
counts = count_subsets((sample_projection_dpp(v, rng=rng, method="rejection")
                        for _ in range(3000)), subsets)
print(stats.chisquare_gof(counts, probs / probs.sum(), 1e-6))

# %% [markdown]
# Volume sampling makes least squares on the sample unbiased, and for $k = d$ the expected
# loss is $(d + 1)$ times the optimum, exactly (enumeration over all subsets).

# %%
from toytheory.sampling.volume import (expected_subset_loss, expected_subset_solution,
                                       least_squares_loss)

x = rng.standard_normal((7, 2))
y = rng.standard_normal(7)
w_star = np.linalg.lstsq(x, y, rcond=None)[0]
print(expected_subset_solution(x, y, 3) - w_star)
print(expected_subset_loss(x, y, 2) / least_squares_loss(x, y, w_star))

# %% [markdown]
# ## 4. Weighted least squares with DPPs
#
# Interpolation at the $m$ points of the projection DPP of the Legendre basis: the expected
# error is exactly $m + 1$ times the best approximation error (quadrature over the DPP
# density), for $f = 1/(1 + 5x^2)$.

# %%
from toytheory.sampling.bases import legendre_basis
from toytheory.sampling.interpolation import dpp_interpolation_expected_error
from toytheory.sampling.weighted_ls import TEST_FUNCTIONS, best_approximation

f = TEST_FUNCTIONS["runge"]
for m in (2, 3):
    basis = legendre_basis(m)
    coef, best = best_approximation(basis, f)
    expected, _ = dpp_interpolation_expected_error(basis, f.f, coef, points=40)
    print(m, expected / best)

# %% [markdown]
# Error ratios of the sampling schemes against $n/m$ (medians and 90% quantiles).

# %%
from toytheory.claims.catalog.sampling_weighted_ls import wls_figure

wls_figure(seed=0, m=6, ratios=(1, 2, 3), draws=40)
