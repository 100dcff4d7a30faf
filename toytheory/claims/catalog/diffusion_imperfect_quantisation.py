"""Post-training quantisation of the exact linear denoiser: output law against bits and
calibration, by quadrature."""

from __future__ import annotations

import numpy as np

from toytheory.claims import claim

PAPER = "Post-training Quantization on Diffusion Models"
LEVEL_MLP = 1e-6


@claim(
    "diffusion.imperfect.ptq_eight_bit_time_aware",
    paper=PAPER,
    kind="paper",
    statement=("Quantising the (exact, linear) noise-estimation network of a DDIM sampler to "
               "8 bits with time-aware calibration keeps the output's Fréchet distance to "
               "the data within 10% of full precision, and time-aware calibration does "
               "better than single-time-step calibration."),
    source=('Abstract: "the output distributions of noise estimation networks change with '
            'time-step, making previous PTQ methods fail in DMs since they are designed for '
            'single-time step scenarios" and "our method can directly quantize '
            'full-precision DMs into 8-bit models while maintaining or even improving their '
            'performance in a training-free manner"'),
    reading=("Toy: Gaussian data (d = 8, means -2..2, variances 0.01..4), DDIM 50 steps on "
             "the VP linear schedule, the exact eps-network (linear: w(t) x + c(t)); weights "
             "quantised per tensor and step, the network input per tensor with one range "
             "for all steps (symmetric round-to-nearest). Calibration inputs are the "
             "full-precision sampler's own states (an exact Gaussian law per step) at the "
             "first step only ('single'), all steps ('uniform'), or steps weighted by a "
             "normal law centred mid-trajectory ('time-aware', our reading of PTQ4DM's "
             "NDTC); the range is a quantile of |x| (tails 1e-2, 1e-3, 1e-4, 1e-6), the "
             "best tail per calibration counting as its calibration metric. Performance: "
             "the squared Fréchet distance (FID's moment formula) of the output law to the "
             "data, by quadrature over x_T. 'Maintaining' is read as at most 10% above full "
             "precision; 'fail' for single-step calibration as worse than time-aware."),
    witnesses=("exact", "simulated"),
    quick={"n_grid": 20_001, "tails": (1e-2, 1e-3, 1e-4, 1e-6), "bits": 8,
           "context_bits": (6, 10), "n_mc": 20_000},
    full={"n_grid": 400_001, "tails": (1e-2, 1e-3, 1e-4, 1e-6), "bits": 8,
          "context_bits": (4, 6, 10, 12), "n_mc": 400_000},
)
def ptq_eight_bit_time_aware(ctx, n_grid, tails, bits, context_bits, n_mc):
    from toytheory import stats
    from toytheory.diffusion.quantisation import (CALIBRATIONS, _fp_affine, calibration_range,
                                                  output_bound, output_moments, run_sampler,
                                                  toy_problem)

    ev = ctx.evidence()
    prob = toy_problem()

    def frechet(m, v):
        return float(np.sum((m - prob.mean) ** 2 + (np.sqrt(v) - np.sqrt(prob.var)) ** 2))

    # witnesses: full precision, the quadrature against the exact affine law
    g, h = _fp_affine(prob)[-1]
    m_fp, v_fp = output_moments(prob, None, None, n_grid)
    ev.at_most("full precision: quadrature mean/variance vs exact affine law (max abs)",
               float(max(np.abs(m_fp - h).max(), np.abs(v_fp - g * g).max())), 1e-6)
    fp = frechet(h, g * g)
    # quantised: quadrature vs Monte Carlo (bounded outputs per coordinate: KS-free mean test)
    r_ta = calibration_range(prob, "time-aware", rule="quantile", tail=1e-4)
    m_q, v_q = output_moments(prob, bits, r_ta, n_grid)
    m_q2, v_q2 = output_moments(prob, bits, r_ta, 2 * n_grid - 1)
    fq2 = frechet(m_q2, v_q2)
    ev.at_most("quantised output: quadrature vs twice the grid, relative Fréchet^2 change",
               abs(frechet(m_q, v_q) - fq2) / max(fq2, fp), 0.02)
    # x_T clipped to |z| <= 7.5 makes the outputs bounded (output_bound); the clipping moves
    # the mean by at most B * 2 Phi(-7.5) < 1e-12 and changes a draw with probability 6e-14
    zc = 7.5
    z = np.clip(ctx.rng("mc").standard_normal((n_mc, prob.d)), -zc, zc)
    sim = run_sampler(prob, z, bits, r_ta)
    bound = output_bound(prob, bits, r_ta, zc)
    pvals = [stats.bounded_mean_test(sim[:, j], float(m_q[j]), -float(bound[j]),
                                     float(bound[j]), 1e-6).pvalue for j in range(prob.d)]
    ev.test("quantised sampler: simulated output means vs quadrature (empirical-Bernstein "
            "tests, Holm; outputs bounded by interval arithmetic for |x_T| <= 7.5)",
            stats.holm(pvals, 1e-6), expect="accept")
    ev.record("full precision: Fréchet^2 to data (DDIM discretisation only)", fp)
    best = {}
    for cal in CALIBRATIONS:
        vals = []
        for tail in tails:
            r = calibration_range(prob, cal, rule="quantile", tail=tail)
            vals.append(frechet(*output_moments(prob, bits, r, n_grid)) / fp)
            ev.record(f"{bits}-bit, {cal}, tail {tail:g}: Fréchet^2 / full precision",
                      vals[-1])
        best[cal] = min(vals)
    for b in context_bits:
        for cal in ("single", "time-aware"):
            r = calibration_range(prob, cal, rule="quantile", tail=1e-4)
            ev.record(f"{b}-bit, {cal}, tail 1e-4: Fréchet^2 / full precision",
                      frechet(*output_moments(prob, b, r, n_grid)) / fp)
    ev.at_most(f"{bits}-bit, time-aware (best tail): Fréchet^2 / full precision",
               best["time-aware"], 1.1, role="statement", headline=True)
    ev.at_most(f"{bits}-bit: time-aware / single-step Fréchet^2 (best tail each)",
               best["time-aware"] / best["single"], 1.0 - 1e-9, role="statement")
    from toytheory.diffusion.figures_imperfect import quantisation_figure

    ev.figure("quantisation", quantisation_figure(ctx.seed),
              caption="Fréchet^2 to the data against bits, per calibration (MSE range)")
    ev.note("A ratio below 1 is real here: the rounding of the activations partly cancels "
            "DDIM's discretisation error, the toy's version of 'maintaining or even "
            "improving'. The ranking of calibrations depends on the range rule: single-step "
            "calibration sees only the first, widest-noise states, so its range clips the "
            "final steps unless its tail is tiny.")
    ev.referee_note(
        says=("8-bit PTQ maintains or improves performance; single-time-step calibration "
              "fails for diffusion models"),
        toy="Gaussian data, DDIM 50 steps, exact linear eps-network quantised per tensor",
        measured="exact (quadrature) Fréchet^2 of the output law against full precision",
        inside="the noise-estimation network's inputs change with the step, as in the paper",
        would_change="a range rule or granularity other than those tried (all are recorded)")
    return ev


@claim(
    "diffusion.imperfect.ptq_mlp_simulated",
    paper=PAPER,
    kind="derived",
    statement=("Quantising a small trained eps-MLP (the 1-D mode-interpolation model) to 8 "
               "bits with naive per-tensor min-max ranges moves its DDIM output law more "
               "than 0.01 (Kolmogorov distance) further from the data law than full "
               "precision, even with time-aware calibration."),
    source=('Abstract: "the output distributions of noise estimation networks change with '
            'time-step, making previous PTQ methods fail in DMs since they are designed for '
            'single-time step scenarios" and "our method can directly quantize '
            'full-precision DMs into 8-bit models while maintaining or even improving their '
            'performance in a training-free manner"'),
    reading=("Derived, not a test of the paper's method: the paper's PTQ also chooses the "
             "quantised operations and searches ranges by a calibration metric; this toy "
             "uses naive per-tensor min-max ranges, a weaker quantiser, on a 1-D law whose "
             "modes (std 0.05) are about two 8-bit steps wide. A loss here therefore does "
             "not count against the paper (the paper claim on an exact network is "
             "diffusion.imperfect.ptq_eight_bit_time_aware); it shows where naive PTQ "
             "breaks and that the calibration set matters. "
             "Toy: the trained MLP of diffusion.imperfect.mode_interpolation_mass (1-D means "
             "1, 2, 3, std 0.05), DDIM 50 steps. Weights per tensor (min-max), the input of "
             "every Linear layer per tensor with one min-max range from the calibration set "
             "(symmetric round-to-nearest, clipped). Calibration states come from the "
             "full-precision DDIM trajectories: first step only ('single'), or a step drawn "
             "from a normal law over the step index centred mid-trajectory ('time-aware', "
             "our reading of NDTC). Performance: the Kolmogorov distance D = sup|F - F_data| "
             "of the output law to the exact data law, with DKW (Massart) intervals from n "
             "independent samples per model, each side at 1e-6/4. The statement holds "
             "when D(8-bit) - D(full) >= 0.01 with the whole interval. Time-aware against "
             "single-step calibration is recorded, not judged: across calibration draws "
             "(run seeds) its difference in D ranged from clearly negative to undecided."),
    witnesses=("exact", "simulated"),
    quick={"bits": 8, "n": 20_000, "n_cal": 4000, "n_steps": 50, "context_bits": ()},
    full={"bits": 8, "n": 100_000, "n_cal": 4000, "n_steps": 50,
          "context_bits": (6, 10, 12)},
)
def ptq_mlp_simulated(ctx, bits, n, n_cal, n_steps, context_bits):
    from toytheory.diffusion.hallucination import (QUICK_TRAIN, paper_1d_law,
                                                   trained_1d_model)
    from toytheory.diffusion.quantisation_mlp import (NumpyEpsMLP, calibration_ranges,
                                                      ddim_sample_mlp,
                                                      kolmogorov_to_law as _ks_to_data,
                                                      quantised_mlp)

    ev = ctx.evidence()
    law = paper_1d_law()
    model = trained_1d_model(QUICK_TRAIN)
    fp = NumpyEpsMLP(model)
    probe = ctx.rng("probe").uniform(0.0, 4.0, (256, 1))
    ev.at_most("float64 numpy network vs the torch model's eps (max abs, t = 0..999)",
               max(float(np.abs(fp.eps(probe, t) - model.eps(probe, t)).max())
                   for t in (0, 17, 250, 999)), 1e-4)
    ranges = calibration_ranges(model, "uniform", n_steps, 200, ctx.rng("cal-witness"))
    fine = NumpyEpsMLP(model, 24, [2 * r for r in ranges])
    ev.at_most("24-bit quantised network vs full precision on the calibration range "
               "(max abs eps)", max(float(np.abs(fine.eps(probe, t) - fp.eps(probe, t)).max())
                                    for t in (0, 250, 999)), 1e-4)
    eps_dkw = float(np.sqrt(np.log(2 / (LEVEL_MLP / 4)) / (2 * n)))   # Massart's DKW
    d_fp = _ks_to_data(ddim_sample_mlp(fp, ctx.rng("fp").standard_normal((n, 1)), n_steps),
                       law)
    ev.record("full precision: Kolmogorov distance to the data law", d_fp)
    dist = {}
    for cal in ("single", "time-aware"):
        q = quantised_mlp(model, bits, cal, n_steps, n_cal, ctx.rng("cal", cal))
        x = ddim_sample_mlp(q, ctx.rng("q", cal).standard_normal((n, 1)), n_steps)
        dist[cal] = _ks_to_data(x, law)
        ev.record(f"{bits}-bit, {cal}: Kolmogorov distance to the data law", dist[cal])
        ev.record(f"{bits}-bit, {cal}: activation ranges per layer",
                  ", ".join(f"{r:.2f}" for r in q.act_ranges))
    for b in context_bits:
        for cal in ("single", "uniform", "time-aware"):
            q = quantised_mlp(model, b, cal, n_steps, n_cal, ctx.rng("ctx", b, cal))
            x = ddim_sample_mlp(q, ctx.rng("ctxq", b, cal).standard_normal((n, 1)), n_steps)
            ev.record(f"{b}-bit, {cal}: Kolmogorov distance to the data law",
                      _ks_to_data(x, law))
    loss = dist["time-aware"] - d_fp
    ev.interval(f"{bits}-bit time-aware: D - D(full precision) (at least 0.01)", loss,
                (loss - 2 * eps_dkw, loss + 2 * eps_dkw), 0.01, side=">=", level=LEVEL_MLP,
                headline=True, detectable=f"a change of D above {2 * eps_dkw + 0.01:.3f}",
                decide_n=int(np.ceil(np.log(8 / LEVEL_MLP) / (2 * max(abs(loss - 0.01) / 2,
                                                                       1e-3) ** 2))))
    gap = dist["time-aware"] - dist["single"]
    ev.record(f"{bits}-bit: D(time-aware) - D(single-step), with its DKW interval at "
              f"{LEVEL_MLP:g} (recorded: its sign changes with the calibration draw)",
              f"{gap:.3f} [{gap - 2 * eps_dkw:.3f}, {gap + 2 * eps_dkw:.3f}]")
    ev.note("Single-step calibration sees only pure-noise inputs; its min-max ranges of the "
            "later layers are about half of what the mid-trajectory states need, so those "
            "activations clip. The exact linear network (diffusion.imperfect."
            "ptq_eight_bit_time_aware) is lossless at 8 bits; the trained MLP, quantised "
            "per tensor with min-max ranges, is not: its hidden activations span ranges of "
            "10-20 with 127 levels each side.")
    return ev
