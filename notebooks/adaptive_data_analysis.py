# %% [markdown]
# # Adaptive data analysis: why reusing data overfits, and how noise fixes it
#
# Setting ("Preserving Statistical Validity in Adaptive Data Analysis", Dwork, Feldman, Hardt,
# Pitassi, Reingold and Roth): a sample of $n$ points from a population $P$; an analyst asks
# statistical queries $\phi: X \to [0, 1]$, **each chosen after seeing the earlier answers**;
# a mechanism answers. We want every answer close to the true $\mathbb{E}_P \phi$.
#
# Every population in this notebook is known exactly, so every true answer is exact.

# %%
import numpy as np
from matplotlib.figure import Figure

from toytheory.adaptive import bounds
from toytheory.adaptive.analysts import LogOddsCorrelationAttack, NonAdaptiveAnalyst, run_interaction
from toytheory.adaptive.mechanisms import (EXHAUSTED, EmpiricalMechanism, GaussianMechanism,
                                           SampleSplittingMechanism, Thresholdout)
from toytheory.adaptive.populations import RademacherPopulation

rng = np.random.default_rng(0)

# %% [markdown]
# ## 1. An adaptive analyst overfits the sample mean
#
# Features $x \in \{-1,+1\}^{m-1}$ and a label $y$ are independent fair coins, so every
# query below has true answer exactly $1/2$. The **log-odds attack** asks the $m - 1$
# queries $\mathbf 1\{x_j = y\}$, then one halfspace query weighted by the log-odds of the
# answers. Its answer on the sample is about $\Phi(\sqrt{(m-1)/n}) - 1/2$ too high.

# %%
n, m = 1000, 101
population = RademacherPopulation(m - 1)
adaptive, control = [], []
for child in rng.spawn(60):
    data = population.sample(n, child)
    adaptive.append(run_interaction(LogOddsCorrelationAttack(m), EmpiricalMechanism(data),
                                    population).worst_error)
    control.append(run_interaction(NonAdaptiveAnalyst(m, rng=child), EmpiricalMechanism(data),
                                   population).worst_error)
print(f"mean worst error, adaptive:     {np.mean(adaptive):.4f}")
print(f"mean worst error, non-adaptive: {np.mean(control):.4f}")
print(f"Gaussian approximation:         {bounds.gaussian_attack_error(n, m):.4f}")
print(f"Hoeffding + union bound (beta = 0.05, valid only non-adaptively): "
      f"{bounds.hoeffding_union_bound(n, m, 0.05):.4f}")

# %% [markdown]
# The same experiment over many seeds runs in the Numba simulator (`sims/adaptive_rounds.py`).
# The worst error grows like $\sqrt{m/n}$ (the claim
# `adaptive.overfitting.empirical_error_grows_like_sqrt_m_over_n` fits the exponent).

# %%
from sims.adaptive_rounds import simulate_attack

ms = [20, 40, 80, 160]
means = [simulate_attack(2000, mm, 200, seed=i)["worst_error"].mean() for i, mm in enumerate(ms)]
slope = np.polyfit(np.log(ms), np.log(means), 1)[0]
print("mean worst errors:", np.round(means, 4), " fitted exponent of m:", round(slope, 3))

# %% [markdown]
# ## 2. Mechanisms that resist adaptivity, and their bounds
#
# * **Sample splitting**: query $i$ on its own part of $\lfloor n/m\rfloor$ points; width
#   $\sqrt{\ln(2m/\beta)/(2\lfloor n/m\rfloor)}$.
# * **Gaussian noise** $N(0,\sigma^2)$: $\rho = m/(2n^2\sigma^2)$-zCDP, then Jung et al.'s transfer
#   theorem turns privacy plus sample accuracy into population accuracy
#   $\alpha + (e^\varepsilon - 1) + c + 2d$ with probability $1 - \beta/c - \delta/d$.
#
# For few queries splitting wins; for many queries noise wins (the bound grows like $m^{1/4}$
# against $m^{1/2}$ for splitting).

# %%
n = 10**5
for mm in (10, 100, 1000, 5000):
    sigma, b = bounds.optimal_gaussian_sigma(n, mm, 0.05)
    print(f"m = {mm:5d}: splitting {bounds.sample_splitting_width(n, mm, 0.05):.3f}   "
          f"Gaussian + transfer {b.tau:.3f} (sigma = {sigma:.4f})")

# %% [markdown]
# Budgets are exact: a Gaussian mechanism built for $m$ queries within $\rho$ answers exactly
# $m$ of them and then says so with the sentinel `EXHAUSTED` (never a number).

# %%
data = RademacherPopulation(3).sample(500, 1)
mech = GaussianMechanism.for_budget(data, rho_budget=0.5, m=3, rng=2)
from toytheory.adaptive.queries import CoordinateAgreementQuery

print([mech.answer(CoordinateAgreementQuery(0)) for _ in range(4)],
      f"rho spent: {float(mech.accountant.rho):.4f}")
print(SampleSplittingMechanism(data, 2).answer(CoordinateAgreementQuery(1)))

# %% [markdown]
# ## 3. Thresholdout, the reusable holdout
#
# Answer with the training mean unless it differs from the holdout mean by more than a noisy
# threshold; then answer the holdout mean plus Laplace noise and spend one unit of budget.

# %%
train, holdout = RademacherPopulation(2).sample(300, 3), RademacherPopulation(2).sample(300, 4)
t = Thresholdout(train, holdout, threshold=0.04, sigma=0.002, budget=2, rng=5)
print("sets agree:   ", t.answer_means(0.61, 0.60))
print("sets disagree:", t.answer_means(0.70, 0.50), t.answer_means(0.70, 0.50))
print("budget spent: ", t.answer_means(0.5, 0.5), f"(epsilon spent {float(t.accountant.epsilon):.3f})")

# %% [markdown]
# ### The reusable-holdout experiment (Dwork et al., Science 2015)
#
# Labels independent of $d$ Gaussian features; the analyst keeps the features whose training
# and holdout correlations agree, classifies with the signs of the top $k$, and asks the
# holdout for the accuracy. Reusing the holdout reports about 63% at the largest $k$; the true
# accuracy is exactly 50%. Here at $n = d = 1000$ (the claims run $n = d = 10{,}000$ in full).

# %%
from sims.adaptive_holdout import simulate_reusable_holdout

res = simulate_reusable_holdout(1000, 1000, reps=20, seed=0)
fig = Figure(figsize=(9, 3.2))
axes = fig.subplots(1, 2, sharey=True)
for ax, (title, values) in zip(axes, (("standard holdout", res.standard),
                                       ("Thresholdout", res.thresholdout))):
    for i, label in enumerate(("training", "reported by the holdout", "fresh")):
        ax.plot(res.k_values, np.nanmean(values[:, :, i], axis=0), "o-", ms=3, label=label)
    ax.axhline(0.5, color="k", ls="--", lw=0.8)
    ax.set_title(title)
    ax.set_xlabel("k")
axes[0].legend(fontsize=7)
fig

# %% [markdown]
# ## 4. Auditing the Laplace mechanism's privacy
#
# DP libraries check their mechanisms by histograms of outputs on neighbouring datasets:
# $\sum_{\text{bins}}\max(0, c_a - e^\varepsilon c_b)/N \le \delta + $ a count-based tolerance.

# %%
from toytheory.adaptive import audit
from toytheory.adaptive.mechanisms import laplace_release

eps, n_points = 1.0, 100
edges = audit.audit_edges(0.30, 0.31, 1 / (n_points * eps))
for factor in (1.0, 0.8):
    a = laplace_release(0.30, eps / factor, 1 / n_points, rng=6, size=300_000)
    b = laplace_release(0.31, eps / factor, 1 / n_points, rng=7, size=300_000)
    r = audit.audit_dp(a, b, eps, edges)
    print(f"noise x{factor}: delta-hat {r.statistic:.4f}, tolerance {r.tolerance:.4f}, "
          f"passes: {r.passed}")

# %% [markdown]
# ## 5. Private multiplicative weights: many queries, few updates
#
# On a finite universe, PMW keeps a synthetic distribution and only touches the data (and
# spends privacy) when the synthetic answer is visibly wrong.

# %%
from toytheory.adaptive.mechanisms import PrivateMultiplicativeWeights
from toytheory.adaptive.populations import FinitePopulation

pop = FinitePopulation(np.random.default_rng(8).dirichlet(np.ones(16)))
counts = pop.histogram(pop.sample(5000, 9))
pmw = PrivateMultiplicativeWeights(counts, threshold=0.05, sigma=2e-4, max_updates=2000, rng=10)
qs = np.random.default_rng(11).random((2000, 16))
errs = [abs(pmw.answer(q) - q @ pop.probabilities) for q in qs]
print(f"2000 queries, {pmw.updates} updates, worst population error {max(errs):.3f}, "
      f"epsilon spent {float(pmw.accountant.epsilon):.2f}")
