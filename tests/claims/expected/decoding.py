"""Expected quick-tier verdicts of the decoding claims."""

EXPECTED = {
    "decoding.spectr.kseq_output_follows_target": "holds",
    "decoding.spectr.kseq_within_one_minus_one_over_e_of_optimal": "holds",
    "decoding.spectr.more_candidates_raise_optimal_acceptance": "holds",
    "decoding.monkeys.pass_at_k_estimator_unbiased": "holds",
    "decoding.monkeys.beta_coverage_power_law_tail": "holds",
    "decoding.masked_diffusion.first_hitting_sampler_matches_original_process": "holds",
    "decoding.monkeys.coverage_scales_over_four_decades": "holds",
    "decoding.monkeys.selection_plateaus_below_coverage": "holds",
    "decoding.fobar.self_consistency_saturates": "holds",
    "decoding.fobar.fobar_beats_self_consistency": "holds",
    "decoding.cautious.outperforms_standard_decoding": "refuted",
    "decoding.masked_diffusion.float32_gumbel_lowers_temperature": "holds",
    "decoding.masked_diffusion.float32_gumbel_grid_law": "holds",
    "decoding.spectr.block_drafts_tokens_per_call": "holds",
    "decoding.monkeys.cheap_model_more_samples_equal_cost": "holds",
}
