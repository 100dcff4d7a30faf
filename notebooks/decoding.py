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

# %% [markdown]
# ## 4. Picking one answer: majority vote and a reward model plateau
#
# Coverage needs a perfect verifier. Without one, majority vote converges to
# P(the correct answer is the most likely one) and best-of-k under a noisy reward model to
# the chance that a top-scoring sample is correct; both stay below coverage, which tends
# to one (exact trinomial and order-statistic sums).

# %%
from scipy.stats import binom

from toytheory.decoding import selection

p = selection.beta_population(0.3, 1.2, 100)
q = 0.3 * (1 - p)
r1 = binom.pmf(np.arange(10), 9, 0.6)
r0 = binom.pmf(np.arange(10), 9, 0.4)
for k in (1, 10, 100, 1000, 10000):
    print(f"k = {k:5d}: coverage {selection.population_coverage(k, p):.3f}, majority vote "
          f"{selection.majority_vote_accuracy(k, p, q):.3f}, reward model "
          f"{selection.best_of_k_accuracy(k, p, r1, r0):.3f}")
print("limits: majority vote", selection.majority_vote_limit(p, q), " reward model",
      round(selection.best_of_k_limit(p, r1, r0), 4))

# %% [markdown]
# ## 5. FOBAR: backward checks on top of self-consistency
#
# Self-consistency saturates at P(mode correct). FOBAR multiplies each candidate's forward
# count by its backward successes (square roots, alpha = 1/2); exact by enumeration over
# forward and backward counts. It helps when the backward check is informative and hurts
# when it is not.

# %%
from toytheory.decoding import fobar

pc = selection.beta_population(2, 3, 16)
laws = np.column_stack([pc, 0.6 * (1 - pc), 0.4 * (1 - pc)])
print("self-consistency, 40 chains:", round(fobar.self_consistency_accuracy(laws, 40).mean(), 4))
for b1, b0 in ((0.7, 0.3), (0.5, 0.5), (0.52, 0.5)):
    print(f"FOBAR b1 = {b1}, b0 = {b0}:", round(fobar.fobar_accuracy(laws, 40, 8, b1, b0).mean(), 4))

# %% [markdown]
# ## 6. Cautious next-token prediction on a Markov chain
#
# The model is the true chain at temperature tau. CNTP draws several trials where the model
# is unsure and keeps the lowest-perplexity one. Exact segment laws; the metric is the
# decoded segment's probability under the true chain.

# %%
from toytheory.decoding import cautious

rng_c = np.random.default_rng(7)
P = rng_c.dirichlet(np.full(5, 0.5), size=5)
P[0, 0] = 0.0
P[0] /= P[0].sum()
for tau in (0.5, 1.0, 2.0):
    M = cautious.temperature_model(P, tau)
    rows = {"greedy": cautious.step_law_greedy(M), "sampling": M,
            "nucleus 0.9": cautious.step_law_nucleus(M, 0.9)}
    out = {name: cautious.true_segment_metrics(cautious.markov_segment_law(Q, 0, 4), P, 0, 4)[0]
           for name, Q in rows.items()}
    out["CNTP"] = cautious.true_segment_metrics(
        cautious.cntp_segment_law(M, 0, 4, 0.6 * np.log(5), 8), P, 0, 4)[0]
    print(f"tau = {tau}: " + ", ".join(f"{k} {v:.4f}" for k, v in out.items()))

# %% [markdown]
# ## 7. Float32 Gumbel-max: the cap and the effective temperature
#
# torch.rand's float32 draws lie on the grid k 2^-24, so the exponential noise is at least
# -log(1 - 2^-24) and the Gumbel noise at most 16.64. Tokens whose probability is near that
# floor times the leader's are cut, and the sampled law is sharper (exact on the grid).

# %%
from toytheory.decoding import gumbel_truncation as gt

print("Gumbel cap, float32:", gt.gumbel_cap(24), " float64:", gt.gumbel_cap(53))
for V in (10 ** 3, 10 ** 4, 10 ** 5):
    ell = gt.zipf_logits(V)
    pz = np.exp(ell) / np.exp(ell).sum()
    print(f"Zipf V = {V}: effective temperature "
          f"{gt.effective_temperature(ell, gt.truncated_race_law(pz, gt.noise_floor(24))):.5f}")

# %% [markdown]
# ## 8. SpecTr with block drafts on a Markov pair
#
# Tokens per target call, exact by dynamic programming over (token, surviving drafts,
# levels left); more drafts keep more tokens.

# %%
from toytheory.decoding import block_speculative as bs

Pt = rng.dirichlet(np.full(4, 0.7), size=4)
Pd = 0.5 * Pt + 0.5 * rng.dirichlet(np.ones(4), size=4)
for k in (1, 2, 3):
    law = bs.tokens_per_call_law(Pt, Pd, k, 4, 0)
    print(f"k = {k}: expected tokens per call {np.arange(6) @ law:.3f}")
