"""Claim registration refuses malformed claims."""

from __future__ import annotations

import pytest

from toytheory.claims import Registry, claim
from toytheory.claims.papers import SEED_PAPERS
from toytheory.claims.registry import closest_ids

PAPER = SEED_PAPERS[0]


def _register(**kwargs):
    args = dict(paper=PAPER, statement="S.", witnesses=("exact",), quick={},
                kind="derived", registry=Registry())
    args.update(kwargs)
    ident = args.pop("id", "area.topic.name")
    return claim(ident, **args)(lambda ctx: None)


@pytest.mark.parametrize("kwargs, match", [
    (dict(id="NoDots"), "id: must look like"),
    (dict(id="two.parts"), "id: must look like"),
    (dict(paper="A paper nobody wrote"), "paper: must be a known paper title"),
    (dict(statement="  "), "statement: must be a non-empty sentence"),
    (dict(witnesses=("vibes",)), "witnesses: must be a non-empty subset"),
    (dict(witnesses=()), "witnesses: must be a non-empty subset"),
    (dict(quick=None), "at least one tier"),
    (dict(timeout={"slow": 3}), "timeout: unknown tier"),
])
def test_malformed_claims_are_refused(kwargs, match):
    with pytest.raises(ValueError, match=match):
        _register(**kwargs)


def test_duplicate_ids_are_refused():
    reg = Registry()
    claim("a.b.c", paper=PAPER, statement="S.", witnesses=("exact",), quick={}, kind="derived",
          registry=reg)(lambda ctx: 1)
    with pytest.raises(ValueError, match="already registered"):
        claim("a.b.c", paper=PAPER, statement="S.", witnesses=("exact",), quick={}, kind="derived",
              registry=reg)(lambda ctx: 2)


def test_closest_ids_suggest_near_misses():
    from .planted import PLANTED

    assert "planted.verdict.holds" in closest_ids(PLANTED, "planted.verdict.hold")


def test_full_defaults_to_quick_parameters():
    reg = Registry()
    claim("a.b.c", paper=PAPER, statement="S.", witnesses=("exact",), quick={"n": 3}, kind="derived",
          registry=reg)(lambda ctx, n: n)
    assert reg["a.b.c"].params("full") == {"n": 3}


def test_with_params_overrides_one_tier_and_keeps_the_rest():
    reg = Registry()
    claim("a.b.c", paper=PAPER, statement="S.", witnesses=("exact",), kind="derived",
          quick={"n": 3, "m": 1}, full={"n": 30, "m": 10}, registry=reg)(lambda ctx, n, m: n)
    smaller = reg["a.b.c"].with_params("quick", n=2)
    assert smaller.params("quick") == {"n": 2, "m": 1}
    assert smaller.params("full") == {"n": 30, "m": 10}
    assert reg["a.b.c"].params("quick") == {"n": 3, "m": 1}
    with pytest.raises(ValueError, match="tier: claim a.b.c has no 'huge' tier"):
        reg["a.b.c"].with_params("huge", n=1)
