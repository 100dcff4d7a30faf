"""Skip-tuning: scaling the skip path of the exact EDM denoiser on Gaussian data, exactly."""

from __future__ import annotations

import numpy as np

from toytheory.claims import claim

PAPER = "The Surprising Effectiveness of Skip-Tuning in Diffusion Sampling"


def _matrix_sampler(cov, rho, n_steps, sigma_max=80.0):
    """EDM Heun with the full-matrix skip-tuned denoiser (independent of the diagonal code)."""
    from toytheory.diffusion.schedules import karras_sigmas

    d = cov.shape[0]
    sd2 = np.trace(cov) / d
    sig = karras_sigmas(n_steps, 0.002, sigma_max)

    def denoise(x, s):
        gain = cov @ np.linalg.inv(cov + s * s * np.eye(d))
        c = sd2 / (s * s + sd2)
        return x @ (gain + (rho - 1.0) * c * np.eye(d)).T

    def run(x):
        for s, s_next in zip(sig[:-1], sig[1:]):
            dx = (x - denoise(x, s)) / s
            x_e = x + (s_next - s) * dx
            if s_next == 0.0:
                x = x_e
            else:
                x = x + 0.5 * (s_next - s) * (dx + (x_e - denoise(x_e, s_next)) / s_next)
        return x

    return run


@claim(
    "diffusion.imperfect.skip_tuning_gaussian",
    paper=PAPER,
    kind="paper",
    statement=("Scaling the skip path of an exact EDM denoiser improves the few-step Heun "
               "sampler's Fréchet distance at 19 and 39 NFEs, while it raises the pixel-space "
               "denoising loss at every noise level."),
    source=('Abstract: "Our method can achieve 100% FID improvement for pretrained EDM on '
            'ImageNet 64 with only 19 NFEs (1.75)" and "the improvement persists when we '
            'increase the number of sampling steps" and "We observe that while Skip-Tuning '
            'increases the score-matching losses in the pixel space"'),
    reading=("Toy: Gaussian data N(0, diag(lambda)), lambda_i = 4 i^-1.5, d = 16, where EDM's "
             "exact denoiser is c_skip x + main exactly and the skip is the identity "
             "component; skip-tuning multiplies it by rho (grid 0.90..1.05, step 0.0025). "
             "FID analogue: the exact squared Fréchet distance of the Heun sampler's output "
             "law (Karras grid, sigma_max 80) to the data. Holds when the best rho on the "
             "grid beats rho = 1 by at least 2x at NFE 19 and at NFE 39 (the abstract's "
             "'100% FID improvement' read as a halving), and the denoising loss at that rho "
             "exceeds the loss at rho = 1 at every sampler noise level. The feature-space "
             "half (losses reduced in feature space) has no analogue here and is not tested. A 2-D "
             "three-component GMM (exact mixture denoiser, 4000 simulated samples) is "
             "recorded as context, not counted in the verdict."),
    witnesses=("exact",),
    quick={"d": 16, "rhos": (0.90, 1.05, 0.0025), "steps": (10, 20), "context_steps": (5, 40),
           "gmm_n": 4000},
    full={"d": 64, "rhos": (0.90, 1.05, 0.001), "steps": (10, 20), "context_steps": (5, 40),
          "gmm_n": 100_000},
)
def skip_tuning_gaussian(ctx, d, rhos, steps, context_steps, gmm_n):
    from toytheory.diffusion.affine import affine_map_of, gaussian_pushforward
    from toytheory.diffusion.frechet import frechet_squared
    from toytheory.diffusion.schedules import karras_sigmas
    from toytheory.diffusion.skip_tuning import (default_spectrum, denoising_loss,
                                                 frechet_after_sampling, skip_gain)

    ev = ctx.evidence()
    lam = default_spectrum(d)
    rng = ctx.rng("rotation")
    u, _ = np.linalg.qr(rng.standard_normal((d, d)))
    cov = (u * lam) @ u.T
    rho_grid = np.round(np.arange(rhos[0], rhos[1] + 1e-12, rhos[2]), 6)
    # witnesses: the diagonal closed form against a rotated full-matrix sampler read as an
    # affine map and pushed forward, and the loss formula against matrix traces
    worst = 0.0
    for n in steps:
        for rho in (0.95, float(ctx.rng("rho", str(n)).uniform(0.9, 1.05))):
            amap = affine_map_of(_matrix_sampler(cov, rho, n), d, scale=80.0, rng=rng)
            m, s = gaussian_pushforward(amap, np.zeros(d), 80.0 ** 2 * np.eye(d))
            ref = frechet_squared(m, s, np.zeros(d), cov)
            got = frechet_after_sampling(lam, rho, n)
            worst = max(worst, abs(got - ref) / max(ref, 1e-12))
    ev.at_most("Fréchet^2: diagonal closed form vs rotated matrix sampler (rel.)", worst, 1e-6)
    worst_loss = 0.0
    for s in (0.05, 1.0, 20.0):
        for rho in (0.9, 1.0, 1.04):
            g = u @ np.diag(skip_gain(lam, s, rho)) @ u.T
            ref = np.trace((g - np.eye(d)) @ cov @ (g - np.eye(d)).T) + s * s * np.trace(g @ g.T)
            worst_loss = max(worst_loss, abs(denoising_loss(lam, s, rho) - ref) / ref)
    ev.at_most("denoising loss: closed form vs matrix traces (rel.)", worst_loss, 1e-10)
    sig = karras_sigmas(max(steps), 0.002, 80.0, append_zero=False)
    for n in dict.fromkeys(tuple(steps) + tuple(context_steps)):
        f = np.array([frechet_after_sampling(lam, r, n) for r in rho_grid])
        i = int(np.argmin(f))
        base = frechet_after_sampling(lam, 1.0, n)
        nfe = 2 * n - 1
        ev.record(f"NFE {nfe}: best rho", float(rho_grid[i]))
        ev.record(f"NFE {nfe}: Fréchet^2 at rho = 1", base)
        if n in steps:
            ev.at_least(f"NFE {nfe}: Fréchet^2 at rho = 1 / at best rho", base / f[i], 2.0,
                        role="statement", headline=(n == steps[0]))
            rise = min(denoising_loss(lam, s, rho_grid[i]) - denoising_loss(lam, s, 1.0)
                       for s in sig)
            ev.at_least(f"NFE {nfe}: smallest rise of the denoising loss at best rho "
                        "(over noise levels)", rise, 1e-15,
                        role="statement")
        else:
            ev.record(f"NFE {nfe}: improvement ratio (context)", base / f[i])
    ev.referee_note(
        says=("100% FID improvement at 19 NFEs, persisting with more steps; Skip-Tuning "
              "increases the pixel-space score-matching loss"),
        toy=f"Gaussian data, d = {d}, exact EDM denoiser split into c_skip x + main, Heun",
        measured="exact Fréchet^2 of the output law against rho on a grid, per NFE",
        inside="EDM preconditioning and Heun sampler as in the paper; the skip is exact",
        would_change=("enough steps that the ODE error vanishes (then rho = 1 is best: "
                      "NFE 79 in this toy)"))
    # simulation on a 2-D three-component GMM (exact mixture denoiser, same x_T for all rho)
    from toytheory.diffusion.figures_exact import field_law
    from toytheory.diffusion.skip_tuning import skip_tuned_heun

    law = field_law()
    z = 80.0 * ctx.rng("gmm").standard_normal((gmm_n, 2))
    for n in steps[:1] + tuple(c for c in context_steps if c < steps[0]):
        fr = {}
        for rho in np.round(np.arange(0.95, 1.0201, 0.01), 3):
            x = skip_tuned_heun(law, z, rho, n)
            fr[float(rho)] = frechet_squared(x.mean(0), np.cov(x.T), law.mean(),
                                             law.covariance())
        best_rho = min(fr, key=fr.get)
        ev.record(f"GMM (simulated, {gmm_n} samples), NFE {2 * n - 1}: Fréchet^2 at rho = 1 "
                  f"/ at best rho {best_rho:g}", fr[1.0] / fr[best_rho])
    from toytheory.diffusion.figures_imperfect import skip_tuning_figure

    ev.figure("skip_tuning", skip_tuning_figure(ctx.seed),
              caption="Fréchet^2 and mean denoising loss against rho")
    ev.note("On Gaussian data the exact denoiser is the posterior mean, so any rho != 1 "
            "raises the pixel-space loss by (rho - 1)^2 c_skip^2 E|x_sigma|^2 exactly; the "
            "few-step gain comes from the ODE solver's discretisation error, which a rho "
            "< 1 partly cancels. With enough steps (NFE 79) the best rho returns to 1.")
    return ev
