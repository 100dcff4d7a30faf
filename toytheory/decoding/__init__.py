"""Decoding and repeated sampling, exact on small vocabularies.

Masked diffusion (the original step sampler and the first-hitting sampler, exact laws),
speculative decoding (one draft, and SpecTr's k-candidate K-SEQ with the optimal
transport plan it is held to), repeated sampling (pass@k and coverage, "Large
Language Monkeys"; majority vote and reward-model selection in :mod:`.selection`),
self-consistency and FOBAR (:mod:`.fobar`) and cautious next-token prediction
(:mod:`.cautious`); Gumbel-max with float32 uniforms: the continuous-cap model in
:mod:`.gumbel_truncation`, the exact per-token law on the torch.rand grid in
:mod:`.gumbel_grid`. Laws are probability vectors over a vocabulary of size ``V``;
``target`` is the large model's law, ``draft`` the small model's.
"""

from .kseq import (ENUMERATION_LIMIT, kseq_acceptance, kseq_beta, kseq_output_law,
                   kseq_output_law_enumerated, kseq_residual, kseq_rho)
from .masked_diffusion import (MASK, conditional_marginals, first_hitting_sampler_law,
                               linear_schedule, markov_chain_joint, step_sampler_law)
from .optimal_draft_selection import optimal_acceptance_lp, optimal_acceptance_min_cut
from .repeated_sampling import (beta_coverage, beta_coverage_tail_constant,
                                expected_pass_at_k_exact, fit_exponentiated_power_law,
                                pass_at_k_plugin, pass_at_k_unbiased)
from .speculative import (speculative_acceptance, speculative_output_law,
                          speculative_residual, total_variation)

__all__ = ["MASK", "conditional_marginals", "first_hitting_sampler_law", "linear_schedule",
           "markov_chain_joint", "step_sampler_law",
           "beta_coverage", "beta_coverage_tail_constant", "expected_pass_at_k_exact",
           "fit_exponentiated_power_law", "pass_at_k_plugin", "pass_at_k_unbiased",
           "ENUMERATION_LIMIT", "kseq_acceptance", "kseq_beta", "kseq_output_law",
           "kseq_output_law_enumerated", "kseq_residual", "kseq_rho",
           "optimal_acceptance_lp", "optimal_acceptance_min_cut", "speculative_acceptance",
           "speculative_output_law", "speculative_residual", "total_variation"]
