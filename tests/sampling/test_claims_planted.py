"""Planted bugs: every sampling claim's witnesses (or its statement check) see a wrong input."""

from __future__ import annotations

import numpy as np
import pytest

import sims.sampling_dpp as sims_dpp
import toytheory.sampling.continuous_dpp as cdpp
import toytheory.sampling.lewis as lewis_mod
import toytheory.sampling.sample_complexity as sc_mod
import toytheory.sampling.sensitivities as sens_mod
import toytheory.sampling.sensitivity_sampling as ss_mod
import toytheory.sampling.volume as vol_mod
import toytheory.sampling.weighted_ls as wls_mod
from toytheory.claims import execute_claim, load_catalog
from toytheory.claims.catalog import sampling_dpp_volume, sampling_weighted_ls

REGISTRY = load_catalog()


SEED = {"value": 0}


@pytest.fixture(autouse=True)
def _suite_seed(test_seed):
    """Every planted-bug run below uses the suite seed (``--toytheory-seed``)."""
    SEED["value"] = test_seed


def run(claim_id):
    result = execute_claim(REGISTRY[claim_id], "quick", SEED["value"])
    return result["verdict"], {n["name"] for n in result["numbers"] if n["passed"] is False}


def test_unbiased_sketch_fails_when_rows_are_rescaled_by_q_to_the_minus_half_p(monkeypatch):
    """Weights q^{-1/(2p)}: E ratio = sum q_i^{1/2} c_i / sum c_i <= 0.6 for q ~ 1/6, while the
    empirical-Bernstein interval at 1e-6 is narrower than 0.2: caught with probability
    at least 1 - 1e-6 under any seed (its coverage)."""
    real = ss_mod.sample_rows

    def buggy(scores, p, **kw):
        s = real(scores, p, **kw)
        return ss_mod.RowSample(s.indices, s.weights ** 0.5, s.probabilities, s.p, s.alpha)

    monkeypatch.setattr(ss_mod, "sample_rows", buggy)
    assert run("sampling.sensitivity_sampling.unbiased_sketch")[0] == "fails"


def test_distortion_claim_fails_when_the_exact_distortion_is_underestimated(monkeypatch):
    """Exact distortion reported 10% low: 2000 random directions in d <= 3 come within 1% of the
    supremum, above 0.9 x the exact value: caught at every sample (deterministic margin)."""
    real = ss_mod.embedding_distortion

    def buggy(*args, **kw):
        r = real(*args, **kw)
        if r.exact:
            return ss_mod.DistortionResult(0.9 * r.lower, 0.9 * r.upper, True, r.method,
                                           r.ratio_range)
        return r

    monkeypatch.setattr(ss_mod, "embedding_distortion", buggy)
    assert run("sampling.sensitivity_sampling.distortion_oracles_agree")[0] == "fails"


def test_bounds_claim_is_refuted_by_sensitivities_inflated_by_half(monkeypatch):
    """Inflated sensitivities exceed d (p <= 2) on every matrix: deterministic."""
    real = sens_mod.lp_sensitivities

    def buggy(a, p, **kw):
        r = real(a, p, **kw)
        return sens_mod.SensitivityResult(1.5 * r.values, 1.5 * r.lower, 1.5 * r.upper, r.p,
                                          r.method, r.rank, r.iterations)

    monkeypatch.setattr(sens_mod, "lp_sensitivities", buggy)
    assert run("sampling.sensitivities.total_sensitivity_bounds")[0] == "refuted"
    assert run("sampling.sensitivities.sign_matrix_total")[0] == "refuted"


def test_lewis_claim_fails_when_weights_are_off_by_ten_percent(monkeypatch):
    """Weights summing to 0.9 d: the exact sum witness fails; deterministic."""
    real = lewis_mod.lewis_weights

    def buggy(a, p, **kw):
        r = real(a, p, **kw)
        return lewis_mod.LewisResult(0.9 * r.weights, r.residual, r.iterations, r.method)

    monkeypatch.setattr(lewis_mod, "lewis_weights", buggy)
    assert run("sampling.lewis.weights_sum_to_d_and_sandwich_sensitivities")[0] == "fails"


@pytest.mark.parametrize("claim_id", ["sampling.sample_complexity.l1_sensitivity_sampling",
                                      "sampling.sample_complexity.lp_sensitivity_sampling_p4",
                                      "sampling.sample_complexity.root_leverage_sampling",
                                      "sampling.sample_complexity.leverage_sampling_p2"])
def test_sample_complexity_claims_are_refuted_when_needs_grow_like_x_to_the_fifth(
        monkeypatch, claim_id, test_seed):
    """A sampler whose needs grow like x^5 (x = S or d) is refuted, under any seed.

    The planted m_eps = 10 x^5 exp(0.01 z) (z i.i.d. normal: the Kendall interval's model
    holds exactly) gives pairwise slopes 5 + O(0.01 / log-spacing), far above every
    threshold (at most 2 + 0.8); the exact Kendall interval covers 5 with probability
    >= 1 - 1e-6 and is a range of pairwise slopes near 5, so ``refuted`` with probability
    >= 1 - 1e-6.
    """
    real = sc_mod.block_study
    claim = REGISTRY[claim_id]
    by_d = "leverage" in claim_id

    def buggy(p, **kw):
        rows = real(p, **kw)
        rng = np.random.default_rng(test_seed)
        return [sc_mod.StudyRow(r.family, r.d, r.n, r.total_sensitivity,
                                10 * (r.d if by_d else r.total_sensitivity) ** 5
                                * np.exp(0.01 * rng.standard_normal()),
                                "", r.curve) for r in rows]

    monkeypatch.setattr(sc_mod, "block_study", buggy)
    assert execute_claim(claim, "quick", test_seed)["verdict"] == "refuted"


def test_sample_complexity_claim_fails_when_the_distortion_oracle_ignores_a_block(monkeypatch,
                                                                                 test_seed):
    """An oracle that reports only the first block's distortion is a toolkit bug.

    The block witness compares the block oracle with the whole-matrix oracle on diag(B1, B2)
    at six sizes, each sample also with block 1 kept whole and block 2 sampled (and the
    reverse). With block 1 whole its distortion is 0, so an oracle that reads only block 1
    reports 0 while the whole matrix reports block 2's distortion, which is positive unless
    the sampled block embeds exactly (probability 0 for continuous blocks). Random samples
    alone missed it under some seeds (suite seed 2): block 1 can be the worse block at all
    six sizes. Power: 1 under any seed — the block-1-whole comparison differs unless a
    continuous sampled block embeds exactly, an event of probability 0.
    """
    def first_block_only(self, indices, weights):
        from toytheory.sampling.sensitivity_sampling import _weights_vector

        w = _weights_vector(self.a.shape[0], indices, weights)
        w0 = w[:self.offsets[1]]
        keep = np.flatnonzero(w0 > 0)
        return self.oracles[0](keep, w0[keep])

    monkeypatch.setattr(sc_mod.BlockDiagonalOracle, "__call__", first_block_only)
    result = execute_claim(REGISTRY["sampling.sample_complexity.l1_sensitivity_sampling"],
                           "quick", test_seed)
    assert result["verdict"] == "fails"


def test_tightness_is_refuted_on_a_family_whose_sensitivity_grows_like_d(monkeypatch):
    """Deterministic: with S = d (a spiky family) the exponent of m_lower ~ d in S is 1, below
    2 less the allowance (0.67): refuted with probability 1."""
    from toytheory.claims.catalog import sampling_sensitivity_sampling as mod

    monkeypatch.setattr(mod, "tightness_family_total", lambda d: float(d))
    assert run("sampling.sample_complexity.tightness_s2")[0] == "refuted"


def test_tightness_fails_when_the_rank_bound_counts_rows_wrongly(monkeypatch):
    """A toolkit bug in m_lower (the binomial mass at d rows, not d - 1) shows as ``fails``?
    No: it moves m_lower by under one row and the exponent stays near 2; this bug is caught
    by the unit test of rank_bound_size instead. Here: the distortion oracle reports 0.5 for
    rank-deficient samples, and the rank witness reports ``fails`` (probability 1: the quick
    tier draws 180 samples at the median size, about half with fewer than d rows). Power: a
    miss needs all 180 samples to have d rows or more; at a per-sample chance near 1/2 of
    fewer, that is of order 2^-180."""
    real = ss_mod.DistortionOracle.__call__

    def capped(self, indices, weights):
        r = real(self, indices, weights)
        return ss_mod.DistortionResult(min(r.lower, 0.5), min(r.upper, 0.5), r.exact, r.method,
                                       r.ratio_range)

    monkeypatch.setattr(ss_mod.DistortionOracle, "__call__", capped)
    assert run("sampling.sample_complexity.tightness_s2")[0] == "fails"


def test_chain_rule_claim_fails_with_a_sampler_that_ignores_repulsion(monkeypatch):
    """Independent draws proportional to K_ii put mass on sets of probability det K_S far
    from theirs (total variation > 0.2 on 35 subsets); with 5000 draws the chi-square
    statistic exceeds its 1e-6 critical value by a factor > 5: power > 1 - 1e-6."""
    real = sampling_dpp_volume.dpp_samplers

    def independent(v, g):
        p = np.einsum("ij,ij->i", v, v)
        return g.choice(len(p), size=v.shape[1], replace=False, p=p / p.sum())

    monkeypatch.setattr(sampling_dpp_volume, "dpp_samplers",
                        lambda: {**real(), "numba rejection": independent})
    assert run("sampling.dpp.chain_rule_law")[0] == "fails"


def test_marginals_claim_fails_with_uniform_subsets(monkeypatch):
    """Uniform subsets give inclusion k/n, while K_ii ranges widely (uneven leverage): with 6000
    draws the binomial tests reject with power > 1 - 1e-6 (deviation > 10 sd)."""
    monkeypatch.setattr(sims_dpp, "sample_projection_dpp_rejection",
                        lambda v, g: g.choice(v.shape[0], size=v.shape[1], replace=False))
    assert run("sampling.dpp.marginals_equal_diagonal")[0] == "fails"


def test_coupling_claim_fails_when_the_numba_sampler_draws_once_more(monkeypatch):
    """An extra draw desynchronises the generators: deterministic mismatch."""
    real = sims_dpp.sample_projection_dpp_numba

    def shifted(v, rng, method="rejection"):
        rng.random()
        return real(v, rng, method)

    monkeypatch.setattr(sims_dpp, "sample_projection_dpp_numba", shifted)
    assert run("sampling.dpp.coupling_numpy_numba")[0] == "fails"


@pytest.mark.parametrize("claim_id", ["sampling.volume.law_by_enumeration",
                                      "sampling.volume.unbiased_least_squares",
                                      "sampling.volume.loss_d_plus_one"])
def test_volume_claims_fail_with_uniform_subsets(monkeypatch, claim_id):
    """Uniform subsets vs the volume law (rows scaled 0.5-2, so det X_S^T X_S varies > 10x):
    total variation > 0.2; the chi-square on >= 2000 draws rejects at 1e-6 with power
    > 1 - 1e-6."""
    def uniform(x, k, *, rng=None, method=None):
        return np.sort(np.random.default_rng(rng.integers(2**31)).choice(len(x), k, replace=False))

    monkeypatch.setattr(vol_mod, "sample_volume", uniform)
    assert run(claim_id)[0] == "fails"


def test_continuous_dpp_law_fails_with_iid_optimal_points(monkeypatch):
    """i.i.d. points ignore repulsion: the bin-multiset law differs by > 0.1 in total variation;
    2500 draws give power > 1 - 1e-6 at level 1e-6."""
    monkeypatch.setattr(cdpp, "sample_continuous_projection_dpp",
                        lambda basis, rng=None: cdpp.sample_optimal_density(basis, basis.m,
                                                                            rng=rng))
    assert run("sampling.wls.continuous_dpp_law")[0] == "fails"


def test_interpolation_claim_fails_when_dpp_points_are_uniform(monkeypatch):
    """Uniform points instead of the DPP: the KS test of the one-point marginal sees it.

    The marginal k_2/2 = (1 + 3x^2)/4 differs from uniform by 0.096 in CDF; with 4000 draws
    the KS critical value at 1e-6 is 0.043, and DKW bounds the miss probability by
    2 exp(-2 * 4000 * 0.053^2) < 1e-9, under any seed.
    """
    def uniform(basis, rng=None):
        return np.random.default_rng(rng.integers(2**31)).uniform(-1, 1, (basis.m, basis.dim))

    monkeypatch.setattr(cdpp, "sample_continuous_projection_dpp", uniform)
    verdict, failed = run("sampling.wls.interpolation_identity")
    assert verdict == "fails"
    assert any("one-point marginal" in name for name in failed)


def test_quasi_optimality_is_refuted_when_the_error_ratio_grows_with_m(monkeypatch):
    """Ratios multiplied by m^1.5: every median and its order-statistic interval is scaled by
    m^1.5, so the statement's box interval is the true one shifted by exactly 1.5 (measured
    [-0.39, 0.13] unplanted over seeds 0..9, so about [1.1, 1.63]), wholly above 0.25;
    the box covers the true slope with probability >= 1 - 1e-6, so refuted with probability
    > 1 - 1e-6 (the true planted slope is >= 1.5 - 0.4)."""
    real = sampling_weighted_ls.error_ratios

    def growing(basis, f, scheme, n, draws, rng, condition=None):
        return real(basis, f, scheme, n, draws, rng, condition) * basis.m ** 1.5

    monkeypatch.setattr(sampling_weighted_ls, "error_ratios", growing)
    assert run("sampling.wls.quasi_optimality_m_log_m")[0] == "refuted"


def test_repetitions_advantage_is_refuted_when_repetitions_are_iid_points(monkeypatch):
    """Both schemes i.i.d.: the chi-square two-sample test rejects with probability at most 1e-6,
    so the statement (a difference) is refuted with probability >= 1 - 1e-6."""
    real = wls_mod.draw_points

    def no_dpp(basis, scheme, n, **kw):
        return real(basis, "iid" if scheme == "repeated_dpp" else scheme, n, **kw)

    monkeypatch.setattr(wls_mod, "draw_points", no_dpp)
    assert run("sampling.wls.repetitions_advantage")[0] == "refuted"


def test_certified_values_claim_fails_when_the_lp_route_is_off_by_one_percent(monkeypatch):
    """The HiGHS route scaled by 1.01: the vertex-walk agreement witness (1e-8) fails;
    deterministic."""
    real = sens_mod.lp_sensitivities

    def buggy(a, p, **kw):
        r = real(a, p, **kw)
        if kw.get("method") == "lp":
            return sens_mod.SensitivityResult(1.01 * r.values, 1.01 * r.lower, 1.01 * r.upper,
                                              r.p, r.method, r.rank, r.iterations)
        return r

    monkeypatch.setattr(sens_mod, "lp_sensitivities", buggy)
    assert run("sampling.sensitivities.certified_exact_values")[0] == "fails"


def test_sign_matrix_claim_is_refuted_when_the_formula_forgets_the_denominator(monkeypatch):
    """A planted false statement: total = d (no E|sum eps| denominator) against the LP total
    d / E|sum eps| < d for d >= 2; deterministic."""
    from toytheory.claims.catalog import sampling_sensitivities as mod

    monkeypatch.setattr(mod, "sign_matrix_total_exact", lambda d: mod.Fraction(d, 1))
    assert run("sampling.sensitivities.sign_matrix_total")[0] == "refuted"


def test_quasi_optimality_fails_when_the_iid_control_is_drawn_from_the_dpp(monkeypatch):
    """A toolkit bug that draws the i.i.d. control from repeated DPPs removes its growth: the
    control's distribution-free lower bound on the exponent (about -0.3 or less, since the
    repeated-DPP medians are flat) falls below 0.25 and the claim reports ``fails``;
    deterministic margin of the order-statistic bound over 600 draws."""
    real = sampling_weighted_ls.error_ratios

    def no_iid(basis, f, scheme, n, draws, rng, condition=None):
        if scheme == "iid":
            scheme, n = "repeated_dpp", n
        return real(basis, f, scheme, n, draws, rng, condition)

    monkeypatch.setattr(sampling_weighted_ls, "error_ratios", no_iid)
    verdict, failed = run("sampling.wls.quasi_optimality_m_log_m")
    assert verdict == "fails"
    assert any(name.startswith("control") for name in failed)


def test_quasi_optimality_fails_when_the_error_ratio_is_not_a_power_law(monkeypatch):
    """Planted: ratios at m <= 6 multiplied by (6 / m)^3, so the local exponent over the lower
    half of m (3, 4, 6) drops by exactly 3 while the upper half (8, 12, 16) is untouched (a
    kink: no single power law). Every median and its order-statistic interval scale exactly,
    so the lower half's slope range is the unplanted one moved down by 3. Unplanted (seeds
    0..9) the ranges are [-0.73, 0.65] at most and [-0.50, 0.38] at most, 1.4 and 0.9 wide;
    they cover the true local slopes with the box's joint coverage >= 1 - 1e-6, so after the
    move they are disjoint whenever 3 exceeds the two widths plus the local slopes'
    difference (about 2.3 + 0.2): the log-linearity witness fails with probability
    >= 1 - 1e-6 under any seed."""
    real = sampling_weighted_ls.error_ratios

    def kinked(basis, f, scheme, n, draws, rng, condition=None):
        vals = real(basis, f, scheme, n, draws, rng, condition)
        return vals * (6.0 / basis.m) ** 3 if basis.m <= 6 else vals

    monkeypatch.setattr(sampling_weighted_ls, "error_ratios", kinked)
    verdict, failed = run("sampling.wls.quasi_optimality_m_log_m")
    assert verdict == "fails"
    assert any(name.startswith("log-linearity: gap between the local growth exponents")
               for name in failed)
