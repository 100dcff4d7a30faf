"""Sampling bounds: exact l_p sensitivities and Lewis weights, sensitivity sampling and its
exact distortion, projection DPPs and volume sampling, weighted least squares with DPPs.

Modules
-------
leverage
    Leverage and root-leverage scores.
sensitivities, l1_sensitivities
    Exact l_p sensitivities with primal/dual certificates (LP and a batched vertex walk for
    p = 1, closed form for p = 2, Newton otherwise); total sensitivity and its range.
lewis
    l_p Lewis weights (fixed point for p < 4, convex program for p >= 2).
sensitivity_sampling
    Row sampling, the exact distortion of the sketch (p = 1, 2) or a certified bracket.
sample_complexity
    Test-matrix families, measured sample complexities, exponent fits.
dpp, volume
    Projection DPPs and volume sampling on finite sets: exact laws and exact samplers.
bases, continuous_dpp, weighted_ls, interpolation
    Nouy and Michel's weighted least squares: Legendre bases, the optimal density, the
    continuous projection DPP, sampling schemes, and exact expectations by quadrature.

References
----------
Woodruff and Yasuda, "Sharper Bounds for ell_p Sensitivity Sampling" (ICML 2023).
Nouy and Michel, "Weighted least-squares approximation with determinantal point processes
and generalized volume sampling" (2023).
"""

from ._checks import ConvergenceError
from .dpp import (count_subsets, orthonormal_features, projection_dpp_law, projection_kernel,
                  sample_projection_dpp)
from .leverage import leverage_scores, root_leverage_scores
from .lewis import LewisResult, lewis_weights
from .sensitivities import (SensitivityResult, lp_sensitivities, sensitivity_bounds,
                            total_sensitivity)
from .sensitivity_sampling import (DistortionOracle, DistortionResult, RowSample,
                                   embedding_distortion, sample_rows)
from .volume import sample_volume, volume_sampling_law

__all__ = [
    "ConvergenceError",
    "leverage_scores", "root_leverage_scores",
    "SensitivityResult", "lp_sensitivities", "total_sensitivity", "sensitivity_bounds",
    "LewisResult", "lewis_weights",
    "RowSample", "DistortionResult", "DistortionOracle", "sample_rows", "embedding_distortion",
    "projection_kernel", "orthonormal_features", "projection_dpp_law", "sample_projection_dpp",
    "count_subsets", "volume_sampling_law", "sample_volume",
]
