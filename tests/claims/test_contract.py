"""The claim contract, held for every registered claim, and shown able to refuse.

Every claim declares its kind; a ``paper`` claim cites a seed paper, quotes it
(``source``, checked against the seed abstract or a named place in the paper) and says
how the toy reads it; registration refuses what breaks this, naming the claim. The
run-time half (statistical statements record interval and level, refuted and
inconclusive paper claims carry a referee's note) is held in
``test_catalog.py::test_quick_tier_gives_the_expected_verdict`` on every quick run.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from toytheory.claims import Registry, claim, load_catalog
from toytheory.claims.contract import claim_problems, quotes_abstract, result_problems
from toytheory.claims.papers import SEED_PAPERS, seed_abstract

REGISTRY = load_catalog()
SHARED_SEEDS = Path(__file__).resolve().parents[3] / "shared" / "seeds"


@pytest.mark.parametrize("claim_id", REGISTRY.ids())
def test_every_registered_claim_meets_the_contract(claim_id):
    problems = claim_problems(REGISTRY[claim_id])
    assert problems == [], f"{claim_id}: " + "; ".join(problems)


def test_the_packaged_seed_digest_lists_exactly_the_seed_papers():
    for title in SEED_PAPERS:
        assert len(seed_abstract(title)) > 200, title
    assert len(SEED_PAPERS) == len(set(SEED_PAPERS)) == 53


@pytest.mark.skipif(not SHARED_SEEDS.is_dir(), reason="the project's shared seed folder "
                    "(../shared/seeds beside the clone) is not present")
def test_the_packaged_digest_is_the_projects_seed_file():
    text = "\n".join(p.read_text("utf-8") for p in sorted(SHARED_SEEDS.glob("*.txt")))
    lines = [line.strip() for line in text.splitlines()]
    for title in SEED_PAPERS:
        assert title in lines, title
        assert seed_abstract(title) == lines[lines.index(title) + 2], title


def test_no_paper_claim_names_a_paper_outside_the_seeds():
    outside = [c.id for c in REGISTRY if c.kind == "paper" and c.paper not in SEED_PAPERS]
    assert outside == []


# ---------------------------------------------------------------- the checks can refuse

ABSTRACT = seed_abstract(SEED_PAPERS[0])


def test_a_verbatim_quotation_is_recognised_and_a_paraphrase_is_not():
    words = ABSTRACT.split()
    quote = " ".join(words[5:14])
    assert quotes_abstract(f'Abstract: "{quote}"', ABSTRACT)
    assert quotes_abstract(f"\u201c{quote.upper()}\u201d", ABSTRACT)
    assert not quotes_abstract('Abstract: "RCSL is always better than every DP method"',
                               ABSTRACT)
    assert not quotes_abstract(f'"{words[5]} {words[6]}"', ABSTRACT)  # too short
    sentence = ABSTRACT.split(". ")[1]
    assert quotes_abstract(f"Abstract: {sentence}.", ABSTRACT)  # unquoted, labelled
    assert not quotes_abstract("Abstract: " + sentence[::-1], ABSTRACT)


def _made(**kwargs):
    args = dict(paper=SEED_PAPERS[0], statement="S.", witnesses=("exact",), quick={},
                kind="paper", source='Abstract: "' + " ".join(ABSTRACT.split()[:12]) + '"',
                reading="The toy reads it so.", registry=Registry())
    args.update(kwargs)
    reg = args["registry"]
    claim("area.topic.name", **args)(lambda ctx: None)
    return reg["area.topic.name"]


def test_a_well_formed_paper_claim_has_no_problem():
    assert claim_problems(_made()) == []


@pytest.mark.parametrize("kwargs, words", [
    (dict(source='Abstract: "this sentence is nowhere in the abstract at all"'),
     "neither quotes"),
    (dict(kind="library", library="diffusers"), "its version"),
])
def test_contract_problems_are_found(kwargs, words):
    problems = claim_problems(_made(**kwargs))
    assert any(words in p for p in problems), problems


def test_a_source_naming_a_theorem_needs_no_abstract_quotation():
    assert claim_problems(_made(source="Theorem 4.2: the width of RCSL is ...")) == []


@pytest.mark.parametrize("kwargs, match", [
    (dict(kind=None), "kind: claim 'area.topic.name' must declare its kind"),
    (dict(kind="opinion"), "kind: claim 'area.topic.name' has kind 'opinion'"),
    (dict(source=""), "source: claim 'area.topic.name' is a 'paper' claim"),
    (dict(reading=" "), "reading: claim 'area.topic.name' is a 'paper' claim"),
    (dict(paper="DPPy: DPP Sampling with Python (Gautier, Polito, Bardenet and Valko, "
                "JMLR MLOSS 2019)"), "paper: claim 'area.topic.name' is a 'paper' claim"),
    (dict(kind="library", library=""), "library: claim 'area.topic.name'"),
    (dict(kind="background", source=""), "source: claim 'area.topic.name' is a 'background'"),
])
def test_registration_refuses_a_claim_that_breaks_the_contract(kwargs, match):
    with pytest.raises(ValueError, match=match):
        _made(**kwargs)


def _result(**kwargs):
    base = dict(id="a.b.c", kind="paper", verdict="holds", referee=None, numbers=[])
    base.update(kwargs)
    return base


def _number(**kwargs):
    base = dict(name="rate", role="statement", relation="interval", passed=True,
                interval=[0.1, 0.2], level=1e-6, detectable="0.05", decide_n=None,
                note="")
    base.update(kwargs)
    return base


def test_a_result_that_meets_the_contract_has_no_problem():
    assert result_problems(_result(numbers=[_number()])) == []


@pytest.mark.parametrize("result, words", [
    (_result(numbers=[_number(level=None)]), "records no level"),
    (_result(numbers=[_number(relation="test", interval=None, detectable=None)]),
     "neither an interval"),
    (_result(numbers=[_number(passed=None)]), "what size would decide"),
    (_result(verdict="refuted", numbers=[_number(passed=False)]), "referee's note"),
    (_result(verdict="inconclusive", numbers=[_number(passed=None, decide_n=10)]),
     "referee's note"),
])
def test_result_problems_are_found(result, words):
    problems = result_problems(result)
    assert any(words in p for p in problems), problems
