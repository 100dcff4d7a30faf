"""Expected quick-tier verdicts of the sampling claims (issue 7)."""

EXPECTED = {
    "sampling.sensitivities.total_sensitivity_bounds": "holds",
    "sampling.sensitivities.sign_matrix_total": "holds",
    "sampling.sensitivities.certified_exact_values": "holds",
    "sampling.lewis.weights_sum_to_d_and_sandwich_sensitivities": "holds",
    "sampling.sensitivity_sampling.unbiased_sketch": "holds",
    "sampling.sensitivity_sampling.distortion_oracles_agree": "holds",
    "sampling.sample_complexity.l1_sensitivity_sampling": "holds",
    "sampling.sample_complexity.root_leverage_sampling": "holds",
    "sampling.sample_complexity.lp_sensitivity_sampling_p4": "holds",
    "sampling.sample_complexity.leverage_sampling_p2": "holds",
    "sampling.dpp.chain_rule_law": "holds",
    "sampling.dpp.marginals_equal_diagonal": "holds",
    "sampling.dpp.coupling_numpy_numba": "holds",
    "sampling.volume.law_by_enumeration": "holds",
    "sampling.volume.unbiased_least_squares": "holds",
    "sampling.volume.loss_d_plus_one": "holds",
    "sampling.wls.interpolation_identity": "holds",
    "sampling.wls.continuous_dpp_law": "holds",
    "sampling.wls.quasi_optimality_m_log_m": "holds",
    "sampling.wls.repetitions_advantage": "holds",
}
