"""Expected quick-tier verdicts of the PFGM++ claims."""

EXPECTED = {
    "diffusion.pfgmpp.large_d_recovers_diffusion": "holds",
    "diffusion.pfgmpp.larger_d_concentrates_coupling": "holds",
    "diffusion.pfgmpp.d1_is_pfgm": "holds",
    "diffusion.pfgmpp.smaller_d_more_robust": "holds",
    "diffusion.pfgmpp.batch_target_bias": "holds",
    "diffusion.pfgmpp.large_d_gmm_denoiser": "holds",
    "diffusion.pfgmpp.large_d_ode_map_is_edm": "holds",
}
