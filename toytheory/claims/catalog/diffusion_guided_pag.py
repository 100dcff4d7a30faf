"""Perturbed-model guidance (the PAG construction) on a three-mode 1-D mixture: the exact output
law of the guided ODE (quantiles pushed through DOP853), its distance to the data law,
precision and diversity against the guidance scale."""

from __future__ import annotations

import numpy as np

from toytheory import stats
from toytheory.claims import claim
from toytheory.figures import register_figure

PAPER = "Self-Rectifying Diffusion Sampling with Perturbed-Attention Guidance"
LEVEL = 1e-6
WEIGHTS, MEANS, SD = [0.5, 0.3, 0.2], [-2.0, 0.0, 2.5], 0.3
UNDERFIT = 1.3        # the imperfect base model: component sds times this


def _laws():
    from toytheory.diffusion.laws import GaussianMixture
    from toytheory.diffusion.pag import perturbed_law

    def gm(sd):
        return GaussianMixture(WEIGHTS, np.array(MEANS)[:, None],
                               np.full(3, sd ** 2)[:, None, None])

    data = gm(SD)
    base = gm(SD * UNDERFIT)
    return dict(data=data, base=base, blurred=perturbed_law(base, "broadened", 2.0),
                merged_data=perturbed_law(data, "merged"), merged_base=perturbed_law(base,
                                                                                     "merged"))


def _sim_witness(ev, ctx, data, base, pert, scale, n_sim, n_quantiles, name):
    """Heun draws (independent sampler) vs the DOP853 quantile law (KS)."""
    from toytheory.diffusion import pag

    u, x = pag.pag_quantiles(base, pert, scale, n_quantiles)
    draws = pag.pag_heun_sample(base, pert, scale, n_sim, ctx.rng("heun", name))
    res = stats.ks_1samp(draws, lambda y: np.interp(y, x, u, left=0.0, right=1.0), LEVEL)
    ev.test(f"{name}: Heun draws vs the quantile-pushed law (KS)", res, expect="accept")


@claim(
    "diffusion.guided.pag_improves_unconditional_quality",
    paper=PAPER,
    kind="paper",
    statement=("For an imperfect unconditional model of a three-mode 1-D mixture (component "
               "sds 1.3x too wide), guidance away from the same model with its structure "
               "blurred (sds 2x wider) brings the sampler's law closer to the data law at some "
               "scale in {0.25, 0.5, 1, 2}."),
    source=('Abstract: "In both ADM and Stable Diffusion, PAG surprisingly improves sample '
            'quality in conditional and even unconditional scenarios."'),
    reading=("Data 0.5 N(-2, 0.3^2) + 0.3 N(0, 0.3^2) + 0.2 N(2.5, 0.3^2). The network is the "
             "exact denoiser of the data with component sds 1.3x too wide (an underfit "
             "model); PAG's perturbed prediction (identity attention in the paper) is the "
             "exact denoiser of that model's law with sds a further 2x wider (structure "
             "blurred). Sample quality (FID in the paper, a distance between laws) is read as "
             "the Wasserstein-1 distance to the data law, exact: 1000 quantiles of the "
             "starting law pushed through the guided probability-flow ODE (DOP853, 1-D flow "
             "maps are increasing). Holds when the best scale's W1 is below the unguided "
             "model's. The answer depends on the perturbation and on the model error: with "
             "the structure *merged* (moment-matched Gaussian) no scale helps, and with an "
             "exact model every scale hurts, while precision (near-mode mass, likelihood) "
             "always rises and diversity falls: diffusion.guided.pag_precision_diversity_"
             "tradeoff."),
    witnesses=("exact", "simulated"),
    quick={"scales": (0.25, 0.5, 1.0, 2.0), "n_quantiles": 1000, "n_sim": 2000},
    full={"scales": (0.1, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0), "n_quantiles": 4000,
          "n_sim": 20_000},
)
def pag_improves_unconditional_quality(ctx, scales, n_quantiles, n_sim):
    from toytheory.diffusion import pag

    ev = ctx.evidence()
    L = _laws()
    u, x = pag.pag_quantiles(L["data"], L["merged_data"], 0.0, n_quantiles)
    ev.at_most("exact model, no guidance: W1 to the data law (ODE accuracy)",
               pag.quality_metrics(L["data"], u, x)["w1"], 2e-3)
    _sim_witness(ev, ctx, L["data"], L["base"], L["blurred"], 1.0, n_sim, n_quantiles,
                 "underfit model, blurred perturbation, s = 1")
    w1 = {}
    for s in (0.0,) + tuple(scales):
        u, x = pag.pag_quantiles(L["base"], L["blurred"], s, n_quantiles)
        m = pag.quality_metrics(L["data"], u, x)
        w1[s] = m["w1"]
        ev.record(f"s = {s:g}: W1 / near-mode mass / mode entropy", round(m["w1"], 4),
                  note=f"near {m['near']:.3f}, entropy {m['entropy']:.4f}")
    for s in scales:
        u, x = pag.pag_quantiles(L["base"], L["merged_base"], s, n_quantiles)
        ev.record(f"merged perturbation instead, s = {s:g}: W1",
                  round(pag.quality_metrics(L["data"], u, x)["w1"], 4))
    best = min(scales, key=lambda s: w1[s])
    r = ev.at_most(f"W1 at the best scale (s = {best:g}) / unguided W1", w1[best] / w1[0.0],
                   1.0, role="statement", headline=True)
    if not r.passed:
        ev.referee_note(
            says="PAG improves sample quality even in unconditional scenarios.",
            toy="three-mode 1-D GMM, underfit exact-denoiser model, blurred perturbation.",
            measured=f"W1 by scale: {w1}.",
            inside="exact denoisers; the ODE law is exact up to DOP853 tolerance.",
            would_change="another model error or perturbation.")
    return ev


@claim(
    "diffusion.guided.pag_precision_diversity_tradeoff",
    paper=PAPER,
    kind="derived",
    statement=("With the exact denoiser of a three-mode 1-D mixture and a structure-merging "
               "perturbation (the moment-matched Gaussian), raising the PAG scale over 0, 0.25, "
               "0.5, 1, 2 raises precision (near-mode mass, data log-likelihood), lowers "
               "diversity (mode-assignment entropy) and moves the law away from the data "
               "(W1 rises)."),
    reading=("Same data as diffusion.guided.pag_improves_unconditional_quality; exact output "
             "laws by quantile push-forward through the guided ODE. Near-mode mass: within 2 "
             "component sds of the nearest mode. All four monotone trends are deterministic "
             "comparisons of quadrature numbers; an exact model has nothing to rectify, so "
             "guidance can only trade diversity for precision."),
    witnesses=("exact", "simulated"),
    quick={"scales": (0.0, 0.25, 0.5, 1.0, 2.0), "n_quantiles": 1000, "n_sim": 2000},
    full={"scales": (0.0, 0.1, 0.25, 0.5, 1.0, 2.0, 4.0), "n_quantiles": 4000,
          "n_sim": 20_000},
)
def pag_precision_diversity_tradeoff(ctx, scales, n_quantiles, n_sim):
    from toytheory.diffusion import pag

    ev = ctx.evidence()
    L = _laws()
    _sim_witness(ev, ctx, L["data"], L["data"], L["merged_data"], 1.0, n_sim, n_quantiles,
                 "exact model, merged perturbation, s = 1")
    met = {}
    for s in scales:
        u, x = pag.pag_quantiles(L["data"], L["merged_data"], s, n_quantiles)
        met[s] = pag.quality_metrics(L["data"], u, x)
        ev.record(f"s = {s:g}: near / loglik / entropy / W1", round(met[s]["near"], 4),
                  note=(f"loglik {met[s]['loglik']:.4f}, entropy {met[s]['entropy']:.4f}, "
                        f"W1 {met[s]['w1']:.4f}, mode masses "
                        f"{np.round(met[s]['mode_mass'], 3).tolist()}"))
    pairs = list(zip(scales[:-1], scales[1:]))
    checks = {
        "near-mode mass rises": all(met[b]["near"] >= met[a]["near"] for a, b in pairs),
        "log-likelihood rises": all(met[b]["loglik"] > met[a]["loglik"] for a, b in pairs),
        "mode entropy falls": all(met[b]["entropy"] < met[a]["entropy"] for a, b in pairs),
        "W1 to the data law rises": all(met[b]["w1"] > met[a]["w1"] for a, b in pairs),
    }
    for i, (name, ok) in enumerate(checks.items()):
        ev.equal(name, ok, True, role="statement", headline=(i == 0))
    return ev


@register_figure("diffusion.guided_pag_tradeoff",
                 caption=("PAG on a three-mode mixture (exact model, merged perturbation): "
                          "precision (near-mode mass) vs diversity (mode entropy) along the "
                          "guidance scale"))
def pag_figure(seed: int = 0):
    from matplotlib.figure import Figure

    from toytheory.diffusion import pag

    L = _laws()
    scales = (0.0, 0.25, 0.5, 1.0, 2.0, 4.0)
    near, ent = [], []
    for s in scales:
        u, x = pag.pag_quantiles(L["data"], L["merged_data"], s, 500)
        m = pag.quality_metrics(L["data"], u, x)
        near.append(m["near"])
        ent.append(m["entropy"])
    fig = Figure(figsize=(4.5, 3.2))
    ax = fig.add_subplot()
    ax.plot(ent, near, "o-")
    for s, e, n in zip(scales, ent, near):
        ax.annotate(f"s={s:g}", (e, n), fontsize=7)
    ax.set_xlabel("mode-assignment entropy (diversity)")
    ax.set_ylabel("near-mode mass (precision)")
    return fig
