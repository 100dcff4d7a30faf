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
# # Bellman completeness, RCSL and trajectory stitching, exactly
#
# A walk through "Free from Bellman Completeness: Trajectory Stitching via Model-based
# Return-conditioned Supervised Learning" (Zhou et al., 2023) on toys small enough to
# solve exactly:
#
# 1. **Linearq(u)**, the counterexample from the paper's code: its optimal values are two
#    ReLUs, yet its rewards zigzag.
# 2. **The width gap**: Bellman completeness forces a two-layer ReLU class to fit the
#    rewards (the backup of the zero function), which needs about `u` neurons, while the
#    optimal policy that RCSL learns is a width-2 network.
# 3. **Learning**: RCSL and fitted Q iteration trained on the paper's dataset.
# 4. **RCSL cannot stitch**, and **MBRCSL** can.
#
# Every value below is a Fraction or an integer unless stated otherwise.

# %%
import numpy as np

from toytheory.rl.exact import exact_value_iteration
from toytheory.rl.linearq_mdp import linearq, linearq_q_star, linearq_rewards

u = 4
mdp = linearq(u)
values = exact_value_iteration(mdp)
print(f"|S| = {mdp.n_states}, H = {mdp.H}")
print("V*(0) =", values.v(0, 0), " (4u + 2 =", 4 * u + 2, ")")
print("Q*(0, 0) =", values.q(0, 0, 0), "  Q*(0, 1) =", values.q(0, 0, 1))

# %% [markdown]
# Value iteration here is integer backward induction (rewards are half-integers, so
# they are doubled first). The optimal policy is the threshold `a = 1[s >= u + 1]`:
# take action 0 up to state `u`, then action 1.

# %%
q = linearq_q_star(u)
r = linearq_rewards(u)
print(" s | Q*(s,0)  Q*(s,1) | r(s,0)  r(s,1)")
for s in range(mdp.n_states):
    print(f"{s:2d} | {str(q[s, 0]):>7s}  {str(q[s, 1]):>7s} | {str(r[s, 0]):>6s}  "
          f"{str(r[s, 1]):>6s}")

# %% [markdown]
# ## Breakpoints
#
# A two-layer ReLU network of width `w` on a scalar input is piecewise linear with at
# most `w` breakpoints. To fit values on the integers, each non-zero second difference
# `D_k` needs a breakpoint in `(k-1, k+1)` whose slope jump has the sign of `D_k`; one
# breakpoint can serve two adjacent `k` only if their `D` agree in sign. So a fit needs
# `m* = sum over same-sign runs of ceil(run / 2)` breakpoints, and `m*` is attained.

# %%
from toytheory.rl.interpolation import breakpoint_lower_bound, second_differences
from toytheory.rl.plots import linearq_breakpoints_figure

for a in range(2):
    d = second_differences(list(r[:, a]))
    print(f"a = {a}: D =", [str(x) for x in d])
    print(f"        m* = {breakpoint_lower_bound(list(r[:, a]))}")
linearq_breakpoints_figure(u)

# %% [markdown]
# ## The width gap
#
# The zero network is in every class of two-layer networks and its Bellman backup is the
# reward, so a Bellman-complete class must fit `r(., a)`. The least width is exact: the
# lower bound meets an explicit network. RCSL's optimal policy is
# `ReLU(s - u) - ReLU(s - u - 1)`.

# %%
from toytheory.rl.plots import width_figure
from toytheory.rl.width_gap import (bellman_completeness_width, rcsl_network_return,
                                    rcsl_threshold_network)

for uu in (1, 2, 4, 10, 40):
    bw = bellman_completeness_width(uu)
    print(f"u = {uu:3d}, |S| = {bw.n_states:4d}: least Bellman-complete width = {bw.lower} "
          f"(explicit network: {bw.upper}); RCSL width 2 earns {rcsl_network_return(uu)}")
net = rcsl_threshold_network(u)
print("RCSL network on states 0..14:", [int(net(s, 0)) for s in range(15)])
width_figure(range(1, 41))

# %% [markdown]
# The same count, proved for symbolic `u` with sympy (both parities of `u`):

# %%
from proofs.rl_breakpoints import prove_breakpoint_count

proof = prove_breakpoint_count()
print("holds:", proof.holds)
for key, val in proof.details.items():
    if key.startswith("u = "):
        print(key, val)

# %% [markdown]
# ## Learning on the paper's dataset
#
# `3|S|` optimal trajectories and `H` trajectories that flip one action. RCSL is a small
# MLP on (state, return-to-go); fitted Q iteration is a full-batch DQN. Returns are exact.
# (Small `u` and short training here; the claims run larger ones.)

# %%
from toytheory.rl.learners import fit_q_iteration, fit_rcsl_mlp

rcsl_run = fit_rcsl_mlp(4, [8], [0, 1], steps=300)
fqi_run = fit_q_iteration(4, [2, 16], [0, 1], steps=30)
print("optimum:", rcsl_run.optimum)
print("RCSL width 8:", {k: str(v) for k, v in rcsl_run.returns.items()})
print("FQI:", {k: str(v) for k, v in fqi_run.returns.items()})

# %% [markdown]
# ### What we observe
#
# In our runs, RCSL (widths 8 and 16) reached `4u + 2` on every seed and every `u` we
# tried. Fitted Q iteration at the widths the claim tests (`u/4` to `4u`) sometimes does
# and sometimes does not; the claim `rl.linearq.dqn_falls_short` reads the statement's
# "usually" as *at least half the runs short, at every u in 16..160*. With the claim's
# full-tier setting (3 seeds, 50 Adam steps per target refresh), in our runs:
#
# - u = 16: 2 of 12 runs ended short; u = 32: 3 of 12; u = 64: 4 of 9 (the current code);
# - u = 160: 9 of 9 ended short (an earlier full-tier report, made before the learners'
#   final revision and not rerun since, as it takes about an hour; that report had 4/12,
#   3/12 and 4/9 at u = 16, 32, 64);
# - at these widths a short run misses by **1/2** far more often than by about one point:
#   every short run at u = 32 and 64 of the current code missed by 1/2, and at least 6 of
#   the 9 at u = 160; misses of 1 or more come mostly from the fixed widths 2 and 4, which
#   fall short on most seeds at every `u`.
#
# So, in our runs, the shortfall the statement describes is real but small (1/2 rather than
# about 1), and it is the usual outcome only at the largest `u`: at u = 16 to 64 fewer than
# half the runs fall short, which is why the claim is refuted in the quick tier (u = 16).
# The claim's report carries the same kind of sentence, computed from its own run.
#
# The figure below uses a small, fast setting (u = 4 and 8, two seeds, short training), so it
# illustrates the plot rather than the trend; `toytheory figures` and the claim's report draw
# it for the claim's settings.

# %%
from toytheory.claims.catalog.rl_learning import returns_vs_u_figure
from toytheory.rl.learners import paper_widths, shortfall_summary

small = [fit_q_iteration(uu, paper_widths(uu), [0, 1], steps=30) for uu in (4, 8)]
small += [fit_rcsl_mlp(uu, [8], [0, 1], steps=300) for uu in (4, 8)]
print(shortfall_summary([run for run in small if run.method == "fqi"]))
returns_vs_u_figure(runs=small)

# %% [markdown]
# ## RCSL cannot stitch
#
# A chain of `2L` steps; action 0 pays in the first half, action 1 in the second. The data
# has "always 0" and "always 1" trajectories (each of return `L`), so every state-action
# pair is covered equally, and transitions are deterministic. RCSL follows one family.

# %%
from toytheory.rl.rcsl import fit_tabular_rcsl
from toytheory.rl.stitching import stitching_dataset, stitching_mdp

for L in (1, 3, 5):
    chain, data = stitching_mdp(L), stitching_dataset(L, 2)
    rcsl = fit_tabular_rcsl(data, 2)
    print(f"L = {L}: optimum {exact_value_iteration(chain).v(0, 0)}, "
          f"RCSL {rcsl.expected_return(chain)}")

# %% [markdown]
# ## MBRCSL on a grid Point Maze
#
# Learn the dynamics and a behaviour policy by counting, roll the behaviour policy out in
# the model, keep the rollouts that beat the data's best return, fit RCSL on them.

# %%
from toytheory.rl.plots import maze_paths_figure
from toytheory.rl.pointmaze import mbrcsl, point_maze, point_maze_dataset

maze = point_maze(10)
rng = np.random.default_rng(0)
maze_data = point_maze_dataset(maze, 1000, 0.1, rng)
result = mbrcsl(maze, maze_data, 1000, rng)
print(f"optimum {result.optimal}, data's best {result.dataset_best}, "
      f"kept rollouts {result.n_kept}")
print(f"MBRCSL {result.mbrcsl}, RCSL {result.rcsl}, BC {float(result.bc):.3f} "
      f"(most frequent action: {result.bc_greedy})")
maze_paths_figure(maze, maze_data, result.kept)

# %% [markdown]
# ## On-policy sampling without on-policy sampling
#
# "On-Policy Policy Gradient Reinforcement Learning Without On-Policy Sampling": i.i.d.
# draws from the policy leave the empirical action distribution away from the policy
# (sampling error); ROS and PROPS adapt the behaviour policy to sample under-sampled
# actions more. Below, the exact expected total-variation error after t actions of a
# 3-action bandit policy, by enumeration over the count vectors.

# %%
from toytheory.rl.on_policy_sampling import expected_sampling_error

policy = np.array([0.6, 0.3, 0.1])
steps = 30
for sampler, kw in (("on_policy", {}), ("ros", {"step_size": 1.0}),
                    ("props", {"step_size": 1.0, "clip": 0.3})):
    err = expected_sampling_error(policy, steps, sampler=sampler, **kw)
    print(f"{sampler:10s} E TV after 5, 10, 30 actions: "
          f"{err[4]:.4f}, {err[9]:.4f}, {err[29]:.4f}")
