"""Expected quick-tier verdicts of the Bellman-completeness (rl) claims.

``rl.linearq.dqn_falls_short`` is refuted on the toy: at u = 16 (the quick tier) most
fitted-Q-iteration runs at widths u/4..4u reach 4u + 2; in the full tier the shortfall
grows with u (all runs short at u = 160) but not at u = 16, 32, 64.
"""
EXPECTED = {
    "rl.linearq.exact_optimal_values": "holds",
    "rl.linearq.width_grows_linearly": "holds",
    "rl.linearq.rcsl_mlp_reaches_optimum": "holds",
    "rl.linearq.dqn_falls_short": "refuted",
    "rl.stitching.rcsl_cannot_stitch": "holds",
    "rl.pointmaze.mbrcsl_stitches": "holds",
    "rl.tabular.values_match_brute_force_and_rollouts": "holds",
}
