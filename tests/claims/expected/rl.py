"""Expected quick-tier verdicts of the Bellman-completeness (rl) claims.

``rl.linearq.dqn_falls_short`` is inconclusive in the quick tier: with 24 minibatch-DQN
runs per u (u = 16 and 32) about 70% end short of 4u + 2, and the exact interval at
level 1e-6 straddles 1/2; about 100 runs per u would decide (the full tier runs 30 seeds
per width).
"""
EXPECTED = {
    "rl.linearq.exact_optimal_values": "holds",
    "rl.linearq.width_grows_linearly": "holds",
    "rl.linearq.rcsl_mlp_reaches_optimum": "holds",
    "rl.linearq.dqn_falls_short": "inconclusive",
    "rl.stitching.rcsl_cannot_stitch": "holds",
    "rl.pointmaze.mbrcsl_stitches": "holds",
    "rl.tabular.values_match_brute_force_and_rollouts": "holds",
}
