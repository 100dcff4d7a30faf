"""Expected quick-tier verdicts of the data-selection claims (toytheory/data)."""
EXPECTED = {
    "data.equitable.optimal_allocation_certified": "holds",
    "data.equitable.sequential_outperforms_heuristics": "holds",
    "data.equitable.sequential_reaches_optimum": "holds",
}
EXPECTED.update({
    "data.mig.greedy_guarantee_where_submodular": "holds",
    "data.mig.outperforms_quality_and_diversity": "holds",
})
