"""Masked diffusion: the first-hitting sampler against the original step sampler, exactly."""

from __future__ import annotations

import numpy as np

from toytheory import stats
from toytheory.claims import claim
from toytheory.figures import register_figure

PAPER = ("Masked Diffusion Models are Secretly Time-Agnostic Masked Models and Exploit "
         "Inaccurate Categorical Sampling")
LEVEL = 1e-6
ROUNDING = 1e-12


def masked_diffusion_toys() -> list[tuple[str, np.ndarray]]:
    """The fixed toy data laws: an order-1 Markov chain (V = 3, L = 4) and an arbitrary
    joint table (V = 2, L = 5), both from a fixed seed (the same under every run seed)."""
    from toytheory.decoding.masked_diffusion import markov_chain_joint

    rng = np.random.default_rng(2024)
    chain = markov_chain_joint(rng.dirichlet(np.ones(3)),
                               rng.dirichlet(np.full(3, 0.5), size=3), 4)
    table = rng.dirichlet(np.full(2 ** 5, 0.3)).reshape((2,) * 5)
    return [("Markov chain, V = 3, L = 4", chain), ("joint table, V = 2, L = 5", table)]


def _tv(a, b) -> float:
    return 0.5 * float(np.abs(np.asarray(a) - np.asarray(b)).sum())


@claim(
    "decoding.masked_diffusion.first_hitting_sampler_matches_original_process",
    paper=PAPER,
    kind="paper",
    statement=("With the exact denoiser, the first-hitting sampler's output law is the "
               "law the original masked-diffusion process reaches as its steps are refined, "
               "the data law."),
    source=('Abstract: "The connection on the sampling aspect is drawn by our proposed '
            'first-hitting sampler (FHS). Specifically, we show that the FHS is '
            'theoretically equivalent to MDMs\' original generation process"'),
    reading=("Equivalence is read in law: the FHS output law, computed by enumeration over "
             "partial sequences, must equal the data law (the continuous-time process's "
             "law) within float64 rounding, and the original sampler's law on N linear "
             "steps must approach it, its total variation falling like 1/N (N TV(N) "
             "changing by under 10% from N = 8 to 16). The denoiser is exact, so this "
             "tests the samplers, not training; the 20x speed-up depends on the paper's "
             "sequence length and step count and is not tested."),
    witnesses=("exact", "simulated"),
    quick={"steps": (1, 2, 4, 8, 16), "n_sim": 100_000, "sim_steps": 4},
    full={"steps": (1, 2, 4, 8, 16, 32, 64), "n_sim": 2_000_000, "sim_steps": 8},
)
def first_hitting_sampler_matches_original_process(ctx, steps, n_sim, sim_steps):
    from sims.decoding_masked import first_hitting_counts, step_sampler_counts
    from toytheory.decoding.masked_diffusion import (first_hitting_sampler_law,
                                                     linear_schedule, step_sampler_law)

    ev = ctx.evidence()
    toys = masked_diffusion_toys()
    fhs = [first_hitting_sampler_law(joint) for _, joint in toys]
    pvalues = []
    for j, ((name, joint), law) in enumerate(zip(toys, fhs)):
        counts = first_hitting_counts(joint, n_sim, ctx.seed_for("fhs", str(j)))
        pvalues.append(stats.chisquare_gof(counts, law.ravel(), LEVEL).pvalue)
        step_law = step_sampler_law(joint, linear_schedule(sim_steps))
        counts = step_sampler_counts(joint, linear_schedule(sim_steps), n_sim,
                                     ctx.seed_for("steps", str(j)))
        pvalues.append(stats.chisquare_gof(counts, step_law.ravel(), LEVEL).pvalue)
    ev.test("simulated FHS and step samplers vs their exact laws (Holm over 4 tests)",
            stats.holm(pvalues, LEVEL), expect="accept")
    worst_fhs = max(float(np.abs(law - joint).max()) for (_, joint), law in zip(toys, fhs))
    ev.at_most("FHS exact law vs the data law (max abs, worst toy)", worst_fhs, ROUNDING,
               role="statement", headline=True)
    worst_rate, not_falling = 0.0, 0
    for (name, joint), law in zip(toys, fhs):
        tvs = [_tv(step_sampler_law(joint, linear_schedule(n)), law) for n in steps]
        not_falling += sum(b >= a for a, b in zip(tvs, tvs[1:]))
        scaled = [n * tv for n, tv in zip(steps, tvs)]
        worst_rate = max(worst_rate, abs(scaled[-1] / scaled[-2] - 1.0))
        ev.record(f"{name}: TV(step law, FHS law) at N = {steps[-1]}", tvs[-1],
                  note="N TV(N): " + ", ".join(f"{s:.4f}" for s in scaled))
    ev.equal("refinements that do not bring the step law closer to the FHS law",
             int(not_falling), 0, role="statement")
    ev.at_most(f"relative change of N TV(N) from N = {steps[-2]} to {steps[-1]} (worst toy)",
               worst_rate, 0.10, role="statement")
    return ev


@register_figure("decoding.masked_diffusion_tv_vs_steps",
                 caption="Total variation of the original MDM sampler's law from the "
                         "first-hitting sampler's (the data law) against the steps")
def tv_vs_steps_figure(seed: int = 0, steps=(1, 2, 4, 8, 16, 32)):
    from matplotlib.figure import Figure

    from toytheory.decoding.masked_diffusion import (first_hitting_sampler_law,
                                                     linear_schedule, step_sampler_law)

    fig = Figure(figsize=(5, 3.2))
    ax = fig.add_subplot()
    for name, joint in masked_diffusion_toys():
        law = first_hitting_sampler_law(joint)
        ax.loglog(steps, [_tv(step_sampler_law(joint, linear_schedule(n)), law)
                          for n in steps], "o-", label=name)
    ax.set_xlabel("steps N")
    ax.set_ylabel("TV(step sampler, FHS)")
    ax.legend(frameon=False, fontsize=8)
    return fig
