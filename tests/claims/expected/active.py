"""Expected quick-tier verdicts of the active-learning claims (learning to actively learn)."""

EXPECTED = {
    "active.thresholds.robust_policy_competes_per_class": "holds",
    "active.thresholds.exact_minimax_matches_brute_force": "holds",
}
EXPECTED.update({
    "sampling.ray_rendering.exploration_sees_the_whole_ray": "holds",
})
EXPECTED.update({
    "sampling.rejection_filter.forward_check_raises_faithfulness": "holds",
    "sampling.rejection_filter.value_matching_accepts_wrong_problems": "holds",
})
EXPECTED.update({
    "rl.dynamics_pretraining.dynamics_latent_beats_reconstruction": "holds",
})
EXPECTED.update({
    "sampling.forward_passes.melody_savings_need_superlinear_musiclm": "holds",
})
