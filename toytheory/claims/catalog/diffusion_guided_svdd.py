"""Soft value-based decoding (SVDD) on 1-D Gaussian-mixture data with exact soft values and an
exact pretrained kernel: it uses a non-differentiable reward that gradient guidance cannot,
and it approaches the exact tilted target p exp(r/alpha) only as the candidate count grows."""

from __future__ import annotations

import numpy as np

from toytheory import stats
from toytheory.claims import claim
from toytheory.figures import register_figure

PAPER = ("Derivative-Free Guidance in Continuous and Discrete Diffusion Models with Soft "
         "Value-Based Decoding")
LEVEL = 1e-6
DATA = dict(weights=[0.8, 0.2], means=[-1.0, 1.5], stds=[0.4, 0.4])
SET_C = 0.5   # the reward set x0 >= 0.5 (mostly the minority mode)


def _chain(n_steps):
    from toytheory.diffusion.svdd import MixtureChain1D

    return MixtureChain1D(n_steps=n_steps, **DATA)


def _soft_value_quadrature(chain, reward, alpha, x, i):
    """alpha log E[exp(r/alpha) | x_i = x] by quadrature over x0 (independent of the closed
    form): p(x0) N(x; a x0, s^2) exp(r(x0)/alpha), trapezoid rule on grids split at the
    reward's jump (so the indicator's discontinuity costs no O(h) error)."""
    parts = [np.linspace(-7.0, SET_C, 20001), np.linspace(SET_C, 8.0, 20001)]
    a, s = chain.a[i], chain.s[i]
    num = np.zeros(np.size(x))
    den = np.zeros(np.size(x))
    for grid in parts:
        tw = np.full(grid.size, grid[1] - grid[0])
        tw[[0, -1]] *= 0.5
        p0 = sum(p * np.exp(-0.5 * (grid - m) ** 2 / sd ** 2) / sd
                 for p, m, sd in zip(DATA["weights"], DATA["means"], DATA["stds"]))
        # evaluate the reward from the side of the piece (the jump point belongs to both)
        r = reward(grid) if grid[0] < SET_C else reward(np.maximum(grid, SET_C))
        if grid[-1] == SET_C:
            r = reward(np.minimum(grid, SET_C - 1e-12))
        for j, xv in enumerate(np.atleast_1d(x)):
            lk = np.exp(-0.5 * (xv - a * grid) ** 2 / s ** 2)
            num[j] += np.sum(tw * p0 * lk * np.exp(r / alpha))
            den[j] += np.sum(tw * p0 * lk)
    return alpha * np.log(num / den)


def _witnesses(ev, ctx, chain, n_check):
    """Exact soft values vs quadrature, and the M = 1 chain vs the data law (KS)."""
    from scipy.special import ndtr

    from toytheory.diffusion import svdd

    worst = 0.0
    for reward, alpha in ((svdd.IndicatorReward(SET_C), 0.5), (svdd.LinearReward(1.0), 1.0)):
        for i in (1, chain.n_steps // 2, chain.n_steps):
            x = np.array([-2.0, -0.5, 0.4, 1.3]) * max(chain.a[i], 0.2)
            worst = max(worst, float(np.max(np.abs(
                reward.soft_value(chain, x, i, alpha)
                - _soft_value_quadrature(chain, reward, alpha, x, i)))))
    ev.at_most("exact soft value vs quadrature over x0 (max abs, both rewards, 3 levels)",
               worst, 1e-6)
    x = svdd.svdd_sample(chain, svdd.IndicatorReward(SET_C), 0.5, 1, n_check,
                         ctx.rng("pretrained"))
    cdf = lambda y: (np.array(DATA["weights"]) * ndtr(   # noqa: E731
        (y[:, None] - np.array(DATA["means"])) / np.array(DATA["stds"]))).sum(1)
    ev.test("M = 1 (the pretrained exact kernel chain) vs the data law (KS)",
            stats.ks_1samp(x, cdf, LEVEL), expect="accept")


def _mass_interval(x, level):
    k = int((x >= SET_C).sum())
    return k / x.size, stats.exact_binomial_interval(k, x.size, level)


@claim(
    "diffusion.guided.svdd_non_differentiable_reward",
    paper=PAPER,
    kind="paper",
    statement=("On a two-mode 1-D Gaussian mixture (weights 0.8/0.2) with the "
               "non-differentiable reward 1{x0 >= 0.5} at alpha = 0.5, SVDD with 16 candidates "
               "per step raises the reward's mean by at least 0.2 over the pretrained sampler, "
               "while DPS-style gradient guidance on the same reward leaves it unchanged."),
    source=('Abstract: "Notably, our approach avoids fine-tuning generative models and '
            'eliminates the need to construct differentiable models. This enables us to (1) '
            'directly utilize non-differentiable features/reward feedback"'),
    reading=("Data 0.8 N(-1, 0.4^2) + 0.2 N(1.5, 0.4^2); a perfectly trained model: the exact "
             "reverse kernel p(x_{i-1}|x_i) of a 20-level VP-linear chain, and exact soft "
             "values v_i = alpha log E[exp(r/alpha)|x_i] (Gaussian-mixture posterior and "
             "normal CDFs). SVDD is the paper's importance-sampling selection among M draws "
             "of the pretrained kernel (the initial state selected the same way). 'Utilize a "
             "non-differentiable reward' is read as: the reward's mean rises well above the "
             "pretrained sampler's exact 0.199 (threshold +0.2; the exact tilted target has "
             "0.647). Clopper-Pearson interval at 1e-6. DPS's gradient r'(x0_hat) is zero "
             "almost everywhere, so it is the pretrained sampler: tested by an exact binomial "
             "test against 0.199 (the contrast the abstract draws with 'differentiable proxy "
             "models (e.g., classifier guidance or DPS)')."),
    witnesses=("exact", "simulated"),
    quick={"n_steps": 20, "n": 6000, "n_candidates": 16, "n_check": 4000},
    full={"n_steps": 50, "n": 40_000, "n_candidates": 64, "n_check": 40_000},
)
def svdd_non_differentiable_reward(ctx, n_steps, n, n_candidates, n_check):
    from toytheory.diffusion import svdd

    ev = ctx.evidence()
    chain = _chain(n_steps)
    _witnesses(ev, ctx, chain, n_check)
    reward = svdd.IndicatorReward(SET_C)
    base = 1.0 - float(svdd.tilted_cdf(chain, reward, 1e9, [SET_C])[0])
    target = 1.0 - float(svdd.tilted_cdf(chain, reward, 0.5, [SET_C])[0])
    ev.record("pretrained mass of {x0 >= 0.5} (exact)", base)
    ev.record("exact tilted target's mass of {x0 >= 0.5}", target)
    x = svdd.svdd_sample(chain, reward, 0.5, n_candidates, n, ctx.rng("svdd"))
    est, (lo, hi) = _mass_interval(x, LEVEL)
    gain = ev.interval(f"SVDD (M = {n_candidates}) reward mean minus the pretrained mean",
                       est - base, (lo - base, hi - base), 0.2, side=">=", level=LEVEL,
                       headline=True,
                       detectable=f"a gain below 0.2 - {hi - lo:.3f} (interval width)")
    xd = svdd.dps_sample(chain, reward, 0.5, n, ctx.rng("dps"))
    k = int((xd >= SET_C).sum())
    dps = ev.test("DPS-style gradient guidance: reward mean equals the pretrained 0.199 "
                  "(exact binomial)", stats.binomial_test(k, n, base, LEVEL), expect="accept",
                  role="statement",
                  detectable=f"a shift above about {5.3 * np.sqrt(base * (1 - base) / n):.3f}")
    if gain.passed is not True or dps.passed is not True:
        ev.referee_note(
            says="SVDD directly utilizes non-differentiable reward feedback.",
            toy="two-mode 1-D GMM, indicator reward, exact soft values and exact kernel.",
            measured=f"SVDD mass {est:.3f} [{lo:.3f}, {hi:.3f}] vs pretrained {base:.3f}; "
                     f"DPS mass {k / n:.3f}.",
            inside="exact values remove the paper's value-estimation error.",
            would_change="a smaller M or a larger alpha (weaker tilt).")
    return ev


@claim(
    "diffusion.guided.svdd_bias_at_finite_candidates",
    paper=PAPER,
    kind="derived",
    statement=("With exact soft values and an exact pretrained kernel, SVDD's output falls "
               "short of the exact tilted target p exp(r/alpha) at finite M: for the indicator "
               "reward its reward-set mass at M = 8 is below the target's and above its mass at "
               "M = 2; DPS-style guidance on a linear reward also under-tilts."),
    reading=("Same toy as diffusion.guided.svdd_non_differentiable_reward (alpha = 0.5 for "
             "1{x0 >= 0.5}; alpha = 1 for r = x0, exact tilted mass 0.752). As M grows each "
             "selection step approaches the exact optimal kernel p(x'|x) e^{v'/alpha}/e^{v/"
             "alpha}, whose product telescopes to the target; at finite M self-normalised "
             "selection keeps a bias toward the pretrained law. All masses with "
             "Clopper-Pearson intervals at 1e-6 (differences: Bonferroni halves). DPS uses the "
             "exact Tweedie derivative; its Jensen gap log E[e^{r/alpha}] >= E[r]/alpha makes "
             "it under-tilt."),
    witnesses=("exact", "simulated"),
    quick={"n_steps": 20, "n": 6000, "small_m": 2, "large_m": 8, "n_check": 2000},
    full={"n_steps": 50, "n": 40_000, "small_m": 2, "large_m": 32, "n_check": 20_000},
)
def svdd_bias_at_finite_candidates(ctx, n_steps, n, small_m, large_m, n_check):
    from toytheory.diffusion import svdd

    ev = ctx.evidence()
    chain = _chain(n_steps)
    _witnesses(ev, ctx, chain, n_check)
    ind, lin = svdd.IndicatorReward(SET_C), svdd.LinearReward(1.0)
    target = 1.0 - float(svdd.tilted_cdf(chain, ind, 0.5, [SET_C])[0])
    target_lin = 1.0 - float(svdd.tilted_cdf(chain, lin, 1.0, [SET_C])[0])
    masses = {}
    for M in (small_m, large_m):
        x = svdd.svdd_sample(chain, ind, 0.5, M, n, ctx.rng("svdd", str(M)))
        masses[M] = _mass_interval(x, LEVEL / 2)
        ev.record(f"SVDD M = {M}: reward-set mass", masses[M][0],
                  note=f"interval {np.round(masses[M][1], 4).tolist()} at {LEVEL / 2:g}")
    e8, (l8, h8) = masses[large_m]
    e2, (l2, h2) = masses[small_m]
    r1 = ev.interval(f"M = {large_m}: target mass minus SVDD mass", target - e8,
                     (target - h8, target - l8), 0.0, side=">=", level=LEVEL, headline=True,
                     detectable=f"a gap above {h8 - l8:.3f}")
    r2 = ev.interval(f"SVDD mass at M = {large_m} minus at M = {small_m}", e8 - e2,
                     (l8 - h2, h8 - l2), 0.0, side=">=", level=LEVEL,
                     detectable=f"a rise above {(h8 - l8) + (h2 - l2):.3f}")
    xd = svdd.dps_sample(chain, lin, 1.0, n, ctx.rng("dps-linear"))
    ed, (ld, hd) = _mass_interval(xd, LEVEL)
    r3 = ev.interval("DPS, linear reward: target mass minus DPS mass", target_lin - ed,
                     (target_lin - hd, target_lin - ld), 0.0, side=">=", level=LEVEL,
                     detectable=f"a gap above {hd - ld:.3f}")
    if not all(r.passed is True for r in (r1, r2, r3)):
        ev.referee_note(
            says="SVDD's selection approximates the soft-optimal policy.",
            toy="two-mode 1-D GMM, exact soft values and kernel.",
            measured=f"masses M={small_m}: {e2:.3f}, M={large_m}: {e8:.3f}, target "
                     f"{target:.3f}; DPS linear {ed:.3f} vs {target_lin:.3f}.",
            inside="exact values and kernel; only M and the selection are approximate.",
            would_change="larger n (narrower intervals).")
    return ev


@register_figure("diffusion.guided_svdd_candidates",
                 caption=("SVDD output law against the candidate count M (indicator reward "
                          "1{x0 >= 0.5}, alpha = 0.5): histograms vs the exact tilted target"))
def svdd_figure(seed: int = 0):
    from matplotlib.figure import Figure

    from toytheory.diffusion import svdd

    chain = _chain(20)
    reward = svdd.IndicatorReward(SET_C)
    rng = np.random.default_rng(seed)
    grid = np.linspace(-3, 3.5, 400)
    cdf = svdd.tilted_cdf(chain, reward, 0.5, grid)
    fig = Figure(figsize=(5.5, 3.2))
    ax = fig.add_subplot()
    for M in (1, 4, 16):
        x = svdd.svdd_sample(chain, reward, 0.5, M, 4000, rng)
        ax.hist(x, bins=60, range=(-3, 3.5), density=True, histtype="step", label=f"M = {M}")
    ax.plot(0.5 * (grid[1:] + grid[:-1]), np.diff(cdf) / np.diff(grid), "k",
            label="exact tilted target")
    ax.set_xlabel("x0")
    ax.legend(frameon=False)
    return fig
