"""Bellman completeness and return-conditioned supervised learning, exactly.

Source paper: "Free from Bellman Completeness: Trajectory Stitching via
Model-based Return-conditioned Supervised Learning" (Zhou et al., 2023).

Modules
-------
mdp
    Finite-horizon tabular MDPs (float64): value iteration, policy evaluation.
exact
    Deterministic MDPs with rational rewards: exact values and returns.
linearq_mdp
    The Linearq(u) counterexample (module ``linearq_mdp``, so that the function
    :func:`linearq` is never shadowed by its module), its stated ``Q*`` and threshold policy.
piecewise
    Exact piecewise-linear functions and two-layer ReLU networks over the rationals.
interpolation
    Breakpoint lower bounds for fitting values on a grid, and networks attaining them.
width_gap
    Width forced by Bellman completeness on Linearq(u) against RCSL's width 2.
datasets
    Trajectory datasets, the paper's Linearq dataset, coverage counts.
rcsl
    Tabular return-conditioned supervised learning and behaviour cloning, exactly evaluated.
stitching
    An MDP on which RCSL cannot stitch (deterministic, uniform coverage).
pointmaze
    A grid Point Maze and MBRCSL (learned model, behaviour policy, rollouts, RCSL).
dqn
    Minibatch DQN with a target network on Linearq (Numba).
learners
    Torch learners on Linearq: fitted Q iteration and an RCSL MLP (imports torch lazily).
plots
    The area's figures (matplotlib ``Figure`` objects).
"""

from __future__ import annotations

from .._lazy import lazy_exports

_EXPORTS = {
    "TabularMDP": "mdp", "FiniteHorizonValues": "mdp", "value_iteration": "mdp",
    "policy_evaluation": "mdp", "greedy_policy": "mdp", "expected_return": "mdp",
    "DeterministicMDP": "exact", "ExactValues": "exact", "exact_value_iteration": "exact",
    "exact_return": "exact", "exact_trajectory": "exact", "exact_policy_value": "exact",
    "return_distribution": "exact",
    "linearq": "linearq_mdp", "linearq_q_star": "linearq_mdp", "linearq_rewards": "linearq_mdp",
    "linearq_optimal_actions": "linearq_mdp", "linearq_v_star_start": "linearq_mdp",
    "linearq_next_state": "linearq_mdp", "linearq_n_states": "linearq_mdp",
    "PiecewiseLinear": "piecewise", "TwoLayerReLU": "piecewise",
    "second_differences": "interpolation", "breakpoint_lower_bound": "interpolation",
    "sparsest_interpolant": "interpolation", "interpolating_network": "interpolation",
    "interpolation_width": "interpolation",
    "bellman_completeness_width": "width_gap", "rcsl_threshold_network": "width_gap",
    "rcsl_network_return": "width_gap", "predicted_min_width": "width_gap",
    "TrajectoryDataset": "datasets", "sample_trajectories": "datasets",
    "linearq_dataset": "datasets", "state_action_counts": "datasets",
    "TabularRCSL": "rcsl", "fit_tabular_rcsl": "rcsl", "fit_behaviour_cloning": "rcsl",
    "stitching_mdp": "stitching", "stitching_dataset": "stitching",
    "point_maze": "pointmaze", "point_maze_dataset": "pointmaze", "mbrcsl": "pointmaze",
    "fit_dqn": "dqn", "dqn_greedy_actions": "dqn", "dqn_widths": "dqn",
    "fit_q_iteration": "learners", "fit_rcsl_mlp": "learners", "shortfall_summary": "learners",
}

__all__ = sorted(_EXPORTS)


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
