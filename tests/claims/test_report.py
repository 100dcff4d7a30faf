"""The report files: versioned JSON that validates, Markdown, self-contained HTML."""

from __future__ import annotations

import base64
import json
from html.parser import HTMLParser
from importlib import resources
from pathlib import Path

import pytest

from toytheory.claims import build_results, load_results, run_claims, write_report
from toytheory.claims.report import ResultsError

from .planted import PLANTED
from .test_runner import VERDICT_CLAIMS


class _Collector(HTMLParser):
    def __init__(self):
        super().__init__()
        self.images, self.anchors, self.ids, self.stack = [], [], set(), []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "img":
            self.images.append(attrs["src"])
        if tag == "a" and "href" in attrs:
            self.anchors.append(attrs["href"])
        if "id" in attrs:
            self.ids.add(attrs["id"])
        if tag not in ("img", "meta", "br", "hr", "link", "input"):
            self.stack.append(tag)

    def handle_endtag(self, tag):
        assert self.stack and self.stack[-1] == tag, f"unbalanced </{tag}>"
        self.stack.pop()


@pytest.fixture(scope="module")
def report_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("report")
    records = run_claims([PLANTED[i] for i in VERDICT_CLAIMS], tier="quick", seed=1,
                         progress=False)
    results = build_results(records, tier="quick", seed=1, device="cpu",
                            started="2026-01-01T00:00:00Z", seconds=1.0)
    write_report(results, out)
    return out


def test_results_json_validates_against_the_published_schema(report_dir):
    jsonschema = pytest.importorskip("jsonschema")
    schema = json.loads(resources.files("toytheory.claims").joinpath(
        "results.schema.json").read_text())
    data = json.loads((report_dir / "results.json").read_text())
    jsonschema.validate(data, schema)
    assert data["schema_version"] == "1.0"
    assert data["summary"] == {"holds": 1, "fails": 1, "refuted": 1, "inconclusive": 0,
                               "error": 2}


def test_html_parses_and_every_figure_it_references_exists(report_dir):
    text = (report_dir / "report.html").read_text()
    parser = _Collector()
    parser.feed(text)
    assert parser.stack == []
    assert parser.images, "the planted claim attaches a figure"
    for src in parser.images:
        if src.startswith("data:image/png;base64,"):
            assert base64.b64decode(src.split(",", 1)[1])[:8] == b"\x89PNG\r\n\x1a\n"
        else:
            assert (report_dir / src).exists(), src
    for href in parser.anchors:
        if href.startswith("#"):
            assert href[1:] in parser.ids, href
    # summary table comes before the first paper section
    assert text.index("Summary") < text.index("<h2>toytheory: calibration")


def test_markdown_links_only_figures_that_exist(report_dir):
    md = (report_dir / "report.md").read_text()
    import re

    links = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", md)
    assert links
    for link in links:
        assert (report_dir / link).exists()
    assert "| claim | paper | verdict | headline number | time (s) |" in md


def test_load_results_round_trips(report_dir):
    data = load_results(report_dir / "results.json")
    assert [c["id"] for c in data["claims"]] == VERDICT_CLAIMS


@pytest.mark.parametrize("content, match", [
    ("{not json", "not valid JSON"),
    ("[]", "not a toytheory results object"),
    ('{"schema_version": "1.0", "tier": "quick", "seed": 0}', "missing top-level key 'claims'"),
    ('{"schema_version": "9.0", "tier": "quick", "seed": 0, "claims": []}', "not supported"),
    ('{"schema_version": "1.0", "tier": "quick", "seed": 0, "claims": [{"id": "a"}]}',
     "lacks"),
])
def test_malformed_results_are_refused_in_one_line(tmp_path, content, match):
    path = tmp_path / "results.json"
    path.write_text(content)
    with pytest.raises(ResultsError, match=match) as info:
        load_results(path)
    assert "\n" not in str(info.value)


def test_missing_results_file_is_refused(tmp_path):
    with pytest.raises(ResultsError, match="cannot read"):
        load_results(Path(tmp_path) / "nope.json")
