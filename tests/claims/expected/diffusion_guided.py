"""Expected quick-tier verdicts of the guided/composed diffusion claims (FKC, SVDD, minority guidance, PAG, score distillation)."""

EXPECTED = {
    "diffusion.guided.fkc_naive_misses_target": "holds",
    "diffusion.guided.fkc_samples_target": "holds",
    "diffusion.guided.fkc_error_falls_with_particles": "holds",
    "diffusion.guided.fkc_cfg_samples_target": "holds",
    "diffusion.guided.svdd_non_differentiable_reward": "holds",
    "diffusion.guided.svdd_bias_at_finite_candidates": "holds",
    "diffusion.guided.minority_tweedie_favours_majority": "holds",
    "diffusion.guided.minority_guidance_raises_minority_mass": "holds",
    "diffusion.guided.pag_improves_unconditional_quality": "holds",
    "diffusion.guided.pag_precision_diversity_tradeoff": "holds",
    "diffusion.guided.consistent3d_steadier_guidance": "holds",
    "diffusion.guided.sds_mode_seeking_fixed_point": "holds",
    "diffusion.guided.boostdream_multiview_removes_janus": "holds",
}
