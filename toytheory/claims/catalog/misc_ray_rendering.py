"""ProNeRF: sampling points along a ray for volume rendering, against the exact rendering
integral of a known density (a faint layer in front of an opaque surface)."""

from __future__ import annotations

import numpy as np

from toytheory.claims import claim
from toytheory.figures import register_figure

PAPER = ("ProNeRF: Learning Efficient Projection-Aware Ray Sampling for Fine-Grained "
         "Implicit Neural Radiance Fields")
LEVEL = 1e-6
SCENE = dict(amplitudes=(0.7, 40.0), centres=(0.3, 0.62), widths=(0.02, 0.015))
"""A semi-transparent layer (absorbs half the light) at 0.3 in front of an opaque surface."""
BINS = 64


def _scene():
    from toytheory.sampling.ray_rendering import RayScene

    return RayScene(**SCENE)


def _samplers(scene):
    from toytheory.sampling import ray_rendering as rr

    exploit = rr.exploit_bin_masses(scene, BINS)
    return {
        "stratified": lambda n, rays, rng: rr.stratified_points(scene, n, rays, rng),
        "exact-weight proposal": lambda n, rays, rng: rr.proposal_points(
            scene, rr.ideal_bin_masses(scene, BINS), n, rays, rng),
        "exploit only": lambda n, rays, rng: rr.proposal_points(scene, exploit, n, rays, rng),
        "exploit + explore": lambda n, rays, rng: rr.proposal_points(
            scene, rr.mix_bin_masses(exploit, 0.25), n, rays, rng),
    }


@claim(
    "sampling.ray_rendering.exploration_sees_the_whole_ray",
    paper=PAPER,
    kind="paper",
    statement=("On a ray with a semi-transparent layer in front of an opaque surface, a "
               "sampler that keeps only the densest region has a rendering error that does "
               "not fall with more samples, and mixing in exploration (a quarter of the "
               "samples' law uniform) gives a lower mean squared error at 64 samples per ray."),
    source=('Abstract: "Our exploration and exploitation training strategy allows ProNeRF to '
            'learn the full scenes\' color and density distributions while also learning '
            'efficient ray sampling focused on the highest-density regions."'),
    reading=("The density is known, not learned, so 'learn the full scene' is read as the "
             "sampler placing points wherever the density contributes to the colour. "
             "Exploitation: the exact weight T sigma restricted to the densest bump (a "
             "sampler trained only where the density is highest); exploration: that law "
             "mixed with 25% uniform. Points are drawn by stratified inverse CDF on 64 bins "
             "and composited with NeRF's quadrature; the reference colour is exact "
             "(adaptive quadrature of the closed-form transmittance). Holds if the paired "
             "difference of squared errors (exploit - explore) at 64 samples has its 1e-6 "
             "empirical-Bernstein interval above 0, and exploit-only's MSE at 64 samples is "
             "at least half its MSE at 8 (no decrease). The projection-aware network and the "
             "PSNR/speed numbers of the abstract are not tested."),
    witnesses=("exact", "simulated"),
    quick={"rays": 3_000},
    full={"rays": 50_000},
)
def exploration_sees_the_whole_ray(ctx, rays):
    from scipy.integrate import quad

    from toytheory import stats
    from toytheory.sampling import ray_rendering as rr

    ev = ctx.evidence()
    scene = _scene()
    C = rr.exact_colour(scene)
    total, _ = quad(lambda s: float(scene.transmittance(s) * scene.density(s)), scene.near,
                    scene.far, points=list(SCENE["centres"]), epsabs=1e-13, limit=500)
    ev.close("int T sigma by quadrature vs 1 - T(far) in closed form", total,
             1.0 - float(scene.transmittance(scene.far)), atol=1e-9)
    grid = (np.arange(20_000) + 0.5) / 20_000
    ev.close("compositing on a 20,000-point grid vs the exact colour", float(
        rr.composite(scene, grid[None, :])[0]), C, atol=1e-6)
    samplers = _samplers(scene)
    rng = ctx.rng("rays")
    err = {(name, n): rr.rendering_errors(scene, draw(n, rays, rng))
           for name, draw in samplers.items() for n in (8, 64)}
    for key, e in err.items():
        ev.record(f"MSE, {key[0]}, {key[1]} samples per ray", float(e.mean()))
    diff = err["exploit only", 64] - err["exploit + explore", 64]
    lo, hi = stats.bounded_mean_interval(diff, -1.0, 1.0, LEVEL)
    ev.interval("MSE(exploit only) - MSE(exploit + explore) at 64 samples per ray",
                float(diff.mean()), (lo, hi), 0.0, side=">=", level=LEVEL,
                detectable=f"a difference of about {hi - lo:.3f} at {rays} rays",
                decide_n=4 * rays, headline=True)
    # the ratio of two means, each mean inside its 1e-6/2 interval
    lo64, hi64 = stats.bounded_mean_interval(err["exploit only", 64], 0.0, 1.0, LEVEL / 2)
    lo8, hi8 = stats.bounded_mean_interval(err["exploit only", 8], 0.0, 1.0, LEVEL / 2)
    ratio = float(err["exploit only", 64].mean() / err["exploit only", 8].mean())
    ev.interval("MSE(exploit only, 64 samples) / MSE(exploit only, 8 samples)", ratio,
                (lo64 / hi8, hi64 / max(lo8, 1e-300)), 0.5, side=">=", level=LEVEL,
                detectable="a ratio about 0.1 from 0.5 at this size", decide_n=4 * rays)
    if not (lo > 0.0 and lo64 / hi8 >= 0.5):
        ev.referee_note(
            says="exploration and exploitation let the sampler learn the full scene while "
                 "sampling where the density is highest",
            toy="one ray, a half-absorbing layer at 0.3 in front of an opaque surface, known "
                "density, NeRF compositing, exact reference colour",
            measured=f"MSE difference (exploit - explore) at 64 samples {diff.mean():.4f} in "
                     f"[{lo:.4f}, {hi:.4f}]; exploit-only MSE ratio 64/8 {ratio:.3f} in "
                     f"[{lo64 / hi8:.3f}, {hi64 / max(lo8, 1e-300):.3f}] (level 1e-6)",
            inside="a front semi-transparent layer is a scene part outside the densest "
                   "region, the case exploration is for",
            would_change="a learned (co-trained) density, or the layer inside the exploited "
                         "region")
    strat64 = float(err["stratified", 64].mean())
    prop64 = float(err["exact-weight proposal", 64].mean())
    ev.note(f"With the density fixed, compositing at points drawn from the exact weight is "
            f"worse than stratified at 64 samples (MSE {prop64:.2e} vs {strat64:.2e}): "
            "NeRF's quadrature charges sigma(s_i) over the whole gap to the next point, and "
            "the gaps between the layers are long. A sampler's speed-up therefore rests on "
            "the density being trained with it (as in ProNeRF), which this toy does not do.")
    return ev


@register_figure("sampling.ray_rendering_error",
                 caption="Rendering MSE against samples per ray on a ray with a faint layer "
                         "in front of a surface: stratified, exact-weight proposal, exploit "
                         "only, exploit + explore")
def ray_rendering_figure(seed: int = 0, rays: int = 1_000):
    from matplotlib.figure import Figure

    from toytheory.sampling import ray_rendering as rr

    scene = _scene()
    rng = np.random.default_rng(seed)
    ns = (4, 8, 16, 32, 64)
    fig = Figure(figsize=(5, 3.2), layout="constrained")
    ax = fig.add_subplot()
    for name, draw in _samplers(scene).items():
        ax.loglog(ns, [rr.rendering_errors(scene, draw(n, rays, rng)).mean() for n in ns],
                  "o-", label=name)
    ax.set_xlabel("samples per ray")
    ax.set_ylabel("mean squared error of the colour")
    ax.legend(frameon=False, fontsize=7)
    return fig
