EXPECTED = {
    "foundation.stats.tests_are_calibrated": "holds",
    "foundation.gaussian.w2_closed_form": "holds",
    "foundation.stats.chisquare_on_proportions_detects_a_wrong_sampler": "refuted",
}
