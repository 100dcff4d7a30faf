# %% [markdown]
# # Choosing data, exactly: allocation, selection, markers and augmentation
#
# Five papers about which data to collect or keep, each on a toy whose downstream error is
# known in closed form (no trained network), so a selection rule's effect is measured, not
# estimated from a benchmark. The claims behind every section are in
# `toytheory/claims/catalog/data_*.py` (`toytheory verify -k data.`).

# %%
import numpy as np

from toytheory.data import allocation as al
from toytheory.data.figures import allocation_figure, mig_figure

rng = np.random.default_rng(0)

# %% [markdown]
# ## 1. Equitable datasets: a budget across groups
#
# ("Adaptive Sampling Strategies to Construct Equitable Training Datasets".) Three groups
# learned by least squares on 5/10/20 Gaussian features have the exact learning curve
# $e_g(n) = \sigma^2(1 + d_g/(n - d_g - 1))$; samples cost 1/2/4. The worst-group optimum
# comes with a bracket certificate, the welfare optimum with a Lagrangian dual bound.

# %%
curves = [al.OLSCurve(1.0, d) for d in (5, 10, 20)]
costs, shares, B = [1.0, 2.0, 4.0], [0.7, 0.2, 0.1], 600.0
for name, a in [("worst-group optimum", al.worst_group_allocation(curves, costs, B)),
                ("welfare optimum", al.welfare_allocation(curves, costs, B, shares)),
                ("equal", al.equal_allocation(curves, costs, B)),
                ("proportional", al.proportional_allocation(curves, costs, B, shares))]:
    print(f"{name:20s} n = {np.round(a.n, 1)}  worst = {a.errors.max():.4f}  "
          f"population = {np.dot(shares, a.errors):.4f}  certificate gap = {a.gap:.1e}")

# %% [markdown]
# The sequential strategy never sees the curves: it buys 5 samples at a time for the group
# with the largest validation error (`sims/data_groups.py` simulates the least-squares groups).

# %%
from sims.data_groups import GroupPool

worst = {"adaptive": [], "equal": []}
for r in range(40):
    pool = GroupPool((5, 10, 20), (1.0,) * 3, 1000, np.random.default_rng(r))
    n = al.sequential_worst_group(pool.validation_error, costs, B, [8, 13, 23], 5)
    for g in range(3):  # collect the last batch bought before the final fit
        pool.grow(g, int(n[g]))
    worst["adaptive"].append(max(pool.test_error(g) for g in range(3)))
    eq = GroupPool((5, 10, 20), (1.0,) * 3, 1, np.random.default_rng(1000 + r))
    for g in range(3):
        eq.grow(g, int(B / sum(costs)))
    worst["equal"].append(max(eq.test_error(g) for g in range(3)))
print({k: round(float(np.mean(v)), 4) for k, v in worst.items()}, "last adaptive n:", n)

# %%
allocation_figure(0)

# %% [markdown]
# ## 2. MIG: information gain on a label graph
#
# The information $E(S) = \sum_j (\text{propagated quality mass}_j)^{1/2}$ is monotone
# submodular, so greedy is within $1 - 1/e$ of the optimum; with a convex $x^2$ it is not
# submodular. Downstream error: a Gaussian skill model with the label graph's covariance.

# %%
from toytheory.data.mig import (LabelGraphGain, all_subset_values, best_subset,
                                greedy_select, submodularity_violations)

Y = np.eye(4)[rng.integers(4, size=9)]
q = rng.uniform(0.1, 3, 9)
W = np.roll(np.eye(4), 1, axis=1) + np.roll(np.eye(4), -1, axis=1)
for gamma in (0.5, 2.0):
    g = LabelGraphGain(Y, q, W, alpha=0.5, gamma=gamma)
    v = submodularity_violations(all_subset_values(g))
    print(f"gamma = {gamma}: violations {v['submodular_violations']} of {v['checks']}, "
          f"greedy / optimum = {g.value(greedy_select(g, 3)) / best_subset(g, 3)[1]:.4f}")

# %%
mig_figure(0, pools=20)

# %% [markdown]
# ## 3. Diversify and Conquer, 4. Treasure Hunt, 5. DiffTPT
#
# One pool of each toy; the claims run hundreds.

# %%
from toytheory.claims.catalog import data_diversify, data_markers

errors, noise_share = data_diversify.run_pool(np.random.default_rng(1), 100, 12, 4, 0.3)
print("exact test error:", {k: round(v, 3) for k, v in errors.items()})
print("share of label-noise samples:", {k: round(v, 3) for k, v in noise_share.items()})
draw = data_markers.one_draw(np.random.default_rng(2), 400, 3, 0.05, 4.0, 0.25)
print("tail errors:", {k: round(v, 3) for k, v in draw["tail"].items()})

# %%
from toytheory.data.tta import (GMMSource, cosine_filter, diffusion_views, standard_views,
                                tpt_predict)

var = np.array([0.3] * 4 + [3.0] * 4)
right = {"TPT": 0, "DiffTPT": 0}
for i in range(300):
    r = np.random.default_rng(10 + i)
    means = r.normal(size=(4, 8))
    src = GMMSource(means, 1.0, var)
    y = int(r.integers(4))
    x = means[y] + 0.35 * np.ones(8) + np.sqrt(var) * r.standard_normal(8)
    st = standard_views(x, 32, 0.5, r)
    df = cosine_filter(x, diffusion_views(src, x, 32, 0.7, r), 16)
    right["TPT"] += tpt_predict(src, x, st) == y
    right["DiffTPT"] += tpt_predict(src, x, np.vstack([st, df])) == y
print({k: v / 300 for k, v in right.items()})
