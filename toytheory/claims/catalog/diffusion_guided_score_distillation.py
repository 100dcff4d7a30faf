"""Score distillation against an exact two-mode prior: SDS's update is noisy and mode-seeking
with an off-mode fixed point, Consistent3D's fixed-noise ODE update (CDS) is a steadier
guidance, and BoostDream's multi-view SDS (a joint prior over views) removes the Janus
configurations that per-view SDS produces."""

from __future__ import annotations

import numpy as np

from toytheory import stats
from toytheory.claims import claim
from toytheory.figures import register_figure

CONSISTENT3D = ("Consistent3D: Towards Consistent High-Fidelity Text-to-3D Generation with "
                "Deterministic Sampling Prior")
BOOSTDREAM = ("BoostDream: Efficient Refining for High-Quality Text-to-3D Generation from "
              "Multi-View Diffusion")
LEVEL = 1e-6
W_FRONT, VAR = 0.7, 0.04      # per-view prior 0.7 N(+1, 0.2^2) + 0.3 N(-1, 0.2^2)


def _priors():
    from toytheory.diffusion.laws import GaussianMixture

    view = GaussianMixture([W_FRONT, 1 - W_FRONT], [[1.0], [-1.0]], [[[VAR]], [[VAR]]])
    eye = np.eye(2) * VAR
    # two independent per-view priors (a view-agnostic 2-D model applied to each view)
    signs = [(1, 1), (1, -1), (-1, 1), (-1, -1)]
    pw = {1: W_FRONT, -1: 1 - W_FRONT}
    independent = GaussianMixture([pw[a] * pw[b] for a, b in signs],
                                  np.array(signs, float), [eye] * 4)
    # a multi-view model: only consistent objects (front and back show opposite sides)
    joint = GaussianMixture([W_FRONT, 1 - W_FRONT], [[1.0, -1.0], [-1.0, 1.0]], [eye, eye])
    return view, independent, joint


def _moment_witness(ev, ctx, view, n_mc):
    """Monte Carlo update moments vs the quadrature ones (SDS and CDS, one scene/window)."""
    from toytheory.diffusion import score_distillation as sd

    rng = ctx.rng("moments")
    ts = sd.time_window(300)
    for method in ("sds", "cds"):
        m2, v = sd.gradient_moments(view, method, 0.0, 300)
        t = rng.choice(ts, n_mc)
        e = rng.standard_normal((n_mc, 1))
        u = sd._update(view, method, np.zeros((n_mc, 1)), t, np.full(n_mc, 300), e)[:, 0]
        if method == "sds":
            se = float(u.std() / np.sqrt(n_mc))
            ev.close("SDS mean update at x = 0 (t' = 300): quadrature vs Monte Carlo (6 s.e.)",
                     float(u.mean()), float(np.sign(u.mean()) * np.sqrt(m2)), atol=6 * se)
        else:
            # E over (t, eps*) of u^2 = E[mean_t^2] + E[Var_t]
            q = u * u
            ev.close("CDS E[u^2] at x = 0 (t' = 300): quadrature vs Monte Carlo (6 s.e.)",
                     float(q.mean()), m2 + v, atol=6 * float(q.std() / np.sqrt(n_mc)))


@claim(
    "diffusion.guided.consistent3d_steadier_guidance",
    paper=CONSISTENT3D,
    kind="paper",
    statement=("On a two-mode 1-D prior with an exact denoiser, the consistency-distillation "
               "update (fixed noise, one ODE step) has a higher within-run signal-to-noise "
               "ratio than the SDS update at every tested scene and noise window."),
    source=('Abstract: "the randomness in SDE sampling often leads to a diverse and '
            'unpredictable sample which is not always less noisy, and thus is not a '
            'consistently correct guidance, explaining the vulnerability of SDS."'),
    reading=("Prior 0.7 N(1, 0.2^2) + 0.3 N(-1, 0.2^2), exact VE denoiser on Stable "
             "Diffusion's scaled-linear schedule. Updates as in the released code "
             "(compute_grad_consistency: shared fixed noise, Euler ODE step from t to t', "
             "update w(t)(eps(z', t') - eps(z, t)); t = t' + 100..299). 'Consistently correct "
             "guidance' is read as the within-run SNR E[mean]^2 / Var of the update over "
             "iterations (SDS: over t and its fresh noise; CDS: over t, for its fixed noise, "
             "averaged over that noise), exact by Gauss-Hermite (48 nodes) with the time "
             "window enumerated; 15 (scene, window) pairs, x in {-1, -0.5, 0, 0.5, 1}, "
             "t' in {20, 300, 600}. Deterministic comparison. Where the CDS update leads is "
             "in diffusion.guided.sds_mode_seeking_fixed_point."),
    witnesses=("exact", "simulated"),
    quick={"scenes": (-1.0, -0.5, 0.0, 0.5, 1.0), "windows": (20, 300, 600), "n_mc": 20_000},
    full={"scenes": tuple(np.linspace(-1.5, 1.5, 13)), "windows": (20, 150, 300, 450, 600),
          "n_mc": 200_000},
)
def consistent3d_steadier_guidance(ctx, scenes, windows, n_mc):
    from toytheory.diffusion import score_distillation as sd

    ev = ctx.evidence()
    view, _, _ = _priors()
    _moment_witness(ev, ctx, view, n_mc)
    worst, ratios = None, []
    for tn in windows:
        for x in scenes:
            ms, vs = sd.gradient_moments(view, "sds", float(x), int(tn))
            mc, vc = sd.gradient_moments(view, "cds", float(x), int(tn))
            r = (mc / vc) / (ms / vs)
            ratios.append(r)
            if worst is None or r < worst[0]:
                worst = (r, x, tn, ms / vs, mc / vc)
    ev.record("SNR ratio CDS / SDS, median over pairs", float(np.median(ratios)))
    ok = ev.at_least(f"smallest SNR ratio CDS / SDS (x = {worst[1]:g}, t' = {worst[2]}: "
                     f"SDS {worst[3]:.3g}, CDS {worst[4]:.3g})", worst[0], 1.0,
                     role="statement", headline=True)
    if not ok.passed:
        ev.referee_note(
            says="SDS's randomness makes it not a consistently correct guidance.",
            toy="two-mode 1-D prior, exact denoiser, SD schedule.",
            measured=f"smallest CDS/SDS SNR ratio {worst[0]:.3g}.",
            inside="exact denoiser; only the update rule differs.",
            would_change="other windows or scenes.")
    return ev


@claim(
    "diffusion.guided.sds_mode_seeking_fixed_point",
    paper=CONSISTENT3D,
    kind="derived",
    statement=("On the same prior, SDS's expected update has one stable zero, 0.1 or more "
               "away from the major mode, and the minority mode is not one: SDS runs end on "
               "the major side (a share above 0.9), while CDS runs (fixed noise per run) end "
               "on both."),
    reading=("Exact zero of the SDS update averaged over the final time window (t' = 20, "
             "Gauss-Hermite, Brent): 0.818 (mode at 1: over-smoothing toward the prior mean). "
             "Simulated runs: scenes from N(0, 0.5^2), the released code's annealed times "
             "(t' from 700 to 20), plain gradient steps, lr 0.05. Counts with Clopper-Pearson "
             "intervals at 1e-6: the SDS share on the + side must exceed 0.9 (all 300 quick-tier "
             "runs do, under seeds 0..9), the CDS share "
             "on the - side must exceed 0.1 (the prior puts 0.3 there)."),
    witnesses=("exact", "simulated"),
    quick={"n_runs": 300, "n_iters": 600, "n_mc": 20_000},
    full={"n_runs": 3000, "n_iters": 2000, "n_mc": 200_000},
)
def sds_mode_seeking_fixed_point(ctx, n_runs, n_iters, n_mc):
    from toytheory.diffusion import score_distillation as sd

    ev = ctx.evidence()
    view, _, _ = _priors()
    roots = sd.sds_fixed_point(view)
    # witness: Monte Carlo mean updates 0.1 either side of the root match the quadrature
    rng = ctx.rng("mc")
    ts = sd.time_window(20)
    for x in (roots[:1] - 0.1).tolist() + (roots[:1] + 0.1).tolist():
        t = rng.choice(ts, n_mc)
        u = sd._update(view, "sds", np.full((n_mc, 1), x), t, np.full(n_mc, 20),
                       rng.standard_normal((n_mc, 1)))[:, 0]
        ev.close(f"SDS mean update at x = {x:.3f}: Monte Carlo vs quadrature (6 s.e.)",
                 float(u.mean()), sd._mean_update(view, x, 20, 48),
                 atol=6 * float(u.std() / np.sqrt(n_mc)))
    ev.equal("number of stable zeros of SDS's expected update on [-3, 3]", int(roots.size), 1,
             role="statement")
    off = float(abs(roots[0] - 1.0)) if roots.size else 0.0
    ev.at_least("distance of SDS's fixed point from the major mode", off, 0.1,
                role="statement", headline=True, note=f"fixed point {roots.tolist()}")
    rng = ctx.rng("fit")
    x0 = rng.normal(0.0, 0.5, (n_runs, 1))
    xs = sd.fit(view, "sds", x0, n_iters, 0.05, rng)[:, 0]
    xc = sd.fit(view, "cds", x0, n_iters, 0.05, rng)[:, 0]
    ev.record("SDS final scenes: quantiles 5/50/95%", str(np.round(np.quantile(xs, [.05, .5, .95]),
                                                                   3).tolist()))
    ev.record("CDS final scenes: quantiles 5/50/95%", str(np.round(np.quantile(xc, [.05, .5, .95]),
                                                                   3).tolist()))
    k = int((xs > 0).sum())
    lo, hi = stats.exact_binomial_interval(k, n_runs, LEVEL)
    ev.interval("SDS runs ending on the + side", k / n_runs, (lo, hi), 0.9, side=">=",
                level=LEVEL, detectable=f"a share below {lo:.3f}")
    k = int((xc < 0).sum())
    lo, hi = stats.exact_binomial_interval(k, n_runs, LEVEL)
    ev.interval("CDS runs ending on the - side", k / n_runs, (lo, hi), 0.1, side=">=",
                level=LEVEL, detectable=f"a share below {lo:.3f}")
    return ev


@claim(
    "diffusion.guided.boostdream_multiview_removes_janus",
    paper=BOOSTDREAM,
    kind="paper",
    statement=("On a two-view toy with a front-biased per-view prior, SDS with a joint "
               "multi-view prior ends in a Janus configuration (both views the same side) in "
               "at least 0.5 fewer of the runs than SDS with independent per-view priors."),
    source=('Abstract: "BoostDream excels in generating high-quality 3D assets rapidly, '
            'overcoming the Janus problem compared to conventional SDS-based methods."'),
    reading=("Scene = two free view values (front, back). Per-view prior (a view-agnostic 2-D "
             "model): 0.7 N(+1, 0.2^2) + 0.3 N(-1, 0.2^2), applied to each view independently; "
             "multi-view prior (BoostDream's multi-view diffusion model): 0.7 N((1, -1)) + "
             "0.3 N((-1, 1)), only consistent objects. Both distilled by SDS with exact "
             "denoisers, times annealed as in Consistent3D's released code, lr 0.05, scenes "
             "from N(0, 0.5^2 I). Janus = both views end on the same side. Difference of the "
             "two Janus shares with Clopper-Pearson intervals (Bonferroni halves of 1e-6). "
             "BoostDream's normal-map guidance and 3D model distillation are not modelled."),
    witnesses=("exact", "simulated"),
    quick={"n_runs": 300, "n_iters": 600},
    full={"n_runs": 3000, "n_iters": 2000},
)
def boostdream_multiview_removes_janus(ctx, n_runs, n_iters):
    from toytheory.diffusion import score_distillation as sd

    ev = ctx.evidence()
    view, independent, joint = _priors()
    # exact witness: the independent prior's denoiser is the per-view one, view by view
    z = ctx.rng("points").normal(0, 1.5, (50, 2))
    for s in (0.3, 2.0):
        per = np.stack([sd.eps_pred(view, z[:, [k]], s)[:, 0] for k in range(2)], axis=1)
        ev.at_most(f"independent 2-D prior vs per-view denoisers (sigma = {s:g}, max abs)",
                   float(np.abs(sd.eps_pred(independent, z, s) - per).max()), 1e-10)
    rng = ctx.rng("fit")
    x0 = rng.normal(0.0, 0.5, (n_runs, 2))
    res = {}
    for name, law in (("per-view SDS", independent), ("multi-view SDS", joint)):
        x = sd.fit(law, "sds", x0, n_iters, 0.05, rng)
        k = int(round(sd.janus_fraction(x) * n_runs))
        res[name] = (k / n_runs, stats.exact_binomial_interval(k, n_runs, LEVEL / 2))
        ev.record(f"{name}: Janus share", k / n_runs,
                  note=f"interval {np.round(res[name][1], 4).tolist()} at {LEVEL / 2:g}")
    xc = sd.fit(independent, "cds", x0, n_iters, 0.05, rng)
    ev.record("per-view CDS (Consistent3D's update): Janus share", sd.janus_fraction(xc),
              note="fixed noise per run: the views land on either side independently")
    (ep, (lp, hp)), (em, (lm, hm)) = res["per-view SDS"], res["multi-view SDS"]
    r = ev.interval("Janus share: per-view SDS minus multi-view SDS", ep - em, (lp - hm, hp - lm),
                    0.5, side=">=", level=LEVEL, headline=True,
                    detectable=f"a drop below 0.5 - {(hp - lp) + (hm - lm):.3f}")
    if r.passed is not True:
        ev.referee_note(
            says="BoostDream overcomes the Janus problem of conventional SDS.",
            toy="two free views, front-biased per-view prior vs a consistent joint prior.",
            measured=f"Janus shares {ep:.3f} (per-view) vs {em:.3f} (multi-view).",
            inside="exact denoisers; the views are free parameters as in a NeRF.",
            would_change="a weaker front bias or a joint prior with inconsistent modes.")
    return ev


@register_figure("diffusion.guided_sds_vs_cds",
                 caption=("Score distillation against 0.7 N(1, 0.04) + 0.3 N(-1, 0.04): scene "
                          "trajectories under SDS (fresh noise) and CDS (fixed noise, ODE step)"))
def sds_cds_figure(seed: int = 0):
    from matplotlib.figure import Figure

    from toytheory.diffusion import score_distillation as sd

    view, _, _ = _priors()
    rng = np.random.default_rng(seed)
    x0 = rng.normal(0, 0.5, (12, 1))
    fig = Figure(figsize=(6, 3))
    axes = fig.subplots(1, 2, sharey=True)
    for ax, method in zip(axes, ("sds", "cds")):
        _, path = sd.fit(view, method, x0, 600, 0.05, np.random.default_rng(seed + 1),
                         record_every=30)
        ax.plot(np.array([p[:, 0] for p in path]), lw=0.8)
        ax.axhline(1.0, color="k", ls=":")
        ax.axhline(-1.0, color="k", ls=":")
        ax.set_title(method.upper())
        ax.set_xlabel("iterations / 30")
    fig.subplots_adjust(bottom=0.2)
    return fig
