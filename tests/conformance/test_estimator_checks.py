"""check_dp_mechanism, check_sensitivities, check_pass_at_k, check_speculative_decoder.

Statistical checks run at level 1e-6 (a correct implementation fails with probability
at most 1e-6 under any suite seed). Each planted bug's effect is computed exactly here
and asserted to exceed what the check's power statement detects with probability
>= 1 - 1e-6 at the size used. The sensitivity and pass@k checks are exact.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from toytheory.conformance import (check_dp_mechanism, check_pass_at_k, check_sensitivities,
                                   check_speculative_decoder, from_opendp)
from toytheory.conformance.dp_mechanism import dp_audit_min_samples

LEVEL = 1e-6
EPS = 1.0


def _laplace(scale):
    def mechanism(dataset, n, rng):
        return float(np.sum(dataset)) + rng.laplace(0.0, scale, size=n)
    return mechanism


def test_the_laplace_mechanism_at_its_scale_passes(test_seed):
    res = check_dp_mechanism(_laplace(1.0 / EPS), EPS, ([0.0], [1.0]), seed=test_seed)
    assert res, res.report()
    assert res.level == LEVEL and "McDiarmid" in res.power


def test_a_laplace_mechanism_with_half_its_scale_fails(test_seed):
    """Planted: scale 1/(2 epsilon), so the mechanism is only 2-epsilon-DP. Its binned
    hockey-stick divergence at epsilon on the check's own cells is computed exactly
    (laplace_binned_hockey_stick) and asserted above delta + tau(1e-6) + tau(1e-6), the
    size the check catches with probability >= 1 - 1e-6. Power: >= 1 - 1e-6 under any seed
    (the audit's tolerance tau is a distribution-free deviation bound at 1e-6, twice over)."""
    from toytheory.adaptive.audit import histogram_audit_tolerance, laplace_binned_hockey_stick

    res = check_dp_mechanism(_laplace(0.5 / EPS), EPS, ([0.0], [1.0]), seed=test_seed)
    n, cells = res.measured["n_samples"], res.measured["cells"]
    exact = laplace_binned_hockey_stick(EPS, 0.0, 1.0, 0.5 / EPS, res.measured["edges"])
    assert exact > 2 * histogram_audit_tolerance(n, n, cells, EPS, LEVEL)
    assert not res
    with pytest.raises(AssertionError, match="the claim is violated"):
        res.assert_ok()


@pytest.mark.peer
def test_opendps_laplace_measurement_passes_through_the_adapter():
    dp = pytest.importorskip("opendp.prelude", reason="OpenDP is a test extra (peers)")
    dp.enable_features("contrib")
    meas = dp.m.make_laplace(dp.atom_domain(T=float, nan=False), dp.absolute_distance(T=float),
                             scale=1.0 / EPS)
    assert meas.map(1.0) <= EPS + 1e-12
    # OpenDP's noise cannot be seeded: this check is random at its level, 1e-6
    res = check_dp_mechanism(from_opendp(meas), EPS, (0.0, 1.0), n_samples=10_000, n_pilot=1000)
    assert res, res.report()


def test_dp_check_refuses_bad_input():
    with pytest.raises(ValueError, match=r"^mechanism: must be a callable mechanism\(dataset, "
                                         r"n, rng\).*from_opendp"):
        check_dp_mechanism(lambda d: 0.0, EPS, (0, 1))
    with pytest.raises(ValueError, match="^epsilon:"):
        check_dp_mechanism(_laplace(1.0), 0.0, (0, 1))
    with pytest.raises(ValueError, match="^delta:"):
        check_dp_mechanism(_laplace(1.0), EPS, (0, 1), delta=1.0)
    with pytest.raises(ValueError, match="^level:"):
        check_dp_mechanism(_laplace(1.0), EPS, (0, 1), level=2.0)
    need = dp_audit_min_samples(0.1, EPS, 42, LEVEL, LEVEL)
    with pytest.raises(ValueError, match=f"the minimum is {need}$"):
        check_dp_mechanism(_laplace(1.0), EPS, (0, 1), n_samples=1000, detectable=0.1)
    with pytest.raises(ValueError, match="^measurement:"):
        from_opendp(lambda x: x)


# ------------------------------------------------------------------------ sensitivities
def _leverage(a):
    return np.einsum("ij,ji->i", a, np.linalg.solve(a.T @ a, a.T))


def test_leverage_scores_are_the_l2_sensitivities_and_a_planted_error_fails():
    """Power: deterministic — check_sensitivities compares with the exact leverage scores;
    no random draw decides it."""
    assert check_sensitivities(_leverage, p=2)
    # planted: the Gram matrix built without the first row (off by one)
    bad = check_sensitivities(lambda a: np.einsum("ij,ji->i", a, np.linalg.solve(
        a[1:].T @ a[1:], a.T)), p=2)
    assert not bad and "outside" in bad.report()


def test_l1_sensitivities_lp_and_upper_and_factor_modes():
    from toytheory.sampling import lp_sensitivities
    from toytheory.sampling.l1_sensitivities import l1_sensitivities_lp

    assert check_sensitivities(lambda a: np.mean(l1_sensitivities_lp(a), axis=0), p=1)
    exact = lambda a: lp_sensitivities(a, 1.0).values  # noqa: E731
    assert check_sensitivities(lambda a: 2 * exact(a), p=1, mode="upper")
    assert not check_sensitivities(lambda a: 0.9 * exact(a), p=1, mode="upper")
    assert check_sensitivities(lambda a: 1.5 * exact(a), p=1, mode="factor", factor=2.0)
    assert not check_sensitivities(lambda a: 3.0 * exact(a), p=1, mode="factor", factor=2.0)


def test_lewis_weights_are_checked_against_the_fixed_point():
    from toytheory.sampling import lewis_weights

    assert check_sensitivities(lambda a: lewis_weights(a, 3.0).weights, p=3.0, kind="lewis")
    assert not check_sensitivities(_leverage, p=3.0, kind="lewis")


def test_sensitivity_check_refuses_bad_input():
    for kw, name in [(dict(p=0.5), "p"), (dict(kind="x"), "kind"), (dict(mode="x"), "mode"),
                     (dict(rtol=0), "rtol"), (dict(factor=0.5), "factor")]:
        with pytest.raises(ValueError, match=f"^{name}:"):
            check_sensitivities(_leverage, **kw)
    with pytest.raises(ValueError, match="^estimator:"):
        check_sensitivities(lambda a, b: a, p=2)
    with pytest.raises(ValueError, match="^estimator: must return one estimate per row"):
        check_sensitivities(lambda a: np.ones(3), p=2)


# ------------------------------------------------------------------------ pass@k
def test_chens_unbiased_estimator_passes_and_the_plugin_is_biased():
    from toytheory.decoding.repeated_sampling import pass_at_k_plugin, pass_at_k_unbiased

    res = check_pass_at_k(pass_at_k_unbiased)
    assert res and res.level is None and abs(res.measured["worst_bias"]) < 1e-12
    bad = check_pass_at_k(pass_at_k_plugin)
    assert not bad and bad.measured["worst_bias"] < -0.01


def test_an_off_by_one_unbiased_estimator_is_caught():
    """Planted: the product runs from n - c instead of n - c + 1 (biased). Power:
    deterministic — check_pass_at_k computes the bias exactly (fractions); no random draw."""
    def planted(n, c, k):
        if n - c < k:
            return 1.0
        return float(1.0 - np.prod(1.0 - k / np.arange(max(n - c, 1), n + 1)))

    assert not check_pass_at_k(planted)


def test_a_bias_budget_and_a_variance_budget():
    from toytheory.decoding.repeated_sampling import pass_at_k_plugin, pass_at_k_unbiased

    assert check_pass_at_k(pass_at_k_plugin, max_bias=0.5)
    assert check_pass_at_k(pass_at_k_unbiased, max_variance_ratio=1.0)


def test_pass_at_k_check_refuses_bad_input():
    with pytest.raises(ValueError, match=r"^estimator: must be a callable estimator\(n, c, k\)"):
        check_pass_at_k(lambda n, c: 0.0)
    with pytest.raises(ValueError, match="^nk:"):
        check_pass_at_k(lambda n, c, k: 0.0, nk=[(3, 5)])
    with pytest.raises(ValueError, match="^p:"):
        check_pass_at_k(lambda n, c, k: 0.0, p=["3/2"])


# ------------------------------------------------------------------------ speculative
def _speculative(target, draft, rng, lossy=False):
    x = int(rng.choice(draft.size, p=draft))
    if rng.random() < min(1.0, target[x] / draft[x]):
        return x, True
    if lossy:  # planted: redraw from the target instead of the residual
        return int(rng.choice(target.size, p=target)), False
    res = np.maximum(target - draft, 0.0)
    return int(rng.choice(target.size, p=res / res.sum())), False


def test_speculative_sampling_is_lossless_and_optimal(test_seed):
    res = check_speculative_decoder(_speculative, seed=test_seed)
    assert res, res.report()


def test_a_lossy_speculative_decoder_is_caught(test_seed):
    """Planted: after a rejection the token is redrawn from the target, not the residual.
    Its output law is min(p_d, p_t) + (1 - beta) p_t; on the second default problem its TV
    to the target (computed here) exceeds the check's detectable TV at 20 000 runs. Power:
    the output law puts 0.16 on token 2 where the target puts 0.10, and Pearson's X^2 is at
    least that cell's term (O_2 - 2000)^2 / 2000, above chi2_5.isf(1e-6 / 6) = 39.8 unless
    O_2 < 2283; O_2 ~ Bin(20000, 0.16) (mean 3200), so by Hoeffding a miss has probability
    <= exp(-2 * 20000 * 0.0459^2) < 1e-36."""
    from toytheory.conformance.speculative import default_problems
    from toytheory.conformance.sampler_law import chisquare_detectable_tv

    t, d = default_problems()[1]
    beta = np.minimum(t, d).sum()
    out = np.minimum(t, d) + (1 - beta) * t
    assert 0.5 * np.abs(out - t).sum() > chisquare_detectable_tv(20_000, 5, LEVEL / 6, LEVEL)
    res = check_speculative_decoder(lambda t, d, rng: _speculative(t, d, rng, lossy=True),
                                    seed=test_seed)
    assert not res


def test_a_decoder_that_keeps_too_few_drafts_is_caught(test_seed):
    """Lossless but suboptimal: keep the draft with half the optimal probability (and
    redraw from the matching residual). Acceptance 0.5 x optimum: the exact interval at
    20 000 runs is far narrower than that gap."""
    def timid(target, draft, rng):
        x = int(rng.choice(draft.size, p=draft))
        keep = 0.5 * np.minimum(1.0, target / draft)
        if rng.random() < keep[x]:
            return x, True
        res = target - draft * keep
        return int(rng.choice(target.size, p=res / res.sum())), False

    res = check_speculative_decoder(timid, seed=test_seed)
    assert not res and "below the optimum" in res.report()


def test_speculative_check_refuses_bad_input():
    with pytest.raises(ValueError, match=r"^decoder: must be a callable decoder\(target, draft"):
        check_speculative_decoder(lambda t, d: (0, True))
    with pytest.raises(ValueError, match="^n_samples:"):
        check_speculative_decoder(_speculative, n_samples=10)
    with pytest.raises(ValueError, match="^level:"):
        check_speculative_decoder(_speculative, level=0.0)
