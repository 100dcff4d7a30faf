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
from tests._seeds import reseed


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
        if tag not in ("img", "meta", "br", "hr", "link", "input", "wbr"):
            self.stack.append(tag)

    def handle_endtag(self, tag):
        assert self.stack and self.stack[-1] == tag, f"unbalanced </{tag}>"
        self.stack.pop()


@pytest.fixture(scope="module")
def report_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("report")
    records = run_claims([PLANTED[i] for i in VERDICT_CLAIMS], tier="quick", seed=reseed(1),
                         progress=False)
    results = build_results(records, tier="quick", seed=reseed(1), device="cpu",
                            started="2026-01-01T00:00:00Z", seconds=1.0)
    write_report(results, out)
    return out


def test_results_json_validates_against_the_published_schema(report_dir):
    jsonschema = pytest.importorskip("jsonschema")
    schema = json.loads(resources.files("toytheory.claims").joinpath(
        "results.schema.json").read_text())
    data = json.loads((report_dir / "results.json").read_text())
    jsonschema.validate(data, schema)
    assert data["schema_version"] == "2.0"
    assert data["summary"] == {"holds": 1, "fails": 1, "refuted": 1, "inconclusive": 0,
                               "error": 2}
    # the summary lists what needs attention first
    assert list(data["summary"]) == ["fails", "error", "refuted", "inconclusive", "holds"]
    for c in data["claims"]:
        for key in ("kind", "source", "reading", "library", "referee"):
            assert key in c, key


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
    # the per-paper table, then the summary table, come before the first paper section
    assert text.index("id=\"papers\"") < text.index("Summary") < text.index(
        "<h2>toytheory: calibration")


def test_markdown_links_only_figures_that_exist(report_dir):
    md = (report_dir / "report.md").read_text()
    import re

    links = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", md)
    assert links
    for link in links:
        assert (report_dir / link).exists()
    assert "| claim | kind | paper | verdict | headline number | time (s) |" in md


def test_load_results_round_trips(report_dir):
    data = load_results(report_dir / "results.json")
    assert [c["id"] for c in data["claims"]] == VERDICT_CLAIMS


@pytest.mark.parametrize("content, match", [
    ("{not json", "not valid JSON"),
    ("[]", "not a toytheory results object"),
    ('{"schema_version": "1.0", "tier": "quick", "seed": 0}', "missing top-level key 'claims'"),
    ('{"schema_version": "9.0", "tier": "quick", "seed": 0, "claims": []}', "not supported"),
    ('{"schema_version": "3.1", "tier": "quick", "seed": 0, "claims": []}', "reads 1.x, 2.x"),
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


# --------------------------------------------------------------------------- per-paper verdicts

from toytheory.claims import Registry, claim  # noqa: E402
from toytheory.claims.papers import NO_HONEST_TOY, SEED_PAPERS  # noqa: E402
from toytheory.claims.report import (  # noqa: E402
    paper_table, paper_verdict, render_html, render_markdown)

KINDS = Registry()
SEED_A, SEED_B, SEED_C = SEED_PAPERS[0], SEED_PAPERS[1], SEED_PAPERS[2]
REF = "toytheory: calibration of its own statistical tests"


def _paper_claim(cid, paper, outcome, kind="paper"):
    """A claim of the given kind whose statement holds, is refuted or is undecided."""
    extra = {"source": "Abstract: 'the paper's sentence'.", "reading": "read as x <= 1."}
    if kind == "library":
        extra["library"] = "somelib 1.0"

    @claim(cid, paper=paper, statement=f"{outcome} on purpose.", witnesses=("exact",),
           kind=kind, quick={}, registry=KINDS, **extra)
    def check(ctx):
        ev = ctx.evidence()
        ev.equal("witness agrees", 1, 1)
        lo, hi = {"holds": (0.1, 0.5), "refuted": (1.5, 2.5), "inconclusive": (0.5, 1.5)}[
            outcome]
        ev.interval("x", (lo + hi) / 2, (lo, hi), 1.0, side="<=", level=1e-6,
                    detectable="x >= 1.2", decide_n=4000 if outcome == "inconclusive" else None)
        if outcome != "holds":
            ev.referee_note(says="x <= 1", toy="a planted toy", measured=f"x in [{lo}, {hi}]",
                            inside="the toy is the paper's setting", would_change="more data")
        return ev

    return check


_paper_claim("planted.kinds.a_holds", SEED_A, "holds")
_paper_claim("planted.kinds.a_refuted", SEED_A, "refuted")
_paper_claim("planted.kinds.a_derived", SEED_A, "refuted", kind="derived")
_paper_claim("planted.kinds.b_holds", SEED_B, "holds")
_paper_claim("planted.kinds.b_library", SEED_B, "refuted", kind="library")
_paper_claim("planted.kinds.c_open", SEED_C, "inconclusive")
_paper_claim("planted.kinds.ref_background", REF, "holds", kind="background")


@pytest.fixture(scope="module")
def kinds_results():
    records = run_claims(list(KINDS), tier="quick", seed=reseed(2), progress=False)
    return build_results(records, tier="quick", seed=reseed(2), device="cpu",
                         started="2026-01-01T00:00:00Z", seconds=1.0)


@pytest.mark.parametrize("verdicts, expected", [
    ([], "not yet checked"), (["holds", "holds"], "holds"), (["refuted"], "refuted"),
    (["holds", "refuted"], "mixed"), (["inconclusive"], "inconclusive"),
    (["holds", "inconclusive"], "mixed"), (["fails", "error"], "not yet checked"),
    (["holds", "fails"], "holds"),
])
def test_paper_verdict_counts_decided_paper_claims(verdicts, expected):
    assert paper_verdict(verdicts) == expected


def test_papers_table_has_every_seed_paper_and_counts_only_paper_claims(kinds_results):
    rows = {r["title"]: r for r in kinds_results["papers"]}
    seed_rows = [r for r in kinds_results["papers"] if r["seed"]]
    assert len(seed_rows) == len(SEED_PAPERS) == 53
    assert {r["title"] for r in seed_rows} == set(SEED_PAPERS)
    # a refuted derived claim does not count against paper A; its paper claims are mixed
    assert rows[SEED_A]["verdict"] == "mixed"
    assert rows[SEED_A]["paper_claims"]["holds"] == 1
    assert rows[SEED_A]["paper_claims"]["refuted"] == 1
    assert rows[SEED_A]["derived"] == 1
    # a refuted library claim is never blamed on paper B
    assert rows[SEED_B]["verdict"] == "holds" and rows[SEED_B]["library"] == 1
    assert rows[SEED_C]["verdict"] == "inconclusive"
    # the reference work is listed after the seed papers, with its background claim
    assert not rows[REF]["seed"] and rows[REF]["background"] == 1
    assert rows[REF]["verdict"] == "not yet checked"
    assert kinds_results["papers"].index(rows[REF]) == 53
    untouched = [t for t in SEED_PAPERS if t not in (SEED_A, SEED_B, SEED_C)]
    for title in untouched:
        assert rows[title]["verdict"] in ("not yet checked", "no honest toy")


def test_papers_table_gives_the_no_toy_reason():
    reason = "Every claim is about real photographs judged by people; no toy stands for it."
    rows = paper_table([], no_toy={SEED_C: reason})
    row = next(r for r in rows if r["title"] == SEED_C)
    assert row["verdict"] == "no honest toy" and row["no_toy"] == reason
    results = {"tier": "quick", "seed": 0, "claims": [], "papers": rows, "summary": {}}
    assert reason in render_markdown(results) and reason in render_html(results)
    default = paper_table([])  # the registered reasons reach it without loading the catalog
    assert NO_HONEST_TOY
    for title in NO_HONEST_TOY:
        assert next(r for r in default if r["title"] == title)["verdict"] == "no honest toy"


def test_kinds_results_validate_against_the_schema(kinds_results, tmp_path):
    jsonschema = pytest.importorskip("jsonschema")
    schema = json.loads(resources.files("toytheory.claims").joinpath(
        "results.schema.json").read_text())
    write_report(kinds_results, tmp_path)
    data = json.loads((tmp_path / "results.json").read_text())
    jsonschema.validate(data, schema)
    by_id = {c["id"]: c for c in data["claims"]}
    assert by_id["planted.kinds.b_library"]["library"] == "somelib 1.0"
    assert by_id["planted.kinds.a_holds"]["kind"] == "paper"
    assert by_id["planted.kinds.a_refuted"]["referee"]["would_change"] == "more data"


def test_report_shows_kind_referee_notes_and_intervals(kinds_results):
    for text in (render_markdown(kinds_results), render_html(kinds_results)):
        assert "The paper says" in text and "What would change the verdict" in text
        assert "[1.5, 2.5] (level 1e-06)" in text        # the interval and its level
        assert "detects: x &gt;= 1.2" in text or "detects: x >= 1.2" in text
        assert "n = 4000 would decide" in text
        assert "(library)" in text and "(derived)" in text
        assert "Abstract: " in text and "read as x" in text
    md = render_markdown(kinds_results)
    summary = md[md.index("## Summary"):]
    # refuted and inconclusive claims come before those that hold
    assert summary.index("planted.kinds.a_refuted") < summary.index("planted.kinds.a_holds")
    assert summary.index("planted.kinds.c_open") < summary.index("planted.kinds.b_holds")


def test_an_old_schema_document_is_still_read(tmp_path, report_dir):
    """A 1.x results.json (no kinds, no papers table) is read and rendered."""
    data = json.loads((report_dir / "results.json").read_text())
    data["schema_version"] = "1.0"
    data.pop("papers")
    for c in data["claims"]:
        for key in ("kind", "source", "reading", "library", "referee", "hint"):
            c.pop(key, None)
    path = tmp_path / "results.json"
    path.write_text(json.dumps(data))
    old = load_results(path)
    assert all(c["kind"] == "unset" for c in old["claims"])
    assert "## Papers" in render_markdown(old)


def test_html_tables_scroll_inside_their_own_box_and_long_words_wrap(report_dir):
    """The 800 px layout, checked on the markup (the browser test checks it drawn)."""
    text = (report_dir / "report.html").read_text()
    assert text.count("<table>") == text.count("<div class=\"table\"><table>") > 0
    assert ".table{max-width:100%;overflow-x:auto" in text
    assert "overflow-wrap:break-word" in text and "img{max-width:100%" in text
    # long ids may break after their dots and underscores
    assert "<code>planted.<wbr>verdict.<wbr>holds</code>" in text


def test_an_error_entry_shows_its_last_numbers_and_a_hint(tmp_path):
    reg = Registry()

    @claim("planted.error.after_numbers", paper=REF, statement="Crashes half way.",
           witnesses=("exact",), kind="background", source="nowhere", quick={}, registry=reg)
    def half_way(ctx):
        ev = ctx.evidence()
        ev.close("exact vs simulated so far", 1.0, 1.0 + 1e-9, atol=1e-6)
        raise RuntimeError("planted crash after a number")

    records = run_claims(list(reg), tier="quick", seed=reseed(0), progress=False)
    assert records[0]["verdict"] == "error"
    assert [n["name"] for n in records[0]["numbers"]] == ["exact vs simulated so far"]
    results = build_results(records, tier="quick", seed=reseed(0), device="cpu",
                            started="2026-01-01T00:00:00Z", seconds=1.0)
    for text in (render_markdown(results), render_html(results)):
        assert "The last numbers recorded before it stopped" in text
        assert "exact vs simulated so far" in text
        assert "toytheory verify --tier quick -k planted.error.after_numbers" in text


# --------------------------------------------------------------------------- stability table

from toytheory.claims.stability import claim_status, stability_table  # noqa: E402


@pytest.mark.parametrize("verdicts, status", [
    (["holds"] * 3, "stable"), (["refuted"] * 2, "stable"),
    (["holds", "inconclusive"], "undecided under some seeds"),
    (["holds", "refuted", "holds"], "flips"), (["holds", "fails"], "fails or errors"),
    (["error"], "fails or errors"), (["inconclusive", "inconclusive"], "stable"),
])
def test_claim_status_across_seeds(verdicts, status):
    assert claim_status(verdicts) == status


def test_stability_table_gives_verdicts_and_the_spread_of_numbers(rng):
    values = rng.uniform(0.0, 2.0, size=4)

    def doc(seed, value):
        verdict = "holds" if value <= 1.0 else "refuted"
        return {"seed": seed, "claims": [{
            "id": "a.b.c", "kind": "paper", "paper": "P", "verdict": verdict,
            "headline": {"name": "x", "text": "", "passed": verdict == "holds"},
            "numbers": [{"name": "x", "value": float(value), "relation": "<=", "bound": 1.0,
                         "role": "statement", "passed": verdict == "holds"},
                        {"name": "context", "value": 3.0, "relation": "info",
                         "role": "witness", "passed": None}]}]}

    runs = {s: doc(s, v) for s, v in zip(range(10, 14), values)}
    table = stability_table(runs, tier="quick")
    row = table["claims"][0]
    assert row["verdicts"] == {str(s): runs[s]["claims"][0]["verdict"] for s in runs}
    x = row["numbers"][0]
    assert [n["name"] for n in row["numbers"]] == ["x"]          # info numbers are not held
    assert x["min"] == values.min() and x["max"] == values.max()
    assert x["spread"] == pytest.approx(values.max() - values.min())
    assert x["failed_under"] == [s for s, v in zip(range(10, 14), values) if v > 1.0]
    flips = (values <= 1.0).any() and (values > 1.0).any()
    assert (row["status"] == "flips") == bool(flips)
    assert table["failing"] == bool(flips)


# --------------------------------------------------------------------------- 800 px, drawn

def _browser():
    import shutil

    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        path = shutil.which(name)
        if path:
            return path
    return None


_MEASURE = """<script>
window.addEventListener("load", function () {
  var out = document.createElement("pre");
  out.id = "toytheory-measure";
  out.textContent = JSON.stringify({scroll: document.documentElement.scrollWidth,
                                    width: window.innerWidth});
  document.body.appendChild(out);
});
</script>"""


def test_report_fits_800_px_in_a_headless_browser(kinds_results, tmp_path):
    """Drawn by Chromium in an 800 px window, the page has no horizontal scroll bar, even
    with a 150-character id and a 300-character unbroken number in it."""
    browser = _browser()
    if browser is None:
        pytest.skip("no headless Chromium here (apt-get install -y chromium to run this)")
    import copy
    import re
    import subprocess

    results = copy.deepcopy(kinds_results)
    long_id = "planted.layout." + "a_very_long_identifier_" * 6
    results["claims"][0]["id"] = long_id
    results["claims"][0]["numbers"][0]["note"] = "9" * 300
    results["claims"][0]["message"] = "x" * 300
    page = render_html(results).replace("</body>", _MEASURE + "</body>")
    assert long_id in page.replace("<wbr>", "")
    path = tmp_path / "report.html"
    path.write_text(page)
    proc = subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu",
                           "--window-size=800,600", "--virtual-time-budget=3000",
                           "--dump-dom", path.as_uri()],
                          capture_output=True, text=True, timeout=120)
    found = re.search(r'<pre id="toytheory-measure">([^<]*)</pre>', proc.stdout)
    assert found, proc.stderr[-2000:]
    measured = json.loads(found.group(1))
    assert measured["width"] == 800
    assert measured["scroll"] <= measured["width"], measured
