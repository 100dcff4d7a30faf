"""The claim contract, as checks a test (or a reviewer) can run.

Two halves:

* :func:`claim_problems` reads a registered :class:`~toytheory.claims.registry.Claim`
  alone: its kind, and for a ``paper`` claim a seed paper, a ``source`` in the paper's
  own words and a ``reading``;
* :func:`result_problems` reads one result of running it: every statistical statement
  records its interval (or the effect it can detect) and its level, an undecided
  interval says what size would decide, and a ``refuted`` or ``inconclusive`` verdict
  carries the referee's note.

Each returns a list of problems in words (empty when the contract holds).
"""

from __future__ import annotations

import re

from .papers import KNOWN_PAPERS, SEED_PAPERS, seed_abstract
from .registry import KINDS, Claim

LOCATION = re.compile(r"\b(Theorem|Thm\.?|Lemma|Proposition|Corollary|Definition|Section|Sec\.|"
                      r"§|Table|Tab\.|Figure|Fig\.|Eq\.?|Equation|Algorithm|Alg\.|Appendix|"
                      r"App\.|Remark|Assumption|page|p\.)\s*[\dA-Z(]", re.IGNORECASE)
"""Where in a paper a quotation beyond the abstract was read (``Theorem 3.1``, ``Table 2``)."""

_QUOTES = re.compile(r"[\"\u201c\u201d\u2018\u2019'`]")
MIN_QUOTE = 20
"""The shortest run of the abstract's own words (characters) that counts as a quotation."""


def _normalise(text: str) -> str:
    text = _QUOTES.sub("", text)
    text = text.replace("\u2013", "-").replace("\u2014", "-").replace("\\%", "%")
    return re.sub(r"\s+", " ", text).strip().lower()


def quotes_abstract(source: str, abstract: str, min_chars: int = MIN_QUOTE) -> bool:
    """Whether ``source`` contains a run of at least ``min_chars`` characters of
    ``abstract``, verbatim up to whitespace, quotation marks and case.

    The quoted passages are the parts of ``source`` between quotation marks (or, when
    there are none, the whole of it), each split at ellipses (``...``, ``…``).
    """
    text = source.replace("\u2026", "...")
    pieces = re.findall(r"[\"\u201c]([^\"\u201d]+)[\"\u201d]", text)
    pieces += re.findall(r"(?:^|(?<=[\s:(]))['\u2018](.+?)['\u2019](?=[\s.,;:)]|$)", text)
    unlabelled = re.sub(r"^\s*[A-Z][\w .,()-]{0,40}:\s+", "", text)
    pieces += [unlabelled] + re.split(r"(?<=[.;!?])\s+", unlabelled)
    target = _normalise(abstract)
    for piece in pieces:
        for part in piece.split("..."):
            part = _normalise(part).strip(" .;:,")
            if len(part) >= min_chars and part in target:
                return True
    return False


def claim_problems(c: Claim) -> list[str]:
    """What about registered claim ``c`` breaks the contract (empty list when nothing)."""
    problems: list[str] = []
    if c.kind not in KINDS:
        problems.append(f"kind is {c.kind!r}; must be one of {KINDS}")
        return problems
    if c.paper not in KNOWN_PAPERS:
        problems.append(f"paper {c.paper!r} is not a known paper")
    if c.kind == "paper":
        if c.paper not in SEED_PAPERS:
            problems.append(f"a paper claim must cite a seed paper (got {c.paper!r})")
        if not c.source.strip():
            problems.append("a paper claim needs source (the paper's own words)")
        if not c.reading.strip():
            problems.append("a paper claim needs reading (how the toy reads its source)")
        if c.paper in SEED_PAPERS and c.source.strip():
            if not (quotes_abstract(c.source, seed_abstract(c.paper))
                    or LOCATION.search(c.source)):
                problems.append("source neither quotes the paper's abstract (a run of "
                                f"{MIN_QUOTE}+ characters, verbatim) nor names where in the "
                                "paper it was read (Theorem, Section, Table, Eq., ...)")
    if c.kind == "library" and not re.search(r"\d", c.library or ""):
        problems.append("a library claim must name the implementation and its version")
    if c.kind == "background" and not c.source.strip():
        problems.append("a background claim must cite its source")
    return problems


def result_problems(result: dict) -> list[str]:
    """What about one run's ``result`` (a results.json entry) breaks the contract."""
    problems: list[str] = []
    verdict = result.get("verdict")
    for n in result.get("numbers", []):
        if n.get("role") != "statement" or n.get("relation") not in ("interval", "test"):
            continue
        name = n.get("name")
        if n.get("level") is None:
            problems.append(f"statistical statement {name!r} records no level")
        if n.get("interval") is None and not n.get("detectable"):
            problems.append(f"statistical statement {name!r} records neither an interval "
                            "nor the effect it can detect")
        if (n.get("relation") == "interval" and n.get("passed") is None
                and not n.get("decide_n") and "undecidable" not in str(n.get("detectable"))):
            problems.append(f"undecided statement {name!r} does not say what size would "
                            "decide it (or, where none would, that it is undecidable)")
        if (n.get("relation") == "test" and n.get("passed") is True
                and not n.get("detectable") and "accept" in str(n.get("note", ""))):
            problems.append(f"statement test {name!r} holds by accepting its null but "
                            "states no power (detectable)")
    if verdict in ("refuted", "inconclusive") and result.get("kind") == "paper" \
            and not result.get("referee"):
        problems.append(f"a {verdict} paper claim needs the referee's note")
    return problems
