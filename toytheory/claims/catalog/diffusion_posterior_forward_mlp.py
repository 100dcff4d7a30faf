"""Diffusion with forward models, Gaussian-mixture case with an MLP (issue 17, item 2).

A 2-D Gaussian-mixture signal is seen only through 1-D projections at a few directions; a
small MLP denoiser is trained on the observations alone with the paper's objective (signal
estimate rendered through the forward model, scored against the observation)
(toytheory.diffusion.posterior.forward_models_mlp). The learned prior is judged through the
laws it generates at each direction, by W2 to the exact projected mixture; a family of two
axis directions shows where identifiability fails.
"""

from __future__ import annotations

import numpy as np

from toytheory import stats
from toytheory.claims import claim

PAPER = ("Diffusion with Forward Models: Solving Stochastic Inverse Problems Without Direct "
         "Supervision")
LEVEL = 1e-6
SIX = tuple(k * np.pi / 6 for k in range(6))
AXES = (0.0, np.pi / 2)
THRESHOLD = 0.35       # sliced W2 held; the signal's scale: sd of a projection ~2.2


def truth():
    """The signal law: three correlated components in R^2 (fixed)."""
    w = np.array([0.4, 0.4, 0.2])
    m = np.array([[-2.0, -2.0], [2.0, 2.0], [2.0, -2.0]])
    c = np.array([[[0.5, 0.3], [0.3, 0.5]], [[0.5, -0.2], [-0.2, 0.4]],
                  [[0.3, 0.0], [0.0, 0.3]]])
    return w, m, c


def _model(angles, n, steps, seed):
    from toytheory.diffusion.posterior.forward_models_mlp import (ProjectionConfig,
                                                                  train_projection_denoiser)

    return train_projection_denoiser(ProjectionConfig.make(*truth(), angles, n_train=n,
                                                           steps=steps, seed=seed))


def _w2s(model, angles, n_eval, rng, steps):
    from toytheory.diffusion.posterior.forward_models_mlp import (projected_law,
                                                                  sample_observations,
                                                                  w2_to_mixture)

    return np.array([w2_to_mixture(sample_observations(model.denoise, a, n_eval, rng,
                                                       steps=steps),
                                   projected_law(*truth(), a)) for a in angles])


@claim(
    "diffusion.posterior.forward_model_mlp_learns_mixture",
    paper=PAPER,
    kind="paper",
    statement=("An MLP denoiser trained only on 1-D projections of a 2-D Gaussian-mixture "
               "signal through six directions, with the forward-model objective, generates "
               "at every direction of the family a law within sliced W2 0.35 of the true "
               "projected law (4000 training observations)."),
    source=("Abstract: \"we propose a novel class of denoising diffusion probabilistic models "
            "that learn to sample from distributions of signals that are never directly "
            "observed\""),
    reading=("Signal: a 3-component correlated mixture in R^2 (projections have sd ~2.2). "
             "Forward models: y = a_phi^T x, phi uniform on {k pi/6}; each signal seen once, "
             "never whole. The model is the paper's: given the noisy observation and the "
             "forward model it returns a signal estimate in R^2, rendered by a_phi and scored "
             "against the clean observation (EDM preconditioning and weighting, 3x64 SiLU "
             "MLP, Adam, float32, deterministic; trained once per tier with a fixed seed and "
             "cached: the run seed draws the evaluation samples). The objective identifies "
             "exactly the projected laws on the family, so the learned prior is judged by "
             "them: 4000 observations per direction from the EDM/Heun sampler (48 steps) "
             "with the rendered denoiser, 1-D W2 to the exact projected mixture; held: the "
             "root mean square over the six directions (sliced W2 on the family) <= 0.35, a "
             "tolerance of 1/6 of the projection sd that includes the sampler's own "
             "discretisation and the evaluation noise (the exact denoiser in the same "
             "sampler: witness). The threshold is the toy's, the paper states none. "
             "Sliced W2 against training-set size and at six directions off the family "
             "recorded."),
    witnesses=("exact", "simulated"),
    quick={"sizes": (500, 4000), "steps": 1500, "n_eval": 4000},
    full={"sizes": (250, 1000, 4000, 16000), "steps": 4000, "n_eval": 20000},
)
def forward_model_mlp_learns_mixture(ctx, sizes, steps, n_eval):
    from toytheory.diffusion.posterior.forward_models_mlp import (exact_projected_denoiser,
                                                                  mixture_quantiles,
                                                                  projected_law,
                                                                  sample_observations)

    ev = ctx.evidence()
    rng = ctx.rng("evaluation")
    # witness: the sampler with the exact denoiser reproduces the exact projected law
    tests, floor = [], []
    for a in (SIX[0], SIX[2]):
        law = projected_law(*truth(), a)
        y = sample_observations(lambda u, phi, s: exact_projected_denoiser(law, u, s), a,
                                n_eval, rng, steps=64)
        tests.append(stats.ks_1samp(y, lambda v, law=law: _cdf(law, v), LEVEL))
        floor.append(float(np.sqrt(np.mean((np.sort(y) - mixture_quantiles(
            law, (np.arange(y.size) + 0.5) / y.size)) ** 2))))
    ev.test(f"EDM/Heun sampler with the exact projected denoiser vs the exact projected law "
            f"(KS, {n_eval} draws, 2 directions, Bonferroni)",
            stats.bonferroni([t.pvalue for t in tests], LEVEL))
    ev.record("exact denoiser in the sampler: W2 to the truth (sampler + evaluation floor)",
              max(floor))
    off = tuple(a + np.pi / 12 for a in SIX)
    sliced = {}
    for n in sizes:
        model = _model(SIX, n, steps, 17)
        w = _w2s(model, SIX, n_eval, rng, 48)
        sliced[n] = float(np.sqrt(np.mean(w ** 2)))
        ev.record(f"n = {n}: sliced W2 on the family (6 directions)", sliced[n],
                  note=f"per direction {np.round(w, 3).tolist()}; final loss "
                       f"{model.final_loss:.4f}")
    w_off = _w2s(model, off, n_eval, rng, 48)
    ev.record(f"n = {sizes[-1]}: sliced W2 at 6 directions off the family (not identified "
              "by the objective; the network's interpolation)",
              float(np.sqrt(np.mean(w_off ** 2))), note=str(np.round(w_off, 3).tolist()))
    n_top = 4000 if 4000 in sizes else sizes[-1]
    ev.at_most(f"sliced W2 (family) of the learned prior at n = {n_top}", sliced[n_top],
               THRESHOLD, role="statement", headline=True)
    if sliced[n_top] > THRESHOLD:
        ev.referee_note(says="a diffusion model learns to sample signals never directly "
                             "observed",
                        toy="2-D mixture seen through six 1-D projections, MLP denoiser",
                        measured=f"sliced W2 {sliced[n_top]:.3f}",
                        inside=f"<= {THRESHOLD}",
                        would_change="a larger network or more training steps")
    return ev


def _cdf(law, v):
    from scipy.special import ndtr

    w, m, var = law
    return ndtr((np.asarray(v)[:, None] - m) / np.sqrt(var)) @ w


@claim(
    "diffusion.posterior.forward_model_mlp_unobserved_direction",
    paper=PAPER,
    kind="derived",
    statement=("When the forward models observe only the two coordinate axes, the mixture "
               "signal and the product of its marginals give identical observation laws "
               "(equal forward-model loss at every noise level) but differ along the "
               "diagonal by W2 >= 0.5: the diagonal is not identified."),
    source=("Abstract: \"these signals are measured indirectly through a known differentiable "
            "forward model, which produces partial observations of the unknown signal\" (the "
            "limit: what the family of forward models never observes is not learned)."),
    reading=("Same mixture; family {0, pi/2}. The objective depends on the data only through "
             "the observation laws, which are the coordinate marginals: exact, by quantile "
             "quadrature, W2 between truth and product of marginals <= 1e-9 on both axes and "
             ">= 0.5 at pi/4. The MLP trained on the axis family (4000 observations) is "
             "evaluated at pi/4 and recorded: what it generates there is its interpolation, "
             "not a learned fact."),
    witnesses=("exact",),
    quick={"n": 4000, "steps": 1500, "n_eval": 4000},
    full={"n": 16000, "steps": 4000, "n_eval": 20000},
)
def forward_model_mlp_unobserved_direction(ctx, n, steps, n_eval):
    from toytheory.diffusion.posterior.forward_models_mlp import (product_of_marginals,
                                                                  projected_law,
                                                                  w2_between_mixtures)

    ev = ctx.evidence()
    P, Q = truth(), product_of_marginals(*truth())
    ev.close("product of marginals: total weight", float(np.sum(Q[0])), 1.0, atol=1e-12)
    on_axes = max(w2_between_mixtures(projected_law(*P, a), projected_law(*Q, a))
                  for a in AXES)
    ev.at_most("W2(truth, product of marginals) on the observed axes (max)", on_axes, 1e-9)
    diag = w2_between_mixtures(projected_law(*P, np.pi / 4), projected_law(*Q, np.pi / 4))
    ev.at_least("W2(truth, product of marginals) along the diagonal pi/4", diag, 0.5,
                role="statement", headline=True)
    model = _model(AXES, n, steps, 17)
    w = _w2s(model, (0.0, np.pi / 2, np.pi / 4), n_eval, ctx.rng("evaluation"), 48)
    ev.record("MLP trained on the axis family: W2 to the truth on the axes", float(w[:2].max()),
              note=f"at pi/4 (never observed): {w[2]:.3f}")
    return ev
