"""Every data-selection claim catches the failure it is meant to catch (planted)."""

from __future__ import annotations

import numpy as np

from toytheory.claims import execute_claim, load_catalog

REGISTRY = load_catalog()


def run_quick(claim_id, seed, **overrides):
    claim = REGISTRY[claim_id]
    if overrides:
        claim = claim.with_params("quick", **overrides)
    return execute_claim(claim, "quick", seed)


def test_a_welfare_solver_that_stops_early_fails_the_duality_gap(monkeypatch, test_seed):
    """Planted: the welfare allocation scaled by 0.9 (budget not spent). Its objective then
    exceeds the dual bound by far more than 1e-9 on every instance: ``fails`` with
    probability 1. Power: deterministic in effect — every instance's error curves strictly
    decrease, so unspent budget leaves a positive gap (0.029 relative at seed 0) against the
    1e-9 tolerance; no draw can close it."""
    import dataclasses

    import toytheory.data.allocation as alloc

    original = alloc.welfare_allocation

    def early(curves, costs, budget, weights, **kw):
        a = original(curves, costs, budget, weights, **kw)
        n = a.n * 0.9
        errors = np.array([float(c.value(k)) for c, k in zip(curves, n)])
        return dataclasses.replace(a, n=n, errors=errors, objective=float(weights @ errors))

    monkeypatch.setattr(alloc, "welfare_allocation", early)
    assert run_quick("data.equitable.optimal_allocation_certified", test_seed,
                     instances=5)["verdict"] == "fails"


def test_a_wrong_ols_simulator_fails_the_curve_check(monkeypatch, test_seed):
    """Planted: OLS fits whose error is 20% too large. For d = 5, n = 20 the statistic
    (err - 1) 16/5 then moves up by 0.64 + 0.2 F, which lowers the F(5, 16) CDF at its median
    by more than 0.25, against a KS critical distance of about 0.05 for 3000 fits at
    1e-6 / 3 (sqrt(ln(6e6) / 6000)). Power: by DKW a miss has probability <= 2 exp(-2 * 3000
    * 0.2^2) < 1e-100: ``fails`` with probability > 1 - 1e-9 under any seed."""
    import sims.data_groups as sims

    original = sims.ols_test_errors
    monkeypatch.setattr(sims, "ols_test_errors",
                        lambda d, s2, n, reps, rng: 1.2 * original(d, s2, n, reps, rng))
    assert run_quick("data.equitable.sequential_outperforms_heuristics", test_seed,
                     runs=20)["verdict"] == "fails"


def _starving(monkeypatch):
    """A 'sequential' strategy that buys for the group with the smallest estimate."""
    import toytheory.data.allocation as alloc

    original = alloc.sequential_worst_group
    monkeypatch.setattr(alloc, "sequential_worst_group",
                        lambda est, *a: original(lambda g, n: -est(g, n), *a))


def test_a_strategy_that_starves_the_worst_group_is_refuted(monkeypatch, test_seed):
    """Planted: the strategy buys for the best group. The rarest group then stays at its start
    size (d + 3 = 23 samples, expected error 1 + 20/2 = 11) and loses every paired run against
    equal allocation (expected error 1.3): win rate 0 of 100 (Clopper-Pearson upper end
    about 0.13 at 1e-6), ``refuted`` with probability 1 - 1e-6 or more under any seed.
    Power: refuted whenever at most 25 of 100 runs win (upper end below 1/2); suite seeds
    0..9 saw 0 wins in 1000 runs, a win rate <= 0.0145 (Clopper-Pearson at 1e-6), where
    the miss probability P(Bin(100, 0.0145) >= 26) is below 1e-24."""
    _starving(monkeypatch)
    assert run_quick("data.equitable.sequential_outperforms_heuristics", test_seed,
                     runs=100)["verdict"] == "refuted"


def test_a_collector_that_validates_on_one_point_does_not_reach_the_optimum(test_seed):
    """Planted false statement: validation on a single point (m_val = 1), so the collector
    chases noise (both implementations agree: the Numba witness runs with the same m_val).
    Within 5% of the optimum's error in about 5% of runs. Power (re-sized from 100 runs):
    with 200 runs the Clopper-Pearson upper end at 1e-6 stays below 1/2 up to 65 successes,
    so the miss probability is <= 1e-6 whenever the rate is <= 0.187. Suite seeds 0..9: 137
    of 2000 runs within 5%, rate <= 0.100 (Clopper-Pearson at 1e-6), where the miss
    probability P(Bin(200, 0.100) >= 66) is below 1e-18."""
    assert run_quick("data.equitable.sequential_reaches_optimum", test_seed, runs=200,
                     m_val=1, other_runs=2)["verdict"] == "refuted"


def test_a_submodularity_check_that_sees_nothing_fails(monkeypatch, test_seed):
    """Planted: a violation counter that always reports none. The convex gain x^2 violates
    submodularity on every pool with two overlapping samples, so the claim's 'must be found'
    witness fails: ``fails`` with probability 1. Power: deterministic — the planted counter
    returns 0 whatever the pools, and the witness requires a violation to be found."""
    import toytheory.data.mig as mig

    monkeypatch.setattr(mig, "submodularity_violations",
                        lambda values, tol=1e-12: {"submodular_violations": 0,
                                                   "monotone_violations": 0, "checks": 1,
                                                   "worst": 0.0})
    assert run_quick("data.mig.greedy_guarantee_where_submodular", test_seed,
                     pools=3)["verdict"] == "fails"


def test_a_greedy_that_takes_the_smallest_gain_breaks_the_guarantee(monkeypatch, test_seed):
    """Planted: greedy by the smallest marginal gain (an argmin bug). On pools of 9 with half
    the samples of quality <= 0.2 it picks low-quality samples, far below 1 - 1/e of the
    optimum on the first pools: ``fails`` (checked deterministically on 40 pools). Power: the
    witness fails when any one of the 40 i.i.d. pools falls below 1 - 1/e = 0.632. Sized on
    3000 pools drawn by ``random_pool`` (seed 12345, separate from the suite's streams):
    2990 fell below, a per-pool rate >= 0.9886 (Clopper-Pearson lower end at 1e-6), so a
    miss has probability <= 0.0115^40 < 1e-77 under any seed."""
    import toytheory.data.mig as mig

    def argmin_greedy(gain, k):
        C = gain.contributions
        chosen, mass = [], np.zeros(C.shape[1])
        for _ in range(k):
            rest = [i for i in range(C.shape[0]) if i not in chosen]
            best = rest[int(np.argmin(gain.phi(mass + C[rest]).sum(axis=1)))]
            chosen.append(best)
            mass = mass + C[best]
        return chosen

    monkeypatch.setattr(mig, "greedy_select", argmin_greedy)
    assert run_quick("data.mig.greedy_guarantee_where_submodular",
                     test_seed)["verdict"] == "fails"


def test_mig_replaced_by_random_selection_is_refuted(monkeypatch, test_seed):
    """Planted false statement: 'MIG' is a random subset. Random beats quality-only in about
    10% of pools (mean errors 0.30 against 0.22); with 200 pools the Clopper-Pearson interval
    at 1e-6 lies below 1/2 unless 66+ wins occur: ``refuted``. Power: suite seeds 0..9 saw
    78 wins in 2000 pools, a rate <= 0.0644 (Clopper-Pearson at 1e-6), where the miss
    probability P(Bin(200, 0.0644) >= 66) is below 1e-28."""
    import toytheory.claims.catalog.data_mig as cat

    original = cat._selections

    def swapped(Y, q, W, k, rng):
        sel = original(Y, q, W, k, rng)
        sel["MIG"] = sel["random"]
        return sel

    monkeypatch.setattr(cat, "_selections", swapped)
    assert run_quick("data.mig.outperforms_quality_and_diversity",
                     test_seed)["verdict"] == "refuted"


def test_refinement_that_prefers_high_loss_clusters_is_refuted(test_seed):
    """Planted false statement: temperature -0.3 upweights the clusters where the model errs
    most, i.e. the label-noise ones, so the refined subset holds more noise than one-shot
    k-means in most pools (rate about 0.13-0.2). Power (re-sized from 120 pools, where the
    rate 0.21 seen at seed 0 missed with probability about 1e-2): with 600 pools the
    Clopper-Pearson upper end at 1e-6 stays below 1/2 up to 239 successes, so the miss
    probability is <= 1e-6 whenever the rate is <= 0.308. Suite seeds 0..9: 914 of 6000
    pools, rate <= 0.176 (Clopper-Pearson at 1e-6), where the miss probability
    P(Bin(600, 0.176) >= 240) is below 1e-37."""
    assert run_quick("data.diversify.refinement_filters_low_quality", test_seed,
                     temperature=-0.3, pools=600)["verdict"] == "refuted"


def test_a_wrong_exact_test_error_fails_the_monte_carlo_witness(monkeypatch, test_seed):
    """Planted: the exact block test error reported 30% too high. The witness compares it with
    50,000 fresh test points by a t-test at 1e-6 (critical 4.9 standard errors). Power
    (re-sized from 10%, which left only 3-6 standard errors of margin, a miss of order 1e-3
    on some pools): the squared residual is a mixture over 8 equally likely categories of
    scaled (non-central) chi-square(1) terms, so its coefficient of variation is at most
    sqrt(3 * 8 - 1) = 4.8 and the standard error at most 2.2% of the mean (0.9-1.2% seen);
    a miss needs the mean 30% - 4.9 * 2.2% = 19% above its expectation, >= 9 worst-case
    standard errors (normal tail < 1e-18; 20+ at the errors seen)."""
    import toytheory.data.diversify as div

    original = div.block_test_error
    monkeypatch.setattr(div, "block_test_error", lambda *a, **kw: 1.3 * original(*a, **kw))
    assert run_quick("data.diversify.refinement_beats_random", test_seed,
                     pools=2)["verdict"] == "fails"


def test_a_switched_error_with_swapped_branches_fails_the_witness(monkeypatch, test_seed):
    """Planted: the inferred-marker error computed with the two branches swapped. The witness
    splits its test law 76/24 between a far predictor (perturbation sd 2) and a close one
    (sd 0.1), so the swap moves the error by about half of the far branch's excess (of order
    4 (d + 1) / 2), hundreds of t-test standard errors on 200,000 points: ``fails``.
    Power: a miss needs a deviation of ~100 standard errors (normal tail far below 1e-6)."""
    import toytheory.data.markers as markers

    original = markers.switched_error
    monkeypatch.setattr(markers, "switched_error",
                        lambda w0, w1, w, mu, s2, a, b: original(w1, w0, w, mu, s2, a, b))
    assert run_quick("data.markers.long_tail_gains_most", test_seed,
                     draws=2)["verdict"] == "fails"


def test_markers_never_inferred_are_refuted(monkeypatch, test_seed):
    """Planted false statement: the marker classifier always answers 'head', so tail points
    get the head-only fit, which never saw the tail; the pooled fit at least adapts to the
    tail's samples, so the 'lower tail error' rate is near 0 and its interval at 1e-6 over
    200 draws lies below 1/2: ``refuted``. Power: refuted whenever at most 65 of 200 draws
    favour the markers; suite seeds 0..9 saw 3 in 2000, a rate <= 0.0111 (Clopper-Pearson at
    1e-6), where the miss probability P(Bin(200, 0.0111) >= 66) is below 1e-75."""
    import toytheory.data.markers as markers

    monkeypatch.setattr(markers, "fit_lda", lambda X, z: (np.zeros(X.shape[1]), -1.0))
    assert run_quick("data.markers.long_tail_gains_most", test_seed)["verdict"] == "refuted"


def test_a_posterior_sampler_with_the_wrong_shrinkage_fails_tweedie(monkeypatch, test_seed):
    """Planted: the GMM posterior mean uses var / v instead of a var / v (a = 0.7), moving it
    by 0.3 var (x_t - a m_k) / v, of order 0.1-1 per coordinate, against a t-test standard
    error of about 0.005 on 20,000 draws: ``fails`` with probability 1 - 1e-9 or more.
    Power: a miss needs a deviation of >= 15 standard errors beyond the Bonferroni critical
    value (normal tail < 1e-50)."""
    import toytheory.data.tta as tta

    def wrong(source, xt, a, n, rng):
        m, var = source.means, source.var
        v = a * a * var + 1 - a * a
        lw = -0.5 * np.sum((xt - a * m) ** 2 / v, axis=1)
        w = np.exp(lw - lw.max())
        k = rng.choice(len(m), size=n, p=w / w.sum())
        mean = m[k] + (var / v) * (xt - a * m[k])
        return mean + np.sqrt(var * (1 - a * a) / v) * rng.standard_normal((n, m.shape[1]))

    monkeypatch.setattr(tta, "gmm_posterior_sample", wrong)
    assert run_quick("data.difftpt.diffusion_views_beat_standard_tpt", test_seed,
                     domains=1, per_domain=2)["verdict"] == "fails"


def test_difftpt_given_the_true_label_on_half_the_points_holds(monkeypatch, test_seed):
    """Planted true statement: a 'DiffTPT' that is right wherever TPT is, and also on every
    other test point with probability 1/2 (mean gain about 9 points at 82% TPT accuracy), so
    the paired interval over 1,600 points lies above 1 point: ``holds`` with probability
    1 - 1e-6 or more. Shows the claim can hold, i.e. its refutation is not built in.
    Power: no point is discordant against DiffTPT (c = 0), so the interval's lower end
    exceeds 0.01 once b >= 60 gains are seen; b ~ Bin(m, 1/2) given the m TPT errors (TPT
    accuracy 80-83% over seeds 0..9, m near 300), and even at m = 200 a miss has
    probability P(Bin(200, 1/2) < 60) = 3e-9."""
    import toytheory.claims.catalog.data_difftpt as cat

    original = cat.accuracies

    def boosted(ctx, *args):
        right = original(ctx, *args)
        coin = ctx.rng("planted").random(right["TPT"].size) < 0.5
        right["DiffTPT"] = right["TPT"] | coin
        return right

    monkeypatch.setattr(cat, "accuracies", boosted)
    assert run_quick("data.difftpt.diffusion_views_beat_standard_tpt",
                     test_seed, domains=20)["verdict"] == "holds"


def test_a_numba_collector_that_drifts_fails_the_two_implementation_check(monkeypatch,
                                                                           test_seed):
    """Planted: the Numba collector's worst-group errors 15% too high (about 0.19 on a law
    whose spread is about 0.05-0.1). With 300 runs a side the two-sample KS statistic is
    0.79-0.80 (seeds 0, 1) against a critical value of 0.22 at 1e-6: ``fails``. Power: if the
    two laws are >= 0.75 apart in KS distance, a miss needs one empirical CDF (300 runs)
    0.26 from its law; by DKW probability <= 4 exp(-2 * 300 * 0.265^2) < 1e-17."""
    import sims.data_sequential as sims

    original = sims.sequential_runs

    def drifted(*args):
        counts, worst = original(*args)
        return counts, 1.15 * worst

    monkeypatch.setattr(sims, "sequential_runs", drifted)
    assert run_quick("data.equitable.sequential_reaches_optimum", test_seed,
                     other_runs=2)["verdict"] == "fails"
