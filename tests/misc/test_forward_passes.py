"""Forward-pass counting for MeLoDy's reported savings: exact arithmetic, bad input, and the
derived claim's planted failures."""

from __future__ import annotations

from fractions import Fraction

import pytest

from toytheory.claims import execute_claim, load_catalog
from toytheory.sampling import forward_passes as fp

CLAIM = "sampling.forward_passes.melody_savings_need_superlinear_musiclm"


def test_counts_by_hand(rng):
    seconds = int(rng.integers(1, 60))
    assert fp.autoregressive_passes((25, 200, 400), seconds) == 625 * seconds
    # 95.7% rounded: at most 4.35% of 6250 passes remain
    assert fp.remaining_passes(6250, Fraction("95.7")) == Fraction(6250 * 435, 10_000)
    # (1 - 0.9575) / (1 - 0.9955) = 0.0425 / 0.0045
    assert fp.implied_growth(Fraction("95.7"), Fraction("99.6")) == Fraction(85, 9)
    # no rounding: (1 - 0.5) / (1 - 0.75) = 2
    assert fp.implied_growth(50, 75, decimals=6) == pytest.approx(2.0, rel=1e-5)


@pytest.mark.parametrize("call, name", [
    (lambda: fp.autoregressive_passes((), 10), "rates"),
    (lambda: fp.autoregressive_passes((25, -1), 10), "rates"),
    (lambda: fp.autoregressive_passes((25,), 0), "seconds"),
    (lambda: fp.implied_growth(120, 99), "saving_short"),
    (lambda: fp.remaining_passes(0, 95), "baseline_passes"),
    (lambda: fp.implied_growth(95, 99, decimals=-1), "decimals"),
])
def test_bad_input_names_the_argument(call, name):
    with pytest.raises(ValueError, match=name):
        call()


def test_rounding_edges_taken_the_wrong_way_fail_the_exact_witness(monkeypatch, test_seed):
    """Planted (a bug this module once had): the implied growth computed at the wrong
    rounding edges (87/7 instead of 85/9). The exact witness compares it with 85/9:
    ``fails`` deterministically."""
    monkeypatch.setattr(fp, "implied_growth", lambda a, b, decimals=1: Fraction(87, 7))
    result = execute_claim(load_catalog()[CLAIM], "quick", test_seed)
    assert result["verdict"] == "fails", result["message"]


def test_a_faster_musiclm_token_rate_refutes_the_remaining_count(monkeypatch, test_seed):
    """Planted false premise: MusicLM with twice the acoustic token rates (12,250 passes per
    10 s). The 10-s saving then leaves up to 533 passes, above the stated 272: ``refuted``
    deterministically (the per-token growth witness still reads 3)."""
    import toytheory.claims.catalog.misc_music_forward_passes as module

    monkeypatch.setattr(module, "MUSICLM_RATES", (25, 400, 800))
    result = execute_claim(load_catalog()[CLAIM], "quick", test_seed)
    assert result["verdict"] == "refuted", result["message"]
