"""Expected quick-tier verdicts of the on-policy sampling claims (PROPS)."""

EXPECTED = {
    "rl.on_policy_sampling.props_lowers_sampling_error": "holds",
    "rl.on_policy_sampling.small_batches_can_be_worse": "holds",
}
