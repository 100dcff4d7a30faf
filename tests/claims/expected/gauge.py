"""Expected quick-tier verdicts of the gauge-freedom claims (toytheory/claims/catalog/gauge_*.py).

Kinds: ``paper`` for the decomposition, exact sampling (not necessary, not sufficient), exact
density estimation and the two 'conservative is desirable' intrinsic-dimension claims;
``derived`` for the gauge-field identities, the loss split and the flow-Jacobian estimator on
exact scores; ``background`` for Stanczuk et al.'s score-SVD estimator.

``gauge_field_breaks_flow_jacobian`` now holds the abstract's 'desirable' (the gauge part
increases the estimator's error more often than it decreases it: plane-wave gauge fields make
it wrong at some base points and never right where it was wrong); the earlier, sharper
reading ('breaks it at every base point') was refuted and is no longer claimed. Verdicts were
checked under run seeds 0..19.
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
    "gauge.intrinsic_dimension.gauge_field_breaks_flow_jacobian": "holds",
    "gauge.intrinsic_dimension.gauge_field_breaks_score_svd": "holds",
}
