"""Expected quick-tier verdicts of the gauge-freedom claims (toytheory/claims/catalog/gauge_*.py).

``gauge_field_breaks_flow_jacobian`` is refuted on the toy: under every gauge field tried
(score rotations with 3x and 10x the score's energy, a sheared plane-wave field) the
flow-Jacobian estimate stays k, while the score-SVD estimator is broken by the same fields.
"""
EXPECTED = {
    "gauge.fields.divergence_free": "holds",
    "gauge.decomposition.orthogonal_split": "holds",
    "gauge.decomposition.loss_split": "holds",
    "gauge.sampling.gauge_field_keeps_marginals": "holds",
    "gauge.sampling.wrong_conservative_field_changes_marginals": "holds",
    "gauge.likelihood.exact_iff_conservative_part_is_score": "holds",
    "gauge.intrinsic_dimension.score_svd_recovers_k": "holds",
    "gauge.intrinsic_dimension.flow_jacobian_recovers_k": "holds",
    "gauge.intrinsic_dimension.gauge_field_breaks_flow_jacobian": "refuted",
    "gauge.intrinsic_dimension.gauge_field_breaks_score_svd": "holds",
}
