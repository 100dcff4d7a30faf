"""The sympy proofs hold, and fail when the construction is broken."""

from __future__ import annotations

from proofs.gauge_divergence_free import (prove_all, prove_gaussian_gauge_field,
                                          prove_skew_tensor_gauge_field)


def test_every_gauge_construction_is_divergence_free_symbolically():
    results = prove_all()
    assert len(results) == 7
    for r in results:
        assert r.holds, (r.name, r.residuals)
        assert all(res == "0" for res in r.residuals)


def test_symmetric_a_or_b_is_not_a_gauge_field_symbolically():
    """Planted bug: a symmetric A (or B) leaves a non-zero residual, so the proof can fail.
    Power: deterministic — symbolic (sympy); no random draw."""
    assert not prove_gaussian_gauge_field(2, skew=False).holds
    assert not prove_skew_tensor_gauge_field(3, skew=False).holds
