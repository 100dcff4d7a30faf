"""Choosing which data to collect or keep: allocation, selection, markers, augmentation.

Every toy here is solved exactly (a convex program with a certificate, an enumeration, a
closed-form least-squares error, a Gaussian-mixture posterior), so a data-selection rule's
downstream effect is known without a trained network.

Modules
-------
allocation
    Budget allocation across groups with learning curves and costs (equitable datasets):
    certified worst-group and welfare optima, equal and proportional allocation, the
    sequential strategy.
mig
    Label-graph information gain (MIG), its greedy maximiser, the enumerated optimum,
    exact submodularity checks, and an exact Gaussian skill model for downstream error.
diversify
    k-means cluster-balanced selection and its iterative refinement (Diversify and
    Conquer), ridge fits in closed form and their exact test error under a mixture.
markers
    Training-time markers for a rare subgroup (Treasure Hunt): exact errors of linear
    predictors without markers, with markers given, and with markers inferred.
tta
    Test-time prompt tuning on a Gaussian mixture (DiffTPT): the exact GMM posterior
    sampler as the diffusion model (SDEdit views), cosine filtering, TPT by entropy.
"""

from .._lazy import lazy_exports

_MODULES = {
    "allocation": ("PowerLawCurve", "OLSCurve", "Allocation", "worst_group_allocation",
                   "welfare_allocation", "equal_allocation", "proportional_allocation",
                   "sequential_worst_group", "scipy_allocation"),
    "mig": ("LabelGraphGain", "greedy_select", "best_subset", "all_subset_values",
            "submodularity_violations", "skill_posterior_error"),
    "diversify": ("kmeans", "ridge_fit", "exact_test_error", "block_ridge_fit",
                  "block_test_error", "cluster_balanced_subset", "iterative_refinement"),
    "markers": ("linear_error", "switched_error", "fit_lda", "fit_ridge"),
    "tta": ("GMMSource", "gmm_posterior_sample", "standard_views", "diffusion_views",
            "cosine_filter", "tpt_predict", "tpt_predict_batch"),
}
_EXPORTS = {name: module for module, names in _MODULES.items() for name in names}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
