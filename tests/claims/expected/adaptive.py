"""Expected quick-tier verdicts of the adaptive-data-analysis claims."""

EXPECTED = {
    "adaptive.overfitting.empirical_error_grows_like_sqrt_m_over_n": "holds",
    "adaptive.noise.mechanisms_within_computed_bounds": "holds",
    "adaptive.holdout.standard_overfits_thresholdout_does_not": "holds",
    "adaptive.holdout.thresholdout_finds_the_signal": "holds",
    "adaptive.privacy.laplace_mechanism_is_epsilon_dp": "holds",
    "adaptive.pmw.many_adaptive_queries": "holds",
}
