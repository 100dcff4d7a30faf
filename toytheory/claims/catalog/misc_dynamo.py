"""DynaMo: in-domain dynamics pretraining against a reconstruction-only representation,
for behaviour cloning from a few demonstrations of a linear system seen through a
nonlinear camera with distractors."""

from __future__ import annotations

import numpy as np

from toytheory.claims import claim

PAPER = "DynaMo: In-Domain Dynamics Pretraining for Visuo-Motor Control"
LEVEL = 1e-6


def _optimality_witness(ev, rng, demos, encoder, trials=200):
    """The closed-form encoder's whitened prediction loss against random whitened ones."""
    o = demos.observations
    D = o.shape[-1]
    mean = encoder.mean
    x0 = (o[:, :-1] - mean).reshape(-1, D)
    x1 = (o[:, 1:] - mean).reshape(-1, D)
    allx = (o - mean).reshape(-1, D)
    S = allx.T @ allx / allx.shape[0]
    ridge = 0.1 * np.trace(S) / D * np.eye(D)

    n = x0.shape[0]
    S00, S11, S10 = x0.T @ x0 / n + ridge, x1.T @ x1 / n + ridge, x1.T @ x0 / n
    # the next frame's covariance left after the best linear prediction from the previous
    innov = S11 - S10 @ np.linalg.solve(S00, S10.T)

    def loss(E):
        # whiten E under S + ridge (the anti-collapse constraint), then the prediction error
        L = np.linalg.cholesky(E.T @ (S + ridge) @ E)
        Ew = E @ np.linalg.inv(L).T
        return float(np.trace(Ew.T @ innov @ Ew))

    best = loss(encoder.matrix)
    beaten = sum(loss(rng.standard_normal((D, encoder.matrix.shape[1]))) < best - 1e-9
                 for _ in range(trials))
    ev.equal(f"random encoders (of {trials}) with a lower whitened next-embedding prediction "
             "loss than the closed-form optimum", int(beaten), 0)


@claim(
    "rl.dynamics_pretraining.dynamics_latent_beats_reconstruction",
    paper=PAPER,
    kind="paper",
    statement=("On a linear system seen through a 24-pixel tanh camera that also sees an "
               "unpredictable distractor, behaviour cloning from 4 demonstrations of 30 "
               "steps on the representation given by DynaMo's objective (forward dynamics "
               "in latent space, no actions) has a lower imitation error than on a "
               "reconstruction-only representation, more often than not."),
    source=('Abstract: "we jointly learn a latent inverse dynamics model and a forward '
            'dynamics model over a sequence of image embeddings, predicting the next frame in '
            'latent space, without augmentations, contrastive sampling, or access to ground '
            'truth actions" and "representations learned with DynaMo significantly improve '
            'downstream imitation learning performance over prior self-supervised learning '
            'objectives"'),
    reading=("The system: a 2-D damped rotation driven by the expert a = tanh(k.s) with "
             "process noise; the camera o = tanh(W s + V n) in R^24 with a 3-D i.i.d. "
             "distractor n of twice the state's scale (the clutter of real scenes). "
             "DynaMo's objective is taken at its linear optimum (whitened encoder minimising "
             "the next-embedding prediction error: the top canonical directions of "
             "consecutive frames; a latent action of m dimensions from the inverse model "
             "absorbs m innovation directions, so this subspace stays a minimiser, though "
             "no longer the only one), not trained as a network. The prior self-supervised "
             "objective is reconstruction (PCA, a linear autoencoder's optimum), both 2-D, "
             "fitted on the same demonstrations. Behaviour cloning: ridge regression, output "
             "clipped to the action range; imitation error: mean squared action error on 50 "
             "fresh trajectories. 'Significantly improve' is read as: over independent "
             "draws of the demonstrations, the probability that the dynamics representation "
             "gives the lower error is above 1/2 (exact Clopper-Pearson interval, 1e-6); "
             "the mean errors are recorded. Real images, the six environments and the "
             "policy classes of the abstract are not tested."),
    witnesses=("exact", "simulated"),
    quick={"repeats": 40},
    full={"repeats": 400},
)
def dynamics_latent_beats_reconstruction(ctx, repeats):
    from toytheory import stats
    from toytheory.rl import dynamics_pretraining as dp

    ev = ctx.evidence()
    system = dp.LinearSystem()
    rng = ctx.rng("demonstrations")
    first = dp.demonstrations(system, 4, 30, rng)
    _optimality_witness(ev, ctx.rng("random encoders"), first, dp.dynamo_encoder(first, 2))
    errors = np.empty((repeats, 3))
    for r in range(repeats):
        demos = first if r == 0 else dp.demonstrations(system, 4, 30, rng)
        test = dp.demonstrations(system, 50, 30, rng)
        for i, enc in enumerate((dp.pca_encoder(demos, 2), dp.dynamo_encoder(demos, 2),
                                 dp.state_encoder())):
            w = dp.fit_behaviour_cloning(enc, demos)
            errors[r, i] = dp.imitation_errors(enc, w, test).mean()
    wins = int(np.sum(errors[:, 1] < errors[:, 0]))
    lo, hi = stats.exact_binomial_interval(wins, repeats, LEVEL)
    ev.record("mean imitation error: reconstruction / dynamics / true state",
              float(errors[:, 1].mean()),
              note=" / ".join(f"{v:.4f}" for v in errors.mean(axis=0))
              + f"; action variance {float(np.var(test.actions)):.3f}")
    ev.interval("P(dynamics representation imitates better than reconstruction)",
                wins / repeats, (lo, hi), 0.5, side=">=", level=LEVEL,
                detectable=f"a win probability about {max(0.5 - lo, hi - 0.5):.2f} from 1/2 "
                           f"at {repeats} draws",
                decide_n=4 * repeats, headline=True)
    if lo < 0.5:
        ev.referee_note(
            says="representations learned with DynaMo significantly improve downstream "
                 "imitation learning performance over prior self-supervised objectives",
            toy="linear system, 24-pixel tanh camera with a distractor, 4 demonstrations",
            measured=f"dynamics wins {wins} of {repeats}; interval [{lo:.3f}, {hi:.3f}] "
                     "at 1e-6",
            inside="pretraining and cloning on the same few in-domain demonstrations, as "
                   "in the paper",
            would_change="more repeats, or a weaker distractor")
    ev.note("Reconstruction keeps the directions of largest pixel variance, here the "
            "distractor's; the next-embedding objective keeps what the past predicts, the "
            "state. Without a distractor (scale 0) both representations imitate about "
            "equally well (mean errors 0.009 and 0.008 over 20 draws, measured once), so "
            "the gain depends on unpredictable nuisance in the frames.")
    return ev
