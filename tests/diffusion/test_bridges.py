"""Gaussian Schrödinger bridges and reference refinement: oracle, bad input, planted failures.

All planted failures are decided by exact quantities (or by a deterministic Sinkhorn run),
so each is caught with probability 1 under any seed.
"""

from __future__ import annotations

import numpy as np
import pytest

from toytheory.claims import execute_claim, load_catalog
from toytheory.claims.catalog import diffusion_bridges as cat
from toytheory.diffusion import schrodinger_bridge as sb

REGISTRY = load_catalog()


def run(claim_id, seed, **overrides):
    claim = REGISTRY[claim_id]
    if overrides:
        claim = claim.with_params("quick", **overrides)
    return execute_claim(claim, "quick", seed)


def test_bad_input_names_the_argument():
    b = np.array([[-0.5, 0.2], [0.0, -0.3]])
    with pytest.raises(ValueError, match="n_times"):
        sb.ou_snapshots(b, 0.5, [0.0, 0.0], np.eye(2), 1, 0.5)
    with pytest.raises(ValueError, match="cov0"):
        sb.ou_snapshots(b, 0.5, [0.0, 0.0], [[1.0, 2.0], [2.0, 1.0]], 3, 0.5)
    with pytest.raises(ValueError, match="mean0"):
        sb.ou_snapshots(np.zeros((0, 0)), 0.5, [], np.zeros((0, 0)), 3, 0.5)
    with pytest.raises(ValueError, match="cov1"):
        sb.eot_cross_covariance(np.eye(2), -np.eye(2), 1.0)
    with pytest.raises(ValueError, match="eps"):
        sb.eot_cross_covariance(np.eye(2), np.eye(2), 0.0)
    with pytest.raises(ValueError, match="diffusion"):
        sb.ou_transition(b, 0.0, 0.5)
    with pytest.raises(ValueError, match="cls"):
        sb.fit_drift(sb.ou_snapshots(b, 0.5, [1.0, 0.0], np.eye(2), 3, 0.5), "diagonal")


def test_one_dimensional_closed_form(rng):
    """Scalar EOT: C solves C^2 + eps C = s0 s1 (the Schrödinger system in 1-D)."""
    s0, s1, eps = rng.uniform(0.2, 3.0, 3)
    c = sb.eot_cross_covariance([[s0]], [[s1]], eps)[0, 0]
    assert c ** 2 + eps * c == pytest.approx(s0 * s1, rel=1e-12)
    assert 0 < c < np.sqrt(s0 * s1)


def test_eps_to_zero_gives_the_w2_coupling(rng):
    """eps -> 0: the cross-covariance tends to S0 T with the Gaussian OT map T."""
    from toytheory.gaussian_distances import gaussian_w2_optimal_map

    f0, f1 = rng.standard_normal((2, 3, 3))
    s0, s1 = f0 @ f0.T + 0.5 * np.eye(3), f1 @ f1.T + 0.5 * np.eye(3)
    t, _ = gaussian_w2_optimal_map(np.zeros(3), s0, np.zeros(3), s1)
    np.testing.assert_allclose(sb.eot_cross_covariance(s0, s1, 1e-7), s0 @ t, atol=1e-6)


def test_wrong_closed_form_fails_against_sinkhorn(monkeypatch, test_seed):
    """Planted toolkit bug: the EOT cross-covariance 1% too large; Sinkhorn disagrees by
    ~1e-3 >> 1e-6 -> ``fails``.

    Power: deterministic (Sinkhorn on fixed points): the Sinkhorn witnesses see 2.3e-3 and
    2.5e-3 against 1e-6; no random draw decides it."""
    original = sb.eot_cross_covariance
    monkeypatch.setattr(sb, "eot_cross_covariance", lambda *a: 1.01 * original(*a))
    assert run("diffusion.bridges.gaussian_sb_closed_form", test_seed)["verdict"] == "fails"


def test_wrong_transition_fails_the_long_range_claim(monkeypatch, test_seed):
    """Planted toolkit bug: the OU transition covariance 2% too small; the quadrature
    witness reports ``fails``.

    Power: deterministic: Van Loan vs expm and quadrature differ by 3.1e-3 against 1e-10."""
    original = sb.ou_transition
    monkeypatch.setattr(sb, "ou_transition",
                        lambda *a: (lambda mq: (mq[0], 0.98 * mq[1]))(original(*a)))
    assert run("diffusion.bridges.piecewise_misses_long_range", test_seed)["verdict"] == "fails"


def test_nearly_brownian_data_refutes_the_long_range_claim(monkeypatch, test_seed):
    """Planted false statement: data from a nearly Brownian OU (drift -0.01 I); the Brownian
    piecewise bridge then captures every lag (error << 0.25) -> ``refuted``.

    Power: deterministic (exact lag errors): the system's longest-lag error is below 0.25
    (count 1 where the statement needs 0); no random draw decides it."""
    monkeypatch.setitem(cat.SYSTEMS, "nearly_brownian",
                        (((-0.01, 0.0), (0.0, -0.01)), 0.5, (1.0, 0.0),
                         ((0.3, 0.0), (0.0, 0.2)), 5, 0.5))
    result = run("diffusion.bridges.piecewise_misses_long_range", test_seed,
                 systems=("nearly_brownian",), n_grid=28)
    assert result["verdict"] == "refuted"


def test_biased_refit_fails_the_refinement_claim(monkeypatch, test_seed):
    """Planted toolkit bug: the drift refit shrunk by 1%; the true drift is then no fixed
    point (gap ~1e-2 >> 1e-9) -> ``fails``.

    Power: deterministic: the fixed-point gap is 1.0e-2 against 1e-9."""
    original = sb.fit_drift
    monkeypatch.setattr(sb, "fit_drift", lambda law, cls="full": 0.99 * original(law, cls))
    assert run("diffusion.bridges.refinement_recovers_dynamics", test_seed)["verdict"] == "fails"


def test_truncated_refinement_refutes_the_refinement_claim(monkeypatch, test_seed):
    """Planted false statement: only 3 refinement iterations (drift error still ~1e-2)
    -> ``refuted``.

    Power: deterministic: after 3 iterations max |B - B_true| = 0.17 against 1e-8 and 2
    systems unconverged; no draw enters."""
    original = sb.refine_reference
    monkeypatch.setattr(sb, "refine_reference",
                        lambda *a, **k: original(*a, **{**k, "max_iter": 3}))
    assert run("diffusion.bridges.refinement_recovers_dynamics", test_seed)["verdict"] \
        == "refuted"


def test_well_specified_class_refutes_the_misspecified_claim(monkeypatch, test_seed):
    """Planted false statement: the 'misspecified' run given the full class; it recovers the
    truth (KL ~0) -> ``refuted``.

    Power: deterministic: the joint KL ratio is 2e-15 against the 0.5 it needs."""
    original = sb.refine_reference
    monkeypatch.setattr(sb, "refine_reference",
                        lambda snaps, s, cls="full", **k: original(snaps, s, **k))
    original_fit = sb.fit_drift
    monkeypatch.setattr(sb, "fit_drift", lambda law, cls="full": original_fit(law, "full"))
    assert run("diffusion.bridges.misspecified_fixed_point", test_seed)["verdict"] == "refuted"


def test_wrong_truth_law_fails_the_path_witness(monkeypatch, test_seed):
    """Planted toolkit bug: the exact snapshot joint with its long-range block
    Cov(X_0, X_(T-1)) set to zero (the Markov glue dropped). The projection joining X_0 and
    X_(T-1) then has its variance off by a large fraction (rotation system), so at 4000 paths
    the KS distance (~0.1) is several times the level-1e-6 critical value (~0.04): the Holm
    family rejects, with probability > 1 - 1e-6 under any seed."""
    original = cat._truth

    def broken(name):
        b, s, snaps = original(name)
        n, d = snaps.means.shape
        joint = snaps.joint.copy()
        joint[:d, (n - 1) * d:] = 0.0
        joint[(n - 1) * d:, :d] = 0.0
        return b, s, sb.Snapshots(snaps.means, snaps.covs, joint, snaps.dt)

    class Recorder:
        results = []

        def test(self, name, result, expect):
            self.results.append(result)

    monkeypatch.setattr(cat, "_truth", broken)
    rec = Recorder()
    cat._path_witness(rec, "rotation", 4000, test_seed)
    assert rec.results[0].reject


def test_torch_and_numba_paths_follow_the_exact_snapshot_law(test_seed):
    """Both simulators (independent streams) against the exact joint: KS on the standardised
    long-range projection X_0[0] + X_(T-1)[1] and a mixed one, Holm at 1e-6 (accept)."""
    pytest.importorskip("torch")
    from scipy.stats import norm

    from sims.diffusion_bridge import ou_snapshot_paths
    from sims.diffusion_bridge_torch import ou_snapshot_paths_torch
    from toytheory import stats

    b, s, snaps = cat._truth("rotation")
    n, d = snaps.means.shape
    args = (b, s, snaps.means[0], snaps.covs[0], n, snaps.dt, 3000)
    w1 = np.zeros(n * d)
    w1[0], w1[(n - 1) * d + 1] = 1.0, 1.0
    w2 = np.cos(np.arange(n * d))
    pvalues = []
    for paths in (ou_snapshot_paths(*args, test_seed), ou_snapshot_paths_torch(*args, test_seed)):
        flat = paths.reshape(paths.shape[0], -1)
        for w in (w1, w2):
            z = (flat @ w - w @ snaps.means.reshape(-1)) / np.sqrt(w @ snaps.joint @ w)
            pvalues.append(stats.ks_1samp(z, norm.cdf, 1e-6).pvalue)
    assert not stats.holm(pvalues, 1e-6).reject
