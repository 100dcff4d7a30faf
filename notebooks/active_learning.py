# %% [markdown]
# # Learning to actively learn, exactly: noisy thresholds with a budget of a few queries
#
# Thresholds on 3 grid points (4 hypotheses), labels flipped with a probability that depends
# on the point. Three *noise classes* (where the labels are clean) stand for the paper's
# equivalence classes of problems. With a budget of B queries we compute, exactly:
#
# - each class's minimax-optimal adaptive policy (double oracle: the adversary's prior is an
#   LP dual, the learner's best response a dynamic programme over count states), with a
#   certificate;
# - one robust policy for all classes, the optimum of the paper's adversarial objective
#   `max_k [worst error in class k - V_k]`, and a policy *learned* for it by adversarial
#   training (Adam on query/decision logits against a softmax adversary, exact gradients);
# - the information-theoretic baselines: binary search with repeated queries, generalised
#   binary search (GBS), and the Bayes policy for a uniform prior.

# %%
import numpy as np
from matplotlib.figure import Figure

from toytheory.rl import active_learning as al

NOISES = ((0.02, 0.4, 0.4), (0.4, 0.4, 0.02), (0.2, 0.02, 0.2))

# %% [markdown]
# ## 1. Exact minimax against brute force
#
# On problems small enough to enumerate every decision tree, the double oracle's value is the
# minimax error over all randomised history-based policies.

# %%
for m, b in ((1, 2), (2, 2)):
    pr = al.ThresholdProblem(m, (0.2,), b)
    r = al.minimax_policy(pr)
    print(f"{m} points, {b} queries: double oracle {r.value:.6f} (certificate {r.lower:.6f}),"
          f" brute force {al.brute_force_minimax(pr):.6f}")

# %% [markdown]
# ## 2. One policy for every class, against the baselines

# %%
rows = []
for b in (2, 3, 4, 5, 6):
    pr = al.ThresholdProblem(3, NOISES, b)
    v = [al.minimax_policy(al.ThresholdProblem(3, (e,), b)).value for e in NOISES]
    off = np.repeat(v, 4)
    robust = al.minimax_policy(pr, off)
    learned = al.learned_policy_errors(al.adversarial_training(pr, off, steps=600, lr=0.05,
                                                               temperature=0.003))
    uniform = np.full(pr.n_problems, 1 / pr.n_problems)
    base = {"binary search": al.policy_errors(al.binary_search_policy(pr)),
            "GBS": al.policy_errors(al.gbs_policy(pr)),
            "Bayes (uniform prior)": al.policy_errors(al.bayes_policy(pr, uniform))}
    excess = {n: float(np.max(e - off)) for n, e in base.items()}
    rows.append((b, float(np.max(robust.errors - off)), excess,
                 robust.errors.reshape(3, 4).mean(), float(np.max(learned - off))))
    print(f"B = {b}: class minimax {np.round(v, 3)}, robust excess "
          f"{rows[-1][1]:.4f} (learned {rows[-1][4]:.4f}), average error "
          f"{rows[-1][3]:.3f}; baselines' excess "
          + ", ".join(f"{n} {x:.3f}" for n, x in excess.items()))

# %% [markdown]
# The robust policy's excess is small but not zero: no single policy is minimax in every
# class at once (the classes want different points queried). The baselines, and the Bayes
# policy tuned to a prior that does not match the worst instance, pay much more.

# %%
fig = Figure(figsize=(5, 3.2), layout="constrained")
ax = fig.add_subplot()
bs = [r[0] for r in rows]
ax.plot(bs, [r[1] for r in rows], "o-", label="robust, exact optimum")
ax.plot(bs, [r[4] for r in rows], "s:", label="robust, adversarially trained")
for name in rows[0][2]:
    ax.plot(bs, [r[2][name] for r in rows], ".--", label=name)
ax.set_xlabel("query budget B")
ax.set_ylabel("max_k (worst error in class k - V_k)")
ax.legend(frameon=False, fontsize=8)
fig

# %% [markdown]
# ## 3. A simulation agrees with the exact errors

# %%
from sims.active_thresholds import identification_errors  # noqa: E402

pr = al.ThresholdProblem(3, NOISES, 3)
robust = al.minimax_policy(pr, np.repeat(
    [al.minimax_policy(al.ThresholdProblem(3, (e,), 3)).value for e in NOISES], 4))
rng = np.random.default_rng(0)
sim = [identification_errors(robust.policies, robust.mixture, j, 4000, rng) / 4000
       for j in range(pr.n_problems)]
print("exact    ", np.round(robust.errors, 3))
print("simulated", np.round(sim, 3))
