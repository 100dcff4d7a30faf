"""Adaptive data analysis: mechanisms, adaptive analysts and accuracy bounds.

The setting (Dwork, Feldman, Hardt, Pitassi, Reingold and Roth, "Preserving
Statistical Validity in Adaptive Data Analysis"): a sample of ``n`` points is
drawn from a population ``P``; an analyst asks statistical queries
:math:`\\phi: X \\to [0, 1]`, each chosen after seeing the answers to the earlier
ones; a mechanism answers them. A mechanism is :math:`(\\tau, \\beta)`-accurate if

.. math:: \\Pr\\big[\\max_i |a_i - \\mathbb{E}_P \\phi_i| \\le \\tau\\big] \\ge 1 - \\beta.

Every population here is known exactly, so every true answer is exact.

Modules
-------
queries
    Statistical queries and their validation (values in [0, 1], finite).
populations
    Populations with exact answers (Rademacher products, Gaussian features with
    independent or weakly informative labels, a finite universe).
mechanisms
    Empirical, sample splitting, Laplace, Gaussian (zCDP), Thresholdout with its
    budget, private multiplicative weights; the sentinel :data:`EXHAUSTED`.
accounting
    Exact privacy accounting and composition.
analysts
    The log-odds correlation attack, the boosting attack, non-adaptive controls,
    the reusable-holdout analyst; :func:`run_interaction`.
bounds
    Hoeffding with a union bound, sample-splitting width, the transfer theorem
    (Jung et al.) for Laplace and Gaussian noise, Thresholdout's parameters.
holdout_experiment
    The reusable-holdout experiment, a plain numpy reference implementation.
audit
    Histogram audit of epsilon-differential privacy, exact hockey-stick divergence.

Heavy libraries (torch, numba) are never imported here; the simulators live in
``sims/adaptive_*.py``.
"""

from .._lazy import lazy_exports
from .mechanisms.base import EXHAUSTED, Exhausted, is_exhausted

_MODULES = {
    "accounting": ("laplace_epsilon", "gaussian_rho", "pure_to_zcdp", "zcdp_to_approx_dp",
                   "basic_composition", "advanced_composition", "sparse_vector_epsilon",
                   "PrivacyAccountant"),
    "analysts": ("Transcript", "run_interaction", "LogOddsCorrelationAttack", "BoostingAttack",
                 "NonAdaptiveAnalyst", "log_odds_weights", "select_features",
                 "top_k_sign_weights", "SupportReconstructionAttack"),
    "audit": ("audit_edges", "histogram_dp_statistic", "histogram_audit_tolerance",
              "AuditResult", "audit_dp", "laplace_binned_hockey_stick"),
    "bounds": ("hoeffding_union_bound", "sample_splitting_width", "laplace_sample_accuracy",
               "gaussian_sample_accuracy", "TransferBound", "transfer_bound",
               "gaussian_transfer_bound", "laplace_transfer_bound", "optimal_gaussian_sigma",
               "optimal_laplace_scale", "thresholdout_parameters", "thresholdout_epsilon",
               "thresholdout_sample_accuracy", "thresholdout_transfer_bound",
               "pmw_update_bound", "gaussian_attack_error"),
    "holdout_experiment": ("PAPER_K_VALUES", "scaled_k_values",
                           "default_thresholdout_parameters", "HoldoutExperimentResult",
                           "reusable_holdout_experiment"),
    "populations": ("RademacherPopulation", "GaussianLabelPopulation", "FinitePopulation"),
    "queries": ("evaluate_query", "empirical_answer", "CoordinateAgreementQuery",
                "SignClassifierAgreement", "ComplementQuery", "TableQuery",
                "label_correlations"),
    "mechanisms": ("Mechanism", "EmpiricalMechanism", "SampleSplittingMechanism",
                   "LaplaceMechanism", "laplace_release", "GaussianMechanism",
                   "gaussian_release", "Thresholdout", "PrivateMultiplicativeWeights"),
}
_EXPORTS = {name: module for module, names in _MODULES.items() for name in names}

__all__ = sorted(["EXHAUSTED", "Exhausted", "is_exhausted", *_EXPORTS])

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
