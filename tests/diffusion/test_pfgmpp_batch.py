"""PFGM's large-batch target: the exact enumeration by hand, bad input, and planted failures
of ``diffusion.pfgmpp.batch_target_bias``.

Each planted failure breaks an exact identity (no sampling enters the checks that catch
it) by an amount that is zero only on a measure-zero set of the seed-drawn queries, so it
is caught with probability 1 >= 1 - 1e-6 under any seed.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from toytheory.claims import execute_claim, load_catalog
from toytheory.diffusion import pfgmpp as P

REGISTRY = load_catalog()
CLAIM = "diffusion.pfgmpp.batch_target_bias"


def _run(seed, **quick):
    claim = REGISTRY[CLAIM]
    tiers = {**claim.tiers, "quick": {**claim.tiers["quick"], **quick}}
    return execute_claim(replace(claim, tiers=tiers), "quick", seed)


def test_compositions_count():
    c = P._compositions(5, 3)
    assert c.shape == (21, 3) and np.all(c.sum(1) == 5) and len({tuple(r) for r in c}) == 21


def test_two_points_batch_of_two_by_hand(rng):
    """m = 2, n = 2: batches {a, a}, {b, b} w.p. 1/4 each, {a, b} w.p. 1/2."""
    data = rng.standard_normal((2, 1))
    pts = np.array([[0.3, 0.9]])
    fa, fb = (P.poisson_field(pts, data[i:i + 1])[0] for i in range(2))

    def unit(v):
        return v / np.linalg.norm(v)

    expected = 0.25 * unit(fa) + 0.25 * unit(fb) + 0.5 * unit(fa + fb)
    got, target = P.batch_field_target(pts, data, 2)
    np.testing.assert_allclose(got[0], expected, atol=1e-14)
    np.testing.assert_allclose(target[0], unit(fa + fb), atol=1e-14)


def test_one_point_is_unbiased(rng):
    data = rng.standard_normal((1, 2))
    pts = rng.standard_normal((4, 3))
    got, target = P.batch_field_target(pts, data, 7)
    np.testing.assert_allclose(got, target, atol=1e-14)


@pytest.mark.parametrize("call, match", [
    (lambda: P.batch_field_target(np.zeros((1, 3)), np.zeros((0, 2)), 2), "data: "),
    (lambda: P.batch_field_target(np.zeros((1, 3)), np.zeros((7, 2)), 2), "data: "),
    (lambda: P.batch_field_target(np.ones((1, 3)), np.zeros((2, 2)), 0), "n: "),
])
def test_bad_input(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_the_claim_holds(test_seed):
    assert _run(test_seed)["verdict"] == "holds"


def test_d2_target_is_not_the_poisson_field_and_is_refuted(test_seed):
    """Planted false statement: the D = 2 perturbation target points along PFGM's field
    (it does not: the weights use the wrong power): refuted, with the referee's note.

    Power: deterministic (exact enumeration): the D = 2 target leaves E/|E| by 0.052 against
    1e-12."""
    result = _run(test_seed, D=2)
    assert result["verdict"] == "refuted"
    assert result["referee"] is not None


def test_normalising_after_averaging_fails(monkeypatch, test_seed):
    """Planted toolkit bug: the 'expected' target is the normalised mean field (the bias
    silently vanishes); the n = 1 witness (mean of unit fields) fails.

    Power: deterministic: the n = 1 witness sees 0.11 against 1e-13."""
    original = P.batch_field_target

    def unbiased(points, data, n):
        _, target = original(points, data, n)
        return target, target

    monkeypatch.setattr(P, "batch_field_target", unbiased)
    assert _run(test_seed)["verdict"] == "fails"


def test_unnormalised_multinomial_weights_fail(monkeypatch, test_seed):
    """Planted toolkit bug: the multinomial weights lose a factor 1/m (they sum to m): the
    n = 1 witness fails (the target is m times too long).

    Power: deterministic: the n = 1 witness sees 1.4 against 1e-13 (the simulated witness,
    41 Holm units against 1, is a second chance)."""
    original = P.batch_field_target

    def heavy(points, data, n):
        expected, target = original(points, data, n)
        return expected * np.asarray(data).shape[0], target

    monkeypatch.setattr(P, "batch_field_target", heavy)
    assert _run(test_seed)["verdict"] == "fails"
