"""Expected quick-tier verdicts of the imperfect-denoiser claims (issue 19)."""

EXPECTED = {
    "diffusion.imperfect.mode_interpolation_mass": "holds",
    "diffusion.imperfect.trajectory_variance_filter": "refuted",
}
EXPECTED.update({
    "diffusion.imperfect.skip_tuning_gaussian": "holds",
    "diffusion.imperfect.region_adaptive_caching": "holds",
})
EXPECTED["diffusion.imperfect.ptq_eight_bit_time_aware"] = "holds"
EXPECTED.update({
    "diffusion.imperfect.plugin_score_error_exact": "holds",
    "diffusion.imperfect.plugin_sampler_consistent": "holds",
    "diffusion.imperfect.empirical_score_memorises": "holds",
})
EXPECTED["diffusion.imperfect.retrieval_anchoring_mitigates_interpolation"] = "holds"
EXPECTED.update({
    "diffusion.imperfect.mode_interpolation_grid_2d": "holds",
    "diffusion.imperfect.trajectory_variance_filter_2d": "refuted",
})
EXPECTED["diffusion.imperfect.ptq_mlp_simulated"] = "holds"
EXPECTED["diffusion.imperfect.mlp_score_error_vs_n"] = "holds"
