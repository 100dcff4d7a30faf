"""Expected quick-tier verdicts of the beyond-VP claims (distillation, bridges, solver papers)."""

EXPECTED = {
    "diffusion.distillation.prodiff_keeps_teacher_quality": "holds",
    "diffusion.distillation.x0_prediction_avoids_degradation": "holds",
    "diffusion.distillation.target_variance_reduced": "holds",
}
