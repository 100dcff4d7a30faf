"""Expected quick-tier verdicts of the posterior-sampling claims (issue 17)."""

EXPECTED = {
    "diffusion.posterior.exact_sampler_matches_posterior": "holds",
    "diffusion.posterior.dps_drops_minor_mode": "holds",
    "diffusion.posterior.ads_beats_fixed_masks": "holds",
    "diffusion.posterior.vibid_bidirectional_beats_fusion": "holds",
    "diffusion.posterior.vibid_not_exact_bridge": "holds",
    "diffusion.posterior.forward_model_learns_unseen_prior": "holds",
    "diffusion.posterior.forward_model_identifiability_fails": "holds",
    "diffusion.posterior.volume_augmented_prior_coherent": "holds",
    "diffusion.posterior.volume_mmse_not_improved": "holds",
    "diffusion.posterior.videomv_reconstruction_consistent": "holds",
    "diffusion.posterior.videomv_not_posterior": "holds",
    "diffusion.posterior.snl_two_percent_of_mcmc": "refuted",
    "diffusion.posterior.snl_beats_mcmc_at_equal_calls": "holds",
    "diffusion.posterior.volume_alternating_sampler_coherent": "holds",
    "diffusion.posterior.snl_two_percent_nonlinear": "refuted",
    "diffusion.posterior.pigdm_projection_overweight_minor_mode": "holds",
    "diffusion.posterior.ads_particles_beat_random": "holds",
}
EXPECTED.update({
    "diffusion.posterior.forward_model_mlp_learns_mixture": "holds",
    "diffusion.posterior.forward_model_mlp_unobserved_direction": "holds",
    "diffusion.posterior.snl_flow_two_percent_of_mcmc": "refuted",
})
EXPECTED["diffusion.posterior.volume_tv_prior_coherent"] = "holds"
