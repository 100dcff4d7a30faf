"""Exact diffusion on Gaussian and Gaussian-mixture data.

Modules
-------
schedules
    Noise schedules (VP linear/cosine/discrete, VE, EDM) and the Karras grid.
laws
    Gaussian, GaussianMixture, DeltaMixture: exact log-density, score,
    denoiser (x0/eps/v), posterior and samples of the diffused marginals.
torch_laws
    The same laws in torch (CPU/CUDA, float32/float64).
process
    A law and a schedule together: predictions at a time ``t``; ``ExactModel``.
gaussian_flow
    Closed-form probability-flow solution for Gaussian data, any schedule.
affine
    Exact output law of any affine sampler on Gaussian data.
explained_variance
    Fraction of the score's variance explained by the Gaussian approximation.
teleportation
    Analytical teleportation: the Gaussian jump, its exact law, the exact KL cost.
marginal_tests
    KS-on-projections and energy tests of samples against an exact marginal.
toys
    Toy laws: 1-D two modes, the 5 x 5 grid, a 64-d power-law mixture.
figures_exact
    Score fields, explained variance, teleportation error (registered figures).
solvers
    Fast ODE/SDE solvers with one signature (numpy and torch); ``solver_search`` searches
    per-step solver schedules.
targets, fkc, guidance
    Exact annealed, product, geometric, CFG and reward-tilted targets; Feynman-Kac
    correctors; exactly CFG-guided mixtures.
svdd, minority, pag, score_distillation
    Soft value-based decoding, minority guidance, perturbed-model guidance, SDS and
    consistency distillation sampling.
posterior
    Exact GMM posteriors under linear measurements and the samplers held to them.
pfgmpp, pfgmpp_gmm, pfgmpp_limit, schrodinger_bridge, distillation, distillation_mlp
    PFGM++ (point and Gaussian-mixture data; its ODE map against EDM's as D grows);
    Gaussian (multi-marginal) Schrödinger bridges; progressive distillation.
learned, hallucination, skip_tuning, region_caching, quantisation(_mlp), score_rates(_mlp)
    Small trained denoisers and what their errors do, against the exact score; the trained
    MLP's score error against n next to the plug-in and the empirical score.
"""

from __future__ import annotations

from .._lazy import lazy_exports

_EXPORTS = {
    "NoiseSchedule": "schedules", "VPLinear": "schedules", "VPCosine": "schedules",
    "DiscreteVP": "schedules", "VE": "schedules", "EDM": "schedules",
    "karras_sigmas": "schedules",
    "GaussianMixture": "laws", "Gaussian": "laws", "DeltaMixture": "laws",
    "DiffusionProcess": "process", "ExactModel": "process",
    "gaussian_flow_map": "gaussian_flow", "gaussian_pf_ode_solution": "gaussian_flow",
    "affine_map_of": "affine", "gaussian_pushforward": "affine",
}

__all__ = sorted(_EXPORTS)


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
