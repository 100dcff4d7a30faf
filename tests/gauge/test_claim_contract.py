"""The gauge claims keep the claim contract: a kind each, paper claims quoting the seed
abstract verbatim, statistical statements with their interval and level."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from toytheory.claims import load_catalog

REGISTRY = load_catalog()
GAUGE = [c for c in REGISTRY if c.area == "gauge"]
SEED_FILE = "000_b1e78cd451da2d1b.txt"


def _seed_text():
    root = Path(__file__).resolve().parents[2]
    for base in (root / "shared", root.parent / "shared", root.parent.parent / "shared"):
        path = base / "seeds" / SEED_FILE
        if path.is_file():
            return path.read_text(encoding="utf-8")
    return None


def test_every_gauge_claim_declares_its_kind():
    assert GAUGE
    assert {c.id: c.kind for c in GAUGE if c.kind not in ("paper", "derived", "library",
                                                          "background")} == {}


@pytest.mark.parametrize("claim", [c for c in GAUGE if c.kind == "paper"], ids=lambda c: c.id)
def test_paper_claims_quote_the_seed_abstract_verbatim(claim):
    text = _seed_text()
    if text is None:
        pytest.skip("the seed digest (shared/seeds) is not next to this checkout")
    assert claim.reading
    quotes = re.findall(r'"([^"]+)"', claim.source)
    assert quotes, f"{claim.id}: source quotes nothing"
    for quote in quotes:
        assert quote in text, f"{claim.id}: not verbatim in the seed abstract: {quote!r}"


def test_the_desirability_claims_are_decided_by_an_interval_at_1e_6(test_seed):
    """Run the score-SVD one on a small suite: its statement is an interval with a level."""
    from toytheory.claims.registry import Context

    claim = REGISTRY["gauge.intrinsic_dimension.gauge_field_breaks_score_svd"]
    params = {**claim.params("quick"), "suite": [("sphere", 1, 3)], "draws": 1, "points": 6}
    ev = claim.check(Context(claim.id, "quick", test_seed, "cpu", claim.witnesses), **params)
    stmts = [n for n in ev.numbers if n.role == "statement"]
    assert stmts and all(n.interval is not None and n.level == 1e-6 for n in stmts)
    assert all(n.detectable for n in stmts)
