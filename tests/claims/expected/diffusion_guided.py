"""Expected quick-tier verdicts of the guided/composed diffusion claims (FKC)."""

EXPECTED = {
    "diffusion.guided.fkc_naive_misses_target": "holds",
    "diffusion.guided.fkc_samples_target": "holds",
    "diffusion.guided.fkc_error_falls_with_particles": "holds",
}
