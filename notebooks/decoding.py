# %% [markdown]
# # Decoding, exactly: masked diffusion, speculative decoding, repeated sampling
#
# Three ways of drawing text from a model, each on a toy small enough that the law of what
# comes out can be written down: a masked-diffusion sampler, speculative decoding with
# several draft tokens, and repeated sampling with a verifier. Every law below is computed
# by enumeration; simulations only confirm it.

# %%
import numpy as np
from matplotlib.figure import Figure

from toytheory import stats
from toytheory.decoding import (beta_coverage, expected_pass_at_k_exact,
                                first_hitting_sampler_law, kseq_acceptance,
                                kseq_output_law_enumerated, linear_schedule, markov_chain_joint,
                                optimal_acceptance_lp, optimal_acceptance_min_cut,
                                speculative_acceptance, step_sampler_law)

rng = np.random.default_rng(0)

# %% [markdown]
# ## 1. Masked diffusion: unmasking one token at a time is exact
#
# The data are sequences of length 4 over 3 tokens, drawn from a Markov chain. A masked
# diffusion model with the *exact* denoiser knows, for every masked position, the law of
# its token given the unmasked ones. The original sampler unmasks tokens on a grid of N
# steps; tokens unmasked in the same step are drawn independently, so the output law is
# off. The first-hitting sampler (Zheng et al.) unmasks one token at a time and is exact.

# %%
joint = markov_chain_joint(rng.dirichlet(np.ones(3)), rng.dirichlet(np.full(3, 0.5), size=3), 4)
fhs = first_hitting_sampler_law(joint)
print("FHS vs data law, max abs:", np.abs(fhs - joint).max())
steps = [1, 2, 4, 8, 16]
tv = [0.5 * np.abs(step_sampler_law(joint, linear_schedule(n)) - joint).sum() for n in steps]
for n, d in zip(steps, tv):
    print(f"N = {n:2d}: TV = {d:.4f}, N * TV = {n * d:.4f}")

# %% [markdown]
# The total variation falls like 1/N: the original sampler reaches the FHS law only in the
# limit of infinitely many steps.

# %%
fig = Figure(figsize=(4.5, 3))
ax = fig.add_subplot()
ax.loglog(steps, tv, "o-")
ax.set_xlabel("steps N")
ax.set_ylabel("TV(step sampler, data)")
fig

# %% [markdown]
# ## 2. Speculative decoding: one draft, then k drafts
#
# A draft model proposes; the target model accepts a draft token with probability
# $\min(1, p_t/p_d)$ and otherwise draws from the residual. The output law is exactly the
# target's, and the acceptance is $\sum \min(p_t, p_d) = 1 - \mathrm{TV}$. SpecTr's K-SEQ
# examines k drafts; its acceptance is at least $(1 - 1/e)$ times the optimum of a
# transport LP, which we solve two ways.

# %%
target, draft = rng.dirichlet(np.ones(5)), rng.dirichlet(np.ones(5))
print("one draft: acceptance", speculative_acceptance(target, draft))
for k in (1, 2, 3):
    law, acc = kseq_output_law_enumerated(target, draft, k)
    print(f"k = {k}: K-SEQ {acc:.4f}, optimum {optimal_acceptance_lp(target, draft, k):.4f} "
          f"(min-cut {optimal_acceptance_min_cut(target, draft, k):.4f}), "
          f"law error {np.abs(law - target).max():.1e}")

# %%
ks = np.arange(1, 9)
fig = Figure(figsize=(4.5, 3))
ax = fig.add_subplot()
opt = [optimal_acceptance_min_cut(target, draft, k) for k in ks]
ax.plot(ks, opt, "o-", label="optimal")
ax.plot(ks, [kseq_acceptance(target, draft, k) for k in ks], "s-", label="K-SEQ")
ax.plot(ks, (1 - np.exp(-1)) * np.array(opt), "--", label="(1 - 1/e) optimal")
ax.set_xlabel("draft candidates k")
ax.legend(frameon=False)
fig

# %% [markdown]
# ## 3. Repeated sampling: pass@k and coverage
#
# With c correct answers among n samples, $1 - \binom{n-c}{k}/\binom{n}{k}$ estimates
# pass@k without bias; the plug-in $1 - (1 - c/n)^k$ is biased low. Exactly, in rationals:

# %%
print("E[unbiased] =", expected_pass_at_k_exact(10, 3, "1/3"), " 1 - (2/3)^3 =", 1 - (2 / 3) ** 3)
print("E[plug-in]  =", expected_pass_at_k_exact(10, 3, "1/3", "plugin"))

# %% [markdown]
# Over problems whose success rates are Beta(a, b), coverage after k attempts is
# $1 - B(a, b+k)/B(a, b)$: the unsolved fraction falls like $k^{-a}$, so a population with
# many very hard problems (small a) keeps gaining from more samples over many orders of
# magnitude. A simulation of 20,000 problems agrees:

# %%
a, b, k = 0.2, 2.0, 100
p = rng.beta(a, b, size=20_000)
solved = int((rng.random(p.size) < 1 - (1 - p) ** k).sum())
print("exact", float(beta_coverage(k, a, b)), " simulated", solved / p.size,
      " 99.9999% interval", stats.exact_binomial_interval(solved, p.size, 1e-6))
