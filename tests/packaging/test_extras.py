"""The extras the user documentation names are exactly the ones pyproject.toml defines.

User documentation: README.md and docs/*.md. An extra is named as ``toytheory[a,b]`` or
``.[a,b]`` (a pip requirement with extras).
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
_EXTRAS = re.compile(r"(?:toytheory|\.)\[([A-Za-z0-9_,\- ]+)\]")


def named_extras(text: str) -> set[str]:
    """Every extra named in ``text`` (``toytheory[x,y]``, ``.[x]``)."""
    return {e.strip() for group in _EXTRAS.findall(text) for e in group.split(",") if e.strip()}


def _docs_text() -> str:
    paths = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    return "\n".join(p.read_text() for p in paths if p.exists())


def test_the_documented_extras_are_the_defined_ones():
    defined = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["project"][
        "optional-dependencies"])
    named = named_extras(_docs_text())
    assert named - defined == set(), f"documented but not defined: {sorted(named - defined)}"
    assert defined - named == set(), f"defined but not documented: {sorted(defined - named)}"


def test_the_extras_reader_sees_a_misnamed_extra():
    text = 'pip install "toytheory[peer,torch]" and pip install -e ".[test]"'
    assert named_extras(text) == {"peer", "torch", "test"}
