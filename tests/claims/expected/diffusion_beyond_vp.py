"""Expected quick-tier verdicts of the beyond-VP claims (distillation, bridges, solver papers)."""

EXPECTED = {
    "diffusion.distillation.prodiff_keeps_teacher_quality": "holds",
    "diffusion.distillation.x0_prediction_avoids_degradation": "holds",
    "diffusion.distillation.target_variance_reduced": "holds",
    "diffusion.distillation.mixture_mlp_students": "holds",
    "diffusion.bridges.gaussian_sb_closed_form": "holds",
    "diffusion.bridges.piecewise_misses_long_range": "holds",
    "diffusion.bridges.refinement_recovers_dynamics": "holds",
    "diffusion.bridges.misspecified_fixed_point": "holds",
    "diffusion.solvers.papers.deis_beats_euler": "holds",
    "diffusion.solvers.papers.usf_schedule_beats_fixed_solvers": "holds",
    "diffusion.solvers.papers.v3_better_or_comparable_at_low_nfe": "holds",
}
