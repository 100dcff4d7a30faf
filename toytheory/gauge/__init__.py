"""Gauge freedom of diffusion-model fields, and intrinsic dimension on known manifolds.

A model field :math:`s` splits as :math:`s = \\nabla\\phi + r` with
:math:`\\nabla\\cdot(p\\,r) = 0`; the gauge part :math:`r` changes no marginal of the
probability-flow ODE (Horvat & Pfister, "On gauge freedom, conservativity and
intrinsic dimensionality estimation in diffusion models"; REFERENCE.md §4).

Modules
-------
grid
    Node grids on a box and their edges.
decomposition
    The weighted Poisson split on a grid (scipy sparse + multigrid CG, torch CG).
gauge_fields
    Exact gauge fields: Gaussian :math:`\\Sigma_t A x`, 2-D stream functions,
    skew-symmetric tensor fields in any dimension.
fields
    Model fields: exact score + gauge fields + gradients of potentials.
densities
    Exact score Jacobians of diffused Gaussian mixtures.
functions
    Scalar functions with exact gradients and Hessians (numpy and torch).
likelihood
    :math:`\\log p_0` by the instantaneous change of variables along a field's flow.
manifolds
    Spheres, flat tori, the Swiss roll and linear subspaces in :math:`\\mathbb{R}^D`
    with exact noised scores and score Jacobians.
intrinsic_dimension
    Stanczuk et al.'s score-SVD estimator and the flow-Jacobian estimator.
plots
    Figures (stream plots of the split, singular-value spectra).
"""

from __future__ import annotations

from .._lazy import lazy_exports

_EXPORTS = {
    "Grid": "grid",
    "Decomposition": "decomposition", "decompose": "decomposition",
    "refinement_study": "decomposition", "loss_split": "decomposition",
    "convergence_order": "decomposition", "edge_weights": "decomposition",
    "GaussianGaugeField": "gauge_fields", "SkewTensorGaugeField": "gauge_fields",
    "StreamFunctionGaugeField2D": "gauge_fields", "random_skew": "gauge_fields",
    "ModelField": "fields", "Potential": "fields",
    "MixtureDensity": "densities",
    "Quadratic": "functions", "PlaneWave": "functions",
    "change_of_variables_log_prob": "likelihood",
    "LinearSubspace": "manifolds", "Sphere": "manifolds", "FlatTorus": "manifolds",
    "SwissRoll": "manifolds",
    "score_svd_estimate": "intrinsic_dimension", "flow_jacobian_estimate": "intrinsic_dimension",
    "log_snr_time_grid": "intrinsic_dimension",
}

__all__ = sorted(_EXPORTS)


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
